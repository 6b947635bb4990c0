package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/scaler"
)

// Pools is the read side of the scaler (*scaler.Scaler satisfies it): the pools' state and
// their decision logs.
type Pools interface {
	Pools() []scaler.PoolStatus
	// Decisions returns a pool's recent decisions, oldest first (see scaler.Scaler.Decisions).
	Decisions(pool string, limit int, changesOnly bool) ([]scaler.Decision, bool)
}

// Queues measures a queue (queue.Service satisfies it).
type Queues interface {
	Stats(ctx context.Context, queue string) (queue.Stats, error)
}

// Defaults of Config.
const (
	DefaultInterval = time.Second
	DefaultWindow   = 30 * time.Minute
)

// maxDecisions bounds the scaling decisions a series carries per pool.
const maxDecisions = 500

// Config configures a Sampler. Zero values take the documented defaults.
type Config struct {
	// Queues and WorkQueue are the compute flow's queue (required); its poison queue is
	// WorkQueue's queue.PoisonName.
	Queues    Queues
	WorkQueue string
	// Pools are the worker pools; nil: none (the page shows the queue and the orchestrations).
	Pools Pools
	// Items returns the compute items finished since the node started (cumulative); nil: zeros.
	Items func() (completed, failed uint64)
	// Nodes counts the orca servers; nil: 1.
	Nodes func() int
	// Cluster is the Kubernetes cluster's pods and nodes; nil: none (the page shows no
	// Kubernetes charts).
	Cluster Cluster
	// Interval is the time between samples (default 1s); Window how far back they are kept
	// (default 30m).
	Interval time.Duration
	Window   time.Duration
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Sample is one measurement. Counts are instantaneous except Completed and Failed, which count
// from the node's start (the page derives items/s from them).
type Sample struct {
	Time      time.Time    `json:"-"`
	T         int64        `json:"t"` // Time in Unix milliseconds
	Visible   int          `json:"visible"`
	InFlight  int          `json:"inFlight"`
	Poison    int          `json:"poison"`
	Completed uint64       `json:"completed"`
	Failed    uint64       `json:"failed"`
	Nodes     int          `json:"nodes"`
	Pools     []PoolSample `json:"pools,omitempty"`
	// Cluster is set when Config.Cluster is.
	Cluster *ClusterSample `json:"kubernetes,omitempty"`
}

// PoolSample is a pool's workers at a sample: starting (Kubernetes: pending pods), ready
// (running pods), stopping, and the last decision's desired count.
type PoolSample struct {
	Name     string `json:"name"`
	Starting int    `json:"starting"`
	Ready    int    `json:"ready"`
	Stopping int    `json:"stopping"`
	Desired  int    `json:"desired"`
}

// Series is what the page draws: the samples after a time, and the decisions that resized a
// pool in that span.
type Series struct {
	Now             time.Time         `json:"now"`
	WorkQueue       string            `json:"workQueue"`
	IntervalSeconds float64           `json:"intervalSeconds"`
	WindowSeconds   float64           `json:"windowSeconds"`
	Samples         []Sample          `json:"samples"`
	Decisions       []scaler.Decision `json:"decisions"`
	// Cluster is the Kubernetes cluster now, when Config.Cluster is set.
	Cluster *ClusterState `json:"kubernetes,omitempty"`
}

// Sampler records a bounded time series of the queue, the pools and the item counters, so a
// page opened now has the recent past to draw.
type Sampler struct {
	cfg Config

	mu      sync.Mutex
	ring    []Sample
	next    int
	n       int
	lastErr string

	stop context.CancelFunc
	done chan struct{}
}

// NewSampler checks cfg and returns a sampler; Start runs it.
func NewSampler(cfg Config) (*Sampler, error) {
	if cfg.Queues == nil || cfg.WorkQueue == "" {
		return nil, errors.New("dashboard: Queues and WorkQueue are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window < cfg.Interval {
		return nil, errors.New("dashboard: Window is shorter than Interval")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sampler{cfg: cfg, ring: make([]Sample, int(cfg.Window/cfg.Interval))}, nil
}

// Start samples at once, then every Interval until Stop.
func (s *Sampler) Start(ctx context.Context) error {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			s.runOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-s.cfg.Clock.After(s.cfg.Interval):
			}
		}
	}()
	return nil
}

