package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
)

type harness struct {
	t     *testing.T
	eng   *engine.Engine
	store store.Backend
	path  string
}

func newHarness(t *testing.T, reg *orca.Registry, tweak ...func(*engine.Config)) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orca.db")
	return startHarness(t, reg, path, tweak...)
}

func startHarness(t *testing.T, reg *orca.Registry, path string, tweak ...func(*engine.Config)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Store: st, Registry: reg, PollInterval: 50 * time.Millisecond, ShutdownGrace: 2 * time.Second}
	for _, f := range tweak {
		f(&cfg)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, eng: eng, store: st, path: path}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	if h.eng == nil {
		return
	}
	h.eng.Stop(context.Background())
	if err := h.store.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
	h.eng = nil
}

func (h *harness) start(name, id string, input any) string {
	h.t.Helper()
	in, err := orca.MarshalPayload(input)
	if err != nil {
		h.t.Fatal(err)
	}
	id, err = h.eng.StartInstance(context.Background(), engine.StartParams{Name: name, ID: id, Input: in})
	if err != nil {
		h.t.Fatalf("start %s: %v", name, err)
	}
	return id
}

func (h *harness) wait(id string) *store.Instance {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := h.eng.WaitForFinish(ctx, id)
	if err != nil {
		h.t.Fatalf("wait for %s: %v (last state %+v)", id, err, in)
	}
	return in
}

func (h *harness) waitStatus(id string, want store.Status) *store.Instance {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := h.eng.WaitFor(ctx, id, true, func(in *store.Instance) bool { return in.Status == want })
	if err != nil {
		h.t.Fatalf("wait for %s to be %s: %v (last state %+v)", id, want, err, in)
	}
	return in
}

func wantCompleted(t *testing.T, in *store.Instance, output string) {
	t.Helper()
	if in.Status != store.StatusCompleted {
		t.Fatalf("status = %s (failure %v), want Completed", in.Status, in.Failure)
	}
	if output != "" && string(in.Output) != output {
		t.Fatalf("output = %s, want %s", in.Output, output)
	}
}

func newRegistry(t *testing.T) *orca.Registry {
	t.Helper()
	r := orca.NewRegistry()
	must(t, r.AddActivity("Double", func(ctx orca.ActivityContext) (any, error) {
		var n int
		err := ctx.Input(&n)
		return 2 * n, err
	}))
	must(t, r.AddOrchestrator("FanOut", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		tasks := make([]orca.Task, n)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Double", i)
		}
		var out []int
		if err := ctx.WhenAll(tasks...).Await(&out); err != nil {
			return nil, err
		}
		sum := 0
		for _, v := range out {
			sum += v
		}
		return sum, nil
	}))
	must(t, r.AddOrchestrator("Sequence", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		sum := 0
		for i := 0; i < n; i++ {
			v, err := orca.Await[int](ctx.CallActivity("Double", i))
			if err != nil {
				return nil, err
			}
			sum += v
		}
		return sum, nil
	}))
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFanOutAndSequence(t *testing.T) {
	h := newHarness(t, newRegistry(t))
	fan := h.start("FanOut", "", 500)
	seq := h.start("Sequence", "", 50)
	wantCompleted(t, h.wait(fan), fmt.Sprint(499*500))
	wantCompleted(t, h.wait(seq), fmt.Sprint(49*50))
}

// ObserveActivity hears of every execution with its outcome; an activity nobody registered
// fails in the turn that schedules it and never executes.
func TestObserveActivity(t *testing.T) {
	reg := newRegistry(t)
	must(t, reg.AddActivity("Fail", func(ctx orca.ActivityContext) (any, error) { return nil, errors.New("no") }))
	must(t, reg.AddOrchestrator("Mixed", func(ctx orca.OrchestrationContext) (any, error) {
		tasks := []orca.Task{ctx.CallActivity("Double", 1), ctx.CallActivity("Double", 2), ctx.CallActivity("Fail", nil),
			ctx.CallActivity("Missing", nil)}
		_ = ctx.WhenAll(tasks...).Await(nil)
		return "done", nil
	}))
	var mu sync.Mutex
	seen := map[string]int{}
	h := newHarness(t, reg, func(c *engine.Config) {
		c.ObserveActivity = func(name string, failed bool, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if d < 0 {
				t.Errorf("activity %s ran for %v", name, d)
			}
			seen[fmt.Sprintf("%s failed=%v", name, failed)]++
		}
	})
	wantCompleted(t, h.wait(h.start("Mixed", "", nil)), `"done"`)
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"Double failed=false": 2, "Fail failed=true": 1}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
}

func TestManyInstances(t *testing.T) {
	h := newHarness(t, newRegistry(t))
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = h.start("Sequence", fmt.Sprintf("many-%03d", i), 2)
	}
	for _, id := range ids {
		wantCompleted(t, h.wait(id), "2")
	}
}

