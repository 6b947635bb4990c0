// Package worker is the compute container loop of the seeds, for orca: it takes work items from
// a queue with their input blobs, runs an algorithm on each, and completes them — the output
// blob written, the message deleted, then the input blob. Build your own worker binary with a
// Go algorithm by calling Run with an Algorithm and a source (client.WorkerSource for an orca
// server); `orca worker` is this loop with an executable or the built-in demo algorithm.
//
// The loop is a pipeline: a leaser keeps up to Concurrency+Batch items in hand (more when items
// are quick: see Config.Batch), taking them a batch at a time (BatchSource: one call per batch, inputs inline); Concurrency slots run the
// algorithm; a completer sends finished items back a batch at a time with a few calls in flight,
// so leasing, computing and completing overlap and the calls per item fall with the load.
//
// Guarantees: a message is deleted only with or after its output blob is written, so a crash at
// any point leads to the item being redelivered (after its visibility timeout), never lost; the
// leases of the items in hand are renewed, a batch at a time, while they wait or run; a failing
// item is given back with its error and a backoff, and after the queue's maximum dequeue count
// it goes to the poison queue, where orca reports it as failed. On shutdown the worker stops
// taking messages and finishes the items in hand within a grace period; what the grace cuts
// short is given back, and an item that never began does not count as a delivery.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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

// MaxBatch is the most items one batched call carries (the server's limit).
const MaxBatch = 256

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	// Work is the batched data plane. When it is nil, Source is used: its batched calls if it
	// is a BatchSource too (client.WorkerSource is), else its per-item calls.
	Work      BatchSource
	Source    Source
	Algorithm Algorithm
	// Queue is the work queue (default "input").
	Queue string
	// Concurrency is how many items are processed at once (default 1).
	Concurrency int
	// Batch is how many items the worker holds ahead of its slots, leased while they run
	// (default Concurrency, at most MaxBatch). Once it has measured its items, a worker whose
	// items are quick holds more ahead: what its slots finish in half a second, up to MaxBatch
	// (a lease then takes more items per call); slow items are never held further ahead than
	// Batch, so that an idle worker is not left without work another one sits on.
	Batch int
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
	if (c.Work == nil && c.Source == nil) || c.Algorithm == nil {
		return errors.New("worker: a Work or Source and an Algorithm are required")
	}
	if c.Work == nil {
		if b, ok := c.Source.(BatchSource); ok {
			c.Work = b
		} else {
			c.Work = perItem{c.Source}
		}
	}
	if c.Queue == "" {
		c.Queue = compute.DefaultQueue
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Batch <= 0 {
		c.Batch = c.Concurrency
	}
	c.Batch = min(c.Batch, MaxBatch)
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
