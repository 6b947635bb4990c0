package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// The queue cases use queue "work" (poison queue "work-poison") unless they say otherwise.
const (
	qWork   = "work"
	qPoison = "work-poison"
	// qHide is how long the queue cases' dequeues hide messages.
	qHide = 30 * time.Second
)

// qMsg is a message for QueueEnqueue: inserted and visible at t0 + visibleIn, never expiring.
func qMsg(id string, visibleIn time.Duration) *store.QueueMessage {
	return &store.QueueMessage{ID: id, Body: []byte("body of " + id), InsertedAt: t0, VisibleAt: at(visibleIn)}
}

// qDelete deletes a message and checks the insertion time QueueDelete reports: every message of
// the suite is inserted at t0 (qMsg).
func qDelete(t *testing.T, b store.Backend, queue, id, popReceipt string) error {
	t.Helper()
	inserted, err := b.QueueDelete(t.Context(), queue, id, popReceipt)
	if err == nil && !inserted.Equal(t0) {
		t.Fatalf("QueueDelete(%s, %s) reports insertion at %v, want %v", queue, id, inserted, t0)
	}
	return err
}

// qEnqueue adds msgs to queue.
func qEnqueue(t *testing.T, b store.Backend, queue string, msgs ...*store.QueueMessage) {
	t.Helper()
	if err := b.QueueEnqueue(t.Context(), &store.QueueEnqueueParams{Queue: queue, Messages: msgs}); err != nil {
		t.Fatalf("QueueEnqueue(%s): %v", queue, err)
	}
}

// qDequeueParams dequeues up to limit messages of queue at now, hidden for qHide, without
// poisoning.
func qDequeueParams(queue string, now time.Time, limit int) *store.QueueDequeueParams {
	return &store.QueueDequeueParams{Queue: queue, Now: now, VisibleUntil: now.Add(qHide), Limit: limit}
}

// qDequeueP runs QueueDequeue and fails the test on an error.
func qDequeueP(t *testing.T, b store.Backend, p *store.QueueDequeueParams) (msgs, poisoned []*store.QueueMessage) {
	t.Helper()
	msgs, poisoned, err := b.QueueDequeue(t.Context(), p)
	if err != nil {
		t.Fatalf("QueueDequeue(%s at %v): %v", p.Queue, p.Now, err)
	}
	return msgs, poisoned
}

// qDequeue dequeues up to limit messages of queue at now (qDequeueParams) and fails if any was
// poisoned.
func qDequeue(t *testing.T, b store.Backend, queue string, now time.Time, limit int) []*store.QueueMessage {
	t.Helper()
	msgs, poisoned := qDequeueP(t, b, qDequeueParams(queue, now, limit))
	if len(poisoned) != 0 {
		t.Fatalf("QueueDequeue(%s) poisoned %v without a MaxDequeueCount", queue, qIDs(poisoned))
	}
	return msgs
}

// qDequeueIDs dequeues at now and checks that exactly the messages ids come back, in order.
func qDequeueIDs(t *testing.T, b store.Backend, queue string, now time.Time, limit int, ids ...string) []*store.QueueMessage {
	t.Helper()
	msgs := qDequeue(t, b, queue, now, limit)
	if got := qIDs(msgs); !slices.Equal(got, ids) {
		t.Fatalf("QueueDequeue(%s at %v, limit %d) = %q, want %q", queue, now, limit, got, ids)
	}
	return msgs
}

