// Package queue is orca's work queue with Azure Storage Queue semantics: messages are enqueued
// (optionally delayed, with a time-to-live), dequeued in batches of up to 32 with a visibility
// timeout and a pop receipt, deleted or given back (update visibility) with that receipt; a
// message dequeued more than MaxDequeueCount times goes to the poison queue "<name>-poison".
// Backends: embedded/ (in the orchestration store) and azqueue/ (Azure Storage Queue, where
// the seeds' containers and KEDA read the same queues; its package doc lists what differs:
// whole seconds, polling long polls, approximate counts, last errors kept in memory, poison
// copies as Azure Functions makes them). Every backend runs the conformance suite in
// queuetest/, declaring its differences there (queuetest.Options).
package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orcahq/orca/internal/store"
)

// Sentinel errors; backends map their native errors onto them.
var (
	// ErrNotFound: no such message (deleted, expired, or never there).
	ErrNotFound = errors.New("message not found")
	// ErrPopReceiptMismatch: the pop receipt is not the message's current one (it was dequeued
	// or updated again since).
	ErrPopReceiptMismatch = errors.New("pop receipt mismatch")
	ErrInvalidName        = errors.New("invalid queue name")
	ErrTooLarge           = errors.New("message too large")
	ErrInvalid            = errors.New("invalid argument")
)

// Limits and defaults, as Azure Storage Queue.
const (
	MaxDequeueBatch          = 32
	DefaultVisibilityTimeout = 30 * time.Second
	MaxVisibilityTimeout     = 7 * 24 * time.Hour
	DefaultTTL               = 7 * 24 * time.Hour
	DefaultMaxDequeueCount   = 5
	// MaxMessageSize is the largest message body (Azure's is 64 KiB).
	MaxMessageSize = 64 * 1024
)

// Message is a queue message.
type Message struct {
	ID string
	// PopReceipt is set by Dequeue and Update and is needed to delete or update the message.
	PopReceipt   string
	Body         []byte
	InsertedAt   time.Time
	ExpiresAt    time.Time // zero: never
	NextVisible  time.Time
	DequeueCount int
	// LastError is what the last consumer reported when it gave the message back.
	LastError string
}

// EnqueueOptions are the options of Enqueue: VisibilityDelay hides a new message for that long;
// TTL is its time to live (0: DefaultTTL, negative: never expires).
type EnqueueOptions struct {
	VisibilityDelay time.Duration
	TTL             time.Duration
}

// DequeueOptions are the options of Dequeue: Max messages (1 to 32, 0 means 1), hidden for VisibilityTimeout (0:
// DefaultVisibilityTimeout). Wait > 0 long-polls: the call waits up to Wait for a message when
// none is visible.
type DequeueOptions struct {
	Max               int
	VisibilityTimeout time.Duration
	Wait              time.Duration
}

// Check checks the options of a Dequeue that takes up to maxBatch messages and returns the batch
// size and the visibility timeout they ask for, defaults applied.
func (o DequeueOptions) Check(maxBatch int) (limit int, visibility time.Duration, err error) {
	if limit, err = BatchSize("dequeue: Max", o.Max, maxBatch); err != nil {
		return 0, 0, err
	}
	visibility = o.VisibilityTimeout
	if visibility == 0 {
		visibility = DefaultVisibilityTimeout
	}
	if err := CheckVisibility("dequeue: visibility timeout", visibility); err != nil {
		return 0, 0, err
	}
	if o.Wait < 0 {
		return 0, 0, fmt.Errorf("dequeue: wait %v is negative: %w", o.Wait, ErrInvalid)
	}
	return limit, visibility, nil
}

// UpdateOptions give a dequeued message back or extend its lease: it becomes visible after
// VisibilityTimeout (0: at once). LastError, when set, records why the consumer gave it back.
//
// Unstarted says the consumer gives the message back without having worked on it (a worker
// shutting down with items it had leased ahead and not begun): the delivery then does not count
// toward the poison limit, so that a pool scaled down again and again poisons no message that
// never ran. The embedded backend takes the dequeue back; Azure Storage queues cannot, and there
// the delivery counts as any other.
type UpdateOptions struct {
	VisibilityTimeout time.Duration
	LastError         string
	Unstarted         bool
}

// Stats counts a queue's unexpired messages. Azure's approximate message count is
// Visible+InFlight.
type Stats struct {
	Queue    string
	Visible  int
	InFlight int
}

// Length is Azure's approximate message count.
func (s Stats) Length() int { return s.Visible + s.InFlight }

// Service is a set of named queues. Queues exist implicitly: enqueuing creates one.
type Service interface {
	Enqueue(ctx context.Context, queue string, body []byte, opts EnqueueOptions) (*Message, error)
	Dequeue(ctx context.Context, queue string, opts DequeueOptions) ([]*Message, error)
	// Delete deletes a message held with popReceipt.
	Delete(ctx context.Context, queue, id, popReceipt string) error
	// Update changes a message held with popReceipt and returns it with its new pop receipt.
	Update(ctx context.Context, queue, id, popReceipt string, opts UpdateOptions) (*Message, error)
	// Peek returns up to max visible messages without dequeuing them (no pop receipts).
	Peek(ctx context.Context, queue string, max int) ([]*Message, error)
	Stats(ctx context.Context, queue string) (Stats, error)
	// List returns the stats of every queue that has messages.
	List(ctx context.Context) ([]Stats, error)
}

// PoisonEvents builds the report of messages moved to a poison queue; the embedded backend
// writes the effects with the report in one transaction and calls after() once durable.
type PoisonEvents interface {
	Poisoned(ctx context.Context, source string, msgs []*Message) (effects store.Effects, after func(), err error)
}

// PoisonName is the poison queue of a queue.
func PoisonName(queue string) string { return queue + poisonSuffix }

// PoisonOf returns the queue whose poison queue name is; ok is false when name is not a poison
// queue's.
func PoisonOf(name string) (queue string, ok bool) {
	queue, ok = strings.CutSuffix(name, poisonSuffix)
	return queue, ok && queue != ""
}

const poisonSuffix = "-poison"

// CheckVisibility checks a visibility timeout or delay: 0 to MaxVisibilityTimeout.
func CheckVisibility(what string, d time.Duration) error {
	if d < 0 || d > MaxVisibilityTimeout {
		return fmt.Errorf("%s %v must be 0 to %v: %w", what, d, MaxVisibilityTimeout, ErrInvalid)
	}
	return nil
}

// BatchSize checks a batch size n (a Dequeue's Max, a Peek's max): 1 to limit, 0 meaning 1.
func BatchSize(what string, n, limit int) (int, error) {
	if n == 0 {
		return 1, nil
	}
	if n < 0 || n > limit {
		return 0, fmt.Errorf("%s %d must be 1 to %d: %w", what, n, limit, ErrInvalid)
	}
	return n, nil
}

// TruncateLastError cuts a last error to at most n bytes (each backend has its bound) without
// splitting a UTF-8 sequence.
func TruncateLastError(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ValidateName checks a queue name against Azure's rules: 3 to 63 characters, lowercase
// letters, digits and hyphens, starting and ending with a letter or digit, no two hyphens in a
// row.
func ValidateName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("queue name %q must be 3 to 63 characters: %w", name, ErrInvalidName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' && i > 0 && i < len(name)-1 && name[i-1] != '-'
		if !ok {
			return fmt.Errorf("queue name %q: only lowercase letters, digits and single inner hyphens are allowed: %w", name, ErrInvalidName)
		}
	}
	return nil
}
