// Package leader runs a task hub's singletons: work that one process of the hub does at a time
// (the poison sweeper today). Every server competes for the role's lease in the store; the one
// that holds it runs the role's task, renewing the lease every TTL/3. The task's context ends
// when the lease is lost, or when it could not be renewed for 5/6 of TTL — before a rival can
// take it over, as long as the servers' clocks agree to within TTL/6 — and its writes carry the
// lease's fence, so a write of a deposed leader that arrives late is refused by the store.
//
// What is leased row by row (instances, tasks, queue messages, event deliveries, timers, which
// are inbox messages) needs no leader: every server works on all of it.
package leader

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/store"
)

// DefaultTTL is how long a lease lasts without renewal: how long a role can go unplayed after
// its leader died.
const DefaultTTL = 15 * time.Second

// Config configures a role.
type Config struct {
	Store store.Backend
	// Role names the lease (one per singleton).
	Role string
	// Holder names this process (unique among the hub's servers: the engine's node id).
	Holder string
	// TTL is the lease's length (default DefaultTTL).
	TTL    time.Duration
	Clock  clock.Clock
	Logger *slog.Logger
	// OnChange, when set, is told when this process starts or stops playing the role.
	OnChange func(leading bool, fence int64)
}

// Run plays the role whenever this process holds its lease, until ctx ends: task runs with a
// context that ends when leadership does, and the fence its writes carry. When ctx ends Run
// stops the task, waits for it and releases the lease, so a rival takes over at once.
func Run(ctx context.Context, cfg Config, task func(ctx context.Context, fence store.LeaderFence)) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{cfg: cfg, log: cfg.Logger.With("role", cfg.Role)}
	for {
		if fence, until, held, err := r.acquire(ctx); held && err == nil {
			r.lead(ctx, fence, until, task)
		}
		select {
		case <-ctx.Done():
			return
		case <-cfg.Clock.After(r.every()):
		}
	}
}

type runner struct {
	cfg Config
	log *slog.Logger
}

// every is the renewal period, and how often a follower tries to take the lease.
func (r *runner) every() time.Duration { return r.cfg.TTL / 3 }

// acquire takes or renews the lease; held with the fence and the local deadline of the lease
// when this process holds it. The deadline counts from before the call, as the store's expiry
// may.
func (r *runner) acquire(ctx context.Context) (fence int64, until time.Time, held bool, err error) {
	now := r.cfg.Clock.Now()
	lease, held, err := r.cfg.Store.LeaderAcquire(ctx, &store.LeaderAcquireParams{Role: r.cfg.Role, Holder: r.cfg.Holder,
		Now: now, Expiry: now.Add(r.cfg.TTL)})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("leader lease", "err", err)
		}
		return 0, time.Time{}, false, err
	}
	return lease.Fence, now.Add(r.cfg.TTL - r.cfg.TTL/6), held, nil
}

// lead runs task while the lease holds, renewing it; it returns when the lease is lost or ctx
// ends (then after releasing it).
func (r *runner) lead(ctx context.Context, fence int64, until time.Time, task func(context.Context, store.LeaderFence)) {
	r.log.Info("leading", "fence", fence)
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(true, fence)
	}
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		task(tctx, store.LeaderFence{Role: r.cfg.Role, Fence: fence})
	}()
	defer func() {
		cancel()
		<-done
		if r.cfg.OnChange != nil {
			r.cfg.OnChange(false, fence)
		}
	}()
	for {
		wait := min(r.every(), max(until.Sub(r.cfg.Clock.Now()), 0))
		select {
		case <-ctx.Done():
			cancel()
			<-done
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := r.cfg.Store.LeaderRelease(rctx, r.cfg.Role, r.cfg.Holder, fence); err != nil && !errors.Is(err, store.ErrClosed) {
				r.log.Warn("release the leader lease", "err", err)
			}
			rcancel()
			r.log.Info("stepped down", "fence", fence)
			return
		case <-r.cfg.Clock.After(wait):
		}
		if !r.cfg.Clock.Now().Before(until) {
			r.log.Warn("lost the leader lease: not renewed in time", "fence", fence)
			return
		}
		f, u, held, err := r.acquire(ctx)
		switch {
		case err != nil:
			// The store is unreachable: keep leading until the deadline, retrying.
		case held && f == fence:
			until = u
		case held:
			// Granted under a new fence: someone else held it meanwhile, so this tenure ended;
			// the next one starts the task again under the new fence.
			r.log.Warn("the leader lease changed hands meanwhile", "fence", fence, "new fence", f)
			return
		default:
			r.log.Warn("lost the leader lease to another server", "fence", fence)
			return
		}
	}
}
