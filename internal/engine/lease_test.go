package engine_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func openStore(t *testing.T) store.Backend {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "orca.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func startEngine(t *testing.T, cfg engine.Config) *engine.Engine {
	t.Helper()
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Stop(context.Background()) })
	return eng
}

func completedResults(t *testing.T, st store.Backend, id string) map[int32]int {
	t.Helper()
	recs, err := st.HistoryRead(context.Background(), &store.HistoryReadParams{InstanceID: id, After: -1, Limit: 1000,
		Types: []history.Type{history.TaskCompleted}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]int{}
	for _, r := range recs {
		got[r.Event.TaskCompleted.TaskScheduledID]++
	}
	return got
}

// TestExpiredLeaseIsRedeliveredAndLateResultDropped runs two nodes on one store. Node A's clock
// stands still, so it never renews: its lease on a stuck activity expires, node B runs the
// activity again and completes the instance, and A's late result changes nothing. It runs in a
// synctest bubble: B's time is virtual, and synctest.Wait returns once A has done all it does
// with its late result.
func TestExpiredLeaseIsRedeliveredAndLateResultDropped(t *testing.T) {
	synctest.Test(t, testExpiredLeaseIsRedeliveredAndLateResultDropped)
}

func testExpiredLeaseIsRedeliveredAndLateResultDropped(t *testing.T) {
	st := openStore(t)
	release := make(chan struct{})
	var firstStarted atomic.Bool
	r := orca.NewRegistry()
	must(t, r.AddActivity("Work", func(ctx orca.ActivityContext) (any, error) {
		if ctx.Attempt() == 1 {
			firstStarted.Store(true)
			<-release // node A's copy: stuck, and it ignores its context
			return "from A", nil
		}
		return "from B", nil
	}))
	must(t, r.AddOrchestrator("Once", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[string](ctx.CallActivity("Work", nil))
	}))
	frozen := clock.NewFake(time.Now())
	a := startEngine(t, engine.Config{Store: st, Registry: r, NodeID: "node-a", Clock: frozen,
		LockDuration: 500 * time.Millisecond, ShutdownGrace: 50 * time.Millisecond})
	releaseA := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseA) // before A stops, should the test end early
	id, err := a.StartInstance(context.Background(), engine.StartParams{Name: "Once", ID: "once"})
	must(t, err)
	wait.For(t, 20*time.Second, firstStarted.Load, "node A to start the activity")

	b := startEngine(t, engine.Config{Store: st, Registry: r, NodeID: "node-b", PollInterval: 50 * time.Millisecond,
		LockDuration: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := b.WaitForFinish(ctx, id)
	must(t, err)
	wantCompleted(t, in, `"from B"`)

	releaseA()      // A's result arrives after B's was recorded
	synctest.Wait() // A has tried to deliver it
	if n := a.Stats().Activities; n != 1 {
		t.Fatalf("node A ran %d activities, want its one late one", n)
	}
	in, err = st.InstanceGet(context.Background(), id, true)
	must(t, err)
	wantCompleted(t, in, `"from B"`)
	if got := completedResults(t, st, id); len(got) != 1 || got[0] != 1 {
		t.Fatalf("results recorded per task: %v, want exactly one for task 0", got)
	}
}

// TestLostLeaseCancelsActivity takes a running activity's lease away: the next renewal notices,
// the activity's context is cancelled, its result is dropped, and the task runs again.
func TestLostLeaseCancelsActivity(t *testing.T) {
	st := openStore(t)
	cancelled := make(chan struct{})
	var started atomic.Bool
	r := orca.NewRegistry()
	must(t, r.AddActivity("Work", func(ctx orca.ActivityContext) (any, error) {
		if ctx.Attempt() == 1 {
			started.Store(true)
			<-ctx.Done()
			close(cancelled)
			return "cancelled", ctx.Err()
		}
		return "second attempt", nil
	}))
	must(t, r.AddOrchestrator("Once", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[string](ctx.CallActivity("Work", nil))
	}))
	eng := startEngine(t, engine.Config{Store: st, Registry: r, LockDuration: 300 * time.Millisecond,
		PollInterval: 50 * time.Millisecond})
	id, err := eng.StartInstance(context.Background(), engine.StartParams{Name: "Once", ID: "lost"})
	must(t, err)
	wait.For(t, 20*time.Second, started.Load, "the activity to start")
	// The activity may start before the commit that schedules it lands (speculative dispatch):
	// abandoning the lease before the task row exists would change nothing, so wait for it.
	wait.For(t, 20*time.Second, func() bool {
		recs, err := st.HistoryRead(context.Background(), &store.HistoryReadParams{InstanceID: id, After: -1, Limit: 10,
			Types: []history.Type{history.TaskScheduled}})
		return err == nil && len(recs) == 1
	}, "the TaskScheduled commit")
	// Another party takes the lease: abandon it under the engine's feet.
	must(t, st.TaskAbandon(context.Background(), eng.NodeID(), nil))
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the activity's context was not cancelled after its lease was lost")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := eng.WaitForFinish(ctx, id)
	must(t, err)
	wantCompleted(t, in, `"second attempt"`)
	if got := completedResults(t, st, id); len(got) != 1 || got[0] != 1 {
		t.Fatalf("results recorded per task: %v", got)
	}
}