func TestEventsRaisedWhilePendingAreKept(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Collect", func(ctx orca.OrchestrationContext) (any, error) {
		var got []string
		for i := 0; i < 3; i++ {
			v, err := orca.Await[string](ctx.WaitForExternalEvent("item"))
			if err != nil {
				return nil, err
			}
			got = append(got, v)
		}
		return got, nil
	}))
	// Not started: the instance is created and stays Pending while events arrive.
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db")})
	must(t, err)
	eng, err := engine.New(engine.Config{Store: st, Registry: r, PollInterval: 20 * time.Millisecond})
	must(t, err)
	id, err := eng.StartInstance(context.Background(), engine.StartParams{Name: "Collect", ID: "c"})
	must(t, err)
	for _, v := range []string{"a", "b", "c"} {
		must(t, eng.RaiseEvent(context.Background(), id, "Item", json.RawMessage(fmt.Sprintf("%q", v))))
	}
	in, err := eng.Get(context.Background(), id, false)
	must(t, err)
	if in.Status != store.StatusPending {
		t.Fatalf("status = %s, want Pending", in.Status)
	}
	must(t, eng.Start(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err = eng.WaitForFinish(ctx, id)
	must(t, err)
	wantCompleted(t, in, `["a","b","c"]`)
	eng.Stop(context.Background())
	must(t, st.Close())
}

func TestTimersAndSubOrchestrations(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Parent", func(ctx orca.OrchestrationContext) (any, error) {
		if err := ctx.CreateTimer(100 * time.Millisecond).Await(nil); err != nil {
			return nil, err
		}
		a := ctx.CallSubOrchestrator("Sequence", 3)
		b := ctx.CallSubOrchestrator("FanOut", 10, orca.WithInstanceID("child-b"))
		var out []int
		err := ctx.WhenAll(a, b).Await(&out)
		return out, err
	}))
	h := newHarness(t, r)
	start := time.Now()
	id := h.start("Parent", "p", nil)
	wantCompleted(t, h.wait(id), "[6,90]")
	if time.Since(start) < 100*time.Millisecond {
		t.Fatalf("finished before its timer")
	}
	child := h.wait("child-b")
	wantCompleted(t, child, "90")
	if child.Parent == nil || child.Parent.InstanceID != "p" {
		t.Fatalf("child parent = %+v", child.Parent)
	}
}

// TestTerminateSuspendResume runs in a synctest bubble: synctest.Wait returns once the engine's
// goroutines are all parked, so the check that a suspended instance did not take its event is
// made after the engine had every chance to deliver it.
func TestTerminateSuspendResume(t *testing.T) { synctest.Test(t, testTerminateSuspendResume) }

func testTerminateSuspendResume(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Wait", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[string](ctx.WaitForExternalEvent("go"))
	}))
	h := newHarness(t, r)
	ctx := context.Background()

	id := h.start("Wait", "w1", nil)
	h.waitStatus(id, store.StatusRunning)
	must(t, h.eng.Suspend(ctx, id, "hold on"))
	h.waitStatus(id, store.StatusSuspended)
	must(t, h.eng.RaiseEvent(ctx, id, "go", json.RawMessage(`"now"`)))
	synctest.Wait() // the turn that takes the event has committed
	if in, _ := h.eng.Get(ctx, id, false); in.Status != store.StatusSuspended {
		t.Fatalf("status = %s while suspended", in.Status)
	}
	if n := len(eventsOf(t, h.store, id, history.EventRaised)); n != 1 {
		t.Fatalf("%d EventRaised in the history, want the one raised while suspended", n)
	}
	must(t, h.eng.Resume(ctx, id, "go on"))
	wantCompleted(t, h.wait(id), `"now"`)

	id = h.start("Wait", "w2", nil)
	must(t, h.eng.Terminate(ctx, id, "enough"))
	in := h.wait(id)
	if in.Status != store.StatusTerminated || string(in.Output) != `"enough"` {
		t.Fatalf("status %s output %s", in.Status, in.Output)
	}
	err := h.eng.RaiseEvent(ctx, id, "go", nil)
	if !errors.Is(err, store.ErrWrongStatus) {
		t.Fatalf("raise on terminated: %v, want ErrWrongStatus", err)
	}
	if err := h.eng.RaiseEvent(ctx, "nope", "go", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("raise on missing: %v, want ErrNotFound", err)
	}
}

func TestContinueAsNew(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Loop", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		if _, err := orca.Await[int](ctx.CallActivity("Double", n)); err != nil {
			return nil, err
		}
		if n < 20 {
			ctx.ContinueAsNew(n + 1)
			return nil, nil
		}
		return n, nil
	}))
	h := newHarness(t, r)
	id := h.start("Loop", "loop", 0)
	in := h.wait(id)
	wantCompleted(t, in, "20")
	if in.HistoryLen > 12 {
		t.Fatalf("history of the last execution has %d events", in.HistoryLen)
	}
}

