// Package queuetest is the conformance suite of queue.Service: every backend runs it with
// queuetest.Run from its own tests. Each case gets a fresh service on a virtual clock, so
// nothing sleeps; long-poll cases wait in real time only for a goroutine to react, never for
// time to pass.
//
// A backend whose time is a server's (Azure Storage Queue) runs it with RunOptions and
// Options.WallClock: the cases wait real seconds instead (at most wallMaxAdvance per step),
// compare times to within wallTolerance, and the cases that need a virtual clock (times to the
// millisecond, hours or days passing) are skipped, each with its reason printed loudly. The
// cases in seconds.go cover the same behaviour in whole seconds on either clock, so every
// backend runs them; on the virtual clock they are exact.
package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Env is what the suite gives a backend under test.
type Env struct {
	// Clock is the suite's virtual clock: the service must read time (and wait) only through
	// it. It is nil with Options.WallClock.
	Clock *clock.Fake
	// MaxDequeueCount is the poison threshold the service must be configured with.
	MaxDequeueCount int
	// Poison must receive the poison reports.
	Poison queue.PoisonEvents
}

// maxDequeueCount is the suite's poison threshold (Env.MaxDequeueCount).
const maxDequeueCount = 3

// t0 is the suite's start time. It lies in the past so that a backend reading the wall clock
// shows up as a failure.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// reactWithin bounds the real time a goroutine gets to react (a long poll to return after a
// wake-up); it is a deadline for failing, not a pause.
const reactWithin = 10 * time.Second

const work = "work"

// harness is one case's service and its environment.
type harness struct {
	svc    queue.Service
	clk    *clock.Fake // in wall-clock mode, a clock nobody reads
	poison *poisonRecorder
	opts   Options
	// start is when the case started: t0, or the wall time.
	start time.Time
	// long is a delay that outlasts the other steps of a case: an hour, or 3 s on the wall
	// clock.
	long time.Duration
}

// now is the current time of the case's clock.
func (h *harness) now() time.Time {
	if h.opts.WallClock {
		return time.Now().UTC()
	}
	return h.clk.Now()
}

// advance lets d pass: on the virtual clock exactly, on the wall clock at least d (plus
// wallSlack; a case must not need more than wallMaxAdvance).
func (h *harness) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if !h.opts.WallClock {
		h.clk.Advance(d)
		return
	}
	if d > wallMaxAdvance {
		t.Fatalf("the case waits %v, more than a wall-clock run allows (%v): list it in needsVirtualClock", d, wallMaxAdvance)
	}
	time.Sleep(d + wallSlack)
}

// sameTime reports whether got is want: exactly on the virtual clock, within wallTolerance on
// the wall clock.
func (h *harness) sameTime(got, want time.Time) bool {
	if !h.opts.WallClock {
		return got.Equal(want)
	}
	d := got.Sub(want)
	return d >= -wallTolerance && d <= wallTolerance
}

type testCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// Options declare how a backend differs from the embedded one; the zero value is the embedded
// backend's (and Run's) strict contract.
type Options struct {
	// WallClock: the backend keeps time itself (a server's clock, whole seconds) and gets no
	// virtual clock. Cases wait real seconds; those that need a virtual clock are skipped
	// loudly.
	WallClock bool
	// TextBodies: bodies must be UTF-8 text; a binary body fails with queue.ErrInvalid.
	TextBodies bool
	// MaxMessageSize is the largest body the backend takes (0: queue.MaxMessageSize).
	MaxMessageSize int
	// PoisonCopies: a poisoned message's poison queue entry is a copy, as Azure Functions makes
	// it: a new message (its own id, inserted at the move, dequeue count 0) with the same body.
	// The report then carries the copy's id with the original's body, insertion time, last
	// error and dequeue count. Without it the message itself moves, keeping all of these.
	PoisonCopies bool
	// VisibilityOrder: messages are delivered in the order they became visible (Azure's), so a
	// message given back comes after those that were visible before; without it, in the order
	// they were enqueued.
	VisibilityOrder bool
	// CountsEveryDelivery: the backend cannot take a delivery back (Azure), so a message given
	// back Unstarted counts toward the poison limit like any other.
	CountsEveryDelivery bool
}

// Wall-clock mode: the longest real wait of one step, the margin added to every wait (the
// server counts whole seconds), and how far a time may be from the expected one.
const (
	wallMaxAdvance = 12 * time.Second
	wallSlack      = time.Second
	wallTolerance  = 2 * time.Second
	// wallParked is how long a long poll is given to start polling, as a poller on a server
	// cannot be seen waiting.
	wallParked = 300 * time.Millisecond
)

// needsVirtualClock names the cases that cannot run on a wall clock, with the reason; each has
// a counterpart in seconds.go.
var needsVirtualClock = map[string]string{
	"Leases/VisibilityTimeoutHidesAndReshows": "checks the visibility boundary to the millisecond (see Leases/VisibilityTimeoutInSeconds)",
	"Leases/UpdateRenewsTheLease":             "waits 25 s (see Leases/UpdateRenewsTheLeaseInSeconds)",
	"Time/VisibilityDelay":                    "waits a minute (see Time/VisibilityDelayInSeconds)",
	"Time/TTL":                                "checks expiry to the millisecond and waits an hour (see Time/TTLInSeconds)",
	"Time/NegativeTTLNeverExpires":            "waits 70 days (see Time/NeverExpiringHasNoExpiry)",
	"Time/DefaultTTL":                         "waits 7 days",
	"Poison/PoisonAfterTimeouts":              "waits 3 minutes (see Poison/PoisonAfterTimeoutsInSeconds)",
	"LongPoll/ReturnsEmptyAfterWait":          "checks Wait to the millisecond (see LongPoll/ReturnsEmptyAfterAShortWait)",
	"LongPoll/PicksUpADelayedMessage":         "checks a delay second by second (see LongPoll/PicksUpADelayedMessageInSeconds)",
	"LongPoll/PollersThatGetNothingTimeOut":   "waits a minute (see LongPoll/PollersThatGetNothingTimeOutInSeconds)",
}

