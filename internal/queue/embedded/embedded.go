// Package embedded is the queue service kept in orca's own store (store.ComputeBackend): Azure
// Storage Queue semantics on the store's queue_messages, with long polling served by in-process
// wake-ups instead of polling the store, and poison queues reported through queue.PoisonEvents
// in the same transaction as the report's effects.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Config configures a Service.
type Config struct {
	// Store holds the messages (required).
	Store store.ComputeBackend
	// MaxDequeueCount is how many times a message may be dequeued; the next dequeue moves it to
	// the poison queue "<queue>-poison" instead. 0 means queue.DefaultMaxDequeueCount. Messages
	// of a queue whose name ends in "-poison" are never poisoned again.
	MaxDequeueCount int
	// Poison builds the report of poisoned messages (nil: they are moved and marked reported,
	// and nobody hears of it).
	Poison queue.PoisonEvents
	// Clock is the time source (nil: the wall clock).
	Clock clock.Clock
	// MaxMessageSize bounds a message body in bytes (0: queue.MaxMessageSize).
	MaxMessageSize int
	// SweepInterval is how often the sweeper started by Start reports poisoned messages left
	// unreported by a crash or a failed report (0: 5s).
	SweepInterval time.Duration
	// Logger receives what the background parts cannot return: failed poison reports that the
	// sweeper will retry (nil: discarded).
	Logger *slog.Logger
	// ObserveDelete, when set, is told of every deleted message: its queue and how long it was
	// in the queue, from its enqueue to its delete (by Clock). It must be fast.
	ObserveDelete func(queue string, sinceEnqueue time.Duration)
}

// Defaults.
const (
	DefaultSweepInterval = 5 * time.Second
	// maxLastError bounds a stored last error; longer ones are cut (at a UTF-8 boundary).
	maxLastError = queue.MaxMessageSize
	// maxTTL is the longest time to live kept as such; a longer one means never expiring (the
	// store keeps times as int64 nanoseconds, which end in 2262).
	maxTTL = 100 * 365 * 24 * time.Hour
	// poisonSuffix ends the name of every poison queue (queue.PoisonName).
	poisonSuffix = "-poison"
)

// Service is the embedded queue service. It is safe for concurrent use.
type Service struct {
	cfg Config
	st  store.ComputeBackend
	clk clock.Clock
	log *slog.Logger

	// poisonMu orders poison reports: every dequeue holds it shared from the move to the
	// report, the sweeper exclusively, so the sweeper never reports a move a dequeue is still
	// reporting.
	poisonMu sync.RWMutex

	mu     sync.Mutex
	queues map[string]*waitQueue // long-pollers per queue; see wait.go

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

var _ queue.Service = (*Service)(nil)

// New validates cfg, fills in its defaults and returns a service. Call Start to run the poison
// sweeper.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("embedded queue: no store")
	}
	if cfg.MaxDequeueCount < 0 {
		return nil, fmt.Errorf("embedded queue: MaxDequeueCount %d is negative", cfg.MaxDequeueCount)
	}
	if cfg.MaxDequeueCount == 0 {
		cfg.MaxDequeueCount = queue.DefaultMaxDequeueCount
	}
	if cfg.MaxMessageSize < 0 {
		return nil, fmt.Errorf("embedded queue: MaxMessageSize %d is negative", cfg.MaxMessageSize)
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = queue.MaxMessageSize
	}
	if cfg.SweepInterval < 0 {
		return nil, fmt.Errorf("embedded queue: SweepInterval %v is negative", cfg.SweepInterval)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: cfg.Store, clk: cfg.Clock, log: cfg.Logger, queues: map[string]*waitQueue{}}, nil
}

// validName accepts the names queue.ValidateName accepts and the poison queues of those names,
// which may be longer than 63 characters: a queue with the longest name must still be able to
// have its poison queue read.
func validName(name string) error {
	err := queue.ValidateName(name)
	if err == nil {
		return nil
	}
	if base, ok := strings.CutSuffix(name, poisonSuffix); ok && queue.ValidateName(base) == nil {
		return nil
	}
	return err
}

func isPoisonQueue(name string) bool { return strings.HasSuffix(name, poisonSuffix) }

// storeErr maps the store's sentinel errors onto the queue's.
func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return queue.ErrNotFound
	case errors.Is(err, store.ErrLeaseLost):
		return queue.ErrPopReceiptMismatch
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %w", queue.ErrInvalid, err)
	}
	return err
}

func fromStore(m *store.QueueMessage) *queue.Message {
	return &queue.Message{ID: m.ID, PopReceipt: m.PopReceipt, Body: m.Body, InsertedAt: m.InsertedAt, ExpiresAt: m.ExpiresAt,
		NextVisible: m.VisibleAt, DequeueCount: m.DequeueCount, LastError: m.LastError}
}

