// Package worker is the compute container loop of the seeds, for orca: it takes work items from
// a queue, reads each item's input blob, runs an algorithm, writes the output blob, deletes the
// message and then the input blob — the seeds' order. Build your own worker binary with a Go
// algorithm by calling Run with an Algorithm and a Source (client.New(...) for an orca server);
// `orca worker` is this loop with an executable or the built-in demo algorithm.
//
// Guarantees: a message is deleted only after its output blob is written, so a crash at any
// point leads to the item being redelivered (after its visibility timeout), never lost; the
// message's lease is renewed while the algorithm runs; a failing item is given back with its
// error and a backoff, and after the queue's maximum dequeue count it goes to the poison queue,
// where orca reports it as failed. On shutdown the worker stops taking messages and finishes the
// ones in hand.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orcahq/orca/compute"
)

// Algorithm computes one item's result from its input_data.
type Algorithm interface {
	Compute(ctx context.Context, input json.RawMessage) (json.RawMessage, error)
}

// AlgorithmFunc adapts a function to Algorithm.
type AlgorithmFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Compute calls f.
func (f AlgorithmFunc) Compute(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	return f(ctx, input)
}

// Message is a dequeued work item message.
type Message struct {
	ID           string
	PopReceipt   string
	Body         []byte
	DequeueCount int
}

// Source is the data plane a worker works against: an orca server over HTTP (package client),
// or orca's own queue and blob store in process.
type Source interface {
	// Dequeue takes up to max messages, hidden for visibility; it waits up to wait for one.
	Dequeue(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*Message, error)
	// Delete deletes a message held with popReceipt.
	Delete(ctx context.Context, queue, id, popReceipt string) error
	// Update hides a held message for visibility (0: gives it back now) and records lastError;
	// it returns the new pop receipt.
	Update(ctx context.Context, queue, id, popReceipt string, visibility time.Duration, lastError string) (string, error)
	GetBlob(ctx context.Context, container, name string) ([]byte, error)
	PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error
	DeleteBlob(ctx context.Context, container, name string) error
}

// ErrNotFound is what a Source returns (wrapped) for a missing blob or message.
var ErrNotFound = errors.New("not found")

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	Source    Source
	Algorithm Algorithm
	// Queue is the work queue (default "input").
	Queue string
	// Concurrency is how many items are processed at once (default 1).
	Concurrency int
	// MaxIdle makes Run return after this long without a message (the seeds' containers shut
	// down when idle); 0 runs until ctx ends.
	MaxIdle time.Duration
	// VisibilityTimeout is the lease on a message (default 30s); it is renewed every third of
	// it while the algorithm runs.
	VisibilityTimeout time.Duration
	// PollWait is the long-poll wait of a dequeue (default 20s).
	PollWait time.Duration
	// ShutdownGrace is how long items in hand may still take once ctx ends (default 30s); then
	// their algorithm's context is cancelled and they are given back.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// OnItem, if set, is called after each item with its outcome (nil error: done).
	OnItem func(item compute.WorkItem, err error)
	// OnPolling, if set, is called once, when the worker first polls the queue (it is ready).
	OnPolling func()
}

func (c *Config) setDefaults() error {
	if c.Source == nil || c.Algorithm == nil {
		return errors.New("worker: Source and Algorithm are required")
	}
	if c.Queue == "" {
		c.Queue = compute.DefaultQueue
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.VisibilityTimeout <= 0 {
		c.VisibilityTimeout = 30 * time.Second
	}
	if c.PollWait <= 0 {
		c.PollWait = 20 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run processes work items until ctx ends (then finishes the items in hand) or, with MaxIdle,
// until the queue has been empty that long. It returns nil on either; an error means the worker
// could not run at all.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	w := &runner{cfg: cfg, log: cfg.Logger.With("queue", cfg.Queue)}
	// Items in hand outlive ctx by up to ShutdownGrace.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, cancelWork)
		context.AfterFunc(workCtx, func() { t.Stop() })
	})
	defer stop()

	slots := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	var lastWork atomic.Int64 // unix nanos of the last message taken or finished
	lastWork.Store(time.Now().UnixNano())
	idleFor := func() time.Duration { return time.Since(time.Unix(0, lastWork.Load())) }
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		// Take as many messages as there are free slots.
		free := 0
		slots <- struct{}{}
		free++
	fill:
		for free < cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		if ctx.Err() != nil {
			for ; free > 0; free-- {
				<-slots
			}
			break
		}
		wait := cfg.PollWait
		if cfg.MaxIdle > 0 {
			wait = min(wait, max(cfg.MaxIdle-idleFor(), time.Millisecond))
		}
		if cfg.OnPolling != nil {
			cfg.OnPolling()
			cfg.OnPolling = nil
		}
		msgs, err := cfg.Source.Dequeue(ctx, cfg.Queue, free, cfg.VisibilityTimeout, wait)
		for i := len(msgs); i < free; i++ {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			w.log.Warn("dequeue failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if len(msgs) > 0 {
			lastWork.Store(time.Now().UnixNano())
		} else if cfg.MaxIdle > 0 && len(slots) == 0 && idleFor() >= cfg.MaxIdle {
			w.log.Info("idle; exiting", "max_idle", cfg.MaxIdle)
			return nil
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				w.process(workCtx, m)
				lastWork.Store(time.Now().UnixNano())
			}()
		}
	}
	w.log.Info("stopping: finishing the items in hand")
	return nil
}

type runner struct {
	cfg Config
	log *slog.Logger
}

// lease tracks a held message's current pop receipt while its lease is renewed.
type lease struct {
	mu         sync.Mutex
	popReceipt string
}