// Run runs the suite against the services newService returns. newService is called once per
// subtest and must return a service with no messages, configured from env, that it cleans up
// with t.Cleanup.
func Run(t *testing.T, newService func(t *testing.T, env *Env) queue.Service) {
	RunOptions(t, Options{}, newService)
}

// RunOptions is Run for a backend that differs as opts declare.
func RunOptions(t *testing.T, opts Options, newService func(t *testing.T, env *Env) queue.Service) {
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = queue.MaxMessageSize
	}
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Basics", basicCases},
		{"Leases", leaseCases},
		{"Time", timeCases},
		{"Poison", poisonCases},
		{"LongPoll", longPollCases},
		{"Concurrency", concurrencyCases},
		{"Validation", validationCases},
	}
	for i := range groups {
		groups[i].cases = append(groups[i].cases, secondsCases[groups[i].name]...)
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if why, ok := needsVirtualClock[g.name+"/"+c.name]; ok && opts.WallClock {
						msg := "needs a virtual clock: " + why
						fmt.Fprintln(os.Stderr, "*** SKIP: "+t.Name()+": "+msg+" ***")
						t.Skip(msg)
					}
					h := &harness{clk: clock.NewFake(t0), poison: &poisonRecorder{}, opts: opts, start: t0, long: time.Hour}
					env := &Env{Clock: h.clk, MaxDequeueCount: maxDequeueCount, Poison: h.poison}
					if opts.WallClock {
						env.Clock, h.long = nil, 3*time.Second
						h.start = time.Now().UTC()
					}
					h.svc = newService(t, env)
					c.run(t, h)
				})
			}
		})
	}
}

// poisonRecorder is the suite's queue.PoisonEvents: it records reports and the calls of their
// after() functions.
type poisonRecorder struct {
	mu      sync.Mutex
	reports []poisonReport
	afters  int
}

type poisonReport struct {
	source string
	msgs   []*queue.Message
}

func (r *poisonRecorder) Poisoned(ctx context.Context, source string, msgs []*queue.Message) (store.Effects, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, poisonReport{source: source, msgs: msgs})
	return store.Effects{}, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.afters++
	}, nil
}

func (r *poisonRecorder) snapshot() ([]poisonReport, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reports), r.afters
}

// enqueue adds a message with body and fails the test on an error.
func (h *harness) enqueue(t *testing.T, q, body string, opts queue.EnqueueOptions) *queue.Message {
	t.Helper()
	m, err := h.svc.Enqueue(t.Context(), q, []byte(body), opts)
	if err != nil {
		t.Fatalf("Enqueue(%s, %q): %v", q, body, err)
	}
	return m
}

// dequeue takes messages and fails the test on an error.
func (h *harness) dequeue(t *testing.T, q string, opts queue.DequeueOptions) []*queue.Message {
	t.Helper()
	msgs, err := h.svc.Dequeue(t.Context(), q, opts)
	if err != nil {
		t.Fatalf("Dequeue(%s, %+v): %v", q, opts, err)
	}
	return msgs
}

// dequeueBodies dequeues and checks the bodies of what came back, in order.
func (h *harness) dequeueBodies(t *testing.T, q string, opts queue.DequeueOptions, bodies ...string) []*queue.Message {
	t.Helper()
	msgs := h.dequeue(t, q, opts)
	if got := bodiesOf(msgs); !slices.Equal(got, bodies) {
		t.Fatalf("Dequeue(%s, %+v) at %v = %q, want %q", q, opts, h.now(), got, bodies)
	}
	return msgs
}

// peekBodies checks the bodies of the visible messages of q.
func (h *harness) peekBodies(t *testing.T, q string, bodies ...string) []*queue.Message {
	t.Helper()
	msgs, err := h.svc.Peek(t.Context(), q, queue.MaxDequeueBatch)
	if err != nil {
		t.Fatalf("Peek(%s): %v", q, err)
	}
	if got := bodiesOf(msgs); !slices.Equal(got, bodies) {
		t.Fatalf("Peek(%s) at %v = %q, want %q", q, h.now(), got, bodies)
	}
	return msgs
}

// wantStats checks the counts of q.
func (h *harness) wantStats(t *testing.T, q string, visible, inFlight int) {
	t.Helper()
	st, err := h.svc.Stats(t.Context(), q)
	if err != nil {
		t.Fatalf("Stats(%s): %v", q, err)
	}
	if want := (queue.Stats{Queue: q, Visible: visible, InFlight: inFlight}); st != want {
		t.Fatalf("Stats(%s) at %v = %+v, want %+v", q, h.now(), st, want)
	}
	if st.Length() != visible+inFlight {
		t.Fatalf("Stats(%s).Length() = %d, want %d", q, st.Length(), visible+inFlight)
	}
}

// giveBack updates a held message to be visible again after vis, recording lastError.
func (h *harness) giveBack(t *testing.T, q string, m *queue.Message, vis time.Duration, lastError string) *queue.Message {
	t.Helper()
	u, err := h.svc.Update(t.Context(), q, m.ID, m.PopReceipt, queue.UpdateOptions{VisibilityTimeout: vis, LastError: lastError})
	if err != nil {
		t.Fatalf("Update(%s, %s): %v", q, m.ID, err)
	}
	if u.ID != m.ID || u.PopReceipt == "" || u.PopReceipt == m.PopReceipt || !h.sameTime(u.NextVisible, h.now().Add(vis)) {
		t.Fatalf("Update(%s, %s) = {ID:%s PopReceipt:%q NextVisible:%v}, want the same id, a new receipt (was %q), %v",
			q, m.ID, u.ID, u.PopReceipt, u.NextVisible, m.PopReceipt, h.now().Add(vis))
	}
	return u
}