// TestGracefulShutdown: in-flight work within the grace period is finished and committed; work
// past it is cancelled and its lease released at once, so the next start resumes it.
func TestGracefulShutdown(t *testing.T) {
	st := openStore(t)
	var slowStarted, stuckStarted atomic.Bool
	stuckCancelled := make(chan struct{}, 1)
	r := orca.NewRegistry()
	must(t, r.AddActivity("Slow", func(ctx orca.ActivityContext) (any, error) {
		slowStarted.Store(true)
		time.Sleep(300 * time.Millisecond)
		return "slow done", nil
	}))
	must(t, r.AddActivity("Stuck", func(ctx orca.ActivityContext) (any, error) {
		if ctx.Attempt() > 1 {
			return "resumed", nil
		}
		stuckStarted.Store(true)
		<-ctx.Done()
		stuckCancelled <- struct{}{}
		return nil, ctx.Err()
	}))
	must(t, r.AddOrchestrator("Call", func(ctx orca.OrchestrationContext) (any, error) {
		var name string
		if err := ctx.Input(&name); err != nil {
			return nil, err
		}
		return orca.Await[string](ctx.CallActivity(name, nil))
	}))

	eng, err := engine.New(engine.Config{Store: st, Registry: r, ShutdownGrace: 2 * time.Second})
	must(t, err)
	must(t, eng.Start(context.Background()))
	_, err = eng.StartInstance(context.Background(), engine.StartParams{Name: "Call", ID: "slow", Input: []byte(`"Slow"`)})
	must(t, err)
	wait.For(t, 20*time.Second, slowStarted.Load, "the Slow activity to start")
	eng.Stop(context.Background())
	in, err := st.InstanceGet(context.Background(), "slow", true)
	must(t, err)
	wantCompleted(t, in, `"slow done"`)

	eng, err = engine.New(engine.Config{Store: st, Registry: r, ShutdownGrace: 100 * time.Millisecond})
	must(t, err)
	must(t, eng.Start(context.Background()))
	_, err = eng.StartInstance(context.Background(), engine.StartParams{Name: "Call", ID: "stuck", Input: []byte(`"Stuck"`)})
	must(t, err)
	wait.For(t, 20*time.Second, stuckStarted.Load, "the Stuck activity to start")
	start := time.Now()
	eng.Stop(context.Background())
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop took %s with a 100ms grace period", d)
	}
	<-stuckCancelled
	in, err = st.InstanceGet(context.Background(), "stuck", false)
	must(t, err)
	if in.Status != store.StatusRunning || in.LockOwner != "" {
		t.Fatalf("after stop: status %s lock %q, want Running and unlocked", in.Status, in.LockOwner)
	}
	leased, err := st.TaskLease(context.Background(), &store.TaskLeaseParams{Owner: "probe", Now: time.Now(),
		LockExpiry: time.Now().Add(time.Millisecond), Limit: 10})
	must(t, err)
	if len(leased) != 1 {
		t.Fatalf("after stop %d tasks are free, want the abandoned one", len(leased))
	}
	must(t, st.TaskAbandon(context.Background(), "probe", nil))

	// The next start picks the work up at once, without waiting for a lease to expire.
	eng = startEngine(t, engine.Config{Store: st, Registry: r, LockDuration: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err = eng.WaitForFinish(ctx, "stuck")
	must(t, err)
	wantCompleted(t, in, `"resumed"`)
}
