// Package workitems is the batched data plane of orca's own workers. Where the seeds' containers
// make five calls per item (dequeue, get the input, put the output, delete the message, delete
// the input), a worker here makes two per batch: Lease takes up to MaxBatch work items with
// their input blobs' content inline, and Complete finishes a batch — for each item its output
// blob (the seeds' shape and name) with its BlobCreated routing, its message delete and its
// input delete. Release gives failed items back and Renew extends leases, a batch at a time too.
//
// When the queue and the blobs are orca's own (embedded, in one store), a Complete is one store
// transaction (store.WorkItemComplete): each item is completed whole or not at all, and an item
// whose lease was lost changes nothing and is reported as such. On other backends (S3 or Azure
// blobs, the Azure Storage Queue) the items are completed one by one in the seeds' order —
// output, message, input — which is at-least-once as the seeds' containers are.
package workitems

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/blob"
	blobembedded "github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/queue"
	queueembedded "github.com/orcahq/orca/internal/queue/embedded"
	"github.com/orcahq/orca/internal/store"
)

// MaxBatch is the most items one call leases, completes, releases or renews.
const MaxBatch = 256

// ErrInvalid wraps what is wrong with an item of a call (its outcome) or with the call.
var ErrInvalid = errors.New("invalid work item")

// Config configures a Plane.
type Config struct {
	Queues queue.Service
	Blobs  blob.Store
	Logger *slog.Logger
}

// Plane serves the batched calls on a queue service and a blob store. It is safe for
// concurrent use.
type Plane struct {
	queues queue.Service
	blobs  blob.Store
	log    *slog.Logger
	// one is set when the queue and the blobs are embedded in one store: a Complete is then one
	// transaction.
	one *oneStore
}

type oneStore struct {
	st     store.ComputeBackend
	queues *queueembedded.Service
	blobs  *blobembedded.Store
}

// New returns a plane on cfg's queue service and blob store.
func New(cfg Config) *Plane {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Plane{queues: cfg.Queues, blobs: cfg.Blobs, log: cfg.Logger}
	q, qok := cfg.Queues.(*queueembedded.Service)
	b, bok := cfg.Blobs.(*blobembedded.Store)
	if qok && bok && q.Store() == b.Store() {
		p.one = &oneStore{st: q.Store(), queues: q, blobs: b}
	}
	return p
}

// OneTransaction reports whether a Complete is one store transaction (see the package doc).
func (p *Plane) OneTransaction() bool { return p.one != nil }

// LeaseParams are the arguments of Lease.
type LeaseParams struct {
	Queue string
	// Max is the most items to lease (1 to MaxBatch).
	Max int
	// Visibility is the lease (the messages' visibility timeout).
	Visibility time.Duration
	// Wait > 0 long-polls: the call waits up to Wait for an item when none is visible.
	Wait time.Duration
}

// Item is a leased work item.
type Item struct {
	MessageID    string
	PopReceipt   string
	DequeueCount int
	NextVisible  time.Time
	// Body is the message's text; Work is what it says.
	Body []byte
	Work compute.WorkItem
	// Input is the content of the input blob Work.PathToData names. It is nil when Problem is
	// set: the item cannot run (a malformed message, an input that is gone or is not JSON) and
	// the worker fails it, so that it ends in the poison queue and its run reports it.
	Input   json.RawMessage
	Problem string
}

// Lease takes up to p.Max work items, each with its input inline. A message whose input is gone
// while its output is there belongs to an item that is done (a second message of it, enqueued
// again after a crash lost the record of the first enqueue): it is deleted, not returned.
func (p *Plane) Lease(ctx context.Context, lp LeaseParams) ([]*Item, error) {
	if lp.Max < 1 || lp.Max > MaxBatch {
		return nil, fmt.Errorf("lease %d items: 1 to %d at a time: %w", lp.Max, MaxBatch, ErrInvalid)
	}
	msgs, err := p.dequeue(ctx, lp)
	if err != nil {
		return nil, err
	}
	items := make([]*Item, len(msgs))
	forEach(len(msgs), readers, func(i int) { items[i] = p.resolve(ctx, lp.Queue, msgs[i]) })
	out := items[:0]
	for _, it := range items {
		if it != nil {
			out = append(out, it)
		}
	}
	return out, nil
}