// mustDelete deletes a message of the queue "work" held with its pop receipt.
func (h *harness) mustDelete(t *testing.T, m *queue.Message) {
	t.Helper()
	if err := h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt); err != nil {
		t.Fatalf("Delete(%s, %s): %v", work, m.ID, err)
	}
}

func bodiesOf(msgs []*queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want one wrapping %v", what, err, target)
	}
}

// result is what an asynchronous Dequeue returned.
type result struct {
	msgs []*queue.Message
	err  error
}

// dequeueAsync runs Dequeue on the queue "work" in a goroutine; the channel receives its
// outcome.
func (h *harness) dequeueAsync(ctx context.Context, opts queue.DequeueOptions) <-chan result {
	ch := make(chan result, 1)
	go func() {
		msgs, err := h.svc.Dequeue(ctx, work, opts)
		ch <- result{msgs, err}
	}()
	return ch
}

// await waits for an asynchronous Dequeue to return.
func await(t *testing.T, what string, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(reactWithin):
		t.Fatalf("%s: Dequeue did not return within %v", what, reactWithin)
		return result{}
	}
}

// notYet checks that an asynchronous Dequeue has not returned.
func notYet(t *testing.T, what string, ch <-chan result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: Dequeue returned early: %q, %v", what, bodiesOf(r.msgs), r.err)
	default:
	}
}

// collect waits until n of the asynchronous Dequeues in chans returned one message each and
// returns their bodies and the ones still pending.
func collect(t *testing.T, chans []<-chan result, n int) (got []string, pending []<-chan result) {
	t.Helper()
	pending = slices.Clone(chans)
	eventually(t, fmt.Sprintf("%d pollers served", n), func() bool {
		keep := pending[:0]
		for _, ch := range pending {
			select {
			case r := <-ch:
				if r.err != nil || len(r.msgs) != 1 {
					t.Fatalf("poller = %q, %v; want one message", bodiesOf(r.msgs), r.err)
				}
				got = append(got, bodiesOf(r.msgs)...)
			default:
				keep = append(keep, ch)
			}
		}
		pending = keep
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("%d pollers served, want %d", len(got), n)
	}
	return got, pending
}

// eventually polls cond until it holds, failing after reactWithin.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(reactWithin)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, reactWithin)
		}
		<-tick.C
	}
}

// parked waits until n goroutines wait on the virtual clock (long polls have armed their Wait).
// On the wall clock it gives them wallParked to start.
func (h *harness) parked(t *testing.T, n int) {
	t.Helper()
	if h.opts.WallClock {
		time.Sleep(wallParked)
		return
	}
	eventually(t, fmt.Sprintf("%d waiters on the clock", n), func() bool { return h.clk.Waiters() >= n })
}

func bodyOf(i int) string { return fmt.Sprintf("m%04d", i) }

