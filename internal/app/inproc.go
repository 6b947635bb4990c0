package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/worker"
)

// InProcSource is a worker.Source on orca's own queue and blob store, for workers that run in
// the orca process (goroutine pools, benchmarks).
type InProcSource struct {
	Queues queue.Service
	Blobs  blob.Store
}

var _ worker.Source = InProcSource{}

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

// computeStorage adapts the blob store and queue to compute.Storage.
type computeStorage struct {
	blobs  blob.Store
	queues queue.Service
}

func (c computeStorage) PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error {
	_, err := c.blobs.Put(ctx, container, name, bytes.NewReader(data), contentType)
	return err
}

func (c computeStorage) Enqueue(ctx context.Context, q string, body []byte) error {
	_, err := c.queues.Enqueue(ctx, q, body, queue.EnqueueOptions{})
	return err
}
