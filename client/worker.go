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
