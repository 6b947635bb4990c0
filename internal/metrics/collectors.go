package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/store"
)

// readTimeout bounds the store reads of one scrape.
const readTimeout = 10 * time.Second

// Queues lists the queues that hold messages with their counts (queue.Service).
type Queues interface {
	List(ctx context.Context) ([]queue.Stats, error)
}

// Instances counts instances by status (store.Backend).
type Instances interface {
	InstanceCounts(ctx context.Context) (map[store.Status]int, error)
}

// Pools reports the worker pools (*scaler.Scaler).
type Pools interface {
	Pools() []scaler.PoolStatus
}

// EngineStats reports the engine's counters (*engine.Engine).
type EngineStats interface {
	Stats() engine.Stats
}

// Sources are what the scrape-time collectors read. A nil field leaves its metrics out.
type Sources struct {
	Queues Queues
	// AlwaysQueues are reported even while empty (the work queue): the others only while they
	// hold messages.
	AlwaysQueues []string
	Instances    Instances
	Pools        Pools
	Engine       EngineStats
	// ItemsCompleted and ItemsFailed count the compute items finished since the node started.
	ItemsCompleted, ItemsFailed func() uint64
	// Leading reports whether the node holds the task hub's leader lease now.
	Leading func() bool
}

// Watch registers the collectors of the sources that are set. Later calls may add sources
// that come to life later (the scaler's pools); watching one kind twice fails as a duplicate
// registration.
func (m *Metrics) Watch(src Sources) error {
	var cs []prometheus.Collector
	if src.Queues != nil {
		cs = append(cs, newQueueCollector(src.Queues, src.AlwaysQueues))
	}
	if src.Instances != nil {
		cs = append(cs, &instanceCollector{src: src.Instances, desc: prometheus.NewDesc(fqName("orchestrations"),
			"Orchestration instances in the store, by runtime status.", []string{"status"}, nil)})
	}
	if src.Pools != nil {
		cs = append(cs, &poolCollector{src: src.Pools,
			workers: prometheus.NewDesc(fqName("workers"), "Workers of a pool by state: starting, ready or stopping.",
				[]string{"pool", "state"}, nil),
			desired: prometheus.NewDesc(fqName("workers_desired"), "Workers the scaler's last decision wants in a pool.",
				[]string{"pool"}, nil)})
	}
	if src.Engine != nil {
		cs = append(cs, engineCounters(src.Engine)...)
	}
	if src.ItemsCompleted != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "items_completed_total",
			Help: "Compute items this node saw complete (their output blob written) since it started."},
			func() float64 { return float64(src.ItemsCompleted()) }))
	}
	if src.ItemsFailed != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "items_failed_total",
			Help: "Compute items this node saw fail (poisoned, or an unreadable output) since it started."},
			func() float64 { return float64(src.ItemsFailed()) }))
	}
	if src.Leading != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "leader",
			Help: "1 while this node holds the task hub's leader lease and runs its singletons (the poison sweeper), else 0."},
			func() float64 {
				if src.Leading() {
					return 1
				}
				return 0
			}))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("register metrics collector: %w", err)
		}
	}
	return nil
}

func engineCounters(e EngineStats) []prometheus.Collector {
	counter := func(name, help string, read func(engine.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return float64(read(e.Stats())) })
	}
	return []prometheus.Collector{
		counter("orchestration_turns_total", "Orchestration turns committed by this node.",
			func(s engine.Stats) int64 { return s.Turns }),
		counter("orchestration_replays_total", "Orchestrations replayed from their stored history (cache misses).",
			func(s engine.Stats) int64 { return s.Replays }),
		counter("orchestration_cache_evictions_total", "Orchestrations dropped from the cache to bound it.",
			func(s engine.Stats) int64 { return s.Evictions }),
	}
}

// read runs a scrape's store read, bounded by readTimeout. A failure is sent as an invalid
// metric of desc: the handler logs it and serves the other metrics.
func read[T any](ch chan<- prometheus.Metric, desc *prometheus.Desc, what string, f func(context.Context) (T, error)) (T, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(desc, fmt.Errorf("%s: %w", what, err))
		return v, false
	}
	return v, true
}

// queueCollector reports every queue's counts from one List at scrape time. A poison queue is
// reported as its queue's poison gauge, not as a queue of its own.
type queueCollector struct {
	src    Queues
	always []string
	msgs   *prometheus.Desc
	poison *prometheus.Desc
}

func newQueueCollector(src Queues, always []string) *queueCollector {
	return &queueCollector{src: src, always: always,
		msgs: prometheus.NewDesc(fqName("queue_messages"),
			"Unexpired messages of a queue by state: visible (waiting) or in_flight (dequeued, invisible until deleted or "+
				"their visibility timeout ends). Their sum is the queue length the scaler reads.",
			[]string{"queue", "state"}, nil),
		poison: prometheus.NewDesc(fqName("queue_poison_messages"),
			"Messages in a queue's poison queue: items that failed maxDequeueCount times.", []string{"queue"}, nil)}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.msgs
	ch <- c.poison
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	all, ok := read(ch, c.msgs, "list queues", c.src.List)
	if !ok {
		return
	}
	counts := map[string]queue.Stats{}
	poison := map[string]int{}
	for _, name := range c.always {
		counts[name] = queue.Stats{Queue: name}
		poison[name] = 0
	}
	for _, st := range all {
		if parent, ok := queue.PoisonOf(st.Queue); ok {
			poison[parent] = st.Length()
			continue
		}
		counts[st.Queue] = st
	}
	for name, st := range counts {
		ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(st.Visible), name, "visible")
		ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(st.InFlight), name, "in_flight")
	}
	for name, n := range poison {
		ch <- prometheus.MustNewConstMetric(c.poison, prometheus.GaugeValue, float64(n), name)
	}
}

// instanceCollector reports the instance counts of every status (zero included, so that a
// status's series does not vanish when its last instance moves on).
type instanceCollector struct {
	src  Instances
	desc *prometheus.Desc
}

func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	counts, ok := read(ch, c.desc, "count instances", c.src.InstanceCounts)
	if !ok {
		return
	}
	for _, st := range store.Statuses {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

// poolCollector reports each pool's workers and the scaler's desired count.
type poolCollector struct {
	src              Pools
	workers, desired *prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.workers
	ch <- c.desired
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.src.Pools() {
		w := p.Workers
		for _, s := range [...]struct {
			state string
			n     int
		}{{"starting", w.Starting}, {"ready", w.Ready}, {"stopping", w.Stopping}} {
			ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(s.n), p.Name, s.state)
		}
		ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(p.Desired), p.Name)
	}
}

func isPoison(queueName string) bool {
	_, ok := queue.PoisonOf(queueName)
	return ok
}

func fqName(name string) string { return prometheus.BuildFQName(namespace, "", name) }
