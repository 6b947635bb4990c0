package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/metrics"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeQueues struct {
	stats []queue.Stats
	err   error
}

func (f *fakeQueues) List(context.Context) ([]queue.Stats, error) { return f.stats, f.err }

// Stats serves the scaler.
func (f *fakeQueues) Stats(_ context.Context, name string) (queue.Stats, error) {
	for _, s := range f.stats {
		if s.Queue == name {
			return s, nil
		}
	}
	return queue.Stats{Queue: name}, f.err
}

type fakeInstances map[store.Status]int

func (f fakeInstances) InstanceCounts(context.Context) (map[store.Status]int, error) { return f, nil }

type fakeEngine engine.Stats

func (f fakeEngine) Stats() engine.Stats { return engine.Stats(f) }

// fakeProvider is a pool whose workers stay as they are.
type fakeProvider struct {
	mu      sync.Mutex
	workers scaler.Workers
}

func (p *fakeProvider) Kind() string { return "goroutine" }
func (p *fakeProvider) Scale(int)    {}
func (p *fakeProvider) Workers() scaler.Workers {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workers
}
func (p *fakeProvider) Stop(context.Context) {}

// runningScaler starts a real scaler over one pool and waits for its first decision.
func runningScaler(t *testing.T, q scaler.Queues, w scaler.Workers) *scaler.Scaler {
	t.Helper()
	s, err := scaler.New(scaler.Config{Queues: q, Clock: clock.NewFake(time.Now()), Pools: []scaler.Pool{{Name: "compute",
		Queue: "input", Policy: scaler.Policy{Max: 10}, Provider: &fakeProvider{workers: w}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Stop(context.Background()) })
	wait.For(t, 10*time.Second, func() bool { return s.Pools()[0].Decisions > 0 }, "the scaler's first decision")
	return s
}

func TestCollectorsReadTheSources(t *testing.T) {
	q := &fakeQueues{stats: []queue.Stats{{Queue: "input", Visible: 30, InFlight: 2}, {Queue: "input-poison", Visible: 4},
		{Queue: "other", Visible: 1}, {Queue: "gone-poison", InFlight: 1}}}
	sc := runningScaler(t, q, scaler.Workers{Starting: 1, Ready: 2, Stopping: 3})
	desired := sc.Pools()[0].Desired
	if desired <= 3 {
		t.Fatalf("the scaler wants %d workers for 32 messages; the check below would prove little", desired)
	}
	m := metrics.New()
	var completed, failed uint64 = 7, 2
	err := m.Watch(metrics.Sources{Queues: q, AlwaysQueues: []string{"input", "empty"},
		Instances: fakeInstances{store.StatusCompleted: 5, store.StatusRunning: 1}, Pools: sc,
		Engine:         fakeEngine{Turns: 11, Replays: 3, Evictions: 1},
		ItemsCompleted: func() uint64 { return completed }, ItemsFailed: func() uint64 { return failed },
		Leading: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP orca_queue_messages Unexpired messages of a queue by state: visible (waiting) or in_flight (dequeued, invisible until deleted or their visibility timeout ends). Their sum is the queue length the scaler reads.
# TYPE orca_queue_messages gauge
orca_queue_messages{queue="empty",state="in_flight"} 0
orca_queue_messages{queue="empty",state="visible"} 0
orca_queue_messages{queue="input",state="in_flight"} 2
orca_queue_messages{queue="input",state="visible"} 30
orca_queue_messages{queue="other",state="in_flight"} 0
orca_queue_messages{queue="other",state="visible"} 1
# HELP orca_queue_poison_messages Messages in a queue's poison queue: items that failed maxDequeueCount times.
# TYPE orca_queue_poison_messages gauge
orca_queue_poison_messages{queue="empty"} 0
orca_queue_poison_messages{queue="gone"} 1
orca_queue_poison_messages{queue="input"} 4
# HELP orca_orchestrations Orchestration instances in the store, by runtime status.
# TYPE orca_orchestrations gauge
orca_orchestrations{status="Completed"} 5
orca_orchestrations{status="ContinuedAsNew"} 0
orca_orchestrations{status="Failed"} 0
orca_orchestrations{status="Pending"} 0
orca_orchestrations{status="Running"} 1
orca_orchestrations{status="Suspended"} 0
orca_orchestrations{status="Terminated"} 0
# HELP orca_workers Workers of a pool by state: starting, ready or stopping.
# TYPE orca_workers gauge
orca_workers{pool="compute",state="ready"} 2
orca_workers{pool="compute",state="starting"} 1
orca_workers{pool="compute",state="stopping"} 3
# HELP orca_items_completed_total Compute items this node saw complete (their output blob written) since it started.
# TYPE orca_items_completed_total counter
orca_items_completed_total 7
# HELP orca_items_failed_total Compute items this node saw fail (poisoned, or an unreadable output) since it started.
# TYPE orca_items_failed_total counter
orca_items_failed_total 2
# HELP orca_orchestration_turns_total Orchestration turns committed by this node.
# TYPE orca_orchestration_turns_total counter
orca_orchestration_turns_total 11
# HELP orca_orchestration_replays_total Orchestrations replayed from their stored history (cache misses).
# TYPE orca_orchestration_replays_total counter
orca_orchestration_replays_total 3
# HELP orca_orchestration_cache_evictions_total Orchestrations dropped from the cache to bound it.
# TYPE orca_orchestration_cache_evictions_total counter
orca_orchestration_cache_evictions_total 1
# HELP orca_leader 1 while this node holds the task hub's leader lease and runs its singletons (the poison sweeper), else 0.
# TYPE orca_leader gauge
orca_leader 1
`
	names := []string{"orca_queue_messages", "orca_queue_poison_messages", "orca_orchestrations", "orca_workers",
		"orca_items_completed_total", "orca_items_failed_total", "orca_orchestration_turns_total",
		"orca_orchestration_replays_total", "orca_orchestration_cache_evictions_total", "orca_leader"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if got := gatherValue(t, m, "orca_workers_desired", `pool="compute"`); got != float64(desired) {
		t.Fatalf("orca_workers_desired = %v, the scaler says %d", got, desired)
	}
	lint(t, m)
}

// gatherValue returns the value of the one sample of name whose labels, formatted as the text
// format does ("a="x",b="y""), are labels.
func gatherValue(t *testing.T, m *metrics.Metrics, name, labels string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return sampleValue(t, mfs, name, labels)
}

func lint(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// A failing source is logged and left out of the scrape; the rest is served.
func TestFailingSourceLeavesTheRest(t *testing.T) {
	m := metrics.New()
	if err := m.Watch(metrics.Sources{Queues: &fakeQueues{err: errors.New("store is away")},
		Instances: fakeInstances{store.StatusPending: 1}}); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var mu sync.Mutex
	srv := httptest.NewServer(m.Handler(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `orca_orchestrations{status="Pending"} 1`) ||
		strings.Contains(string(body), "orca_queue_messages{") {
		t.Fatalf("scrape with a failing source: %d\n%s", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "store is away") {
		t.Fatalf("the failure was not logged: %q", logs.String())
	}
	mfs, err := m.Registry().Gather()
	if err == nil || !strings.Contains(err.Error(), "store is away") {
		t.Fatalf("Gather with a failing source: %v", err)
	}
	if got := sampleValue(t, mfs, "promhttp_metric_handler_errors_total", `cause="gathering"`); got != 1 {
		t.Fatalf("promhttp_metric_handler_errors_total{cause=gathering} = %v, want 1", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestHooksRecord(t *testing.T) {
	m := metrics.New()
	m.ObserveActivity("Compute", false, 2*time.Second)
	m.ObserveActivity("Compute", true, time.Second)
	m.ObserveActivity("Compute", false, time.Second)
	m.ObserveItem("input", 3*time.Second)
	m.ObserveItem("input-poison", time.Hour) // a poison queue's delete is no item latency
	for _, o := range []events.DeliveryOutcome{events.Retried, events.Retried, events.DeadLettered, events.Delivered} {
		m.ObserveDelivery("hook", o)
	}
	m.ObserveCommit(4, 5*time.Millisecond, nil)
	m.ObserveCommit(2, time.Millisecond, errors.New("disk full"))
	h := m.InstrumentRoute("GET /api/queues/{queue}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/queues/a-user-chosen-name", nil))
	}

	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"orca_activity_duration_seconds_count", `activity="Compute",outcome="completed"`, 2},
		{"orca_activity_duration_seconds_sum", `activity="Compute",outcome="completed"`, 3},
		{"orca_activity_duration_seconds_count", `activity="Compute",outcome="failed"`, 1},
		{"orca_item_duration_seconds_count", `queue="input"`, 1},
		{"orca_item_duration_seconds_sum", `queue="input"`, 3},
		{"orca_event_deliveries_total", `outcome="retried",subscription="hook"`, 2},
		{"orca_event_deliveries_total", `outcome="dead_lettered",subscription="hook"`, 1},
		{"orca_event_deliveries_total", `outcome="delivered",subscription="hook"`, 1},
		{"orca_store_commit_duration_seconds_count", ``, 1},
		{"orca_store_commit_writes_sum", ``, 4},
		{"orca_store_commit_errors_total", ``, 1},
		{"orca_http_requests_total", `code="418",route="GET /api/queues/{queue}"`, 2},
		{"orca_http_request_duration_seconds_count", `route="GET /api/queues/{queue}"`, 2},
	} {
		if got := gatherValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "poison") || strings.Contains(l.GetValue(), "a-user-chosen-name") {
					t.Errorf("%s has the label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	lint(t, m)
}

// The hooks on hot paths allocate nothing once their series exist.
func TestHooksDoNotAllocate(t *testing.T) {
	m := metrics.New()
	hooks := func() {
		m.ObserveActivity("Compute", false, time.Millisecond)
		m.ObserveActivity("Compute", true, time.Millisecond)
		m.ObserveItem("input", time.Second)
		m.ObserveDelivery("compute-complete", events.Delivered)
		m.ObserveCommit(8, time.Millisecond, nil)
	}
	hooks()
	if n := testing.AllocsPerRun(100, hooks); n != 0 {
		t.Fatalf("the hooks allocate %v times per call", n)
	}
}

// Two nodes in one process have their own registries.
func TestNodesDoNotCollide(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	for _, m := range []*metrics.Metrics{a, b} {
		if err := m.Watch(metrics.Sources{Instances: fakeInstances{}}); err != nil {
			t.Fatal(err)
		}
	}
	a.ObserveActivity("X", false, time.Second)
	if got := gatherValue(t, a, "orca_activity_duration_seconds_count", `activity="X",outcome="completed"`); got != 1 {
		t.Fatalf("node a counted %v", got)
	}
	if n, err := testutil.GatherAndCount(b.Registry(), "orca_activity_duration_seconds"); err != nil || n != 0 {
		t.Fatalf("node b has %d activity series (%v)", n, err)
	}
}

func BenchmarkObserveActivity(b *testing.B) {
	m := metrics.New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveActivity("Compute", false, time.Millisecond)
		}
	})
}
