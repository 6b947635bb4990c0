package scaler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lengths is a queue service whose lengths the test sets.
type lengths struct {
	mu  sync.Mutex
	n   map[string]int
	err error
}

func (l *lengths) set(q string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[q] = n
}

func (l *lengths) Stats(_ context.Context, q string) (queue.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return queue.Stats{Queue: q, Visible: l.n[q]}, l.err
}

// pool is a provider that records its sizes; its workers are ready at once.
type recorder struct {
	mu      sync.Mutex
	size    int
	sizes   []int
	stopped bool
}

func (r *recorder) Kind() string { return "recorder" }
func (r *recorder) Scale(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.size = n
	r.sizes = append(r.sizes, n)
}
func (r *recorder) Workers() Workers {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Workers{Ready: r.size}
}
func (r *recorder) Stop(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
}
func (r *recorder) current() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}

func newTestScaler(t *testing.T, clk *clock.Fake, q *lengths, p Policy) (*Scaler, *recorder) {
	t.Helper()
	r := &recorder{}
	s, err := New(Config{Pools: []Pool{{Name: "p", Queue: "work", InputContainer: "input", Policy: p, Provider: r}},
		Queues: q, Clock: clk, Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Stop(context.Background()) })
	wait.For(t, 5*time.Second, func() bool { return clk.Waiters() == 1 }, "the first poll")
	return s, r
}

func TestScalerPollsWakesAndRecords(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	q := &lengths{n: map[string]int{}}
	s, r := newTestScaler(t, clk, q, Policy{Max: 4, PollingInterval: 5 * time.Second, Cooldown: 20 * time.Second})

	// A wake for another container does nothing; one for the input starts a worker at once.
	s.Wake("output")
	s.Wake("input")
	wait.For(t, 5*time.Second, func() bool { return r.current() == 1 }, "the wake to start a worker")

	// Wakes do not postpone the poll: the timer set before them still fires.
	q.set("work", 20)
	for range 5 {
		s.Wake("input")
	}
	clk.Advance(5 * time.Second)
	wait.For(t, 5*time.Second, func() bool { return r.current() == 4 }, "the poll to grow the pool")

	// The queue drains: the pool holds for the cooldown, then goes to zero.
	q.set("work", 0)
	for range 4 {
		wait.For(t, 5*time.Second, func() bool { return clk.Waiters() == 1 }, "the scaler to wait on the clock")
		clk.Advance(5 * time.Second)
	}
	wait.For(t, 5*time.Second, func() bool { return r.current() == 0 }, "scale to zero after the cooldown")

	ds, ok := s.Decisions("p", 0, true)
	if !ok || len(ds) != 3 {
		t.Fatalf("changes %+v, want 0→1 (wake), 1→4, 4→0", ds)
	}
	if !ds[0].Wake || ds[1].Desired != 4 || ds[1].Metric != 20 || ds[2].Desired != 0 {
		t.Fatalf("changes %+v", ds)
	}
	all, _ := s.Decisions("p", 0, false)
	if len(all) > 10 {
		t.Fatalf("%d decisions kept, the log keeps 10", len(all))
	}
	if last, _ := s.Decisions("p", 1, false); len(last) != 1 || last[0].Time != all[len(all)-1].Time {
		t.Fatalf("limit 1: %+v", last)
	}
	if _, ok := s.Decisions("nope", 0, false); ok {
		t.Fatal("an unknown pool has no decisions")
	}
	st := s.Pools()
	if len(st) != 1 || st[0].Provider != "recorder" || st[0].Max != 4 || st[0].TargetLength != DefaultTargetQueueLength || st[0].Decisions < 5 {
		t.Fatalf("status %+v", st)
	}
}

func TestScalerKeepsThePoolWhenTheQueueCannotBeRead(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	q := &lengths{n: map[string]int{"work": 10}}
	s, r := newTestScaler(t, clk, q, Policy{Max: 4, PollingInterval: time.Second, Cooldown: time.Second})
	wait.For(t, 5*time.Second, func() bool { return r.current() == 1 }, "activation")
	q.mu.Lock()
	q.err = errors.New("store unavailable")
	q.n["work"] = 0
	q.mu.Unlock()
	for range 5 {
		wait.For(t, 5*time.Second, func() bool { return clk.Waiters() == 1 }, "the scaler to wait on the clock")
		clk.Advance(time.Second)
	}
	wait.For(t, 5*time.Second, func() bool { return clk.Waiters() == 1 }, "the scaler to wait on the clock")
	if r.current() != 1 {
		t.Fatalf("an unreadable metric changed the pool to %d", r.current())
	}
	s.Stop(context.Background())
	if !r.stopped {
		t.Fatal("Stop did not stop the provider")
	}
}

func TestNewRejectsBadPools(t *testing.T) {
	q := &lengths{n: map[string]int{}}
	for _, pools := range [][]Pool{
		{{Name: "", Queue: "work", Policy: Policy{Max: 1}, Provider: &recorder{}}},
		{{Name: "a", Queue: "work", Policy: Policy{Max: 1}}},
		{{Name: "a", Queue: "Bad_Queue", Policy: Policy{Max: 1}, Provider: &recorder{}}},
		{{Name: "a", Queue: "work", Policy: Policy{Max: 0}, Provider: &recorder{}}},
		{{Name: "a", Queue: "work", Policy: Policy{Max: 1}, Provider: &recorder{}}, {Name: "a", Queue: "work", Policy: Policy{Max: 1}, Provider: &recorder{}}},
	} {
		if _, err := New(Config{Pools: pools, Queues: q}); err == nil {
			t.Errorf("New(%+v) accepted", pools)
		}
	}
}
