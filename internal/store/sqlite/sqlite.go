// Package sqlite is the embedded store backend: one SQLite database file in WAL mode, written by
// a single connection that group-commits concurrent writes, read through a separate pool.
//
// Durability: synchronous=FULL by default, so a commit survives a power cut; fsyncs are amortised
// by group commit (every write waiting while a commit is in flight goes into the next one, each in
// its own savepoint so one failing write does not undo the others). One process owns a database:
// Open takes an exclusive lock file and releases every lease a previous process left behind.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// Config configures a Backend.
type Config struct {
	// Path is the database file; its directory is created if missing.
	Path string
	// Synchronous is SQLite's synchronous setting: "FULL" (default: durable on power loss) or
	// "NORMAL" (durable across process crashes only; faster).
	Synchronous string
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// MaxBatch bounds the writes group-committed in one transaction (default 512).
	MaxBatch int
	// ObserveCommit, when set, is told of every transaction that reached its commit: how many
	// writes it carried, how long it took from BEGIN to the end of COMMIT, and the error of a
	// BEGIN or COMMIT that failed (nil when it committed). A lone write that failed and was
	// rolled back is not a commit. It runs on the writer and must be fast.
	ObserveCommit func(writes int, d time.Duration, err error)
}

// Backend is the SQLite store.
type Backend struct {
	cfg     Config
	read    *sql.DB
	reads   *readCache
	writeDB *sql.DB
	conn    *sql.Conn
	reqs    chan *writeReq
	done    chan struct{}
	lock    *os.File
	once    sync.Once
	// sending guards reqs against a send after Close closed it, and the read pool against use
	// after Close.
	sending  sync.RWMutex
	isClosed bool
}

var _ store.Backend = (*Backend)(nil)