// readers bounds the input reads of one lease, and the calls of one batch on backends without
// a batched transaction.
const readers = 16

// dequeue takes the messages: in one call when the queue takes batches larger than Azure's 32,
// else in calls of 32 of which only the first waits.
func (p *Plane) dequeue(ctx context.Context, lp LeaseParams) ([]*queue.Message, error) {
	opts := queue.DequeueOptions{Max: lp.Max, VisibilityTimeout: lp.Visibility, Wait: lp.Wait}
	if p.one != nil {
		return p.one.queues.DequeueMany(ctx, lp.Queue, opts)
	}
	var all []*queue.Message
	for len(all) < lp.Max {
		opts.Max = min(lp.Max-len(all), queue.MaxDequeueBatch)
		msgs, err := p.queues.Dequeue(ctx, lp.Queue, opts)
		if err != nil {
			if len(all) > 0 { // the messages in hand are leased: hand them out
				return all, nil
			}
			return nil, err
		}
		all = append(all, msgs...)
		if len(msgs) < opts.Max {
			break
		}
		opts.Wait = 0
	}
	return all, nil
}

// resolve reads a leased message's input. It returns nil for a message it deleted (a finished
// item's duplicate) or gave back (its input could not be read for a passing reason).
func (p *Plane) resolve(ctx context.Context, q string, m *queue.Message) *Item {
	it := &Item{MessageID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: m.DequeueCount, NextVisible: m.NextVisible, Body: m.Body}
	container, name, ok := "", "", false
	if err := json.Unmarshal(m.Body, &it.Work); err == nil {
		container, name, ok = compute.SplitPath(it.Work.PathToData)
	}
	if !ok {
		it.Problem = fmt.Sprintf("malformed work item %.200q: want {input_id, instance_id, path_to_data: \"container/name\"}", m.Body)
		return it
	}
	data, _, err := blob.ReadAll(ctx, p.blobs, container, name)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		if p.outputExists(ctx, it.Work) {
			p.log.Info("duplicate message of a finished item (its input is gone, its output is there); deleting it",
				"message_id", m.ID, "input_id", it.Work.InputID, "instance_id", it.Work.InstanceID)
			if err := p.queues.Delete(ctx, q, m.ID, m.PopReceipt); err != nil {
				p.log.Warn("delete the duplicate message", "message_id", m.ID, "err", err)
			}
			return nil
		}
		it.Problem = fmt.Sprintf("the input blob %s is gone", it.Work.PathToData)
	case err != nil:
		p.log.Warn("read an item's input; giving the item back", "path_to_data", it.Work.PathToData, "err", err)
		if _, err := p.queues.Update(context.WithoutCancel(ctx), q, m.ID, m.PopReceipt, queue.UpdateOptions{}); err != nil {
			p.log.Warn("give the item back; it returns after its lease", "message_id", m.ID, "err", err)
		}
		return nil
	case !json.Valid(data):
		it.Problem = fmt.Sprintf("the input blob %s is not JSON: %.200q", it.Work.PathToData, data)
	default:
		it.Input = data
	}
	return it
}

func (p *Plane) outputExists(ctx context.Context, w compute.WorkItem) bool {
	_, err := p.blobs.Head(ctx, compute.OutputContainer, compute.OutputBlobName(w.InstanceID, w.InputID))
	return err == nil
}

// Completion is a finished item: its lease and its result.
type Completion struct {
	MessageID  string
	PopReceipt string
	Work       compute.WorkItem
	// Result is the algorithm's result, JSON.
	Result json.RawMessage
}

