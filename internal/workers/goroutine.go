package workers

import (
	"context"
	"log/slog"
	"sync"

	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/worker"
)

// GoroutinePool runs workers as goroutines in the orca process: the scaler's in-process
// provider.
type GoroutinePool struct {
	cfg worker.Config

	mu      sync.Mutex
	running []*goroutineWorker
	w       scaler.Workers
	wg      sync.WaitGroup
}

type goroutineWorker struct {
	cancel context.CancelFunc
	ready  bool
}

// NewGoroutinePool returns an empty pool whose workers run with cfg.
func NewGoroutinePool(cfg worker.Config) *GoroutinePool {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &GoroutinePool{cfg: cfg}
}

// Kind is "goroutine".
func (p *GoroutinePool) Kind() string { return "goroutine" }

// Scale makes the pool run n workers; extra ones stop taking items and finish the ones in hand.
func (p *GoroutinePool) Scale(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.running) < n {
		ctx, cancel := context.WithCancel(context.Background())
		gw := &goroutineWorker{cancel: cancel}
		p.running = append(p.running, gw)
		p.w.Starting++
		cfg := p.cfg
		cfg.OnPolling = func() { p.markReady(gw) }
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := worker.Run(ctx, cfg); err != nil {
				p.cfg.Logger.Error("worker stopped", "err", err)
			}
			p.mu.Lock()
			p.w.Stopping--
			p.mu.Unlock()
		}()
	}
	for len(p.running) > n {
		last := len(p.running) - 1
		gw := p.running[last]
		gw.cancel()
		if gw.ready {
			p.w.Ready--
		} else {
			p.w.Starting--
		}
		p.w.Stopping++
		p.running = p.running[:last]
	}
}

func (p *GoroutinePool) markReady(gw *goroutineWorker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.running {
		if r == gw && !gw.ready {
			gw.ready = true
			p.w.Starting--
			p.w.Ready++
		}
	}
}

// Workers counts the pool's workers by state.
func (p *GoroutinePool) Workers() scaler.Workers {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w
}

// Stop stops every worker and waits until they have finished their items. The workers' own
// ShutdownGrace bounds the wait (past it their algorithms are cancelled and the items given
// back), so ctx is not needed to end it.
func (p *GoroutinePool) Stop(context.Context) {
	p.Scale(0)
	p.wg.Wait()
}
