package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
)

// failingCommits fails the first n orchestration commits with an error that is not a lost lock,
// and sends each attempt's number and clock time on attempts.
type failingCommits struct {
	store.Backend
	clk      clock.Clock
	n        int32
	calls    atomic.Int32
	attempts chan attempt
}

type attempt struct {
	n  int32
	at time.Time
}

var errDiskFull = errors.New("disk full")

func (f *failingCommits) OrchestrationCommitAsync(ctx context.Context, p *store.OrchestrationCommitParams) <-chan error {
	n := f.calls.Add(1)
	f.attempts <- attempt{n, f.clk.Now()}
	if n <= f.n {
		ch := make(chan error, 1)
		ch <- errDiskFull
		return ch
	}
	return f.Backend.OrchestrationCommitAsync(ctx, p)
}

// TestFailedTurnsBackOffUntilOneLands fails an instance's first two commits: each failure holds
// it back on the engine's clock, and the turn that lands ends it and the backoff with it.
func TestFailedTurnsBackOffUntilOneLands(t *testing.T) {
	clk := clock.NewFake(time.Now())
	st := &failingCommits{Backend: openStore(t), clk: clk, n: 2, attempts: make(chan attempt, 10)}
	eng := startEngine(t, engine.Config{Store: st, Registry: newRegistry(t), Clock: clk, PollInterval: 50 * time.Millisecond,
		ShutdownGrace: time.Second})
	id, err := eng.StartInstance(context.Background(), engine.StartParams{Name: "Sequence", ID: "s", Input: []byte("0")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var at []time.Time
	for want := int32(1); want <= 3; want++ {
		// The clock moves a poll interval at a time, so that the poller sees each step.
		got := advanceUntilAttempt(t, clk, st.attempts, deadline)
		if got.n != want {
			t.Fatalf("commit attempt %d, want %d", got.n, want)
		}
		at = append(at, got.at)
		for want < 3 && eng.HeldBack() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("failed commit %d did not hold the instance back", want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Each wait is at most its bound (2s, then 4s), plus the steps of the clock and the poller's.
	for i, bound := range []time.Duration{2 * time.Second, 4 * time.Second} {
		if gap := at[i+1].Sub(at[i]); gap > bound+200*time.Millisecond {
			t.Errorf("retry %d came %s after the failure, past its bound %s", i+1, gap, bound)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	in, err := eng.WaitForFinish(ctx, id)
	if err != nil || in.Status != store.StatusCompleted {
		t.Fatalf("after two failed commits: %+v (%v)", in, err)
	}
	for eng.HeldBack() != 0 { // the runner retires just after its commit lands
		if time.Now().After(deadline) {
			t.Fatal("the instance is still held back after its turn landed")
		}
		time.Sleep(time.Millisecond)
	}
}

// advanceUntilAttempt moves clk on by 50ms every millisecond until the next commit attempt.
func advanceUntilAttempt(t *testing.T, clk *clock.Fake, attempts <-chan attempt, deadline time.Time) attempt {
	t.Helper()
	for {
		select {
		case n := <-attempts:
			return n
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no commit attempt")
		}
		clk.Advance(50 * time.Millisecond)
	}
}