func (l *lease) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.popReceipt
}

func (l *lease) set(p string) {
	l.mu.Lock()
	l.popReceipt = p
	l.mu.Unlock()
}

// process handles one message from dequeue to delete.
func (w *runner) process(ctx context.Context, m *Message) {
	cfg := w.cfg
	var item compute.WorkItem
	if err := json.Unmarshal(m.Body, &item); err != nil || item.PathToData == "" {
		w.giveBack(ctx, m.ID, m.PopReceipt, m.DequeueCount, fmt.Sprintf("malformed work item %.200q", m.Body))
		return
	}
	log := w.log.With("input_id", item.InputID, "instance_id", item.InstanceID, "dequeue_count", m.DequeueCount)
	l := &lease{popReceipt: m.PopReceipt}
	renewCtx, stopRenew := context.WithCancel(ctx)
	algCtx, cancelAlg := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renew(renewCtx, m.ID, l, cancelAlg, log)
	}()
	err := w.compute(algCtx, item)
	stopRenew()
	<-renewed
	cancelAlg()
	if errors.Is(err, errInputGone) && w.finished(ctx, item) {
		// A second message of a finished item: orca enqueued it again after a crash lost the
		// record of the first enqueue, and the first message's worker deleted the input they
		// share. Given back, it would fail until the poison queue took it.
		log.Info("duplicate message of a finished item (its input is gone, its output is there); deleting it")
		if err := cfg.Source.Delete(ctx, cfg.Queue, m.ID, l.get()); err != nil {
			log.Warn("delete duplicate message failed", "err", err)
		}
		return
	}
	if cfg.OnItem != nil {
		defer cfg.OnItem(item, err)
	}
	if err != nil {
		if algCtx.Err() != nil && ctx.Err() != nil {
			log.Warn("shutdown cut the item short; giving it back")
			w.giveBack(context.WithoutCancel(ctx), m.ID, l.get(), 0, "worker shut down")
			return
		}
		log.Warn("item failed", "err", err)
		w.giveBack(ctx, m.ID, l.get(), m.DequeueCount, err.Error())
		return
	}
	// The seeds' order: output is written, then the message deleted, then the input blob.
	if err := cfg.Source.Delete(ctx, cfg.Queue, m.ID, l.get()); err != nil {
		log.Warn("delete message failed; the item may run again", "err", err)
		return
	}
	container, name, _ := compute.SplitPath(item.PathToData)
	if err := cfg.Source.DeleteBlob(ctx, container, name); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("delete input blob failed", "err", err)
	}
	log.Debug("item done")
}

// errInputGone: the item's input blob does not exist.
var errInputGone = errors.New("the input blob is gone")

// finished reports whether the item's output blob exists: another message of the item was
// done.
func (w *runner) finished(ctx context.Context, item compute.WorkItem) bool {
	_, err := w.cfg.Source.GetBlob(ctx, compute.OutputContainer, compute.OutputBlobName(item.InstanceID, item.InputID))
	return err == nil
}

// compute reads the input, runs the algorithm and writes the output blob.
func (w *runner) compute(ctx context.Context, item compute.WorkItem) error {
	container, name, ok := compute.SplitPath(item.PathToData)
	if !ok {
		return fmt.Errorf("path_to_data %q is not container/name", item.PathToData)
	}
	data, err := w.cfg.Source.GetBlob(ctx, container, name)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read input %s: %w: %w", item.PathToData, errInputGone, err)
	}
	if err != nil {
		return fmt.Errorf("read input %s: %w", item.PathToData, err)
	}
	var in compute.Input
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("input %s is not {input_id, instance_id, input_data}: %w", item.PathToData, err)
	}
	result, err := w.cfg.Algorithm.Compute(ctx, in.InputData)
	if err != nil {
		return err
	}
	if !json.Valid(result) {
		return fmt.Errorf("the algorithm's result is not JSON: %.200q", result)
	}
	out, err := json.Marshal(compute.Output{InputID: item.InputID, InstanceID: item.InstanceID, Result: result})
	if err != nil {
		return err
	}
	if err := w.cfg.Source.PutBlob(ctx, compute.OutputContainer, compute.OutputBlobName(item.InstanceID, item.InputID), out, "application/json"); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// renew extends the message's lease every third of the visibility timeout until ctx ends; a
// lost lease cancels the algorithm (another worker has the item now).
func (w *runner) renew(ctx context.Context, id string, l *lease, cancel context.CancelFunc, log *slog.Logger) {
	every := w.cfg.VisibilityTimeout / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, err := w.cfg.Source.Update(ctx, w.cfg.Queue, id, l.get(), w.cfg.VisibilityTimeout, "")
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("lease renewal failed; abandoning the item", "err", err)
			cancel()
			return
		}
		l.set(p)
	}
}

// giveBack returns a failed item to the queue after a backoff that grows with its dequeue
// count, recording why.
func (w *runner) giveBack(ctx context.Context, id, popReceipt string, dequeueCount int, reason string) {
	delay := time.Duration(0)
	if dequeueCount > 0 {
		delay = min(time.Duration(1<<min(dequeueCount-1, 6))*time.Second, time.Minute)
	}
	const maxReason = 4096
	if len(reason) > maxReason {
		reason = "..." + reason[len(reason)-maxReason:]
	}
	if _, err := w.cfg.Source.Update(ctx, w.cfg.Queue, id, popReceipt, delay, reason); err != nil {
		w.log.Warn("give back failed; the item returns after its visibility timeout", "message_id", id, "err", err)
	}
}