func qIDs(msgs []*store.QueueMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// qPeekIDs checks the ids of the messages of queue visible at now.
func qPeekIDs(t *testing.T, b store.Backend, queue string, now time.Time, ids ...string) []*store.QueueMessage {
	t.Helper()
	msgs, err := b.QueuePeek(t.Context(), queue, now, 100)
	if err != nil {
		t.Fatalf("QueuePeek(%s): %v", queue, err)
	}
	if got := qIDs(msgs); !slices.Equal(got, ids) {
		t.Fatalf("QueuePeek(%s at %v) = %q, want %q", queue, now, got, ids)
	}
	return msgs
}

// qWantStats checks the counts of the named queue at now.
func qWantStats(t *testing.T, b store.Backend, queue string, now time.Time, visible, invisible int) {
	t.Helper()
	st, err := b.QueueStats(t.Context(), now, queue)
	if err != nil {
		t.Fatalf("QueueStats(%s): %v", queue, err)
	}
	want := []store.QueueStats{{Queue: queue, Visible: visible, Invisible: invisible}}
	if !slices.Equal(st, want) {
		t.Fatalf("QueueStats(%s at %v) = %+v, want %+v", queue, now, st, want)
	}
}

// qWantMessage compares every field of a queue message but the pop receipt, which it checks
// is set (or not) as wantReceipt says.
func qWantMessage(t *testing.T, got, want *store.QueueMessage, wantReceipt bool) {
	t.Helper()
	g, w := *got, *want
	if (g.PopReceipt != "") != wantReceipt {
		t.Fatalf("message %s: pop receipt %q, want one: %v", g.ID, g.PopReceipt, wantReceipt)
	}
	g.PopReceipt, w.PopReceipt = "", ""
	if g.Queue != w.Queue || g.ID != w.ID || string(g.Body) != string(w.Body) || !g.InsertedAt.Equal(w.InsertedAt) ||
		!g.ExpiresAt.Equal(w.ExpiresAt) || !g.VisibleAt.Equal(w.VisibleAt) || g.DequeueCount != w.DequeueCount ||
		g.LastError != w.LastError {
		t.Fatalf("message:\n got  %+v\n want %+v", qShow(&g), qShow(&w))
	}
}

func qShow(m *store.QueueMessage) string {
	return fmt.Sprintf("{Queue:%s ID:%s Body:%q InsertedAt:%v ExpiresAt:%v VisibleAt:%v DequeueCount:%d LastError:%q}",
		m.Queue, m.ID, m.Body, m.InsertedAt, m.ExpiresAt, m.VisibleAt, m.DequeueCount, m.LastError)
}

// qGiveBack updates a held message: visible at visibleAt, with lastError when not nil.
func qGiveBack(t *testing.T, b store.Backend, m *store.QueueMessage, visibleAt time.Time, lastError *string) string {
	t.Helper()
	receipt, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: m.Queue, ID: m.ID, PopReceipt: m.PopReceipt,
		VisibleAt: visibleAt, LastError: lastError})
	if err != nil {
		t.Fatalf("QueueUpdate(%s/%s): %v", m.Queue, m.ID, err)
	}
	if receipt == "" || receipt == m.PopReceipt {
		t.Fatalf("QueueUpdate(%s/%s) pop receipt = %q, want a new one (was %q)", m.Queue, m.ID, receipt, m.PopReceipt)
	}
	return receipt
}

func qString(s string) *string { return &s }