func fromStoreAll(ms []*store.QueueMessage) []*queue.Message {
	out := make([]*queue.Message, len(ms))
	for i, m := range ms {
		out[i] = fromStore(m)
	}
	return out
}

// Enqueue adds a message. A negative TTL never expires; a delay must be shorter than the TTL.
func (s *Service) Enqueue(ctx context.Context, q string, body []byte, opts queue.EnqueueOptions) (*queue.Message, error) {
	if err := validName(q); err != nil {
		return nil, err
	}
	if len(body) > s.cfg.MaxMessageSize {
		return nil, fmt.Errorf("enqueue to %s: body of %d bytes exceeds %d: %w", q, len(body), s.cfg.MaxMessageSize, queue.ErrTooLarge)
	}
	if err := queue.CheckVisibility("visibility delay", opts.VisibilityDelay); err != nil {
		return nil, fmt.Errorf("enqueue to %s: %w", q, err)
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = queue.DefaultTTL
	}
	if ttl > 0 && opts.VisibilityDelay >= ttl {
		return nil, fmt.Errorf("enqueue to %s: visibility delay %v must be shorter than the time to live %v: %w",
			q, opts.VisibilityDelay, ttl, queue.ErrInvalid)
	}
	if body == nil {
		body = []byte{}
	}
	now := s.clk.Now()
	m := &store.QueueMessage{ID: uuid.NewString(), Body: body, InsertedAt: now, VisibleAt: now.Add(opts.VisibilityDelay)}
	if ttl > 0 && ttl <= maxTTL {
		m.ExpiresAt = now.Add(ttl)
	}
	if err := s.st.QueueEnqueue(ctx, &store.QueueEnqueueParams{Queue: q, Messages: []*store.QueueMessage{m}}); err != nil {
		return nil, storeErr(err)
	}
	s.madeVisible(q, m.VisibleAt)
	return fromStore(m), nil
}

// Dequeue takes up to opts.Max visible messages (see queue.Service). With opts.Wait > 0 and
// nothing visible it waits, without polling the store, until a message is enqueued or given
// back, a delayed or hidden one becomes visible, Wait passes (nil, nil) or ctx ends (ctx's
// error).
func (s *Service) Dequeue(ctx context.Context, q string, opts queue.DequeueOptions) ([]*queue.Message, error) {
	return s.dequeue(ctx, q, opts, queue.MaxDequeueBatch)
}

// MaxLeaseBatch is the most messages DequeueMany takes at once.
const MaxLeaseBatch = 1024

// DequeueMany is Dequeue with up to MaxLeaseBatch messages at once, for orca's own workers,
// which lease their items in batches larger than Azure's 32 (one transaction for them all).
func (s *Service) DequeueMany(ctx context.Context, q string, opts queue.DequeueOptions) ([]*queue.Message, error) {
	return s.dequeue(ctx, q, opts, MaxLeaseBatch)
}

func (s *Service) dequeue(ctx context.Context, q string, opts queue.DequeueOptions, maxBatch int) ([]*queue.Message, error) {
	if err := validName(q); err != nil {
		return nil, err
	}
	limit, vis, err := opts.Check(maxBatch)
	if err != nil {
		return nil, err
	}
	if opts.Wait == 0 {
		msgs, _, err := s.dequeueOnce(ctx, q, limit, vis, false)
		return msgs, err
	}
	var expired <-chan time.Time
	var why wakeUp
	for {
		w := s.register(q)
		msgs, now, err := s.dequeueOnce(ctx, q, limit, vis, why.byTime)
		if err == nil && len(msgs) == 0 {
			if expired == nil {
				expired = s.clk.After(opts.Wait)
			}
			err = s.beforeSleep(ctx, q, w, now)
		}
		if err != nil || len(msgs) > 0 {
			s.leave(q, w)
			return msgs, err
		}
		select {
		case why = <-w.ch:
			// Woken: something became visible. w is off the list; try again.
		case <-expired:
			s.leave(q, w)
			return nil, nil
		case <-ctx.Done():
			s.leave(q, w)
			return nil, ctx.Err()
		}
	}
}

// dequeueOnce runs one dequeue at the current time and reports what it poisoned. It returns
// the time it dequeued at. chain says the caller was woken because messages became visible
// with time: a full batch then wakes another waiter, as more may have.
func (s *Service) dequeueOnce(ctx context.Context, q string, limit int, vis time.Duration, chain bool) ([]*queue.Message, time.Time, error) {
	s.poisonMu.RLock()
	defer s.poisonMu.RUnlock()
	now := s.clk.Now()
	p := &store.QueueDequeueParams{Queue: q, Now: now, VisibleUntil: now.Add(vis), Limit: limit}
	if !isPoisonQueue(q) {
		p.MaxDequeueCount, p.PoisonQueue = s.cfg.MaxDequeueCount, queue.PoisonName(q)
	}
	msgs, poisoned, err := s.st.QueueDequeue(ctx, p)
	if err != nil {
		return nil, now, storeErr(err)
	}
	if len(poisoned) > 0 {
		// The dequeue is done and its messages are leased: a failed report must not lose them.
		// The poisoned messages stay marked unreported and the sweeper reports them later.
		if err := s.report(context.WithoutCancel(ctx), q, poisoned); err != nil {
			s.log.Warn("report poisoned messages; the sweeper retries", "queue", q, "count", len(poisoned), "error", err)
		}
		s.wake(queue.PoisonName(q), len(poisoned), wakeUp{})
	}
	if len(msgs) > 0 {
		s.arm(q, p.VisibleUntil)
	}
	if chain && len(msgs) == limit {
		s.wake(q, 1, wakeUp{byTime: true})
	}
	return fromStoreAll(msgs), now, nil
}