var basicCases = []testCase{
	{"RoundTrip", func(t *testing.T, h *harness) {
		in := h.enqueue(t, work, "hello", queue.EnqueueOptions{})
		if in.ID == "" || string(in.Body) != "hello" || !h.sameTime(in.InsertedAt, h.start) || !h.sameTime(in.NextVisible, h.start) ||
			!h.sameTime(in.ExpiresAt, h.start.Add(queue.DefaultTTL)) || in.DequeueCount != 0 {
			t.Fatalf("Enqueue = %+v, want an id, inserted and visible at %v, expiring after the default TTL", in, h.start)
		}
		h.advance(t, time.Second)
		got := h.dequeueBodies(t, work, queue.DequeueOptions{}, "hello")[0]
		if got.ID != in.ID || !got.InsertedAt.Equal(in.InsertedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) || got.DequeueCount != 1 ||
			got.PopReceipt == "" || !h.sameTime(got.NextVisible, h.now().Add(queue.DefaultVisibilityTimeout)) || got.LastError != "" {
			t.Fatalf("Dequeue = %+v, want id %s, inserted at %v, count 1, a pop receipt, next visible after the default timeout",
				got, in.ID, in.InsertedAt)
		}
		h.mustDelete(t, got)
		h.wantStats(t, work, 0, 0)
	}},
	{"BodiesKeepTheirBytes", func(t *testing.T, h *harness) {
		bodies := []string{"", "\x00\xff\xfe binary", `{"input_id":"1"}`, string(bytes.Repeat([]byte("x"), h.opts.MaxMessageSize))}
		if h.opts.TextBodies {
			_, err := h.svc.Enqueue(t.Context(), work, []byte(bodies[1]), queue.EnqueueOptions{})
			wantErr(t, "Enqueue of a binary body", err, queue.ErrInvalid)
			bodies = slices.Delete(bodies, 1, 2)
			bodies = append(bodies, "tab\t, newline\n, return\r, ünïcødé ✓ 𝄞, <xml> & \"quotes\"")
		}
		for _, b := range bodies {
			h.enqueue(t, work, b, queue.EnqueueOptions{})
		}
		for _, b := range bodies {
			h.dequeueBodies(t, work, queue.DequeueOptions{}, b)
		}
	}},
	{"FIFO", func(t *testing.T, h *harness) {
		for i := range 10 {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
		}
		for i := range 10 {
			h.dequeueBodies(t, work, queue.DequeueOptions{}, bodyOf(i))
		}
		h.dequeueBodies(t, work, queue.DequeueOptions{})
	}},
	{"BatchOfUpTo32", func(t *testing.T, h *harness) {
		var all []string
		for i := range 40 {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
			all = append(all, bodyOf(i))
		}
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 0}, all[0])
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 2}, all[1:3]...)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: queue.MaxDequeueBatch}, all[3:35]...)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: queue.MaxDequeueBatch}, all[35:]...)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: queue.MaxDequeueBatch})
	}},
	{"QueuesAreSeparate", func(t *testing.T, h *harness) {
		h.enqueue(t, "alpha", "a", queue.EnqueueOptions{})
		h.enqueue(t, "beta", "b", queue.EnqueueOptions{})
		h.dequeueBodies(t, "alpha", queue.DequeueOptions{Max: 32}, "a")
		h.dequeueBodies(t, "beta", queue.DequeueOptions{Max: 32}, "b")
	}},
	{"PeekChangesNothing", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "one", queue.EnqueueOptions{})
		h.enqueue(t, work, "two", queue.EnqueueOptions{})
		for range 3 {
			for _, m := range h.peekBodies(t, work, "one", "two") {
				if m.PopReceipt != "" || m.DequeueCount != 0 || m.ID == "" {
					t.Fatalf("Peek returned %+v, want an id, no pop receipt, count 0", m)
				}
			}
		}
		one, err := h.svc.Peek(t.Context(), work, 0)
		if err != nil || len(one) != 1 {
			t.Fatalf("Peek(max 0) = %d messages, %v; want 1", len(one), err)
		}
		got := h.dequeueBodies(t, work, queue.DequeueOptions{}, "one")
		if got[0].DequeueCount != 1 {
			t.Fatalf("dequeue count after peeks = %d, want 1", got[0].DequeueCount)
		}
		h.peekBodies(t, work, "two")
		h.wantStats(t, work, 1, 1)
	}},
	{"Stats", func(t *testing.T, h *harness) {
		h.wantStats(t, "empty", 0, 0)
		for i := range 3 {
			h.enqueue(t, "alpha", bodyOf(i), queue.EnqueueOptions{})
		}
		h.enqueue(t, "beta", "b", queue.EnqueueOptions{})
		h.enqueue(t, "beta", "later", queue.EnqueueOptions{VisibilityDelay: time.Minute})
		h.dequeue(t, "alpha", queue.DequeueOptions{})
		h.wantStats(t, "alpha", 2, 1)
		h.wantStats(t, "beta", 1, 1)
		all, err := h.svc.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		want := []queue.Stats{{Queue: "alpha", Visible: 2, InFlight: 1}, {Queue: "beta", Visible: 1, InFlight: 1}}
		if !slices.Equal(all, want) {
			t.Fatalf("List = %+v, want %+v", all, want)
		}
	}},
}

var leaseCases = []testCase{
	{"VisibilityTimeoutHidesAndReshows", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "job", queue.EnqueueOptions{})
		first := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: 10 * time.Second}, "job")[0]
		h.advance(t, 10*time.Second-time.Millisecond)
		h.dequeueBodies(t, work, queue.DequeueOptions{})
		h.peekBodies(t, work)
		h.wantStats(t, work, 0, 1)
		h.advance(t, time.Millisecond)
		h.wantStats(t, work, 1, 0)
		second := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		if second.ID != first.ID || second.DequeueCount != 2 || second.PopReceipt == first.PopReceipt {
			t.Fatalf("second delivery = %+v, want id %s, count 2, a new pop receipt", second, first.ID)
		}
		wantErr(t, "Delete with the first receipt", h.svc.Delete(t.Context(), work, first.ID, first.PopReceipt), queue.ErrPopReceiptMismatch)
		h.mustDelete(t, second)
	}},
	{"Delete", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "job", queue.EnqueueOptions{})
		h.enqueue(t, work, "other", queue.EnqueueOptions{})
		m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		wantErr(t, "Delete with a wrong receipt", h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt+"x"), queue.ErrPopReceiptMismatch)
		wantErr(t, "Delete from another queue", h.svc.Delete(t.Context(), "elsewhere", m.ID, m.PopReceipt), queue.ErrNotFound)
		h.mustDelete(t, m)
		wantErr(t, "Delete again", h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt), queue.ErrNotFound)
		wantErr(t, "Delete of an unknown id", h.svc.Delete(t.Context(), work, "no-such-id", "receipt"), queue.ErrNotFound)
		h.advance(t, h.long)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "other")
	}},
	{"UpdateRenewsTheLease", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "job", queue.EnqueueOptions{})
		m := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: 10 * time.Second}, "job")[0]
		h.advance(t, 5*time.Second)
		u := h.giveBack(t, work, m, 30*time.Second, "")
		h.advance(t, 20*time.Second) // past the first timeout, before the renewed one
		h.dequeueBodies(t, work, queue.DequeueOptions{})
		wantErr(t, "Delete with the receipt before the update", h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt), queue.ErrPopReceiptMismatch)
		_, err := h.svc.Update(t.Context(), work, m.ID, m.PopReceipt, queue.UpdateOptions{VisibilityTimeout: time.Minute})
		wantErr(t, "Update with the receipt before the update", err, queue.ErrPopReceiptMismatch)
		_, err = h.svc.Update(t.Context(), work, "no-such-id", u.PopReceipt, queue.UpdateOptions{})
		wantErr(t, "Update of an unknown id", err, queue.ErrNotFound)
		u = h.giveBack(t, work, u, time.Minute, "")
		h.mustDelete(t, u)
		h.wantStats(t, work, 0, 0)
	}},
	{"UpdateGivesBackWithLastError", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "job", queue.EnqueueOptions{})
		m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		h.giveBack(t, work, m, 0, "exit status 3")
		m = h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		if m.DequeueCount != 2 || m.LastError != "exit status 3" {
			t.Fatalf("after the give-back: count %d, last error %q; want 2, %q", m.DequeueCount, m.LastError, "exit status 3")
		}
		// Giving back without an error keeps the last one.
		h.giveBack(t, work, m, time.Second, "")
		h.advance(t, time.Second)
		m = h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		if m.DequeueCount != 3 || m.LastError != "exit status 3" {
			t.Fatalf("after a give-back with no error: count %d, last error %q; want 3, %q", m.DequeueCount, m.LastError, "exit status 3")
		}
	}},
	{"ReDeliveryInvalidatesTheOldReceipt", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "job", queue.EnqueueOptions{})
		slow := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Second}, "job")[0]
		h.advance(t, time.Second)
		fast := h.dequeueBodies(t, work, queue.DequeueOptions{}, "job")[0]
		_, err := h.svc.Update(t.Context(), work, slow.ID, slow.PopReceipt, queue.UpdateOptions{VisibilityTimeout: time.Minute})
		wantErr(t, "renewal by the consumer that lost the message", err, queue.ErrPopReceiptMismatch)
		h.mustDelete(t, fast)
	}},
}

