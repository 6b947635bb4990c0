package workers

import (
	"context"
	"log/slog"
	"sync"

	"github.com/orcahq/orca/worker"
)

// GoroutinePool runs workers as goroutines in the orca process.
type GoroutinePool struct {
	cfg worker.Config

	mu      sync.Mutex
	running []context.CancelFunc
	wg      sync.WaitGroup
}

// NewGoroutinePool returns an empty pool whose workers run with cfg.
func NewGoroutinePool(cfg worker.Config) *GoroutinePool {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &GoroutinePool{cfg: cfg}
}

// Resize makes the pool run n workers; extra ones stop taking items and finish the ones in hand.
func (p *GoroutinePool) Resize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.running) < n {
		ctx, cancel := context.WithCancel(context.Background())
		p.running = append(p.running, cancel)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := worker.Run(ctx, p.cfg); err != nil {
				p.cfg.Logger.Error("worker stopped", "err", err)
			}
		}()
	}
	for len(p.running) > n {
		last := len(p.running) - 1
		p.running[last]()
		p.running = p.running[:last]
	}
}

// Size returns the number of workers.
func (p *GoroutinePool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

// Stop stops every worker and waits until they have finished their items.
func (p *GoroutinePool) Stop() {
	p.Resize(0)
	p.wg.Wait()
}
