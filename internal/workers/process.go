// Package workers runs pools of compute workers for a node: local processes (`orca worker`
// children) and in-process goroutines, both scaler.Providers. A pool is sized by the scaler and
// never leaves a worker behind: children die with orca (the kernel's parent-death signal), are
// asked to stop with SIGTERM (finishing the item in hand) and killed after a grace period.
// A worker counts as ready once it polls the queue.
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

	"github.com/orcahq/orca/internal/backoff"
	"github.com/orcahq/orca/internal/scaler"
)

// WorkerIDEnv names the environment variable that gives a worker process its id; `orca worker`
// sends it with every request so the node can tell when that worker polls (MarkReady).
const WorkerIDEnv = "ORCA_WORKER_ID"

// ProcessConfig configures a ProcessPool.
type ProcessConfig struct {
	// Name prefixes the workers' ids (default "workers").
	Name string
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
// backoff. It is the scaler's local-process provider.
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
	state    string        // starting, ready, stopping
	pid      int
	workerID string // the running process's id (WorkerIDEnv)
	restarts int
}

// Worker states.
const (
	StateStarting = "starting"
	StateReady    = "ready"
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
	if cfg.Name == "" {
		cfg.Name = "workers"
	}
	return &ProcessPool{cfg: cfg}
}

// Kind is "process".
func (p *ProcessPool) Kind() string { return "process" }

// Scale makes the pool run n workers: it starts the missing ones and asks extra ones to stop,
// the ones not yet ready first, then the newest.
func (p *ProcessPool) Scale(n int) {
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
	for _, state := range []string{StateStarting, StateReady} {
		for i := len(p.slots) - 1; i >= 0 && active > n; i-- {
			if s := p.slots[i]; s.state == state {
				s.state = StateStopping
				close(s.stop)
				active--
			}
		}
	}
}

// MarkReady records that the worker with this id polls the queue; unknown ids are ignored.
func (p *ProcessPool) MarkReady(workerID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.workerID == workerID && s.state == StateStarting {
			s.state = StateReady
		}
	}
}

// Workers counts the pool's workers by state.
func (p *ProcessPool) Workers() scaler.Workers {
	p.mu.Lock()
	defer p.mu.Unlock()
	var w scaler.Workers
	for _, s := range p.slots {
		switch s.state {
		case StateStarting:
			w.Starting++
		case StateReady:
			w.Ready++
		default:
			w.Stopping++
		}
	}
	return w
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
				_ = kill(proc)
			}
		}
	}
}

// run keeps the slot's worker running until the slot is stopped.
func (p *ProcessPool) run(s *slot) {
	defer p.wg.Done()
	defer p.remove(s)
	delays := backoff.Backoff{Base: 500 * time.Millisecond, Cap: 30 * time.Second}
	for {
		started := time.Now()
		err := p.runOnce(s)
		select {
		case <-s.stop:
			return
		default:
		}
		if time.Since(started) > 30*time.Second {
			delays.Reset() // it ran long enough to count as a success
		}
		delay := delays.Next()
		p.mu.Lock()
		s.restarts++
		if s.state != StateStopping { // a Scale may have stopped the slot meanwhile
			s.state = StateStarting
		}
		p.mu.Unlock()
		p.cfg.Logger.Warn("worker exited; restarting", "worker", s.id, "err", err, "in", delay)
		select {
		case <-s.stop:
			return
		case <-time.After(delay):
		}
	}
}

// runOnce starts the worker process and waits for it; a stop request sends SIGTERM, then
// SIGKILL after the grace period.
func (p *ProcessPool) runOnce(s *slot) error {
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	p.mu.Lock()
	// Known before the process starts: its first poll may arrive before Start returns.
	workerID := fmt.Sprintf("%s-%d-%d", p.cfg.Name, s.id, s.restarts)
	s.workerID = workerID
	p.mu.Unlock()
	cmd.Env = append(append(os.Environ(), p.cfg.Env...), WorkerIDEnv+"="+workerID)
	out := &prefixWriter{prefix: fmt.Sprintf("[worker %d] ", s.id), w: p.cfg.Output, mu: &p.outMu}
	cmd.Stdout, cmd.Stderr = out, out
	configureProcess(cmd)
	// Output copying must not outlive the process by much, whoever else holds the pipe.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		p.mu.Lock()
		s.workerID = ""
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	s.pid = cmd.Process.Pid
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
			_ = kill(cmd.Process)
			err = <-done
		}
	}
	out.flush()
	p.mu.Lock()
	s.pid, s.workerID = 0, ""
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
