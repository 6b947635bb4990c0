// Package metrics is a node's Prometheus instrumentation: its own registry (never the global
// default one, so several nodes in one process do not collide), the Go and process collectors,
// the instruments the engine, the store, the queue, the event router and dispatcher and the API
// report to through their hooks, and collectors that read queue lengths, instance counts and
// worker pools when Prometheus scrapes. docs/metrics.md lists every metric.
//
// The hooks are plain functions, so the packages that call them do not import Prometheus. The
// ones on hot paths (activities, deliveries, queue deletes) find their series in a read-locked
// map by one label value instead of hashing label values on every call.
package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orcahq/orca/internal/events"
)

const namespace = "orca"

// Label values of the outcomes.
const (
	outcomeCompleted = "completed"
	outcomeFailed    = "failed"
)

// Buckets, in seconds. Activities and items run from milliseconds to hours; a store commit
// takes from a fraction of a millisecond (no fsync) to seconds (a disk in trouble); requests
// include the long polls of the data plane (up to 60s).
var (
	workBuckets    = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	commitBuckets  = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	writesBuckets  = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
	requestBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)

// Metrics is a node's registry and the instruments its parts report to. Its methods are safe
// for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	activities   *byLabel[[2]prometheus.Observer] // by activity name: completed, failed
	items        *byLabel[prometheus.Observer]    // by queue
	deliveries   *byLabel[[3]prometheus.Counter]  // by subscription: delivered, retried, dead-lettered
	commits      prometheus.Histogram
	commitWrites prometheus.Histogram
	commitErrors prometheus.Counter
	requests     *prometheus.CounterVec
	requestTimes *prometheus.HistogramVec
}

// New returns the instruments of a node in a fresh registry with the Go and process
// collectors. Watch adds the collectors that read the node's state at scrape time.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}

	activity := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "activity_duration_seconds",
		Help:    "How long activity functions ran on this node, by activity and outcome (completed or failed).",
		Buckets: workBuckets}, []string{"activity", "outcome"})
	m.activities = newByLabel(func(name string) [2]prometheus.Observer {
		return [2]prometheus.Observer{activity.WithLabelValues(name, outcomeCompleted), activity.WithLabelValues(name, outcomeFailed)}
	})

	item := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "item_duration_seconds",
		Help: "Time from a work item's enqueue to its delete by the worker that finished it, by queue " +
			"(waiting, every attempt and the work itself).",
		Buckets: workBuckets}, []string{"queue"})
	m.items = newByLabel(func(q string) prometheus.Observer { return item.WithLabelValues(q) })

	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "event_deliveries_total",
		Help: "Event deliveries by subscription and outcome: delivered, retried (a webhook attempt failed and " +
			"will be retried) or dead_lettered."}, []string{"subscription", "outcome"})
	m.deliveries = newByLabel(func(sub string) [3]prometheus.Counter {
		return [3]prometheus.Counter{deliveries.WithLabelValues(sub, string(events.Delivered)),
			deliveries.WithLabelValues(sub, string(events.Retried)), deliveries.WithLabelValues(sub, string(events.DeadLettered))}
	})

	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "store_commit_duration_seconds",
		Help:    "Duration of the store's committed write transactions, from BEGIN to the end of COMMIT (group commits included).",
		Buckets: commitBuckets})
	m.commitWrites = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "store_commit_writes",
		Help: "Writes group-committed in one store transaction.", Buckets: writesBuckets})
	m.commitErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "store_commit_errors_total",
		Help: "Store transactions whose BEGIN or COMMIT failed."})

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"})
	m.requestTimes = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route pattern (long polls included).",
		Buckets: requestBuckets}, []string{"route"})

	reg.MustRegister(activity, item, deliveries, m.commits, m.commitWrites, m.commitErrors, m.requests, m.requestTimes)
	return m
}

// Registry returns the node's registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' exposition formats. A collector that fails (the
// store did not answer) is logged and left out; the rest is served.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
}

// ObserveActivity records an activity execution (engine.Config.ObserveActivity).
func (m *Metrics) ObserveActivity(name string, failed bool, d time.Duration) {
	o := m.activities.get(name)
	if failed {
		o[1].Observe(d.Seconds())
		return
	}
	o[0].Observe(d.Seconds())
}

// ObserveItem records a message deleted from a queue (the embedded queue's ObserveDelete).
// Deletes from poison queues clear out failed items; they are not item latencies.
func (m *Metrics) ObserveItem(queueName string, sinceEnqueue time.Duration) {
	if isPoison(queueName) {
		return
	}
	m.items.get(queueName).Observe(sinceEnqueue.Seconds())
}

// ObserveDelivery counts an event delivery outcome (events.DeliveryObserver).
func (m *Metrics) ObserveDelivery(subscription string, outcome events.DeliveryOutcome) {
	c := m.deliveries.get(subscription)
	switch outcome {
	case events.Delivered:
		c[0].Inc()
	case events.Retried:
		c[1].Inc()
	case events.DeadLettered:
		c[2].Inc()
	}
}

// ObserveCommit records a store transaction (sqlite.Config.ObserveCommit).
func (m *Metrics) ObserveCommit(writes int, d time.Duration, err error) {
	if err != nil {
		m.commitErrors.Inc()
		return
	}
	m.commits.Observe(d.Seconds())
	m.commitWrites.Observe(float64(writes))
}

// InstrumentRoute counts and times the requests of one route. route is the route's pattern
// ("GET /api/queues/{queue}"), never the request's path: paths carry ids, which are user input
// without bound.
func (m *Metrics) InstrumentRoute(route string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerDuration(m.requestTimes.MustCurryWith(labels),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h))
}

// byLabel caches the series of a vector by the value of one label, created on first use.
type byLabel[T any] struct {
	mu     sync.RWMutex
	series map[string]T
	create func(string) T
}

func newByLabel[T any](create func(string) T) *byLabel[T] {
	return &byLabel[T]{series: map[string]T{}, create: create}
}

func (b *byLabel[T]) get(value string) T {
	b.mu.RLock()
	s, ok := b.series[value]
	b.mu.RUnlock()
	if ok {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.series[value]; ok {
		return s
	}
	s = b.create(value)
	b.series[value] = s
	return s
}
