package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/orcahq/orca/internal/store"
)

var errQueuesTODO = errors.New("sqlite queues: not implemented yet")

// QueueEnqueue adds messages (see store.ComputeBackend).
func (b *Backend) QueueEnqueue(ctx context.Context, p *store.QueueEnqueueParams) error {
	return errQueuesTODO
}

// QueueDequeue takes messages (see store.ComputeBackend).
func (b *Backend) QueueDequeue(ctx context.Context, p *store.QueueDequeueParams) ([]*store.QueueMessage, []*store.QueueMessage, error) {
	return nil, nil, errQueuesTODO
}

// QueueDelete deletes a message (see store.ComputeBackend).
func (b *Backend) QueueDelete(ctx context.Context, queue, id, popReceipt string) error {
	return errQueuesTODO
}

// QueueUpdate changes a message (see store.ComputeBackend).
func (b *Backend) QueueUpdate(ctx context.Context, p *store.QueueUpdateParams) (string, error) {
	return "", errQueuesTODO
}

// QueuePeek returns visible messages (see store.ComputeBackend).
func (b *Backend) QueuePeek(ctx context.Context, queue string, now time.Time, limit int) ([]*store.QueueMessage, error) {
	return nil, errQueuesTODO
}

// QueueStats counts messages (see store.ComputeBackend).
func (b *Backend) QueueStats(ctx context.Context, now time.Time, queues ...string) ([]store.QueueStats, error) {
	return nil, errQueuesTODO
}

// QueueNextVisible returns when the next message becomes visible (see store.ComputeBackend).
func (b *Backend) QueueNextVisible(ctx context.Context, queue string, now time.Time) (time.Time, bool, error) {
	return time.Time{}, false, errQueuesTODO
}

// QueuePoisonUnreported returns unreported poisoned messages (see store.ComputeBackend).
func (b *Backend) QueuePoisonUnreported(ctx context.Context, limit int) ([]*store.QueueMessage, error) {
	return nil, errQueuesTODO
}

// QueuePoisonNotify reports poisoned messages (see store.ComputeBackend).
func (b *Backend) QueuePoisonNotify(ctx context.Context, p *store.QueuePoisonNotifyParams) error {
	return errQueuesTODO
}