// Stop ends the sampling and waits for it.
func (s *Sampler) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

// runOnce takes one sample. A queue that cannot be read skips the sample (the chart joins its
// neighbours); the error is logged when it first appears.
func (s *Sampler) runOnce(ctx context.Context) {
	now := s.cfg.Clock.Now()
	smp := Sample{Time: now, T: now.UnixMilli(), Nodes: 1}
	work, err := s.cfg.Queues.Stats(ctx, s.cfg.WorkQueue)
	var poison queue.Stats
	if err == nil {
		poison, err = s.cfg.Queues.Stats(ctx, queue.PoisonName(s.cfg.WorkQueue))
	}
	if err != nil {
		if ctx.Err() == nil {
			s.noteError(err)
		}
		return
	}
	s.noteError(nil)
	smp.Visible, smp.InFlight, smp.Poison = work.Visible, work.InFlight, poison.Length()
	if s.cfg.Items != nil {
		smp.Completed, smp.Failed = s.cfg.Items()
	}
	if s.cfg.Nodes != nil {
		smp.Nodes = s.cfg.Nodes()
	}
	if s.cfg.Pools != nil {
		for _, p := range s.cfg.Pools.Pools() {
			smp.Pools = append(smp.Pools, PoolSample{Name: p.Name, Starting: p.Workers.Starting, Ready: p.Workers.Ready,
				Stopping: p.Workers.Stopping, Desired: p.Desired})
		}
	}
	if s.cfg.Cluster != nil {
		smp.Cluster = sampleOf(s.cfg.Cluster.State())
	}
	s.mu.Lock()
	s.ring[s.next] = smp
	s.next = (s.next + 1) % len(s.ring)
	s.n = min(s.n+1, len(s.ring))
	s.mu.Unlock()
}

// noteError logs a sampling error when it differs from the last one, and the recovery.
func (s *Sampler) noteError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	changed := msg != s.lastErr
	s.lastErr = msg
	s.mu.Unlock()
	switch {
	case !changed:
	case err != nil:
		s.cfg.Logger.Warn("dashboard: cannot read the work queue; samples are skipped until it can", "queue", s.cfg.WorkQueue, "err", err)
	default:
		s.cfg.Logger.Info("dashboard: the work queue can be read again", "queue", s.cfg.WorkQueue)
	}
}

// Series returns the samples taken after since (to the millisecond, as Sample.T; all of the
// window for a zero since), oldest first, and the decisions that resized a pool after since
// within the window.
func (s *Sampler) Series(since time.Time) Series {
	sinceMillis := int64(-1 << 63)
	if !since.IsZero() {
		sinceMillis = since.UnixMilli()
	}
	out := Series{Now: s.cfg.Clock.Now(), WorkQueue: s.cfg.WorkQueue, IntervalSeconds: s.cfg.Interval.Seconds(),
		WindowSeconds: s.cfg.Window.Seconds(), Samples: []Sample{}, Decisions: []scaler.Decision{}}
	s.mu.Lock()
	for i := range s.n {
		smp := s.ring[(s.next-s.n+i+len(s.ring))%len(s.ring)]
		if smp.T > sinceMillis {
			out.Samples = append(out.Samples, smp)
		}
	}
	s.mu.Unlock()
	if s.cfg.Cluster != nil {
		st := s.cfg.Cluster.State()
		out.Cluster = &st
	}
	if s.cfg.Pools == nil {
		return out
	}
	from := out.Now.Add(-s.cfg.Window)
	if since.After(from) {
		from = since
	}
	for _, p := range s.cfg.Pools.Pools() {
		ds, _ := s.cfg.Pools.Decisions(p.Name, maxDecisions, true)
		for _, d := range ds {
			if d.Time.After(from) {
				out.Decisions = append(out.Decisions, d)
			}
		}
	}
	return out
}
