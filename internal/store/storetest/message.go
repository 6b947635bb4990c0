package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// sixEvents gives instance id (created at t0, leased by ownerA) a history of six events:
// OrchestratorStarted, ExecutionStarted, TaskScheduled 0, TaskScheduled 1, TimerCreated 2,
// OrchestratorCompleted.
func sixEvents(t *testing.T, b store.Backend, id string) []*history.Event {
	t.Helper()
	create(t, b, id, t0)
	firstTurn(t, b, ownerA, id, t0)
	p := step(id, ownerA, 2, t0)
	p.Append = []*history.Event{
		history.NewTaskScheduled(t0, 0, "A", nil),
		history.NewTaskScheduled(t0, 1, "B", nil),
		history.NewTimerCreated(t0, 2, at(time.Hour)),
		history.NewOrchestratorCompleted(t0),
	}
	commit(t, b, p)
	recs := historyOf(t, b, id)
	if len(recs) != 6 {
		t.Fatalf("history has %d events after setup, want 6", len(recs))
	}
	return recordEvents(recs)
}

var historyReadCases = []testCase{
	{"Pages", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			after, limit int
			want         []int
		}{
			{-1, 4, []int{0, 1, 2, 3}},
			{-1, 100, []int{0, 1, 2, 3, 4, 5}},
			{3, 4, []int{4, 5}},
			{1, 2, []int{2, 3}},
			{5, 4, nil},
			{0, 1, []int{1}},
		} {
			t.Run(fmt.Sprintf("after=%d,limit=%d", tc.after, tc.limit), func(t *testing.T) {
				b := newBackend(t)
				all := sixEvents(t, b, "i1")
				recs, err := b.HistoryRead(t.Context(), &store.HistoryReadParams{InstanceID: "i1", After: tc.after, Limit: tc.limit})
				if err != nil {
					t.Fatal(err)
				}
				wantRecords(t, recs, all, tc.want)
			})
		}
	}},
	{"TypesFilter", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			name         string
			types        []history.Type
			after, limit int
			want         []int
		}{
			{"OneType", []history.Type{history.TaskScheduled}, -1, 10, []int{2, 3}},
			{"TwoTypes", []history.Type{history.TaskScheduled, history.TimerCreated}, -1, 10, []int{2, 3, 4}},
			{"TwoTypesPaged", []history.Type{history.TaskScheduled, history.TimerCreated}, 2, 1, []int{3}},
			{"TwoTypesLastPage", []history.Type{history.TaskScheduled, history.TimerCreated}, 3, 5, []int{4}},
			{"Absent", []history.Type{history.EventRaised}, -1, 10, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				all := sixEvents(t, b, "i1")
				recs, err := b.HistoryRead(t.Context(), &store.HistoryReadParams{InstanceID: "i1", After: tc.after,
					Limit: tc.limit, Types: tc.types})
				if err != nil {
					t.Fatal(err)
				}
				wantRecords(t, recs, all, tc.want)
			})
		}
	}},
	{"OnlyThisInstance", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		sixEvents(t, b, "i1")
		p := create(t, b, "i2", t0)
		firstTurn(t, b, ownerA, "i2", t0)
		wantHistory(t, b, "i2", []*history.Event{history.NewOrchestratorStarted(t0), p.Started})
	}},
}

// wantRecords checks that recs are the events of all at positions seqs.
func wantRecords(t *testing.T, recs []store.HistoryRecord, all []*history.Event, seqs []int) {
	t.Helper()
	got := make([]int, len(recs))
	for i, r := range recs {
		got[i] = r.Seq
	}
	if !slices.Equal(got, seqs) {
		t.Fatalf("HistoryRead returned positions %v, want %v", got, seqs)
	}
	want := make([]*history.Event, len(seqs))
	for i, s := range seqs {
		want[i] = all[s]
	}
	wantEvents(t, "HistoryRead", recordEvents(recs), want)
}

// idle creates instance id at t0 and leaves it Running with an empty inbox and no lock, so it is
// leaseable only once a message arrives.
func idle(t *testing.T, b store.Backend, id string) {
	t.Helper()
	create(t, b, id, t0)
	finish(t, b, id, store.StatusRunning, t0)
	if got := lease(t, b, ownerB, farFuture, 10, id); len(got) != 0 {
		t.Fatalf("idle instance %s is leaseable", id)
	}
}

