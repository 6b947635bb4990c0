package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/workitems"
	"github.com/orcahq/orca/worker"
)

// InProcSource is a worker.Source and worker.BatchSource on orca's own queue and blob store,
// for workers that run in the orca process (goroutine pools, benchmarks). Its batched calls are
// the API's /api/work routes without HTTP.
type InProcSource struct {
	Queues queue.Service
	Blobs  blob.Store
	Work   *workitems.Plane
}

var (
	_ worker.Source      = InProcSource{}
	_ worker.BatchSource = InProcSource{}
)

// Lease implements worker.BatchSource.
func (s InProcSource) Lease(ctx context.Context, q string, max int, visibility, wait time.Duration) ([]*worker.Leased, error) {
	items, err := s.Work.Lease(ctx, workitems.LeaseParams{Queue: q, Max: max, Visibility: visibility, Wait: wait})
	if err != nil {
		return nil, err
	}
	out := make([]*worker.Leased, len(items))
	for i, it := range items {
		out[i] = &worker.Leased{ID: it.MessageID, PopReceipt: it.PopReceipt, DequeueCount: it.DequeueCount, Item: it.Work,
			Input: it.Input, Problem: it.Problem}
	}
	return out, nil
}

// Complete implements worker.BatchSource.
func (s InProcSource) Complete(ctx context.Context, q string, items []worker.Completion) ([]worker.Outcome, error) {
	cs := make([]workitems.Completion, len(items))
	for i, c := range items {
		cs[i] = workitems.Completion{MessageID: c.ID, PopReceipt: c.PopReceipt, Work: c.Item, Result: c.Result}
	}
	return outcomes(s.Work.Complete(ctx, q, cs))
}

// Release implements worker.BatchSource.
func (s InProcSource) Release(ctx context.Context, q string, items []worker.Release) ([]worker.Outcome, error) {
	rs := make([]workitems.Release, len(items))
	for i, r := range items {
		rs[i] = workitems.Release{MessageID: r.ID, PopReceipt: r.PopReceipt, Visibility: r.Visibility, LastError: r.Reason,
			Unstarted: r.Unstarted}
	}
	return outcomes(s.Work.Release(ctx, q, rs))
}

// Renew implements worker.BatchSource.
func (s InProcSource) Renew(ctx context.Context, q string, items []worker.Held, visibility time.Duration) ([]worker.Outcome, error) {
	ls := make([]workitems.Lease, len(items))
	for i, h := range items {
		ls[i] = workitems.Lease{MessageID: h.ID, PopReceipt: h.PopReceipt}
	}
	res, err := s.Work.Renew(ctx, q, ls, visibility)
	if err != nil {
		return nil, err
	}
	out := make([]worker.Outcome, len(res))
	for i, r := range res {
		out[i] = worker.Outcome{Err: workerError(r.Err), PopReceipt: r.PopReceipt}
	}
	return out, nil
}

func outcomes(res []workitems.Outcome, err error) ([]worker.Outcome, error) {
	if err != nil {
		return nil, err
	}
	out := make([]worker.Outcome, len(res))
	for i, r := range res {
		out[i].Err = workerError(r.Err)
	}
	return out, nil
}

// workerError maps the queue's outcome errors onto the worker's.
func workerError(err error) error {
	if errors.Is(err, queue.ErrPopReceiptMismatch) {
		return fmt.Errorf("%w: %w", worker.ErrLeaseLost, err)
	}
	return mapNotFound(err)
}

func mapNotFound(err error) error {
	if errors.Is(err, blob.ErrNotFound) || errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("%w: %w", worker.ErrNotFound, err)
	}
	return err
}

// Dequeue implements worker.Source.
func (s InProcSource) Dequeue(ctx context.Context, q string, max int, visibility, wait time.Duration) ([]*worker.Message, error) {
	msgs, err := s.Queues.Dequeue(ctx, q, queue.DequeueOptions{Max: max, VisibilityTimeout: visibility, Wait: wait})
	if err != nil {
		return nil, err
	}
	out := make([]*worker.Message, len(msgs))
	for i, m := range msgs {
		out[i] = &worker.Message{ID: m.ID, PopReceipt: m.PopReceipt, Body: m.Body, DequeueCount: m.DequeueCount}
	}
	return out, nil
}

// Delete implements worker.Source.
func (s InProcSource) Delete(ctx context.Context, q, id, popReceipt string) error {
	return mapNotFound(s.Queues.Delete(ctx, q, id, popReceipt))
}

// Update implements worker.Source.
func (s InProcSource) Update(ctx context.Context, q, id, popReceipt string, visibility time.Duration, lastError string) (string, error) {
	m, err := s.Queues.Update(ctx, q, id, popReceipt, queue.UpdateOptions{VisibilityTimeout: visibility, LastError: lastError})
	if err != nil {
		return "", mapNotFound(err)
	}
	return m.PopReceipt, nil
}

// GetBlob implements worker.Source.
func (s InProcSource) GetBlob(ctx context.Context, container, name string) ([]byte, error) {
	b, _, err := blob.ReadAll(ctx, s.Blobs, container, name)
	return b, mapNotFound(err)
}

// PutBlob implements worker.Source.
func (s InProcSource) PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error {
	_, err := s.Blobs.Put(ctx, container, name, bytes.NewReader(data), contentType)
	return err
}

// DeleteBlob implements worker.Source.
func (s InProcSource) DeleteBlob(ctx context.Context, container, name string) error {
	return mapNotFound(s.Blobs.Delete(ctx, container, name))
}
