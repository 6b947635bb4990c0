package scaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
)

// Provider runs one pool's workers: local processes, goroutines, or (later) a Kubernetes
// deployment that KEDA's external scaler sizes from the counts orca serves. The scaler only
// decides; the provider carries it out.
type Provider interface {
	// Kind names the provider ("process", "goroutine").
	Kind() string
	// Scale makes the pool run n workers. Extra workers are asked to stop: they finish the item
	// in hand and are killed only after a grace period.
	Scale(n int)
	// Workers counts the pool's workers by state.
	Workers() Workers
	// Stop stops every worker, killing what is left when ctx ends, and waits for them.
	Stop(ctx context.Context)
}

// Workers counts a pool's workers by state.
type Workers struct {
	// Starting: asked for, not yet polling the queue (Kubernetes: pending pods).
	Starting int `json:"starting"`
	// Ready: polling the queue or working on an item.
	Ready int `json:"ready"`
	// Stopping: asked to stop, finishing the item in hand.
	Stopping int `json:"stopping"`
}

// Actual is the count a scaling decision works from: workers starting or ready.
func (w Workers) Actual() int { return w.Starting + w.Ready }

// Pool is a worker pool the scaler sizes.
type Pool struct {
	Name  string
	Queue string
	// InputContainer: a BlobCreated in this container wakes the pool (empty: none does).
	InputContainer string
	Policy         Policy
	Provider       Provider
}

// Queues measures queue lengths.
type Queues interface {
	Stats(ctx context.Context, queue string) (queue.Stats, error)
}

// Config configures a Scaler.
type Config struct {
	Pools  []Pool
	Queues Queues
	Clock  clock.Clock
	Logger *slog.Logger
	// Keep is how many decisions each pool keeps (default 1,000).
	Keep int
}

// Scaler sizes every pool on its own loop.
type Scaler struct {
	cfg   Config
	pools []*pool
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

type pool struct {
	Pool
	wake chan struct{}

	mu        sync.Mutex
	state     State
	decisions []Decision // ring
	next      int
	total     int
	last      Decision
}

// PoolStatus is a pool's current state, as the dashboard and the API show it.
type PoolStatus struct {
	Name            string        `json:"name"`
	Queue           string        `json:"queue"`
	Provider        string        `json:"provider"`
	Min             int           `json:"min"`
	Max             int           `json:"max"`
	TargetLength    int64         `json:"targetQueueLength"`
	ActivationLen   int64         `json:"activationQueueLength"`
	PollingInterval time.Duration `json:"-"`
	Cooldown        time.Duration `json:"-"`
	PollingSeconds  float64       `json:"pollingIntervalSeconds"`
	CooldownSeconds float64       `json:"cooldownSeconds"`
	Workers         Workers       `json:"workers"`
	// Desired, Metric and Active are the last decision's.
	Desired    int       `json:"desired"`
	Metric     int64     `json:"metric"`
	Active     bool      `json:"active"`
	LastActive time.Time `json:"lastActive,omitzero"`
	Decisions  int       `json:"decisions"`
}

// New checks the pools' policies and returns a scaler; Start runs it.
func New(cfg Config) (*Scaler, error) {
	if cfg.Queues == nil {
		return nil, errors.New("scaler: no queues")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 1000
	}
	s := &Scaler{cfg: cfg}
	names := map[string]bool{}
	for _, p := range cfg.Pools {
		p.Policy = p.Policy.WithDefaults()
		switch {
		case p.Name == "" || names[p.Name]:
			return nil, fmt.Errorf("pool %q: needs a unique name", p.Name)
		case p.Provider == nil:
			return nil, fmt.Errorf("pool %s: no provider", p.Name)
		}
		if err := queue.ValidateName(p.Queue); err != nil {
			return nil, fmt.Errorf("pool %s: %w", p.Name, err)
		}
		if err := p.Policy.Validate(); err != nil {
			return nil, fmt.Errorf("pool %s: %w", p.Name, err)
		}
		names[p.Name] = true
		s.pools = append(s.pools, &pool{Pool: p, wake: make(chan struct{}, 1), decisions: make([]Decision, cfg.Keep)})
	}
	return s, nil
}

// Start runs each pool's loop: a decision at once, then every polling interval and on every
// wake.
func (s *Scaler) Start(ctx context.Context) {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, p := range s.pools {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, p)
		}()
	}
}

// Stop ends the loops and stops every pool's workers (see Provider.Stop).
func (s *Scaler) Stop(ctx context.Context) {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	var wg sync.WaitGroup
	for _, p := range s.pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Provider.Stop(ctx)
		}()
	}
	wg.Wait()
}