var timeCases = []testCase{
	{"VisibilityDelay", func(t *testing.T, h *harness) {
		m := h.enqueue(t, work, "later", queue.EnqueueOptions{VisibilityDelay: time.Minute})
		if !m.NextVisible.Equal(t0.Add(time.Minute)) {
			t.Fatalf("NextVisible = %v, want %v", m.NextVisible, t0.Add(time.Minute))
		}
		h.enqueue(t, work, "now", queue.EnqueueOptions{})
		h.peekBodies(t, work, "now")
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32, VisibilityTimeout: time.Hour}, "now")
		h.wantStats(t, work, 0, 2)
		h.advance(t, time.Minute)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "later")
	}},
	{"TTL", func(t *testing.T, h *harness) {
		m := h.enqueue(t, work, "short", queue.EnqueueOptions{TTL: 10 * time.Second})
		if !m.ExpiresAt.Equal(t0.Add(10 * time.Second)) {
			t.Fatalf("ExpiresAt = %v, want %v", m.ExpiresAt, t0.Add(10*time.Second))
		}
		h.enqueue(t, work, "long", queue.EnqueueOptions{TTL: time.Hour})
		h.advance(t, 10*time.Second-time.Millisecond)
		h.peekBodies(t, work, "short", "long")
		h.advance(t, time.Millisecond)
		h.peekBodies(t, work, "long")
		h.wantStats(t, work, 1, 0)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "long")
		// An expired message is gone for its holder too.
		h.advance(t, time.Hour)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32})
		h.wantStats(t, work, 0, 0)
	}},
	{"NegativeTTLNeverExpires", func(t *testing.T, h *harness) {
		m := h.enqueue(t, work, "forever", queue.EnqueueOptions{TTL: -1})
		if !m.ExpiresAt.IsZero() {
			t.Fatalf("ExpiresAt = %v, want zero (never)", m.ExpiresAt)
		}
		h.advance(t, 10*queue.DefaultTTL)
		got := h.dequeueBodies(t, work, queue.DequeueOptions{}, "forever")
		if !got[0].ExpiresAt.IsZero() {
			t.Fatalf("dequeued ExpiresAt = %v, want zero", got[0].ExpiresAt)
		}
	}},
	{"DefaultTTL", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "default", queue.EnqueueOptions{})
		h.advance(t, queue.DefaultTTL-time.Second)
		h.peekBodies(t, work, "default")
		h.advance(t, time.Second)
		h.peekBodies(t, work)
		h.wantStats(t, work, 0, 0)
	}},
}