var queueCases = []testCase{
	{"EnqueueDequeueRoundTrip", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		m := qMsg("m1", 0)
		m.ExpiresAt = at(time.Hour)
		qEnqueue(t, b, qWork, m)
		got := qDequeueIDs(t, b, qWork, at(time.Second), 10, "m1")
		want := &store.QueueMessage{Queue: qWork, ID: "m1", Body: m.Body, InsertedAt: t0, ExpiresAt: at(time.Hour),
			VisibleAt: at(time.Second + qHide), DequeueCount: 1}
		qWantMessage(t, got[0], want, true)
	}},
	{"EmptyBody", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, &store.QueueMessage{ID: "m1", InsertedAt: t0, VisibleAt: t0})
		got := qDequeueIDs(t, b, qWork, t0, 1, "m1")
		if got[0].Body == nil || len(got[0].Body) != 0 {
			t.Fatalf("body = %#v, want empty and not nil", got[0].Body)
		}
	}},
	{"DequeueOrderAndLimit", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		// m1 is enqueued first but becomes visible last.
		qEnqueue(t, b, qWork, qMsg("m1", 3*time.Second), qMsg("m2", 0), qMsg("m3", time.Second), qMsg("m4", time.Second))
		qEnqueue(t, b, qWork, qMsg("m5", 0))
		qDequeueIDs(t, b, qWork, at(10*time.Second), 2, "m2", "m5")
		qDequeueIDs(t, b, qWork, at(10*time.Second), 2, "m3", "m4")
		qDequeueIDs(t, b, qWork, at(10*time.Second), 2, "m1")
		qDequeueIDs(t, b, qWork, at(10*time.Second), 2)
	}},
	{"BatchComesInInsertionOrder", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		var msgs []*store.QueueMessage
		var ids []string
		for i := range 40 {
			id := fmt.Sprintf("m%02d", i)
			msgs = append(msgs, qMsg(id, 0))
			ids = append(ids, id)
		}
		qEnqueue(t, b, qWork, msgs...)
		qDequeueIDs(t, b, qWork, t0, 32, ids[:32]...)
		qDequeueIDs(t, b, qWork, t0, 32, ids[32:]...)
	}},
	{"DelayedMessageWaits", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", time.Minute))
		qDequeueIDs(t, b, qWork, at(time.Minute-time.Nanosecond), 10)
		qWantStats(t, b, qWork, t0, 0, 1)
		qDequeueIDs(t, b, qWork, at(time.Minute), 10, "m1")
	}},
	{"QueuesAreSeparate", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, "a", qMsg("m1", 0))
		qEnqueue(t, b, "b", qMsg("m1", 0), qMsg("m2", 0))
		qDequeueIDs(t, b, "a", t0, 10, "m1")
		qDequeueIDs(t, b, "a", t0, 10)
		qDequeueIDs(t, b, "b", t0, 10, "m1", "m2")
	}},
	{"DuplicateIDFailsTheBatch", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		err := b.QueueEnqueue(t.Context(), &store.QueueEnqueueParams{Queue: qWork, Messages: []*store.QueueMessage{qMsg("m2", 0), qMsg("m1", 0)}})
		if err == nil {
			t.Fatal("QueueEnqueue with an id the queue holds: no error")
		}
		qPeekIDs(t, b, qWork, t0, "m1")
	}},
	{"VisibilityTimeoutHidesThenReshows", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		first := qDequeueIDs(t, b, qWork, t0, 10, "m1")[0]
		qDequeueIDs(t, b, qWork, at(qHide-time.Nanosecond), 10)
		qWantStats(t, b, qWork, at(qHide-time.Nanosecond), 0, 1)
		second := qDequeueIDs(t, b, qWork, at(qHide), 10, "m1")[0]
		if second.DequeueCount != 2 || second.PopReceipt == first.PopReceipt || !second.VisibleAt.Equal(at(2*qHide)) {
			t.Fatalf("second dequeue: count %d, receipt %q (first %q), visible at %v; want 2, a new receipt, %v",
				second.DequeueCount, second.PopReceipt, first.PopReceipt, second.VisibleAt, at(2*qHide))
		}
		wantErr(t, "QueueDelete with the first receipt", qDelete(t, b, qWork, "m1", first.PopReceipt), store.ErrLeaseLost)
		if err := qDelete(t, b, qWork, "m1", second.PopReceipt); err != nil {
			t.Fatalf("QueueDelete with the current receipt: %v", err)
		}
	}},
	{"ReceiptsDifferPerMessage", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0), qMsg("m2", 0))
		got := qDequeueIDs(t, b, qWork, t0, 10, "m1", "m2")
		if got[0].PopReceipt == got[1].PopReceipt {
			t.Fatalf("two messages of one dequeue share pop receipt %q", got[0].PopReceipt)
		}
		wantErr(t, "QueueDelete of m2 with m1's receipt", qDelete(t, b, qWork, "m2", got[0].PopReceipt), store.ErrLeaseLost)
	}},
	{"Delete", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0), qMsg("m2", 0))
		wantErr(t, "QueueDelete of a message never dequeued", qDelete(t, b, qWork, "m1", ""), store.ErrLeaseLost)
		got := qDequeueIDs(t, b, qWork, t0, 1, "m1")
		wantErr(t, "QueueDelete with a wrong receipt", qDelete(t, b, qWork, "m1", got[0].PopReceipt+"x"), store.ErrLeaseLost)
		wantErr(t, "QueueDelete in another queue", qDelete(t, b, "other", "m1", got[0].PopReceipt), store.ErrNotFound)
		if err := qDelete(t, b, qWork, "m1", got[0].PopReceipt); err != nil {
			t.Fatalf("QueueDelete: %v", err)
		}
		wantErr(t, "QueueDelete again", qDelete(t, b, qWork, "m1", got[0].PopReceipt), store.ErrNotFound)
		wantErr(t, "QueueDelete of an unknown id", qDelete(t, b, qWork, "nope", "r"), store.ErrNotFound)
		qDequeueIDs(t, b, qWork, at(time.Hour), 10, "m2")
	}},
	{"DeleteAfterVisibilityTimeoutWhileNobodyElseHasIt", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		got := qDequeueIDs(t, b, qWork, t0, 1, "m1")
		// The receipt is still the current one: the message is visible again but nobody took it.
		if err := qDelete(t, b, qWork, "m1", got[0].PopReceipt); err != nil {
			t.Fatalf("QueueDelete after the timeout: %v", err)
		}
		qWantStats(t, b, qWork, at(time.Hour), 0, 0)
	}},
	{"UpdateRenewsTheLease", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		m := qDequeueIDs(t, b, qWork, t0, 1, "m1")[0]
		receipt := qGiveBack(t, b, m, at(time.Hour), nil)
		qDequeueIDs(t, b, qWork, at(time.Hour-time.Nanosecond), 1)
		wantErr(t, "QueueDelete with the receipt before the update", qDelete(t, b, qWork, "m1", m.PopReceipt), store.ErrLeaseLost)
		_, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "m1", PopReceipt: m.PopReceipt, VisibleAt: t0})
		wantErr(t, "QueueUpdate with the receipt before the update", err, store.ErrLeaseLost)
		_, err = b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "nope", PopReceipt: receipt, VisibleAt: t0})
		wantErr(t, "QueueUpdate of an unknown id", err, store.ErrNotFound)
		if err := qDelete(t, b, qWork, "m1", receipt); err != nil {
			t.Fatalf("QueueDelete with the updated receipt: %v", err)
		}
	}},
	{"UpdateGivesBackWithLastErrorAndBody", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		orig := qMsg("m1", 0)
		qEnqueue(t, b, qWork, orig)
		m := qDequeueIDs(t, b, qWork, t0, 1, "m1")[0]
		qGiveBack(t, b, m, at(time.Second), qString("boom"))
		m = qDequeueIDs(t, b, qWork, at(time.Second), 1, "m1")[0]
		qWantMessage(t, m, &store.QueueMessage{Queue: qWork, ID: "m1", Body: orig.Body, InsertedAt: t0,
			VisibleAt: at(time.Second + qHide), DequeueCount: 2, LastError: "boom"}, true)
		// A nil LastError keeps the last error; a body replaces the body.
		receipt, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "m1", PopReceipt: m.PopReceipt,
			VisibleAt: at(2 * time.Second), Body: []byte("new body")})
		if err != nil || receipt == "" {
			t.Fatalf("QueueUpdate with a body = %q, %v", receipt, err)
		}
		m = qDequeueIDs(t, b, qWork, at(2*time.Second), 1, "m1")[0]
		if string(m.Body) != "new body" || m.LastError != "boom" || m.DequeueCount != 3 {
			t.Fatalf("after the update: body %q, last error %q, count %d; want %q, %q, 3", m.Body, m.LastError, m.DequeueCount,
				"new body", "boom")
		}
	}},
	{"UpdateUndoesAnUnstartedDequeue", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		for range 3 {
			m := qDequeueIDs(t, b, qWork, t0, 1, "m1")[0]
			if m.DequeueCount != 1 {
				t.Fatalf("dequeue count after unstarted give-backs = %d, want 1", m.DequeueCount)
			}
			if _, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "m1", PopReceipt: m.PopReceipt,
				VisibleAt: t0, UndoDequeue: true}); err != nil {
				t.Fatalf("QueueUpdate(UndoDequeue): %v", err)
			}
		}
		// A count never goes below zero, even when a delivery is taken back twice.
		m := qDequeueIDs(t, b, qWork, t0, 1, "m1")[0]
		for range 2 {
			receipt, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "m1", PopReceipt: m.PopReceipt,
				VisibleAt: at(time.Hour), UndoDequeue: true})
			if err != nil {
				t.Fatalf("QueueUpdate(UndoDequeue): %v", err)
			}
			m.PopReceipt = receipt
		}
		if m = qDequeueIDs(t, b, qWork, at(time.Hour), 1, "m1")[0]; m.DequeueCount != 1 {
			t.Fatalf("dequeue count after a delivery was taken back twice = %d, want 1", m.DequeueCount)
		}
	}},
	{"ExpiredMessagesAreDeletedByDequeue", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		short := qMsg("short", 0)
		short.ExpiresAt = at(time.Minute)
		long := qMsg("long", 0)
		long.ExpiresAt = at(time.Hour)
		qEnqueue(t, b, qWork, short, long, qMsg("never", 0))
		qPeekIDs(t, b, qWork, at(time.Minute-time.Nanosecond), "short", "long", "never")
		qWantStats(t, b, qWork, at(time.Minute), 2, 0)
		qPeekIDs(t, b, qWork, at(time.Minute), "long", "never")
		// Expired messages are skipped even when they fill the first claim.
		qDequeueIDs(t, b, qWork, at(time.Minute), 1, "long")
		wantErr(t, "QueueDelete of a message deleted because it expired", qDelete(t, b, qWork, "short", ""), store.ErrNotFound)
		qDequeueIDs(t, b, qWork, at(1000*time.Hour), 10, "never")
	}},
	{"ManyExpiredAtTheHead", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		var msgs []*store.QueueMessage
		for i := range 100 {
			m := qMsg(fmt.Sprintf("old%03d", i), 0)
			m.ExpiresAt = at(time.Minute)
			msgs = append(msgs, m)
		}
		msgs = append(msgs, qMsg("live1", 0), qMsg("live2", 0))
		qEnqueue(t, b, qWork, msgs...)
		qDequeueIDs(t, b, qWork, at(time.Hour), 32, "live1", "live2")
		qWantStats(t, b, qWork, at(time.Hour), 0, 2)
	}},
	{"PeekChangesNothing", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("m1", 0), qMsg("m2", 0), qMsg("later", time.Hour))
		for range 2 {
			got := qPeekIDs(t, b, qWork, t0, "m1", "m2")
			qWantMessage(t, got[0], &store.QueueMessage{Queue: qWork, ID: "m1", Body: []byte("body of m1"), InsertedAt: t0, VisibleAt: t0}, false)
		}
		m := qDequeueIDs(t, b, qWork, t0, 1, "m1")[0]
		if m.DequeueCount != 1 {
			t.Fatalf("dequeue count after peeks = %d, want 1", m.DequeueCount)
		}
		got := qPeekIDs(t, b, qWork, t0, "m2")
		if got[0].PopReceipt != "" {
			t.Fatalf("peek returned a pop receipt %q", got[0].PopReceipt)
		}
		_, err := b.QueuePeek(t.Context(), qWork, t0, 0)
		wantErr(t, "QueuePeek with limit 0", err, store.ErrInvalid)
	}},
	{"Stats", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		expiring := qMsg("b3", 0)
		expiring.ExpiresAt = at(time.Minute)
		qEnqueue(t, b, "b", qMsg("b1", 0), qMsg("b2", time.Hour), expiring)
		qEnqueue(t, b, "a", qMsg("a1", 0), qMsg("a2", 0))
		qDequeueIDs(t, b, "a", t0, 1, "a1")
		all, err := b.QueueStats(t.Context(), at(time.Second))
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		want := []store.QueueStats{{Queue: "a", Visible: 1, Invisible: 1}, {Queue: "b", Visible: 2, Invisible: 1}}
		if !slices.Equal(all, want) {
			t.Fatalf("QueueStats() = %+v, want %+v", all, want)
		}
		named, err := b.QueueStats(t.Context(), at(time.Minute), "b", "empty", "a")
		if err != nil {
			t.Fatalf("QueueStats(named): %v", err)
		}
		want = []store.QueueStats{{Queue: "b", Visible: 1, Invisible: 1}, {Queue: "empty"}, {Queue: "a", Visible: 2}}
		if !slices.Equal(named, want) {
			t.Fatalf("QueueStats(b, empty, a) = %+v, want %+v", named, want)
		}
		// A queue whose only message expired has no stats entry.
		qEnqueue(t, b, "c", expiring)
		all, err = b.QueueStats(t.Context(), at(time.Minute))
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		if got := len(all); got != 2 {
			t.Fatalf("QueueStats() after c's message expired = %+v, want a and b only", all)
		}
	}},
	{"NextVisible", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		wantNext := func(now time.Time, want time.Time, ok bool) {
			t.Helper()
			next, found, err := b.QueueNextVisible(t.Context(), qWork, now)
			if err != nil {
				t.Fatalf("QueueNextVisible: %v", err)
			}
			if found != ok || !next.Equal(want) {
				t.Fatalf("QueueNextVisible(at %v) = %v, %v; want %v, %v", now, next, found, want, ok)
			}
		}
		wantNext(t0, time.Time{}, false)
		qEnqueue(t, b, qWork, qMsg("now", 0), qMsg("later", time.Hour))
		qEnqueue(t, b, "other", qMsg("soon", time.Second))
		wantNext(t0, at(time.Hour), true)
		qDequeueIDs(t, b, qWork, t0, 1, "now")
		wantNext(t0, at(qHide), true)
		wantNext(at(qHide), at(time.Hour), true)
		wantNext(at(time.Hour), time.Time{}, false)
	}},
	{"InvalidLimits", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		_, _, err := b.QueueDequeue(t.Context(), qDequeueParams(qWork, t0, 0))
		wantErr(t, "QueueDequeue with limit 0", err, store.ErrInvalid)
		p := qDequeueParams(qWork, t0, 1)
		p.MaxDequeueCount = 1
		_, _, err = b.QueueDequeue(t.Context(), p)
		wantErr(t, "QueueDequeue with a MaxDequeueCount and no poison queue", err, store.ErrInvalid)
		_, err = b.QueuePoisonUnreported(t.Context(), 0)
		wantErr(t, "QueuePoisonUnreported with limit 0", err, store.ErrInvalid)
	}},
	{"PoisonMovesAfterMaxDequeueCount", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		orig := qMsg("m1", 0)
		orig.ExpiresAt = at(1000 * time.Hour)
		qEnqueue(t, b, qWork, orig)
		params := func(now time.Time) *store.QueueDequeueParams {
			p := qDequeueParams(qWork, now, 10)
			p.MaxDequeueCount, p.PoisonQueue = 2, qPoison
			return p
		}
		for i := range 2 {
			now := at(time.Duration(i) * time.Minute)
			msgs, poisoned := qDequeueP(t, b, params(now))
			if len(msgs) != 1 || len(poisoned) != 0 || msgs[0].DequeueCount != i+1 {
				t.Fatalf("dequeue %d = %q (poisoned %q), want m1 with count %d", i+1, qIDs(msgs), qIDs(poisoned), i+1)
			}
			qGiveBack(t, b, msgs[0], now, qString(fmt.Sprintf("failure %d", i+1)))
		}
		now := at(2 * time.Minute)
		msgs, poisoned := qDequeueP(t, b, params(now))
		if len(msgs) != 0 || len(poisoned) != 1 {
			t.Fatalf("third dequeue = %q, poisoned %q; want none, m1", qIDs(msgs), qIDs(poisoned))
		}
		want := &store.QueueMessage{Queue: qPoison, ID: "m1", Body: orig.Body, InsertedAt: t0, ExpiresAt: orig.ExpiresAt,
			VisibleAt: now, DequeueCount: 2, LastError: "failure 2"}
		qWantMessage(t, poisoned[0], want, false)
		qWantStats(t, b, qWork, now, 0, 0)
		qWantStats(t, b, qPoison, now, 1, 0)
		unreported, err := b.QueuePoisonUnreported(t.Context(), 10)
		if err != nil {
			t.Fatalf("QueuePoisonUnreported: %v", err)
		}
		if len(unreported) != 1 {
			t.Fatalf("QueuePoisonUnreported = %q, want [m1]", qIDs(unreported))
		}
		qWantMessage(t, unreported[0], want, false)
		// The poison queue is a queue: its messages are dequeued without poisoning.
		for i := range 4 {
			got := qDequeueIDs(t, b, qPoison, at(time.Duration(3+i)*time.Hour), 1, "m1")
			if got[0].DequeueCount != 3+i || got[0].LastError != "failure 2" {
				t.Fatalf("poison dequeue %d: count %d, last error %q", i, got[0].DequeueCount, got[0].LastError)
			}
		}
	}},
	{"PoisonedMessagesDoNotShortenTheBatch", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qWork, qMsg("bad1", 0), qMsg("bad2", 0), qMsg("good1", 0), qMsg("good2", 0))
		p := qDequeueParams(qWork, t0, 2)
		p.MaxDequeueCount, p.PoisonQueue = 1, qPoison
		msgs, _ := qDequeueP(t, b, p)
		for _, m := range msgs {
			qGiveBack(t, b, m, t0, nil)
		}
		msgs, poisoned := qDequeueP(t, b, p)
		if got, want := qIDs(msgs), []string{"good1", "good2"}; !slices.Equal(got, want) {
			t.Fatalf("dequeue after bad1 and bad2 failed = %q, want %q", got, want)
		}
		if got, want := qIDs(poisoned), []string{"bad1", "bad2"}; !slices.Equal(got, want) {
			t.Fatalf("poisoned = %q, want %q", got, want)
		}
		qPeekIDs(t, b, qPoison, t0, "bad1", "bad2")
	}},
	{"PoisonKeepsAnIDTheQueueHoldsApart", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		qEnqueue(t, b, qPoison, qMsg("m1", 0))
		qEnqueue(t, b, qWork, qMsg("m1", 0))
		p := qDequeueParams(qWork, t0, 1)
		p.MaxDequeueCount, p.PoisonQueue = 1, qPoison
		msgs, _ := qDequeueP(t, b, p)
		qGiveBack(t, b, msgs[0], t0, nil)
		_, poisoned := qDequeueP(t, b, p)
		if len(poisoned) != 1 || poisoned[0].ID == "m1" || poisoned[0].Queue != qPoison {
			t.Fatalf("poisoned = %v, want one message of %s under a new id", qIDs(poisoned), qPoison)
		}
		qPeekIDs(t, b, qPoison, t0, "m1", poisoned[0].ID)
	}},
	{"PoisonNotifyWritesEffects", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		qEnqueue(t, b, qWork, qMsg("m1", 0), qMsg("m2", 0))
		p := qDequeueParams(qWork, t0, 10)
		p.MaxDequeueCount, p.PoisonQueue = 1, qPoison
		msgs, _ := qDequeueP(t, b, p)
		for _, m := range msgs {
			qGiveBack(t, b, m, t0, nil)
		}
		_, poisoned := qDequeueP(t, b, p)
		if len(poisoned) != 2 {
			t.Fatalf("poisoned = %q, want m1, m2", qIDs(poisoned))
		}
		ev := event("Poisoned", at(time.Second))
		err := b.QueuePoisonNotify(t.Context(), &store.QueuePoisonNotifyParams{Queue: qPoison, IDs: []string{"m1"}, Now: at(time.Second),
			Effects: store.Effects{
				Messages: []*store.Message{{InstanceID: "i1", Event: ev, VisibleAt: at(time.Second)}},
				Deliveries: []*store.DeliveryCreate{{Subscription: "hook", EventID: "poison-m1", Event: []byte(`{"id":"poison-m1"}`),
					NotBefore: at(time.Second), ExpiresAt: at(time.Hour)}},
			}})
		if err != nil {
			t.Fatalf("QueuePoisonNotify: %v", err)
		}
		unreported, err := b.QueuePoisonUnreported(t.Context(), 10)
		if err != nil {
			t.Fatalf("QueuePoisonUnreported: %v", err)
		}
		if got := qIDs(unreported); !slices.Equal(got, []string{"m2"}) {
			t.Fatalf("QueuePoisonUnreported after reporting m1 = %q, want [m2]", got)
		}
		wantInbox(t, b, "i1", at(time.Second), history.NewExecutionStarted(t0, history.ExecutionStartedAttrs{
			Name: "Orch", ExecutionID: execID("i1", 1), Input: inputOf("i1")}), ev)
		ds, err := b.DeliveryLease(t.Context(), &store.DeliveryLeaseParams{Owner: ownerA, Now: at(time.Second),
			LockExpiry: at(time.Minute), Limit: 10})
		if err != nil {
			t.Fatalf("DeliveryLease: %v", err)
		}
		// The params carry no time of their own: the delivery is created at the earliest time the
		// effects carry (backends read no clock).
		if len(ds) != 1 || ds[0].EventID != "poison-m1" || !ds[0].CreatedAt.Equal(at(time.Second)) {
			t.Fatalf("deliveries after the report = %+v, want poison-m1 created at %v", ds, at(time.Second))
		}
		// Reporting an id that is gone (the poison queue was drained first) still writes the
		// effects and fails nothing.
		if err := b.QueuePoisonNotify(t.Context(), &store.QueuePoisonNotifyParams{Queue: qPoison, IDs: []string{"m2", "gone"}}); err != nil {
			t.Fatalf("QueuePoisonNotify(m2, gone): %v", err)
		}
		if unreported, err = b.QueuePoisonUnreported(t.Context(), 10); err != nil || len(unreported) != 0 {
			t.Fatalf("QueuePoisonUnreported after reporting all = %q, %v; want none", qIDs(unreported), err)
		}
	}},
	{"InFlightBacklogDoesNotHideVisibleMessages", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		var msgs []*store.QueueMessage
		for i := range 500 {
			msgs = append(msgs, qMsg(fmt.Sprintf("m%03d", i), 0))
		}
		qEnqueue(t, b, qWork, msgs...)
		for range 15 {
			qDequeue(t, b, qWork, t0, 32)
		}
		got := qDequeueIDs(t, b, qWork, t0, 32, qIDs(msgs[480:])...)
		if len(got) != 20 {
			t.Fatalf("last dequeue = %d messages, want 20", len(got))
		}
		qWantStats(t, b, qWork, t0, 0, 500)
	}},
}
