// Package workers runs pools of compute workers for a node: local processes (`orca worker`
// children) and in-process goroutines. A pool is resized by its owner (a fixed size for now;
// the scaler drives it) and never leaves a worker behind: children die with orca (the kernel's
// parent-death signal), are asked to stop with SIGTERM and killed after a grace period.
package workers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ProcessConfig configures a ProcessPool.
type ProcessConfig struct {
	// Command is a worker's argv (e.g. orca's own executable, "worker", "--server", url).
	Command []string
	Env     []string
	Logger  *slog.Logger
	// Output receives the workers' stderr and stdout, each line prefixed with the worker's name
	// (default os.Stderr).
	Output io.Writer
	// StopGrace is how long a stopping worker may finish its items after SIGTERM before it is
	// killed (default 30s).
	StopGrace time.Duration
}

// ProcessPool keeps a number of worker processes running, restarting crashed ones with
// backoff.
type ProcessPool struct {
	cfg ProcessConfig

	mu      sync.Mutex
	want    int
	slots   []*slot
	nextID  int
	stopped bool
	wg      sync.WaitGroup
	outMu   sync.Mutex
}

// slot is one worker position: it runs, restarts and finally stops one process at a time.
type slot struct {
	id       int
	stop     chan struct{} // closed: stop this worker
	state    string        // starting, running, stopping
	pid      int
	restarts int
}

// Worker states reported by Counts.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
)

// NewProcessPool returns an empty pool.
func NewProcessPool(cfg ProcessConfig) *ProcessPool {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Output == nil {
		cfg.Output = os.Stderr
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 30 * time.Second
	}
	return &ProcessPool{cfg: cfg}
}

// Resize makes the pool run n workers: it starts the missing ones and asks the newest extra
// ones to stop.
func (p *ProcessPool) Resize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.want = n
	active := 0
	for _, s := range p.slots {
		if s.state != StateStopping {
			active++
		}
	}
	for ; active < n; active++ {
		p.nextID++
		s := &slot{id: p.nextID, stop: make(chan struct{}), state: StateStarting}
		p.slots = append(p.slots, s)
		p.wg.Add(1)
		go p.run(s)
	}
	for i := len(p.slots) - 1; i >= 0 && active > n; i-- {
		if s := p.slots[i]; s.state != StateStopping {
			s.state = StateStopping
			close(s.stop)
			active--
		}
	}
}

// Counts returns how many workers are starting, running and stopping.
func (p *ProcessPool) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := map[string]int{StateStarting: 0, StateRunning: 0, StateStopping: 0}
	for _, s := range p.slots {
		c[s.state]++
	}
	return c
}

// PIDs returns the process ids of the running workers (for tests and diagnostics).
func (p *ProcessPool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, s := range p.slots {
		if s.pid != 0 {
			out = append(out, s.pid)
		}
	}
	return out
}

// Stop asks every worker to stop (SIGTERM), kills the ones still running after the grace period
// (or when ctx ends), and waits for all of them.
func (p *ProcessPool) Stop(ctx context.Context) {
	p.mu.Lock()
	p.stopped = true
	for _, s := range p.slots {
		if s.state != StateStopping {
			s.state = StateStopping
			close(s.stop)
		}
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		p.killAll()
		<-done
	}
}

func (p *ProcessPool) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.pid != 0 {
			if proc, err := os.FindProcess(s.pid); err == nil {
				_ = proc.Kill()
			}
		}
	}
}

// run keeps the slot's worker running until the slot is stopped.
func (p *ProcessPool) run(s *slot) {
	defer p.wg.Done()
	defer p.remove(s)
	backoff := 500 * time.Millisecond
	for {
		started := time.Now()
		err := p.runOnce(s)
		select {
		case <-s.stop:
			return
		default:
		}
		if time.Since(started) > 30*time.Second {
			backoff = 500 * time.Millisecond
		}
		p.mu.Lock()
		s.restarts++
		s.state = StateStarting
		p.mu.Unlock()
		p.cfg.Logger.Warn("worker exited; restarting", "worker", s.id, "err", err, "in", backoff)
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce starts the worker process and waits for it; a stop request sends SIGTERM, then
// SIGKILL after the grace period.
func (p *ProcessPool) runOnce(s *slot) error {
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	cmd.Env = append(os.Environ(), p.cfg.Env...)
	out := &prefixWriter{prefix: fmt.Sprintf("[worker %d] ", s.id), w: p.cfg.Output, mu: &p.outMu}
	cmd.Stdout, cmd.Stderr = out, out
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	s.pid = cmd.Process.Pid
	if s.state == StateStarting {
		s.state = StateRunning
	}
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-s.stop:
		_ = terminate(cmd.Process)
		select {
		case err = <-done:
		case <-time.After(p.cfg.StopGrace):
			p.cfg.Logger.Warn("worker did not stop in time; killing it", "worker", s.id, "grace", p.cfg.StopGrace)
			_ = cmd.Process.Kill()
			err = <-done
		}
	}
	out.flush()
	p.mu.Lock()
	s.pid = 0
	p.mu.Unlock()
	return err
}

func (p *ProcessPool) remove(s *slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.slots {
		if x == s {
			p.slots = append(p.slots[:i:i], p.slots[i+1:]...)
			return
		}
	}
}

// prefixWriter writes whole lines, each prefixed.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			break
		}
		_, _ = pw.w.Write(append([]byte(pw.prefix), pw.buf[:i+1]...))
		pw.buf = pw.buf[i+1:]
	}
	return len(b), nil
}

func (pw *prefixWriter) flush() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if len(pw.buf) > 0 {
		_, _ = pw.w.Write(append(append([]byte(pw.prefix), pw.buf...), '\n'))
		pw.buf = nil
	}
}