var poisonCases = []testCase{
	{"PoisonAfterMaxDequeueCount", func(t *testing.T, h *harness) {
		in := h.enqueue(t, work, "bad input", queue.EnqueueOptions{})
		h.enqueue(t, work, "good input", queue.EnqueueOptions{VisibilityDelay: h.long})
		for i := 1; i <= maxDequeueCount; i++ {
			m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "bad input")[0]
			if m.DequeueCount != i {
				t.Fatalf("delivery %d has dequeue count %d", i, m.DequeueCount)
			}
			h.giveBack(t, work, m, 0, fmt.Sprintf("failure %d", i))
		}
		if reports, _ := h.poison.snapshot(); len(reports) != 0 {
			t.Fatalf("poison reports before the message was poisoned: %d", len(reports))
		}
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32})
		h.wantStats(t, work, 0, 1)
		poisonQ := queue.PoisonName(work)
		h.wantStats(t, poisonQ, 1, 0)
		p := h.peekBodies(t, poisonQ, "bad input")[0]
		lastFailure := fmt.Sprintf("failure %d", maxDequeueCount)
		if h.opts.PoisonCopies {
			if p.DequeueCount != 0 || p.LastError != lastFailure {
				t.Fatalf("poison copy = %+v, want count 0, the last failure", p)
			}
		} else if p.DequeueCount != maxDequeueCount || p.LastError != lastFailure || !p.InsertedAt.Equal(in.InsertedAt) {
			t.Fatalf("poison message = %+v, want count %d, the last failure, inserted at %v", p, maxDequeueCount, in.InsertedAt)
		}
		reports, afters := h.poison.snapshot()
		if len(reports) != 1 || reports[0].source != work || len(reports[0].msgs) != 1 || afters != 1 {
			t.Fatalf("poison reports = %+v (%d after calls), want one report from %s of one message, after called once", reports, afters, work)
		}
		r := reports[0].msgs[0]
		if r.ID != p.ID || string(r.Body) != "bad input" || r.DequeueCount != maxDequeueCount || r.LastError != lastFailure ||
			!r.InsertedAt.Equal(in.InsertedAt) {
			t.Fatalf("reported message = %+v, want the poison queue's id %s, count %d, the last failure, inserted at %v",
				r, p.ID, maxDequeueCount, in.InsertedAt)
		}
		// The poison queue is a queue like any other, and its messages are never poisoned again.
		first := maxDequeueCount
		if h.opts.PoisonCopies {
			first = 0
		}
		for i := 1; i <= maxDequeueCount+2; i++ {
			m := h.dequeueBodies(t, poisonQ, queue.DequeueOptions{}, "bad input")[0]
			if m.DequeueCount != first+i {
				t.Fatalf("poison queue delivery %d has dequeue count %d", i, m.DequeueCount)
			}
			h.giveBack(t, poisonQ, m, 0, "")
		}
		if reports, _ := h.poison.snapshot(); len(reports) != 1 {
			t.Fatalf("poison reports after draining the poison queue: %d, want 1", len(reports))
		}
		h.advance(t, h.long)
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 32}, "good input")
	}},
	{"UnstartedGiveBacksDoNotCount", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "leased ahead", queue.EnqueueOptions{})
		want := 1
		for range maxDequeueCount + 2 {
			m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "leased ahead")[0]
			if m.DequeueCount != want {
				t.Fatalf("after unstarted give-backs the dequeue count is %d, want %d", m.DequeueCount, want)
			}
			if _, err := h.svc.Update(t.Context(), work, m.ID, m.PopReceipt, queue.UpdateOptions{LastError: "worker shut down", Unstarted: true}); err != nil {
				t.Fatalf("Update(unstarted): %v", err)
			}
			if h.opts.CountsEveryDelivery {
				if want++; want > maxDequeueCount {
					break
				}
			}
		}
		if !h.opts.CountsEveryDelivery {
			// A delivery given back after work counts again: the limit still holds.
			m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "leased ahead")[0]
			h.giveBack(t, work, m, 0, "failed")
			if m = h.dequeueBodies(t, work, queue.DequeueOptions{}, "leased ahead")[0]; m.DequeueCount != 2 {
				t.Fatalf("a failed delivery after unstarted ones: dequeue count %d, want 2", m.DequeueCount)
			}
		}
	}},
	{"PoisonAfterTimeouts", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "crashes its consumer", queue.EnqueueOptions{})
		for range maxDequeueCount {
			h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Minute}, "crashes its consumer")
			h.advance(t, time.Minute)
		}
		h.dequeueBodies(t, work, queue.DequeueOptions{})
		p := h.peekBodies(t, queue.PoisonName(work), "crashes its consumer")[0]
		if p.DequeueCount != maxDequeueCount || p.LastError != "" {
			t.Fatalf("poison message = %+v, want count %d and no last error", p, maxDequeueCount)
		}
	}},
	{"PoisonedMessagesDoNotDelayOthers", func(t *testing.T, h *harness) {
		n := 4
		if h.opts.VisibilityOrder {
			// Given back, m0 and m1 would queue up behind m2 and m3: enqueue those after.
			n = 2
		}
		for i := range n {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
		}
		for range maxDequeueCount {
			for _, m := range h.dequeueBodies(t, work, queue.DequeueOptions{Max: 2}, bodyOf(0), bodyOf(1)) {
				h.giveBack(t, work, m, 0, "boom")
			}
		}
		for i := n; i < 4; i++ {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
		}
		h.dequeueBodies(t, work, queue.DequeueOptions{Max: 2}, bodyOf(2), bodyOf(3))
		h.peekBodies(t, queue.PoisonName(work), bodyOf(0), bodyOf(1))
	}},
}