// Outcome is what a batched call did with one item: nil when it was done; an error wrapping
// queue.ErrPopReceiptMismatch (the lease was lost: another worker holds the item now) or
// queue.ErrNotFound (the message is gone: the item was completed already) when it changed
// nothing; ErrInvalid for an item that cannot be done as given.
type Outcome struct {
	Err error
}

// Complete finishes items: their outputs, message deletes and input deletes, with one outcome
// per item, in order. An error means none of them was done (they may be completed again).
func (p *Plane) Complete(ctx context.Context, q string, items []Completion) ([]Outcome, error) {
	if len(items) > MaxBatch {
		return nil, fmt.Errorf("complete %d items: at most %d at a time: %w", len(items), MaxBatch, ErrInvalid)
	}
	out := make([]Outcome, len(items))
	outputs := make([][]byte, len(items))
	for i, c := range items {
		b, err := outputOf(c)
		if err != nil {
			out[i].Err = err
			continue
		}
		outputs[i] = b
	}
	if p.one != nil {
		return out, p.completeInOne(ctx, q, items, outputs, out)
	}
	forEach(len(items), readers, func(i int) {
		if out[i].Err == nil {
			out[i].Err = p.completeOne(ctx, q, items[i], outputs[i])
		}
	})
	return out, nil
}

// outputOf builds an item's output blob, {input_id, instance_id, result}.
func outputOf(c Completion) ([]byte, error) {
	if c.MessageID == "" || c.PopReceipt == "" {
		return nil, fmt.Errorf("an item needs its message id and pop receipt: %w", ErrInvalid)
	}
	if _, _, ok := compute.SplitPath(c.Work.PathToData); !ok || c.Work.InstanceID == "" || c.Work.InputID < 0 {
		return nil, fmt.Errorf("message %s: the work item %+v is not {input_id, instance_id, path_to_data}: %w", c.MessageID, c.Work, ErrInvalid)
	}
	if !json.Valid(c.Result) {
		return nil, fmt.Errorf("message %s: the result is not JSON: %.200q: %w", c.MessageID, c.Result, ErrInvalid)
	}
	return json.Marshal(compute.Output{InputID: c.Work.InputID, InstanceID: c.Work.InstanceID, Result: c.Result})
}

// completeInOne completes the valid items in one store transaction. Outputs too large to be
// inline are put first, each on its own (their files must be durable before a row names them),
// and the transaction then holds their message and input deletes.
func (p *Plane) completeInOne(ctx context.Context, q string, items []Completion, outputs [][]byte, out []Outcome) error {
	done := make([]*store.WorkItemDone, 0, len(items))
	idx := make([]int, 0, len(items))
	afters := make([]func(), 0, len(items))
	for i, c := range items {
		if out[i].Err != nil {
			continue
		}
		d := &store.WorkItemDone{MessageID: c.MessageID, PopReceipt: c.PopReceipt}
		container, name, _ := compute.SplitPath(c.Work.PathToData)
		d.DeleteInput = &store.BlobRef{Container: container, Name: name}
		outName := compute.OutputBlobName(c.Work.InstanceID, c.Work.InputID)
		put, after, inline, err := p.one.blobs.PrepareInline(ctx, compute.OutputContainer, outName, outputs[i], "application/json")
		if err == nil && !inline {
			_, err = p.blobs.Put(ctx, compute.OutputContainer, outName, bytes.NewReader(outputs[i]), "application/json")
			after = func() {}
		}
		if err != nil {
			return fmt.Errorf("write the output of message %s: %w", c.MessageID, err)
		}
		d.Output = put
		done, idx, afters = append(done, d), append(idx, i), append(afters, after)
	}
	if len(done) == 0 {
		return nil
	}
	res, err := p.one.st.WorkItemComplete(ctx, &store.WorkItemCompleteParams{Queue: q, Items: done})
	if err != nil {
		return fmt.Errorf("complete %d items of %s: %w", len(done), q, err)
	}
	for k, r := range res {
		i := idx[k]
		if r.Err != nil {
			out[i].Err = queueError(r.Err)
			continue
		}
		p.one.blobs.RemoveFiles(r.Replaced, r.Deleted)
		afters[k]()
		p.one.queues.ObserveDeleted(q, r.InsertedAt)
	}
	return nil
}

