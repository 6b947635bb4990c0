package queuetest

import (
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/queue"
)

// secondsCases, by group, are the time-dependent cases in whole seconds, which run on either
// clock: exact on the virtual one; on the wall clock (Options.WallClock) every wait lasts
// wallSlack longer and what must still be hidden is checked at least that much before it
// shows.
var secondsCases = map[string][]testCase{
	"Leases": {
		{"VisibilityTimeoutInSeconds", func(t *testing.T, h *harness) {
			h.enqueue(t, work, "job", queue.EnqueueOptions{})
			first := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: 3 * time.Second}, "job")[0]
			if !h.sameTime(first.NextVisible, h.now().Add(3*time.Second)) {
				t.Fatalf("NextVisible = %v, want %v", first.NextVisible, h.now().Add(3*time.Second))
			}
			h.dequeueBodies(t, work, queue.DequeueOptions{})
			h.peekBodies(t, work)
			h.wantStats(t, work, 0, 1)
			h.advance(t, time.Second)
			h.dequeueBodies(t, work, queue.DequeueOptions{})
			h.advance(t, 2*time.Second)
			h.wantStats(t, work, 1, 0)
			second := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
			if second.ID != first.ID || second.DequeueCount != 2 || second.PopReceipt == first.PopReceipt {
				t.Fatalf("second delivery = %+v, want id %s, count 2, a new pop receipt", second, first.ID)
			}
			wantErr(t, "Delete with the first receipt", h.svc.Delete(t.Context(), work, first.ID, first.PopReceipt), queue.ErrPopReceiptMismatch)
			_, err := h.svc.Update(t.Context(), work, first.ID, first.PopReceipt, queue.UpdateOptions{})
			wantErr(t, "Update with the first receipt", err, queue.ErrPopReceiptMismatch)
			h.mustDelete(t, second)
			h.wantStats(t, work, 0, 0)
		}},
		{"DeletedMessagesStayDeleted", func(t *testing.T, h *harness) {
			h.enqueue(t, work, "done", queue.EnqueueOptions{})
			m := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Second}, "done")[0]
			h.mustDelete(t, m)
			h.advance(t, 2*time.Second)
			h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32})
			h.wantStats(t, work, 0, 0)
			_, err := h.svc.Update(t.Context(), work, m.ID, m.PopReceipt, queue.UpdateOptions{})
			wantErr(t, "Update of a deleted message", err, queue.ErrNotFound)
		}},
		{"UpdateRenewsTheLeaseInSeconds", func(t *testing.T, h *harness) {
			h.enqueue(t, work, "job", queue.EnqueueOptions{})
			m := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Second}, "job")[0]
			u := h.giveBack(t, work, m, 4*time.Second, "")
			h.advance(t, 2*time.Second) // past the first timeout, before the renewed one
			h.dequeueBodies(t, work, queue.DequeueOptions{})
			wantErr(t, "Delete with the receipt before the update", h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt), queue.ErrPopReceiptMismatch)
			h.advance(t, 2*time.Second)
			again := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
			if again.DequeueCount != 2 {
				t.Fatalf("after the renewed lease: count %d, want 2", again.DequeueCount)
			}
			wantErr(t, "Delete with the renewed receipt after it ran out", h.svc.Delete(t.Context(), work, u.ID, u.PopReceipt), queue.ErrPopReceiptMismatch)
			h.mustDelete(t, again)
		}},
	},
	"Time": {
		{"VisibilityDelayInSeconds", func(t *testing.T, h *harness) {
			m := h.enqueue(t, work, "later", queue.EnqueueOptions{VisibilityDelay: 3 * time.Second})
			if !h.sameTime(m.NextVisible, h.start.Add(3*time.Second)) {
				t.Fatalf("NextVisible = %v, want %v", m.NextVisible, h.start.Add(3*time.Second))
			}
			h.enqueue(t, work, "now", queue.EnqueueOptions{})
			h.peekBodies(t, work, "now")
			h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32, VisibilityTimeout: time.Hour}, "now")
			h.wantStats(t, work, 0, 2)
			h.advance(t, time.Second)
			h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32})
			h.advance(t, 2*time.Second)
			h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "later")
		}},
		{"TTLInSeconds", func(t *testing.T, h *harness) {
			m := h.enqueue(t, work, "short", queue.EnqueueOptions{TTL: 2 * time.Second})
			if !h.sameTime(m.ExpiresAt, h.start.Add(2*time.Second)) {
				t.Fatalf("ExpiresAt = %v, want %v", m.ExpiresAt, h.start.Add(2*time.Second))
			}
			h.enqueue(t, work, "long", queue.EnqueueOptions{TTL: time.Hour})
			h.peekBodies(t, work, "short", "long")
			h.advance(t, 2*time.Second)
			h.peekBodies(t, work, "long")
			h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "long")
		}},
		{"NeverExpiringHasNoExpiry", func(t *testing.T, h *harness) {
			m := h.enqueue(t, work, "forever", queue.EnqueueOptions{TTL: -1})
			if !m.ExpiresAt.IsZero() {
				t.Fatalf("ExpiresAt = %v, want zero (never)", m.ExpiresAt)
			}
			for _, p := range h.peekBodies(t, work, "forever") {
				if !p.ExpiresAt.IsZero() {
					t.Fatalf("peeked ExpiresAt = %v, want zero", p.ExpiresAt)
				}
			}
			got := h.dequeueBodies(t, work, queue.DequeueOptions{}, "forever")
			if !got[0].ExpiresAt.IsZero() {
				t.Fatalf("dequeued ExpiresAt = %v, want zero", got[0].ExpiresAt)
			}
		}},
	},
	"Poison": {
		{"PoisonAfterTimeoutsInSeconds", func(t *testing.T, h *harness) {
			h.enqueue(t, work, "crashes its consumer", queue.EnqueueOptions{})
			for range maxDequeueCount {
				h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Second}, "crashes its consumer")
				h.advance(t, time.Second)
			}
			h.dequeueBodies(t, work, queue.DequeueOptions{})
			p := h.peekBodies(t, queue.PoisonName(work), "crashes its consumer")[0]
			want := maxDequeueCount
			if h.opts.PoisonCopies {
				want = 0
			}
			if p.DequeueCount != want || p.LastError != "" {
				t.Fatalf("poison message = %+v, want count %d and no last error", p, want)
			}
			reports, _ := h.poison.snapshot()
			if len(reports) != 1 || len(reports[0].msgs) != 1 || reports[0].msgs[0].DequeueCount != maxDequeueCount {
				t.Fatalf("poison reports = %+v, want one of one message with count %d", reports, maxDequeueCount)
			}
			h.wantStats(t, work, 0, 0)
		}},
	},
	"LongPoll": {
		{"ReturnsEmptyAfterAShortWait", func(t *testing.T, h *harness) {
			ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: 3 * time.Second})
			h.parked(t, 1)
			notYet(t, "before Wait", ch)
			h.advance(t, 3*time.Second)
			r := await(t, "after Wait", ch)
			if r.err != nil || len(r.msgs) != 0 {
				t.Fatalf("long poll after Wait = %q, %v; want nothing and no error", bodiesOf(r.msgs), r.err)
			}
		}},
		{"PicksUpADelayedMessageInSeconds", func(t *testing.T, h *harness) {
			h.enqueue(t, work, "delayed", queue.EnqueueOptions{VisibilityDelay: 3 * time.Second})
			ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute})
			h.parked(t, 1)
			notYet(t, "before the delay", ch)
			h.advance(t, 3*time.Second)
			r := await(t, "after the delay", ch)
			if r.err != nil || !slices.Equal(bodiesOf(r.msgs), []string{"delayed"}) {
				t.Fatalf("long poll = %q, %v; want the delayed message", bodiesOf(r.msgs), r.err)
			}
		}},
		{"PollersThatGetNothingTimeOutInSeconds", func(t *testing.T, h *harness) {
			chans := make([]<-chan result, 4)
			for i := range chans {
				chans[i] = h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: 3 * time.Second, VisibilityTimeout: time.Hour})
			}
			h.parked(t, len(chans))
			h.enqueue(t, work, "only one", queue.EnqueueOptions{})
			got, pending := collect(t, chans, 1)
			h.advance(t, 3*time.Second)
			for _, ch := range pending {
				r := await(t, "after Wait", ch)
				if r.err != nil {
					t.Fatalf("poller: %v", r.err)
				}
				got = append(got, bodiesOf(r.msgs)...)
			}
			if !slices.Equal(got, []string{"only one"}) {
				t.Fatalf("pollers got %q, want the one message once", got)
			}
		}},
	},
}
