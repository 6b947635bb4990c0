// Package postgres is the scale-out store backend: PostgreSQL through pgx, shared by any number
// of orca processes.
//
// Nothing here relies on being the only process: locks and leases live in rows (owner + expiry,
// fenced by history length or attempt), claims use FOR UPDATE SKIP LOCKED so concurrent
// dispatchers never wait for one another, and writes that wake other processes send NOTIFY in
// their own transaction (see Subscribe). Every call is one round trip where it can be: a write
// is a pgx.Batch sent as one implicit transaction (rows passed as arrays and expanded with
// unnest), with guards that raise an error and so roll the whole batch back; the few calls that
// must decide between statements run a PL/pgSQL function installed by the migrations.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// Config configures a Backend.
type Config struct {
	// URL is the connection string (postgres://user@host:port/db?sslmode=...).
	URL string
	// MaxConns bounds the connection pool (default 16). One more connection listens for wake-ups.
	MaxConns int
	// PollFallback is how often subscribers are woken anyway when the listening connection is
	// down (default 1s): wake-ups are an optimisation, polling is what guarantees progress.
	PollFallback time.Duration
	// Logger is told when the wake-up connection is lost and when it is back (default: none).
	Logger *slog.Logger
}

// Backend is the PostgreSQL store.
type Backend struct {
	cfg  Config
	pool *pgxpool.Pool

	// mu guards closed against calls that start after Close; Close waits for calls in flight.
	mu     sync.RWMutex
	closed bool

	chain    commitChain
	wakes    *listener
	notifier *notifier
	stopBg   context.CancelFunc
	bg       sync.WaitGroup
}

var _ store.Backend = (*Backend)(nil)

// Open connects to the database, applies migrations and starts listening for wake-ups.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.URL == "" {
		return nil, errors.New("open postgres store: empty URL")
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.PollFallback <= 0 {
		cfg.PollFallback = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	pcfg.MaxConns = int32(min(cfg.MaxConns, 1<<16))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	b := &Backend{cfg: cfg, pool: pool}
	bgCtx, cancel := context.WithCancel(context.Background())
	b.stopBg = cancel
	b.wakes = newListener(pcfg.ConnConfig, cfg.PollFallback, cfg.Logger)
	b.notifier = newNotifier(pool)
	b.bg.Go(func() { b.wakes.run(bgCtx) })
	b.bg.Go(func() { b.notifier.run(bgCtx) })
	return b, nil
}

// Supports reports optional capabilities: several processes may share the database, and
// writes wake subscribers in every process (Subscribe).
func (b *Backend) Supports(f store.Feature) bool {
	return f == store.FeatureMultiProcess || f == store.FeatureWakeups
}

// Close waits for the calls in flight, sends their last wake-ups, then closes the pool and the
// listener.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.stopBg()
	b.bg.Wait()
	b.pool.Close()
	return nil
}

// enter fails with ErrClosed once Close has begun; otherwise Close waits until leave.
func (b *Backend) enter() error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (b *Backend) leave() { b.mu.RUnlock() }

// retryable reports whether a transaction failed only because of concurrency (a deadlock
// between two writers, a serialization failure) and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

const maxAttempts = 5

// batch sends the statements fill queues as one implicit transaction (one round trip once the
// statements are prepared) and reads the results with read, which reads the first results in order
// and may leave the rest to Close, which reads them and reports the first error. A deadlock with another writer retries the whole batch.
func (b *Backend) batch(ctx context.Context, fill func(*batch), read func(pgx.BatchResults) error) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.leave()
	var err error
	for range maxAttempts {
		bt := &batch{}
		fill(bt)
		br := b.pool.SendBatch(ctx, &bt.Batch)
		err = read(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			b.notifier.add(bt.wakes)
		}
		if !retryable(err) {
			return mapError(err)
		}
	}
	return mapError(err)
}

// batch is a pgx.Batch and the wake-ups to send once it committed.
type batch struct {
	pgx.Batch
	wakes []string
}

// wake announces payload (see notify.go) when the batch commits.
func (bt *batch) wake(payload string) { bt.wakes = append(bt.wakes, payload) }

// exec sends a batch whose results are only checked for errors.
func (b *Backend) exec(ctx context.Context, fill func(*batch)) error {
	return b.batch(ctx, fill, func(pgx.BatchResults) error { return nil })
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// tx runs fn in an explicit transaction, for the calls that decide between statements in Go.
// A deadlock with another writer retries it.
func (b *Backend) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.leave()
	var err error
	for range maxAttempts {
		err = pgx.BeginFunc(ctx, b.pool, fn)
		if !retryable(err) {
			return mapError(err)
		}
	}
	return mapError(err)
}

// read runs a read-only call.
func (b *Backend) read(fn func() error) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.leave()
	return fn()
}

// query runs the read q and reads its rows with collect.
func query[T any](ctx context.Context, b *Backend, collect sc.Collector[T], q string, args ...any) (T, error) {
	var out T
	err := b.read(func() error {
		rows, err := b.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sc.Collect(rows, collect)
		return err
	})
	return out, err
}

// collectNext reads the rows of the next result of br with collect.
func collectNext[T any](br pgx.BatchResults, collect sc.Collector[T]) (T, error) {
	rows, err := br.Query()
	if err != nil {
		var zero T
		return zero, err
	}
	defer rows.Close()
	return sc.Collect(rows, collect)
}

// Errors raised by the migrations' functions (orca_fail), mapped onto the store's.
const (
	codeLeaseLost      = "OR001"
	codeNotFound       = "OR002"
	codeWrongStatus    = "OR003"
	codeInstanceExists = "OR004"
	codeDuplicate      = "OR005"
)

// errDuplicate: an event id was published already (EventPublish).
var errDuplicate = errors.New("duplicate event")

// statusReportError carries the status an OR003/OR004 error reported until the caller, who knows
// the instance id, turns it into a *store.StatusError.
type statusReportError struct {
	status   store.Status
	sentinel error
}

func (e *statusReportError) Error() string { return fmt.Sprintf("status %s: %v", e.status, e.sentinel) }
func (e *statusReportError) Unwrap() error { return e.sentinel }

// mapError turns the functions' errors into the store's sentinels.
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeLeaseLost:
		return fmt.Errorf("%s: %w", pe.Message, store.ErrLeaseLost)
	case codeNotFound:
		return store.ErrNotFound
	case codeWrongStatus:
		return &statusReportError{status: store.Status(pe.Detail), sentinel: store.ErrWrongStatus}
	case codeInstanceExists:
		return &statusReportError{status: store.Status(pe.Detail), sentinel: store.ErrInstanceExists}
	case codeDuplicate:
		return errDuplicate
	}
	return err
}

// statusError returns a *store.StatusError for instance id when err reports a status.
func statusError(id string, err error) error {
	var ws *statusReportError
	if errors.As(err, &ws) {
		return &store.StatusError{InstanceID: id, Status: ws.status, Err: ws.sentinel}
	}
	return err
}

// commitChain keeps the steps one caller queues for an instance in order: a step waits for the
// previous step of the same instance queued through this Backend to finish.
type commitChain struct {
	mu   sync.Mutex
	last map[string]chan struct{}
}

func (c *commitChain) enter(id string) (prev <-chan struct{}, done chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[string]chan struct{}{}
	}
	prev = c.last[id]
	done = make(chan struct{})
	c.last[id] = done
	return prev, done
}

func (c *commitChain) leave(id string, done chan struct{}) {
	c.mu.Lock()
	if c.last[id] == done {
		delete(c.last, id)
	}
	c.mu.Unlock()
	close(done)
}