// queueError maps the store's outcome errors onto the queue's.
func queueError(err error) error {
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		return fmt.Errorf("%w: %w", queue.ErrPopReceiptMismatch, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	}
	return err
}

// completeOne completes one item in the seeds' order: output, message, input.
func (p *Plane) completeOne(ctx context.Context, q string, c Completion, output []byte) error {
	outName := compute.OutputBlobName(c.Work.InstanceID, c.Work.InputID)
	if _, err := p.blobs.Put(ctx, compute.OutputContainer, outName, bytes.NewReader(output), "application/json"); err != nil {
		return fmt.Errorf("write the output of message %s: %w", c.MessageID, err)
	}
	if err := p.queues.Delete(ctx, q, c.MessageID, c.PopReceipt); err != nil {
		return err
	}
	container, name, _ := compute.SplitPath(c.Work.PathToData)
	if err := p.blobs.Delete(ctx, container, name); err != nil && !errors.Is(err, blob.ErrNotFound) {
		p.log.Warn("delete the input blob of a completed item", "path_to_data", c.Work.PathToData, "err", err)
	}
	return nil
}

// Release is a held item given back: visible again after Visibility (0: at once), with
// LastError recorded as why (the poison report carries the last one). Unstarted: the worker never
// began the item, so the delivery does not count toward the poison limit (queue.UpdateOptions).
type Release struct {
	MessageID  string
	PopReceipt string
	Visibility time.Duration
	LastError  string
	Unstarted  bool
}

// Release gives items back, one outcome per item.
func (p *Plane) Release(ctx context.Context, q string, items []Release) ([]Outcome, error) {
	if len(items) > MaxBatch {
		return nil, fmt.Errorf("release %d items: at most %d at a time: %w", len(items), MaxBatch, ErrInvalid)
	}
	out := make([]Outcome, len(items))
	forEach(len(items), readers, func(i int) {
		r := items[i]
		_, err := p.queues.Update(ctx, q, r.MessageID, r.PopReceipt, queue.UpdateOptions{VisibilityTimeout: r.Visibility, LastError: r.LastError,
			Unstarted: r.Unstarted})
		out[i].Err = err
	})
	return out, nil
}

// Lease names a held item.
type Lease struct {
	MessageID  string
	PopReceipt string
}

// Renewed is the outcome of one renewal: the item's new pop receipt and when its lease ends.
type Renewed struct {
	PopReceipt  string
	NextVisible time.Time
	Err         error
}

// Renew extends the leases of held items by visibility, one outcome per item.
func (p *Plane) Renew(ctx context.Context, q string, items []Lease, visibility time.Duration) ([]Renewed, error) {
	if len(items) > MaxBatch {
		return nil, fmt.Errorf("renew %d items: at most %d at a time: %w", len(items), MaxBatch, ErrInvalid)
	}
	out := make([]Renewed, len(items))
	forEach(len(items), readers, func(i int) {
		m, err := p.queues.Update(ctx, q, items[i].MessageID, items[i].PopReceipt, queue.UpdateOptions{VisibilityTimeout: visibility})
		if err != nil {
			out[i].Err = err
			return
		}
		out[i].PopReceipt, out[i].NextVisible = m.PopReceipt, m.NextVisible
	})
	return out, nil
}

// forEach runs fn(0) … fn(n-1), at most limit at once, and returns when all have.
func forEach(n, limit int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