// Wake tells the pools whose input is container that work is arriving. It never blocks.
func (s *Scaler) Wake(container string) {
	for _, p := range s.pools {
		if p.InputContainer != "" && p.InputContainer == container {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (s *Scaler) loop(ctx context.Context, p *pool) {
	s.poll(ctx, p)
	// The poll timer survives wakes: a stream of events must not postpone the polls.
	next := s.cfg.Clock.After(p.Policy.PollingInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			s.woken(p)
		case <-next:
			s.poll(ctx, p)
			next = s.cfg.Clock.After(p.Policy.PollingInterval)
		}
	}
}

func (s *Scaler) poll(ctx context.Context, p *pool) {
	st, err := s.cfg.Queues.Stats(ctx, p.Queue)
	if err != nil {
		if ctx.Err() == nil {
			// KEDA's rule without a fallback: an unreadable metric changes nothing.
			s.cfg.Logger.Warn("scaler: cannot read the queue length; keeping the pool as it is", "pool", p.Name, "queue", p.Queue, "err", err)
		}
		return
	}
	p.mu.Lock()
	d := p.Policy.Decide(&p.state, int64(st.Length()), p.Provider.Workers().Actual(), s.cfg.Clock.Now())
	s.apply(p, d)
	p.mu.Unlock()
}

// woken handles a wake: an idle pool starts at once (a recorded decision); a running one only
// counts as active from now, so a burst of events does not flood the decision log.
func (s *Scaler) woken(p *pool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.cfg.Clock.Now()
	if actual := p.Provider.Workers().Actual(); actual > 0 {
		p.state.LastActive = now
		return
	}
	s.apply(p, p.Policy.Woken(&p.state, now))
}

// apply records d, logs it and resizes the pool when it changes. Called with p.mu held, so
// decisions and resizes of a pool happen in order.
func (s *Scaler) apply(p *pool, d Decision) {
	d.Pool = p.Name
	p.decisions[p.next] = d
	p.next = (p.next + 1) % len(p.decisions)
	p.total++
	p.last = d
	if d.Changed() {
		s.cfg.Logger.Info("scaler: resize", "pool", p.Name, "from", d.Actual, "to", d.Desired, "metric", d.Metric, "active", d.Active, "reason", d.Reason)
		p.Provider.Scale(d.Desired)
	} else {
		s.cfg.Logger.Debug("scaler: decision", "pool", p.Name, "workers", d.Actual, "metric", d.Metric, "active", d.Active, "reason", d.Reason)
	}
}

// Providers returns the pools' providers.
func (s *Scaler) Providers() []Provider {
	out := make([]Provider, len(s.pools))
	for i, p := range s.pools {
		out[i] = p.Provider
	}
	return out
}

// Pools returns every pool's status.
func (s *Scaler) Pools() []PoolStatus {
	out := make([]PoolStatus, 0, len(s.pools))
	for _, p := range s.pools {
		p.mu.Lock()
		pol := p.Policy
		out = append(out, PoolStatus{Name: p.Name, Queue: p.Queue, Provider: p.Provider.Kind(), Min: pol.Min, Max: pol.Max,
			TargetLength: pol.TargetQueueLength, ActivationLen: pol.ActivationQueueLength,
			PollingInterval: pol.PollingInterval, Cooldown: pol.Cooldown,
			PollingSeconds: pol.PollingInterval.Seconds(), CooldownSeconds: pol.Cooldown.Seconds(),
			Workers: p.Provider.Workers(), Desired: p.last.Desired, Metric: p.last.Metric, Active: p.last.Active,
			LastActive: p.state.LastActive, Decisions: p.total})
		p.mu.Unlock()
	}
	return out
}

// Decisions returns a pool's most recent decisions, oldest first: at most limit of them, and
// with changesOnly only those that resized the pool. ok is false for an unknown pool.
func (s *Scaler) Decisions(name string, limit int, changesOnly bool) (ds []Decision, ok bool) {
	for _, p := range s.pools {
		if p.Name != name {
			continue
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		n := min(p.total, len(p.decisions))
		for i := range n {
			d := p.decisions[(p.next-n+i+len(p.decisions))%len(p.decisions)]
			if !changesOnly || d.Changed() {
				ds = append(ds, d)
			}
		}
		if limit > 0 && len(ds) > limit {
			ds = ds[len(ds)-limit:]
		}
		return ds, true
	}
	return nil, false
}
