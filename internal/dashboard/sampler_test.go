package dashboard

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testutil/wait"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeQueues answers Stats from a map; err, when set, fails every call.
type fakeQueues struct {
	mu    sync.Mutex
	stats map[string]queue.Stats
	err   error
}

func (f *fakeQueues) set(q string, visible, inFlight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats[q] = queue.Stats{Queue: q, Visible: visible, InFlight: inFlight}
}

func (f *fakeQueues) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeQueues) Stats(_ context.Context, q string) (queue.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats[q], f.err
}

// fakePools is one pool whose state and decisions the test sets.
type fakePools struct {
	status    scaler.PoolStatus
	decisions []scaler.Decision
	asked     []bool // changesOnly of each Decisions call
}

func (f *fakePools) Pools() []scaler.PoolStatus { return []scaler.PoolStatus{f.status} }

func (f *fakePools) Decisions(pool string, limit int, changesOnly bool) ([]scaler.Decision, bool) {
	f.asked = append(f.asked, changesOnly)
	if pool != f.status.Name {
		return nil, false
	}
	return f.decisions, true
}

func newTestSampler(t *testing.T, cfg Config) (*Sampler, *fakeQueues, *clock.Fake) {
	t.Helper()
	q := &fakeQueues{stats: map[string]queue.Stats{}}
	clk := clock.NewFake(t0)
	cfg.Queues, cfg.WorkQueue, cfg.Clock = q, "input", clk
	s, err := NewSampler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, q, clk
}

func TestSamplerRecordsAndBounds(t *testing.T) {
	var completed, failed uint64
	s, q, clk := newTestSampler(t, Config{Interval: time.Second, Window: 5 * time.Second,
		Items: func() (uint64, uint64) { return completed, failed }})
	for i := range 8 {
		q.set("input", 10-i, i)
		q.set("input-poison", i/3, 1)
		completed, failed = uint64(10*i), uint64(i/4)
		s.runOnce(t.Context())
		clk.Advance(time.Second)
	}
	got := s.Series(time.Time{})
	if len(got.Samples) != 5 {
		t.Fatalf("%d samples kept, want the window's 5", len(got.Samples))
	}
	for i, smp := range got.Samples {
		k := i + 3 // the first three fell out of the window
		want := Sample{T: t0.Add(time.Duration(k) * time.Second).UnixMilli(), Visible: 10 - k, InFlight: k, Poison: k/3 + 1,
			Completed: uint64(10 * k), Failed: uint64(k / 4), Nodes: 1}
		smp.Time = time.Time{}
		if smp.T != want.T || smp.Visible != want.Visible || smp.InFlight != want.InFlight || smp.Poison != want.Poison ||
			smp.Completed != want.Completed || smp.Failed != want.Failed || smp.Nodes != want.Nodes || smp.Pools != nil {
			t.Errorf("sample %d = %+v, want %+v", i, smp, want)
		}
	}
	if got.IntervalSeconds != 1 || got.WindowSeconds != 5 || got.WorkQueue != "input" || !got.Now.Equal(t0.Add(8*time.Second)) {
		t.Errorf("series header %+v", got)
	}
	if len(got.Decisions) != 0 {
		t.Errorf("decisions %v without pools", got.Decisions)
	}

	// since is exclusive and counted in milliseconds, as the samples' t.
	since := time.UnixMilli(got.Samples[2].T).Add(999 * time.Microsecond)
	if after := s.Series(since).Samples; len(after) != 2 || after[0].T != got.Samples[3].T {
		t.Fatalf("Series(after the third sample) = %+v, want the last two", after)
	}
	if after := s.Series(clk.Now()).Samples; len(after) != 0 {
		t.Fatalf("Series(now) = %+v, want none", after)
	}
}

// fakeCluster is a cluster whose state the test sets.
type fakeCluster struct{ st ClusterState }

func (f *fakeCluster) State() ClusterState { return f.st }

// TestSamplerCluster: each sample keeps the Deployments' pods and the nodes' counts; the series
// carries the cluster's state now, nodes and errors included.
func TestSamplerCluster(t *testing.T) {
	c := &fakeCluster{st: ClusterState{Deployments: []DeploymentPods{{Name: "compute/workers", Running: 2, Pending: 1}},
		NodesWatched: true, Nodes: []Node{{Name: "a", Ready: true, WorkerPods: 3}, {Name: "b"}}, Errors: []string{}}}
	s, _, clk := newTestSampler(t, Config{Interval: time.Second, Window: time.Minute, Cluster: c})
	s.runOnce(t.Context())
	c.st = ClusterState{Deployments: []DeploymentPods{{Name: "compute/workers", Running: 3}}, NodesWatched: true,
		Nodes: []Node{{Name: "a", Ready: true, WorkerPods: 3}}, Errors: []string{"nodes: forbidden"}}
	clk.Advance(time.Second)
	s.runOnce(t.Context())
	got := s.Series(time.Time{})
	if len(got.Samples) != 2 {
		t.Fatalf("samples %+v", got.Samples)
	}
	first, second := got.Samples[0].Cluster, got.Samples[1].Cluster
	if first == nil || first.Nodes != 2 || first.NodesReady != 1 || len(first.Deployments) != 1 ||
		first.Deployments[0] != (DeploymentPods{Name: "compute/workers", Running: 2, Pending: 1}) {
		t.Fatalf("first sample's cluster %+v", first)
	}
	if second == nil || second.Nodes != 1 || second.NodesReady != 1 || second.Deployments[0].Running != 3 {
		t.Fatalf("second sample's cluster %+v", second)
	}
	if got.Cluster == nil || len(got.Cluster.Nodes) != 1 || len(got.Cluster.Errors) != 1 {
		t.Fatalf("the series' cluster now: %+v", got.Cluster)
	}
	none, _, _ := newTestSampler(t, Config{Interval: time.Second, Window: time.Minute})
	none.runOnce(t.Context())
	if got := none.Series(time.Time{}); got.Cluster != nil || got.Samples[0].Cluster != nil {
		t.Fatalf("a sampler without a cluster reports one: %+v", got)
	}
}