// Open opens (creating if needed) the database at cfg.Path, applies migrations and starts the
// writer.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	if cfg.Synchronous == "" {
		cfg.Synchronous = "FULL"
	}
	if cfg.Synchronous != "FULL" && cfg.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("open sqlite store: synchronous must be FULL or NORMAL, got %q", cfg.Synchronous)
	}
	if cfg.ReadConns <= 0 {
		cfg.ReadConns = 4
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	lock, err := lockFile(cfg.Path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	b := &Backend{cfg: cfg, lock: lock, reqs: make(chan *writeReq, 4096), done: make(chan struct{})}
	if err := b.open(ctx); err != nil {
		_ = b.closeDBs()
		_ = lock.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	go b.writeLoop()
	return b, nil
}

// uriPath escapes the characters a SQLite URI filename gives a meaning to.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + uriPath.Replace(path) + "?" + q.Encode()
}

func (b *Backend) open(ctx context.Context) error {
	var err error
	b.writeDB, err = sql.Open("sqlite", dsn(b.cfg.Path, "journal_mode(WAL)", "synchronous("+b.cfg.Synchronous+")",
		"busy_timeout(10000)", "foreign_keys(0)", "cache_size(-32000)", "temp_store(MEMORY)"))
	if err != nil {
		return err
	}
	b.writeDB.SetMaxOpenConns(1)
	b.writeDB.SetConnMaxLifetime(0)
	b.writeDB.SetConnMaxIdleTime(0)
	if b.conn, err = b.writeDB.Conn(ctx); err != nil {
		return err
	}
	if err := b.checkPragmas(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, b.conn); err != nil {
		return err
	}
	// One process owns the database (the lock file says so): leases left by a previous process
	// are stale, release them so its work resumes at once instead of after the lease expires.
	if _, err := b.conn.ExecContext(ctx, `UPDATE instances SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner IS NOT NULL`); err != nil {
		return fmt.Errorf("release stale locks: %w", err)
	}
	if _, err := b.conn.ExecContext(ctx, `UPDATE tasks SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner IS NOT NULL`); err != nil {
		return fmt.Errorf("release stale leases: %w", err)
	}
	b.read, err = sql.Open("sqlite", dsn(b.cfg.Path, "busy_timeout(10000)", "query_only(1)", "cache_size(-16000)"))
	if err != nil {
		return err
	}
	b.reads = newReadCache(b.read)
	b.read.SetMaxOpenConns(b.cfg.ReadConns)
	b.read.SetMaxIdleConns(b.cfg.ReadConns)
	b.read.SetConnMaxLifetime(0)
	b.read.SetConnMaxIdleTime(0)
	return nil
}

// checkPragmas reads back what the DSN asked for: a driver that silently ignored a pragma would
// otherwise weaken durability unnoticed.
func (b *Backend) checkPragmas(ctx context.Context) error {
	var mode string
	if err := b.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	var sync int
	if err := b.conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	want := map[string]int{"NORMAL": 1, "FULL": 2}[b.cfg.Synchronous]
	if mode != "wal" || sync != want {
		return fmt.Errorf("pragmas not applied: journal_mode=%s synchronous=%d", mode, sync)
	}
	return nil
}

// Supports reports optional capabilities: none beyond the base contract.
func (b *Backend) Supports(f store.Feature) bool { return false }

// Close stops the writer after the writes already queued and closes the database.
func (b *Backend) Close() error {
	var err error
	b.once.Do(func() {
		b.sending.Lock()
		b.isClosed = true
		close(b.reqs)
		b.sending.Unlock()
		<-b.done
		err = b.closeDBs()
		if b.lock != nil {
			_ = b.lock.Close()
		}
	})
	return err
}

func (b *Backend) closeDBs() error {
	var errs []error
	if b.conn != nil {
		errs = append(errs, b.conn.Close())
	}
	if b.writeDB != nil {
		errs = append(errs, b.writeDB.Close())
	}
	if b.reads != nil {
		b.reads.close()
	}
	if b.read != nil {
		errs = append(errs, b.read.Close())
	}
	return errors.Join(errs...)
}

// acquireRead fails with ErrClosed once Close has begun; otherwise Close waits for the read to
// end (releaseRead).
func (b *Backend) acquireRead() error {
	b.sending.RLock()
	if b.isClosed {
		b.sending.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (b *Backend) releaseRead() { b.sending.RUnlock() }

// query runs the read q and reads its rows with collect.
func query[T any](ctx context.Context, b *Backend, collect sc.Collector[T], q string, args ...any) (T, error) {
	var zero T
	if err := b.acquireRead(); err != nil {
		return zero, err
	}
	defer b.releaseRead()
	rows, err := b.reads.QueryContext(ctx, q, args...) //nolint:rowserrcheck // sc.Collect checks rows.Err
	if err != nil {
		return zero, err
	}
	defer rows.Close()
	return sc.Collect(rows, collect)
}

// txQuery runs q in tx and reads its rows with collect.
func txQuery[T any](tx *wtx, collect sc.Collector[T], q string, args ...any) (T, error) {
	rows, err := tx.query(q, args...) //nolint:rowserrcheck // sc.Collect checks rows.Err
	if err != nil {
		var zero T
		return zero, err
	}
	defer rows.Close()
	return sc.Collect(rows, collect)
}

// writeReq is one write: fn runs inside the writer's transaction.
type writeReq struct {
	fn   func(tx *wtx) error
	done chan error
}

// write runs fn in the next group-committed transaction and waits for its commit. Once queued,
// the write happens whether or not the caller still waits; waiting for it keeps "returned
// error" equal to "not written".
func (b *Backend) write(ctx context.Context, fn func(tx *wtx) error) error {
	return <-b.enqueue(ctx, fn)
}

// enqueue queues fn for the writer and returns the channel that receives its outcome. Writes
// queued one after another by one goroutine run in that order.
func (b *Backend) enqueue(ctx context.Context, fn func(tx *wtx) error) <-chan error {
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	b.sending.RLock()
	defer b.sending.RUnlock()
	if b.isClosed {
		req.done <- store.ErrClosed
		return req.done
	}
	select {
	case b.reqs <- req:
	case <-ctx.Done():
		req.done <- ctx.Err()
	}
	return req.done
}

func (b *Backend) writeLoop() {
	defer close(b.done)
	tx := &wtx{conn: b.conn, stmts: map[string]*sql.Stmt{}}
	defer tx.closeStmts()
	batch := make([]*writeReq, 0, b.cfg.MaxBatch)
	for req := range b.reqs {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.commitBatch(tx, batch)
	}
}

// commitBatch runs a batch of writes in one transaction. With more than one write, each runs in
// a savepoint: a failing write is rolled back alone and gets its own error.
func (b *Backend) commitBatch(tx *wtx, batch []*writeReq) {
	errs := make([]error, len(batch))
	began := time.Now()
	if _, err := tx.exec("BEGIN IMMEDIATE"); err != nil {
		b.observeCommit(len(batch), began, err)
		for _, r := range batch {
			r.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	single := len(batch) == 1
	for i, r := range batch {
		if single {
			errs[i] = r.fn(tx)
			continue
		}
		if _, err := tx.exec("SAVEPOINT w"); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = r.fn(tx)
		if errs[i] != nil {
			if _, err := tx.exec("ROLLBACK TO w"); err != nil {
				errs[i] = errors.Join(errs[i], err)
			}
		}
		if _, err := tx.exec("RELEASE w"); err != nil {
			errs[i] = errors.Join(errs[i], err)
		}
	}
	if single && errs[0] != nil {
		if _, err := tx.exec("ROLLBACK"); err != nil {
			errs[0] = errors.Join(errs[0], err)
		}
		batch[0].done <- errs[0]
		return
	}
	var commitErr error
	if _, err := tx.exec("COMMIT"); err != nil {
		_, _ = tx.exec("ROLLBACK")
		commitErr = fmt.Errorf("commit: %w", err)
	}
	b.observeCommit(len(batch), began, commitErr)
	for i, r := range batch {
		if errs[i] == nil && commitErr != nil {
			errs[i] = commitErr
		}
		r.done <- errs[i]
	}
}

func (b *Backend) observeCommit(writes int, began time.Time, err error) {
	if b.cfg.ObserveCommit != nil {
		b.cfg.ObserveCommit(writes, time.Since(began), err)
	}
}

// wtx runs statements on the writer connection inside the current transaction, with a cache of
// prepared statements.
type wtx struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if s, ok := t.stmts[q]; ok {
		return s, nil
	}
	s, err := t.conn.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	t.stmts[q] = s
	return s, nil
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	s, err := t.stmt(q) //nolint:sqlclosecheck // cached; closed by closeStmts
	if err != nil {
		return nil, err
	}
	return s.Exec(args...)
}

func (t *wtx) query(q string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(q) //nolint:sqlclosecheck // cached; closed by closeStmts
	if err != nil {
		return nil, err
	}
	return s.Query(args...)
}

func (t *wtx) queryRow(q string, args ...any) *sql.Row {
	s, err := t.stmt(q) //nolint:sqlclosecheck // cached; closed by closeStmts
	if err != nil {
		return t.conn.QueryRowContext(context.Background(), q, args...)
	}
	return s.QueryRow(args...)
}

func (t *wtx) closeStmts() {
	for _, s := range t.stmts {
		_ = s.Close()
	}
}

// nanos and fromNanos are how times are stored (see sqlcommon.Nanos).
var (
	nanos     = sc.Nanos
	fromNanos = sc.FromNanos
)

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}