// Delete deletes a message held with popReceipt.
func (s *Service) Delete(ctx context.Context, q, id, popReceipt string) error {
	if err := validName(q); err != nil {
		return err
	}
	inserted, err := s.st.QueueDelete(ctx, q, id, popReceipt)
	if err != nil {
		return fmt.Errorf("delete message %s from %s: %w", id, q, storeErr(err))
	}
	if s.cfg.ObserveDelete != nil {
		s.cfg.ObserveDelete(q, s.clk.Now().Sub(inserted))
	}
	return nil
}

// Store returns the orchestration store the messages live in: a caller that writes to it too
// can delete messages in its own transaction (store.WorkItemComplete) and report the deletes
// with ObserveDeleted.
func (s *Service) Store() store.ComputeBackend { return s.st }

// ObserveDeleted reports a message of q that a caller's transaction deleted, enqueued at
// inserted, to Config.ObserveDelete.
func (s *Service) ObserveDeleted(q string, inserted time.Time) {
	if s.cfg.ObserveDelete != nil {
		s.cfg.ObserveDelete(q, s.clk.Now().Sub(inserted))
	}
}

// Update changes a message held with popReceipt: it becomes visible after
// opts.VisibilityTimeout (0: at once), with opts.LastError recorded when set (cut to 64 KiB).
// The returned message carries the ID, the new PopReceipt, NextVisible and, when set,
// LastError; the other fields are not read back.
func (s *Service) Update(ctx context.Context, q, id, popReceipt string, opts queue.UpdateOptions) (*queue.Message, error) {
	if err := validName(q); err != nil {
		return nil, err
	}
	if err := queue.CheckVisibility("update: visibility timeout", opts.VisibilityTimeout); err != nil {
		return nil, err
	}
	now := s.clk.Now()
	p := &store.QueueUpdateParams{Queue: q, ID: id, PopReceipt: popReceipt, VisibleAt: now.Add(opts.VisibilityTimeout),
		UndoDequeue: opts.Unstarted}
	var lastError string
	if opts.LastError != "" {
		lastError = queue.TruncateLastError(opts.LastError, maxLastError)
		p.LastError = &lastError
	}
	receipt, err := s.st.QueueUpdate(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("update message %s in %s: %w", id, q, storeErr(err))
	}
	s.madeVisible(q, p.VisibleAt)
	return &queue.Message{ID: id, PopReceipt: receipt, NextVisible: p.VisibleAt, LastError: lastError}, nil
}

// Peek returns up to limit visible messages (1 to 32, 0 meaning 1) without dequeuing them.
func (s *Service) Peek(ctx context.Context, q string, limit int) ([]*queue.Message, error) {
	if err := validName(q); err != nil {
		return nil, err
	}
	n, err := queue.BatchSize("peek: max", limit, queue.MaxDequeueBatch)
	if err != nil {
		return nil, err
	}
	msgs, err := s.st.QueuePeek(ctx, q, s.clk.Now(), n)
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", q, storeErr(err))
	}
	return fromStoreAll(msgs), nil
}

// Stats counts a queue's unexpired messages (zero for a queue that has none).
func (s *Service) Stats(ctx context.Context, q string) (queue.Stats, error) {
	if err := validName(q); err != nil {
		return queue.Stats{}, err
	}
	st, err := s.st.QueueStats(ctx, s.clk.Now(), q)
	if err != nil {
		return queue.Stats{}, fmt.Errorf("stats of %s: %w", q, storeErr(err))
	}
	out := queue.Stats{Queue: q}
	if len(st) == 1 {
		out.Visible, out.InFlight = st[0].Visible, st[0].Invisible
	}
	return out, nil
}

// List returns the stats of every queue that has unexpired messages, by name.
func (s *Service) List(ctx context.Context) ([]queue.Stats, error) {
	st, err := s.st.QueueStats(ctx, s.clk.Now())
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", storeErr(err))
	}
	out := make([]queue.Stats, len(st))
	for i, x := range st {
		out[i] = queue.Stats{Queue: x.Queue, Visible: x.Visible, InFlight: x.Invisible}
	}
	return out, nil
}