var messageSendCases = []testCase{
	{"MissingIsNotFound", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "nobody",
			Messages: []*store.Message{message("nobody", "", event("e", t0), t0)}})
		wantErr(t, "MessageSend", err, store.ErrNotFound)
		wantGone(t, b, "nobody")
	}},
	{"RequireStatusMismatch", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			status  store.Status
			require []store.Status
		}{
			{store.StatusRunning, []store.Status{store.StatusSuspended}},
			{store.StatusPending, []store.Status{store.StatusRunning, store.StatusSuspended}},
			{store.StatusCompleted, unfinishedStatuses},
			{store.StatusFailed, []store.Status{store.StatusCompleted}},
		} {
			t.Run(fmt.Sprintf("%s/%v", tc.status, tc.require), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				finish(t, b, "i1", tc.status, t0)
				before := inbox(t, b, "i1", farFuture)
				err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "i1", RequireStatus: tc.require,
					Messages: []*store.Message{message("i1", "", event("e", at(time.Minute)), at(time.Minute))}})
				wantStatusError(t, err, "i1", tc.status, store.ErrWrongStatus)
				wantEvents(t, "inbox", messageEvents(inbox(t, b, "i1", farFuture)), messageEvents(before))
			})
		}
	}},
	{"RequireStatusMatch", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		idle(t, b, "i1")
		ev := event("e", at(time.Minute))
		err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "i1",
			RequireStatus: []store.Status{store.StatusSuspended, store.StatusRunning},
			Messages:      []*store.Message{message("i1", "", ev, at(time.Minute))}})
		if err != nil {
			t.Fatal(err)
		}
		wantInbox(t, b, "i1", at(time.Minute), ev)
	}},
	{"FIFO", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := create(t, b, "i1", t0)
		now := at(time.Minute)
		want := []*history.Event{p.Started}
		var first, second []*store.Message
		for i := range 5 {
			ev := event(fmt.Sprintf("e%d", i), now)
			want = append(want, ev)
			if i < 3 {
				first = append(first, message("i1", "", ev, now))
			} else {
				second = append(second, message("i1", "", ev, now))
			}
		}
		send(t, b, "i1", first...)
		send(t, b, "i1", second...)
		msgs := wantInbox(t, b, "i1", now, want...)
		// A limit returns the oldest.
		oldest, err := b.OrchestrationInbox(t.Context(), "i1", now, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(oldest) != 2 || oldest[0].ID != msgs[0].ID || oldest[1].ID != msgs[1].ID {
			t.Fatalf("OrchestrationInbox(limit 2) = %v, want the first two of %v", messageTypes(oldest), messageTypes(msgs))
		}
	}},
	{"ZeroVisibleAtIsVisibleAtNow", func(t *testing.T, newBackend backendFunc) {
		// A message without VisibleAt is visible from the caller's Now on (the backend reads
		// no clock); without a Now it is visible at once.
		b := newBackend(t)
		idle(t, b, "i1")
		now := at(time.Minute)
		ev := event("e", now)
		if err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "i1", Now: now,
			Messages: []*store.Message{message("i1", "", ev, time.Time{})}}); err != nil {
			t.Fatal(err)
		}
		wantInbox(t, b, "i1", now.Add(-time.Nanosecond))
		msgs := wantInbox(t, b, "i1", now, ev)
		if !msgs[0].VisibleAt.Equal(now) {
			t.Fatalf("VisibleAt = %v, want %v", msgs[0].VisibleAt, now)
		}
		leaseOne(t, b, ownerA, "i1", now)
		idle(t, b, "i2")
		ev2 := event("e2", now)
		send(t, b, "i2", message("i2", "", ev2, time.Time{}))
		wantInbox(t, b, "i2", t0, ev2)
	}},
	{"DelayedIsInvisibleUntilVisibleAt", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		idle(t, b, "i1")
		ev := event("later", at(time.Minute))
		send(t, b, "i1", message("i1", "", ev, at(time.Hour)))
		wantInbox(t, b, "i1", at(30*time.Minute))
		if got := lease(t, b, ownerA, at(30*time.Minute), 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease before VisibleAt = %v, want none", instanceIDs(got))
		}
		wantNextVisible(t, b, at(30*time.Minute), at(time.Hour), true)
		msgs := wantInbox(t, b, "i1", at(time.Hour), ev)
		if !msgs[0].VisibleAt.Equal(at(time.Hour)) {
			t.Fatalf("VisibleAt = %v, want %v", msgs[0].VisibleAt, at(time.Hour))
		}
		leaseOne(t, b, ownerA, "i1", at(time.Hour))
	}},
	{"ExecutionIDIsKept", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		idle(t, b, "i1")
		send(t, b, "i1", message("i1", execID("i1", 1), event("e", t0), t0), message("i1", "", event("f", t0), t0))
		msgs := inbox(t, b, "i1", t0)
		if len(msgs) != 2 || msgs[0].ExecutionID != execID("i1", 1) || msgs[1].ExecutionID != "" {
			t.Fatalf("inbox execution ids = %v, want [%s \"\"]", executionIDs(msgs), execID("i1", 1))
		}
	}},
}

func executionIDs(msgs []*store.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ExecutionID
	}
	return out
}

// wantNextVisible checks OrchestrationNextVisible(now).
func wantNextVisible(t *testing.T, b store.Backend, now, want time.Time, wantOK bool) {
	t.Helper()
	got, ok, err := b.OrchestrationNextVisible(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	if ok != wantOK || !got.Equal(want) {
		t.Fatalf("OrchestrationNextVisible(%v) = %v, %v; want %v, %v", now, got, ok, want, wantOK)
	}
}
