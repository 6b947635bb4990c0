package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/compute"
)

// BatchSource is the batched data plane of orca's own workers: a lease takes many items with
// their input blobs inline, a completion finishes many — each item's output blob, message delete
// and input delete — and failures and renewals go back in batches too. client.WorkerSource is
// one (orca's /api/work routes); a plain Source becomes one with its per-item calls.
type BatchSource interface {
	// Lease takes up to max items, hidden for visibility; it waits up to wait for one.
	Lease(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*Leased, error)
	// Complete finishes items, one outcome per item in order. An error means the call did
	// nothing it could report: the items may be completed again.
	Complete(ctx context.Context, queue string, items []Completion) ([]Outcome, error)
	// Release gives items back, each visible again after its Visibility, with its reason.
	Release(ctx context.Context, queue string, items []Release) ([]Outcome, error)
	// Renew extends held items' leases by visibility; each outcome carries the new pop receipt.
	Renew(ctx context.Context, queue string, items []Held, visibility time.Duration) ([]Outcome, error)
}

// Leased is a leased work item.
type Leased struct {
	ID           string
	PopReceipt   string
	DequeueCount int
	Item         compute.WorkItem
	// Input is the input blob's content, {input_id, instance_id, input_data}. When Problem is
	// set instead, the item cannot run (a malformed message, an input that is gone or is not
	// JSON): the worker fails it with Problem as its reason.
	Input   json.RawMessage
	Problem string
}

// Completion is a finished item: its lease and its algorithm's result.
type Completion struct {
	ID         string
	PopReceipt string
	Item       compute.WorkItem
	Result     json.RawMessage
}

// Release is a held item given back: visible again after Visibility, with Reason recorded as
// its last error (the poison report carries the last one). Unstarted: the worker never began it
// (it was leased ahead and the worker is stopping), so the delivery does not count toward the
// poison limit where the backend can take it back; a per-item Source cannot, and counts it.
type Release struct {
	ID         string
	PopReceipt string
	Visibility time.Duration
	Reason     string
	Unstarted  bool
}

// Held names a held item.
type Held struct {
	ID         string
	PopReceipt string
}

// Outcome is what a batched call did with one item: Err is nil when it was done, or wraps
// ErrLeaseLost (another worker holds the item now) or ErrNotFound (the message is gone); then
// nothing changed for it. PopReceipt is a renewed lease's.
type Outcome struct {
	Err        error
	PopReceipt string
}

// ErrLeaseLost is what a BatchSource's outcome wraps when an item's pop receipt is no longer
// its message's.
var ErrLeaseLost = errors.New("lease lost")

// perItem is a BatchSource made of a Source's per-item calls, in the seeds' order.
type perItem struct{ src Source }

// Lease dequeues up to max messages (at most 32, the queue's batch) and reads their inputs.
func (p perItem) Lease(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*Leased, error) {
	msgs, err := p.src.Dequeue(ctx, queue, min(max, 32), visibility, wait)
	if err != nil {
		return nil, err
	}
	out := make([]*Leased, 0, len(msgs))
	for _, m := range msgs {
		if l := p.resolve(ctx, queue, m); l != nil {
			out = append(out, l)
		}
	}
	return out, nil
}

// resolve reads a message's input. It returns nil for a message it deleted (a finished item's
// duplicate) or gave back (its input could not be read for a passing reason).
func (p perItem) resolve(ctx context.Context, queue string, m *Message) *Leased {
	l := &Leased{ID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: m.DequeueCount}
	container, name, ok := "", "", false
	if err := json.Unmarshal(m.Body, &l.Item); err == nil {
		container, name, ok = compute.SplitPath(l.Item.PathToData)
	}
	if !ok {
		l.Problem = fmt.Sprintf("malformed work item %.200q", m.Body)
		return l
	}
	data, err := p.src.GetBlob(ctx, container, name)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := p.src.GetBlob(ctx, compute.OutputContainer, compute.OutputBlobName(l.Item.InstanceID, l.Item.InputID)); err == nil {
			// A second message of a finished item: orca enqueued it again after a crash lost the
			// record of the first enqueue, and the first message's worker deleted the input
			// they share. Given back, it would fail until the poison queue took it.
			_ = p.src.Delete(ctx, queue, m.ID, m.PopReceipt)
			return nil
		}
		l.Problem = fmt.Sprintf("read input %s: the input blob is gone", l.Item.PathToData)
	case err != nil:
		_, _ = p.src.Update(context.WithoutCancel(ctx), queue, m.ID, m.PopReceipt, 0, "")
		return nil
	default:
		l.Input = data
	}
	return l
}

// Complete writes each output, then deletes the message, then the input blob.
func (p perItem) Complete(ctx context.Context, queue string, items []Completion) ([]Outcome, error) {
	out := make([]Outcome, len(items))
	for i, c := range items {
		data, err := json.Marshal(compute.Output{InputID: c.Item.InputID, InstanceID: c.Item.InstanceID, Result: c.Result})
		if err == nil {
			err = p.src.PutBlob(ctx, compute.OutputContainer, compute.OutputBlobName(c.Item.InstanceID, c.Item.InputID), data, "application/json")
		}
		if err == nil {
			err = p.src.Delete(ctx, queue, c.ID, c.PopReceipt)
		}
		if err == nil {
			container, name, _ := compute.SplitPath(c.Item.PathToData)
			_ = p.src.DeleteBlob(ctx, container, name) // the item is done; a leftover input is harmless
		}
		out[i].Err = err
	}
	return out, nil
}

// Release updates each message's visibility and last error.
func (p perItem) Release(ctx context.Context, queue string, items []Release) ([]Outcome, error) {
	out := make([]Outcome, len(items))
	for i, r := range items {
		_, out[i].Err = p.src.Update(ctx, queue, r.ID, r.PopReceipt, r.Visibility, r.Reason)
	}
	return out, nil
}

// Renew updates each message's visibility.
func (p perItem) Renew(ctx context.Context, queue string, items []Held, visibility time.Duration) ([]Outcome, error) {
	out := make([]Outcome, len(items))
	for i, h := range items {
		out[i].PopReceipt, out[i].Err = p.src.Update(ctx, queue, h.ID, h.PopReceipt, visibility, "")
	}
	return out, nil
}
