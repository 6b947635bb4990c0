package engine_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// leaseSpy records the activity names every TaskLease of its node asked for.
type leaseSpy struct {
	store.Backend
	mu    sync.Mutex
	names [][]string
}

func (s *leaseSpy) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*store.Task, error) {
	s.mu.Lock()
	s.names = append(s.names, slices.Clone(p.Names))
	s.mu.Unlock()
	return s.Backend.TaskLease(ctx, p)
}

// leases returns the names of the leases so far.
func (s *leaseSpy) leases() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

func double(ctx orca.ActivityContext) (any, error) {
	var n int
	err := ctx.Input(&n)
	return 2 * n, err
}

// TestRemoteActivityWaitsForANodeThatHasIt runs an orchestrating node whose registry declares
// "Triple" remote and an activities-only node that has it, on one store. The orchestrating node
// leases only the activities it has: the local half of the run completes, the remote half waits
// unleased (not failed) until the activities-only node starts and runs it.
func TestRemoteActivityWaitsForANodeThatHasIt(t *testing.T) {
	st := openStore(t)
	orchestrating := orca.NewRegistry().
		MustAddActivity("Double", double).
		MustAddRemoteActivity("Triple").
		MustAddOrchestrator("Both", func(ctx orca.OrchestrationContext) (any, error) {
			var out []int
			err := ctx.WhenAll(ctx.CallActivity("Double", 7), ctx.CallActivity("Triple", 7)).Await(&out)
			return out, err
		})
	spy := &leaseSpy{Backend: st}
	a := startEngine(t, engine.Config{Store: spy, Registry: orchestrating, NodeID: "orchestrating",
		PollInterval: 10 * time.Millisecond, ShutdownGrace: 2 * time.Second})
	id, err := a.StartInstance(context.Background(), engine.StartParams{Name: "Both", ID: "both"})
	must(t, err)

	// Double ran here; Triple's task is in the store, and A's polls after that never took it.
	wait.For(t, 10*time.Second, func() bool { return len(completedResults(t, st, id)) == 1 }, "Double's result")
	polls := len(spy.leases())
	wait.For(t, 10*time.Second, func() bool { return len(spy.leases()) >= polls+5 }, "five more lease polls")
	for _, names := range spy.leases() {
		if !slices.Equal(names, []string{"Double"}) {
			t.Fatalf("the orchestrating node leased tasks of %v, want only [Double]", names)
		}
	}
	in, err := a.Get(context.Background(), id, false)
	must(t, err)
	if in.Status != store.StatusRunning {
		t.Fatalf("status %s (failure %v) while Triple waits, want Running", in.Status, in.Failure)
	}
	failed, err := st.HistoryRead(context.Background(), &store.HistoryReadParams{InstanceID: id, After: -1, Limit: 100,
		Types: []history.Type{history.TaskFailed}})
	must(t, err)
	if len(failed) != 0 {
		t.Fatalf("a remote activity's call failed: %+v", failed[0].Event.TaskFailed)
	}
	if got := a.Stats().Activities; got != 1 {
		t.Fatalf("the orchestrating node ran %d activities, want 1 (Double)", got)
	}

	activities := orca.NewRegistry().MustAddActivity("Triple", func(ctx orca.ActivityContext) (any, error) {
		var n int
		err := ctx.Input(&n)
		return 3 * n, err
	})
	b := startEngine(t, engine.Config{Store: st, Registry: activities, NodeID: "activities", ActivitiesOnly: true,
		PollInterval: 10 * time.Millisecond, ShutdownGrace: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err = a.WaitForFinish(ctx, id)
	must(t, err)
	wantCompleted(t, in, `[14,21]`)
	if got := b.Stats(); got.Activities != 1 || got.Turns != 0 {
		t.Fatalf("the activities-only node ran %d activities and %d turns, want 1 and 0", got.Activities, got.Turns)
	}
}

// TestUnknownActivityFailsAtOnce: a name neither registered nor declared remote (a typo) fails
// its call with ActivityNotFound instead of waiting for a node that has it.
func TestUnknownActivityFailsAtOnce(t *testing.T) {
	r := orca.NewRegistry().
		MustAddRemoteActivity("Triple").
		MustAddOrchestrator("Typo", func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("Tripel", 7).Await(nil)
		})
	h := newHarness(t, r)
	in := h.wait(h.start("Typo", "typo", nil))
	if in.Status != store.StatusFailed || !strings.Contains(in.Failure.ErrorMessage, "ActivityNotFound") {
		t.Fatalf("status %s, failure %+v; want Failed with ActivityNotFound", in.Status, in.Failure)
	}
}

// TestActivitiesOnlyNodeRunsNoOrchestrations: an activities-only node leaves an instance to the
// nodes that run orchestrations, even one started through it with the orchestrator in its
// registry.
func TestActivitiesOnlyNodeRunsNoOrchestrations(t *testing.T) {
	st := openStore(t)
	spy := &leaseSpy{Backend: st}
	r := newRegistry(t)
	b := startEngine(t, engine.Config{Store: spy, Registry: r, NodeID: "activities", ActivitiesOnly: true,
		PollInterval: 10 * time.Millisecond, ShutdownGrace: 2 * time.Second})
	id, err := b.StartInstance(context.Background(), engine.StartParams{Name: "FanOut", Input: []byte("3")})
	must(t, err)
	polls := len(spy.leases())
	wait.For(t, 10*time.Second, func() bool { return len(spy.leases()) >= polls+5 }, "five more lease polls")
	in, err := b.Get(context.Background(), id, false)
	must(t, err)
	if in.Status != store.StatusPending || in.LockOwner != "" {
		t.Fatalf("status %s, locked by %q; want Pending and unlocked", in.Status, in.LockOwner)
	}

	a := startEngine(t, engine.Config{Store: st, Registry: newRegistry(t), NodeID: "orchestrating",
		PollInterval: 10 * time.Millisecond, ShutdownGrace: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err = a.WaitForFinish(ctx, id)
	must(t, err)
	wantCompleted(t, in, "6")
	if got := b.Stats().Turns; got != 0 {
		t.Fatalf("the activities-only node ran %d turns, want 0", got)
	}
}