func TestRewindRetriesFailedActivity(t *testing.T) {
	r := newRegistry(t)
	var calls atomic.Int32
	must(t, r.AddActivity("FailOnce", func(ctx orca.ActivityContext) (any, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("first call fails")
		}
		return "ok", nil
	}))
	must(t, r.AddOrchestrator("Rewindable", func(ctx orca.OrchestrationContext) (any, error) {
		if _, err := orca.Await[int](ctx.CallActivity("Double", 1)); err != nil {
			return nil, err
		}
		return orca.Await[string](ctx.CallActivity("FailOnce", nil))
	}))
	h := newHarness(t, r)
	id := h.start("Rewindable", "rw", nil)
	if in := h.wait(id); in.Status != store.StatusFailed {
		t.Fatalf("status = %s, want Failed", in.Status)
	}
	must(t, h.eng.Rewind(context.Background(), id, "fixed"))
	wantCompleted(t, h.waitStatus(id, store.StatusCompleted), `"ok"`)
	if calls.Load() != 2 {
		t.Fatalf("FailOnce ran %d times, want 2", calls.Load())
	}
}

func TestRestartAndPurge(t *testing.T) {
	h := newHarness(t, newRegistry(t))
	ctx := context.Background()
	id := h.start("Sequence", "r1", 3)
	wantCompleted(t, h.wait(id), "6")

	same, err := h.eng.Restart(ctx, id, false)
	must(t, err)
	if same != id {
		t.Fatalf("restart with the same id returned %s", same)
	}
	wantCompleted(t, h.wait(same), "6")
	other, err := h.eng.Restart(ctx, id, true)
	must(t, err)
	if other == id {
		t.Fatal("restart with a new id kept the id")
	}
	wantCompleted(t, h.wait(other), "6")

	must(t, h.eng.Purge(ctx, id))
	if _, err := h.eng.Get(ctx, id, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after purge: %v", err)
	}
	n, err := h.eng.PurgeMany(ctx, store.InstancePurgeParams{CreatedFrom: time.Unix(0, 0)})
	must(t, err)
	if n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
}

func TestStartingARunningIDFails(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Wait", func(ctx orca.OrchestrationContext) (any, error) {
		return nil, ctx.WaitForExternalEvent("never").Await(nil)
	}))
	h := newHarness(t, r)
	h.start("Wait", "dup", nil)
	_, err := h.eng.StartInstance(context.Background(), engine.StartParams{Name: "Wait", ID: "dup"})
	var se *store.StatusError
	if !errors.Is(err, store.ErrInstanceExists) || !errors.As(err, &se) {
		t.Fatalf("err = %v, want a StatusError wrapping ErrInstanceExists", err)
	}
	for _, bad := range []string{"", "a/b", "@x", "a?b", "tab\t", string(make([]byte, 300))} {
		if _, err := h.eng.StartInstance(context.Background(), engine.StartParams{Name: "Wait", ID: bad}); !errors.Is(err, engine.ErrInvalidArgument) && bad != "" {
			t.Fatalf("id %q: err = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := h.eng.StartInstance(context.Background(), engine.StartParams{Name: "Nope"}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("unknown orchestrator: %v", err)
	}
}

func TestRestartResumesUnfinishedWork(t *testing.T) {
	r := newRegistry(t)
	block := make(chan struct{})
	must(t, r.AddActivity("Block", func(ctx orca.ActivityContext) (any, error) {
		select {
		case <-block:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	must(t, r.AddOrchestrator("Blocked", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[string](ctx.CallActivity("Block", nil))
	}))
	h := newHarness(t, r, func(c *engine.Config) { c.ShutdownGrace = 50 * time.Millisecond })
	id := h.start("Blocked", "b", nil)
	h.waitStatus(id, store.StatusRunning)
	path := h.path
	h.close()
	close(block)
	h2 := startHarness(t, r, path)
	wantCompleted(t, h2.wait(id), `"done"`)
}

// TestCacheMissesReplay runs instances through a cache of one: instances idle on timers are
// evicted, and each next turn rebuilds the executor from the stored history. The results must
// not change.
func TestCacheMissesReplay(t *testing.T) {
	r := newRegistry(t)
	must(t, r.AddOrchestrator("Sleepy", func(ctx orca.OrchestrationContext) (any, error) {
		sum := 0
		for i := 0; i < 5; i++ {
			v, err := orca.Await[int](ctx.CallActivity("Double", i))
			if err != nil {
				return nil, err
			}
			sum += v
			if err := ctx.CreateTimer(20 * time.Millisecond).Await(nil); err != nil {
				return nil, err
			}
		}
		return sum, nil
	}))
	h := newHarness(t, r, func(c *engine.Config) { c.CacheSize = 1 })
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = h.start("Sleepy", fmt.Sprintf("evict-%d", i), nil)
	}
	for _, id := range ids {
		wantCompleted(t, h.wait(id), "20")
	}
	st := h.eng.Stats()
	if st.Replays == 0 || st.Evictions == 0 {
		t.Fatalf("stats %+v: the cache of one must have evicted and replayed", st)
	}
	t.Logf("stats %+v", st)
}

// eventsOf returns an instance's history events of one type.
func eventsOf(t *testing.T, st store.Backend, id string, typ history.Type) []*history.Event {
	t.Helper()
	recs, err := st.HistoryRead(context.Background(), &store.HistoryReadParams{InstanceID: id, After: -1, Limit: 1000,
		Types: []history.Type{typ}})
	must(t, err)
	var out []*history.Event
	for _, r := range recs {
		out = append(out, r.Event)
	}
	return out
}