func TestSamplerPools(t *testing.T) {
	pools := &fakePools{status: scaler.PoolStatus{Name: "compute", Desired: 3,
		Workers: scaler.Workers{Starting: 1, Ready: 2, Stopping: 1}}}
	s, _, clk := newTestSampler(t, Config{Interval: time.Second, Window: time.Minute, Pools: pools, Nodes: func() int { return 2 }})
	pools.decisions = []scaler.Decision{
		{Time: t0.Add(-2 * time.Minute), Pool: "compute", Desired: 1, Actual: 0}, // before the window
		{Time: t0.Add(-30 * time.Second), Pool: "compute", Desired: 3, Actual: 1},
		{Time: t0.Add(5 * time.Second), Pool: "compute", Desired: 2, Actual: 3},
	}
	clk.Advance(10 * time.Second)
	s.runOnce(t.Context())
	got := s.Series(time.Time{})
	if len(got.Samples) != 1 || got.Samples[0].Nodes != 2 {
		t.Fatalf("samples %+v", got.Samples)
	}
	want := PoolSample{Name: "compute", Starting: 1, Ready: 2, Stopping: 1, Desired: 3}
	if p := got.Samples[0].Pools; len(p) != 1 || p[0] != want {
		t.Fatalf("pools %+v, want [%+v]", p, want)
	}
	if len(got.Decisions) != 2 || got.Decisions[0].Desired != 3 || got.Decisions[1].Desired != 2 {
		t.Fatalf("decisions %+v, want the two within the window", got.Decisions)
	}
	if d := s.Series(t0).Decisions; len(d) != 1 || d[0].Desired != 2 {
		t.Fatalf("decisions since t0 %+v, want the last one", d)
	}
	for _, changesOnly := range pools.asked {
		if !changesOnly {
			t.Fatal("the series asked for every decision; it marks only the resizes")
		}
	}
}

func TestSamplerSkipsUnreadableQueue(t *testing.T) {
	var logs bytes.Buffer
	s, q, clk := newTestSampler(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.runOnce(t.Context())
	q.fail(errors.New("disk on fire"))
	for range 3 {
		clk.Advance(time.Second)
		s.runOnce(t.Context())
	}
	q.fail(nil)
	clk.Advance(time.Second)
	s.runOnce(t.Context())
	if n := len(s.Series(time.Time{}).Samples); n != 2 {
		t.Fatalf("%d samples, want 2 (the failed ones skipped)", n)
	}
	if c := strings.Count(logs.String(), "disk on fire"); c != 1 {
		t.Fatalf("the error was logged %d times, want once:\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), "can be read again") {
		t.Fatalf("the recovery was not logged:\n%s", logs.String())
	}
}

func TestSamplerStartStop(t *testing.T) {
	s, _, clk := newTestSampler(t, Config{Interval: time.Second})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The first sample is taken at once, the next when the interval has passed.
	wait.For(t, 5*time.Second, func() bool { return clk.Waiters() == 1 }, "the sampler to wait on the clock")
	if n := len(s.Series(time.Time{}).Samples); n != 1 {
		t.Fatalf("%d samples after Start, want 1", n)
	}
	clk.Advance(time.Second)
	wait.For(t, 5*time.Second, func() bool { return len(s.Series(time.Time{}).Samples) == 2 }, "the second sample")
	s.Stop()
	s.Stop() // twice is fine
}

func TestNewSamplerChecks(t *testing.T) {
	q := &fakeQueues{stats: map[string]queue.Stats{}}
	for _, cfg := range []Config{{}, {Queues: q}, {WorkQueue: "input"},
		{Queues: q, WorkQueue: "input", Interval: time.Minute, Window: time.Second}} {
		if _, err := NewSampler(cfg); err == nil {
			t.Errorf("NewSampler(%+v) accepted", cfg)
		}
	}
	s, err := NewSampler(Config{Queues: q, WorkQueue: "input"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Interval != DefaultInterval || s.cfg.Window != DefaultWindow || len(s.ring) != 1800 {
		t.Fatalf("defaults: interval %v, window %v, %d slots", s.cfg.Interval, s.cfg.Window, len(s.ring))
	}
}