var longPollCases = []testCase{
	{"ReturnsWhenAMessageArrives", func(t *testing.T, h *harness) {
		ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Hour})
		h.parked(t, 1)
		notYet(t, "before the enqueue", ch)
		h.enqueue(t, work, "wake up", queue.EnqueueOptions{})
		r := await(t, "after the enqueue", ch)
		if r.err != nil || !slices.Equal(bodiesOf(r.msgs), []string{"wake up"}) {
			t.Fatalf("long poll = %q, %v; want the message", bodiesOf(r.msgs), r.err)
		}
		if !h.clk.Now().Equal(t0) {
			t.Fatal("the clock moved")
		}
	}},
	{"ReturnsEmptyAfterWait", func(t *testing.T, h *harness) {
		ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: 20 * time.Second})
		h.parked(t, 1)
		h.advance(t, 20*time.Second-time.Millisecond)
		notYet(t, "before Wait", ch)
		h.advance(t, time.Millisecond)
		r := await(t, "after Wait", ch)
		if r.err != nil || len(r.msgs) != 0 {
			t.Fatalf("long poll after Wait = %q, %v; want nothing and no error", bodiesOf(r.msgs), r.err)
		}
	}},
	{"ReturnsAtOnceWhenSomethingIsVisible", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "ready", queue.EnqueueOptions{})
		h.dequeueBodies(t, work, queue.DequeueOptions{Wait: time.Hour}, "ready")
	}},
	{"PicksUpADelayedMessage", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "delayed", queue.EnqueueOptions{VisibilityDelay: 5 * time.Second})
		ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute})
		h.parked(t, 1)
		for range 4 {
			h.advance(t, time.Second)
			notYet(t, "before the delay", ch)
		}
		h.advance(t, time.Second)
		r := await(t, "after the delay", ch)
		if r.err != nil || !slices.Equal(bodiesOf(r.msgs), []string{"delayed"}) {
			t.Fatalf("long poll = %q, %v; want the delayed message", bodiesOf(r.msgs), r.err)
		}
	}},
	{"ManyMessagesVisibleAtOnceReachManyPollers", func(t *testing.T, h *harness) {
		const n = 4
		for i := range n {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{VisibilityDelay: 5 * time.Second})
		}
		chans := make([]<-chan result, n)
		for i := range chans {
			chans[i] = h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute})
		}
		h.parked(t, n)
		h.advance(t, 5*time.Second)
		got, _ := collect(t, chans, n)
		slices.Sort(got)
		if want := []string{bodyOf(0), bodyOf(1), bodyOf(2), bodyOf(3)}; !slices.Equal(got, want) {
			t.Fatalf("pollers got %q, want %q", got, want)
		}
	}},
	{"VisibilityTimesPassedInOneStepAreAllServed", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "at 5s", queue.EnqueueOptions{VisibilityDelay: 5 * time.Second})
		h.enqueue(t, work, "at 7s", queue.EnqueueOptions{VisibilityDelay: 7 * time.Second})
		chans := []<-chan result{
			h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute}),
			h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute}),
		}
		h.parked(t, len(chans))
		h.advance(t, 10*time.Second)
		got, _ := collect(t, chans, 2)
		slices.Sort(got)
		if want := []string{"at 5s", "at 7s"}; !slices.Equal(got, want) {
			t.Fatalf("pollers got %q, want %q", got, want)
		}
	}},
	{"PicksUpATimedOutMessage", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "abandoned", queue.EnqueueOptions{})
		h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: 10 * time.Second}, "abandoned")
		ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute})
		h.parked(t, 1)
		h.advance(t, 10*time.Second)
		r := await(t, "after the timeout", ch)
		if r.err != nil || !slices.Equal(bodiesOf(r.msgs), []string{"abandoned"}) || r.msgs[0].DequeueCount != 2 {
			t.Fatalf("long poll = %+v, %v; want the abandoned message, count 2", r.msgs, r.err)
		}
	}},
	{"PicksUpAMessageGivenBack", func(t *testing.T, h *harness) {
		h.enqueue(t, work, "retry me", queue.EnqueueOptions{})
		m := h.dequeueBodies(t, work, queue.DequeueOptions{VisibilityTimeout: time.Hour}, "retry me")[0]
		ch := h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute})
		h.parked(t, 1)
		h.giveBack(t, work, m, 0, "transient")
		r := await(t, "after the give-back", ch)
		if r.err != nil || len(r.msgs) != 1 || r.msgs[0].LastError != "transient" {
			t.Fatalf("long poll = %+v, %v; want the message given back", r.msgs, r.err)
		}
	}},
	{"EndsWithItsContext", func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(t.Context())
		ch := h.dequeueAsync(ctx, queue.DequeueOptions{Wait: time.Hour})
		h.parked(t, 1)
		cancel()
		r := await(t, "after cancel", ch)
		if !errors.Is(r.err, context.Canceled) || len(r.msgs) != 0 {
			t.Fatalf("cancelled long poll = %q, %v; want context.Canceled", bodiesOf(r.msgs), r.err)
		}
		// The queue still works for the next consumer.
		h.enqueue(t, work, "after", queue.EnqueueOptions{})
		h.dequeueBodies(t, work, queue.DequeueOptions{Wait: time.Hour}, "after")
	}},
	{"ManyPollersAreAllServed", func(t *testing.T, h *harness) {
		const pollers = 16
		chans := make([]<-chan result, pollers)
		for i := range chans {
			chans[i] = h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Hour})
		}
		h.parked(t, pollers)
		for i := range pollers / 2 {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
		}
		got, pending := collect(t, chans, pollers/2)
		// The others get the other half.
		for i := pollers / 2; i < pollers; i++ {
			h.enqueue(t, work, bodyOf(i), queue.EnqueueOptions{})
		}
		for _, ch := range pending {
			r := await(t, "second half", ch)
			if r.err != nil {
				t.Fatalf("poller: %v", r.err)
			}
			got = append(got, bodiesOf(r.msgs)...)
		}
		slices.Sort(got)
		var want []string
		for i := range pollers {
			want = append(want, bodyOf(i))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pollers got %q, want each of %q once", got, want)
		}
	}},
	{"PollersThatGetNothingTimeOut", func(t *testing.T, h *harness) {
		chans := make([]<-chan result, 4)
		for i := range chans {
			// Held longer than the pollers wait: advancing past Wait must not re-show it.
			chans[i] = h.dequeueAsync(t.Context(), queue.DequeueOptions{Wait: time.Minute, VisibilityTimeout: time.Hour})
		}
		h.parked(t, len(chans))
		h.enqueue(t, work, "only one", queue.EnqueueOptions{})
		got, pending := collect(t, chans, 1)
		h.advance(t, time.Minute)
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
}

var concurrencyCases = []testCase{
	{"ConsumersNeverShareAMessage", func(t *testing.T, h *harness) {
		const n, workers = 2000, 8
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					if _, err := h.svc.Enqueue(t.Context(), work, []byte(bodyOf(i)), queue.EnqueueOptions{}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		var mu sync.Mutex
		seen := map[string]int{}
		for range workers {
			wg.Go(func() {
				for {
					msgs, err := h.svc.Dequeue(t.Context(), work, queue.DequeueOptions{Max: 8, VisibilityTimeout: time.Hour})
					if err != nil {
						errs <- err
						return
					}
					if len(msgs) == 0 {
						return
					}
					for _, m := range msgs {
						mu.Lock()
						seen[string(m.Body)]++
						mu.Unlock()
						if err := h.svc.Delete(t.Context(), work, m.ID, m.PopReceipt); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Fatalf("%d distinct messages delivered, want %d", len(seen), n)
		}
		for body, k := range seen {
			if k != 1 {
				t.Fatalf("message %s delivered %d times", body, k)
			}
		}
		h.wantStats(t, work, 0, 0)
	}},
	{"LongPollersDrainConcurrentProducers", func(t *testing.T, h *harness) {
		const n, consumers = 300, 6
		var wg sync.WaitGroup
		got := make(chan string, n)
		errs := make(chan error, consumers+1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		for range consumers {
			wg.Go(func() {
				for {
					msgs, err := h.svc.Dequeue(ctx, work, queue.DequeueOptions{Max: 4, VisibilityTimeout: time.Hour, Wait: time.Hour})
					if err != nil {
						if !errors.Is(err, context.Canceled) {
							errs <- err
						}
						return
					}
					for _, m := range msgs {
						got <- string(m.Body)
					}
				}
			})
		}
		wg.Go(func() {
			for i := range n {
				if _, err := h.svc.Enqueue(t.Context(), work, []byte(bodyOf(i)), queue.EnqueueOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
		seen := map[string]bool{}
		deadline := time.After(reactWithin)
		for len(seen) < n {
			select {
			case b := <-got:
				if seen[b] {
					t.Fatalf("message %s delivered twice", b)
				}
				seen[b] = true
			case err := <-errs:
				t.Fatal(err)
			case <-deadline:
				t.Fatalf("%d of %d messages delivered within %v", len(seen), n, reactWithin)
			}
		}
		cancel()
		wg.Wait()
		h.wantStats(t, work, 0, n)
	}},
}

var validationCases = []testCase{
	{"InvalidQueueNames", func(t *testing.T, h *harness) {
		for _, name := range []string{"", "ab", "Work", "work_queue", "-work", "work-", "wo--rk", "wörk", string(bytes.Repeat([]byte("a"), 64))} {
			ctx := t.Context()
			_, err := h.svc.Enqueue(ctx, name, []byte("x"), queue.EnqueueOptions{})
			wantErr(t, fmt.Sprintf("Enqueue(%q)", name), err, queue.ErrInvalidName)
			_, err = h.svc.Dequeue(ctx, name, queue.DequeueOptions{})
			wantErr(t, fmt.Sprintf("Dequeue(%q)", name), err, queue.ErrInvalidName)
			_, err = h.svc.Peek(ctx, name, 1)
			wantErr(t, fmt.Sprintf("Peek(%q)", name), err, queue.ErrInvalidName)
			_, err = h.svc.Stats(ctx, name)
			wantErr(t, fmt.Sprintf("Stats(%q)", name), err, queue.ErrInvalidName)
			wantErr(t, fmt.Sprintf("Delete(%q)", name), h.svc.Delete(ctx, name, "id", "receipt"), queue.ErrInvalidName)
			_, err = h.svc.Update(ctx, name, "id", "receipt", queue.UpdateOptions{})
			wantErr(t, fmt.Sprintf("Update(%q)", name), err, queue.ErrInvalidName)
		}
	}},
	{"OversizedBody", func(t *testing.T, h *harness) {
		_, err := h.svc.Enqueue(t.Context(), work, make([]byte, h.opts.MaxMessageSize+1), queue.EnqueueOptions{})
		wantErr(t, "Enqueue of MaxMessageSize+1 bytes", err, queue.ErrTooLarge)
		h.wantStats(t, work, 0, 0)
	}},
	{"InvalidOptions", func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, opts := range []queue.EnqueueOptions{
			{VisibilityDelay: -time.Second},
			{VisibilityDelay: queue.MaxVisibilityTimeout + time.Second},
			{VisibilityDelay: time.Hour, TTL: time.Hour},
		} {
			_, err := h.svc.Enqueue(ctx, work, []byte("x"), opts)
			wantErr(t, fmt.Sprintf("Enqueue(%+v)", opts), err, queue.ErrInvalid)
		}
		for _, opts := range []queue.DequeueOptions{
			{Max: -1},
			{Max: queue.MaxDequeueBatch + 1},
			{VisibilityTimeout: -time.Second},
			{VisibilityTimeout: queue.MaxVisibilityTimeout + time.Second},
			{Wait: -time.Second},
		} {
			_, err := h.svc.Dequeue(ctx, work, opts)
			wantErr(t, fmt.Sprintf("Dequeue(%+v)", opts), err, queue.ErrInvalid)
		}
		for _, n := range []int{-1, queue.MaxDequeueBatch + 1} {
			_, err := h.svc.Peek(ctx, work, n)
			wantErr(t, fmt.Sprintf("Peek(%d)", n), err, queue.ErrInvalid)
		}
		h.enqueue(t, work, "x", queue.EnqueueOptions{})
		m := h.dequeueBodies(t, work, queue.DequeueOptions{}, "x")[0]
		for _, vis := range []time.Duration{-time.Second, queue.MaxVisibilityTimeout + time.Second} {
			_, err := h.svc.Update(ctx, work, m.ID, m.PopReceipt, queue.UpdateOptions{VisibilityTimeout: vis})
			wantErr(t, fmt.Sprintf("Update(visibility %v)", vis), err, queue.ErrInvalid)
		}
		// The longest allowed values work.
		h.giveBack(t, work, m, queue.MaxVisibilityTimeout, "")
		h.enqueue(t, work, "y", queue.EnqueueOptions{VisibilityDelay: queue.MaxVisibilityTimeout, TTL: -1})
	}},
}
