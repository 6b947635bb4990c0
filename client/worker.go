package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/orcahq/orca/worker"
)

// WorkerSource adapts a Client to worker.Source: `orca worker` runs on it.
type WorkerSource struct{ C *Client }

var _ worker.Source = WorkerSource{}

func notFound(err error) error {
	if IsNotFound(err) {
		return fmt.Errorf("%w: %w", worker.ErrNotFound, err)
	}
	return err
}

// Dequeue implements worker.Source.
func (s WorkerSource) Dequeue(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*worker.Message, error) {
	msgs, err := s.C.Dequeue(ctx, queue, max, visibility, wait)
	if err != nil {
		return nil, err
	}
	out := make([]*worker.Message, len(msgs))
	for i, m := range msgs {
		out[i] = &worker.Message{ID: m.ID, PopReceipt: m.PopReceipt, Body: []byte(m.Body), DequeueCount: m.DequeueCount}
	}
	return out, nil
}

// Delete implements worker.Source.
func (s WorkerSource) Delete(ctx context.Context, queue, id, popReceipt string) error {
	return notFound(s.C.DeleteMessage(ctx, queue, id, popReceipt))
}

// Update implements worker.Source.
func (s WorkerSource) Update(ctx context.Context, queue, id, popReceipt string, visibility time.Duration, lastError string) (string, error) {
	r, err := s.C.UpdateMessage(ctx, queue, id, popReceipt, visibility, lastError)
	if err != nil {
		return "", notFound(err)
	}
	return r.PopReceipt, nil
}

// GetBlob implements worker.Source.
func (s WorkerSource) GetBlob(ctx context.Context, container, name string) ([]byte, error) {
	b, _, err := s.C.GetBlob(ctx, container, name)
	return b, notFound(err)
}

// PutBlob implements worker.Source.
func (s WorkerSource) PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error {
	_, err := s.C.PutBlob(ctx, container, name, data, contentType)
	return err
}

// DeleteBlob implements worker.Source.
func (s WorkerSource) DeleteBlob(ctx context.Context, container, name string) error {
	return notFound(s.C.DeleteBlob(ctx, container, name))
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

var _ worker.BatchSource = WorkerSource{}

// Lease implements worker.BatchSource on POST /api/work/{queue}/lease.
func (s WorkerSource) Lease(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*worker.Leased, error) {
	items, err := s.C.LeaseWork(ctx, queue, WorkLeaseRequest{Max: max, VisibilityTimeout: visibility.Seconds(), Wait: wait.Seconds()})
	if err != nil {
		return nil, err
	}
	out := make([]*worker.Leased, len(items))
	for i, it := range items {
		out[i] = &worker.Leased{ID: it.ID, PopReceipt: it.PopReceipt, DequeueCount: it.DequeueCount, Item: it.Item,
			Input: it.Input, Problem: it.Problem}
	}
	return out, nil
}

// Complete implements worker.BatchSource on POST /api/work/{queue}/complete.
func (s WorkerSource) Complete(ctx context.Context, queue string, items []worker.Completion) ([]worker.Outcome, error) {
	req := make([]WorkCompletion, len(items))
	for i, c := range items {
		req[i] = WorkCompletion{ID: c.ID, PopReceipt: c.PopReceipt, Item: c.Item, Result: c.Result}
	}
	return workOutcomes(s.C.CompleteWork(ctx, queue, req))
}

// Release implements worker.BatchSource on POST /api/work/{queue}/release.
func (s WorkerSource) Release(ctx context.Context, queue string, items []worker.Release) ([]worker.Outcome, error) {
	req := make([]WorkRelease, len(items))
	for i, r := range items {
		req[i] = WorkRelease{ID: r.ID, PopReceipt: r.PopReceipt, VisibilityTimeout: r.Visibility.Seconds(), Error: r.Reason,
			Unstarted: r.Unstarted}
	}
	return workOutcomes(s.C.ReleaseWork(ctx, queue, req))
}

// Renew implements worker.BatchSource on POST /api/work/{queue}/renew.
func (s WorkerSource) Renew(ctx context.Context, queue string, items []worker.Held, visibility time.Duration) ([]worker.Outcome, error) {
	req := make([]WorkLease, len(items))
	for i, h := range items {
		req[i] = WorkLease{ID: h.ID, PopReceipt: h.PopReceipt}
	}
	return workOutcomes(s.C.RenewWork(ctx, queue, visibility, req))
}

// workOutcomes maps the wire's outcomes onto the worker's.
func workOutcomes(res []WorkOutcome, err error) ([]worker.Outcome, error) {
	if err != nil {
		return nil, err
	}
	out := make([]worker.Outcome, len(res))
	for i, o := range res {
		out[i].PopReceipt = o.PopReceipt
		switch o.Status {
		case WorkDone:
		case WorkLeaseLost:
			out[i].Err = fmt.Errorf("message %s: %w: %s", o.ID, worker.ErrLeaseLost, o.Error)
		case WorkNotFound:
			out[i].Err = fmt.Errorf("message %s: %w: %s", o.ID, worker.ErrNotFound, o.Error)
		default:
			out[i].Err = fmt.Errorf("message %s: %s: %s", o.ID, o.Status, o.Error)
		}
	}
	return out, nil
}
