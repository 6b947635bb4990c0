package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxReadStmts bounds the read statement cache; queries beyond it run unprepared.
const maxReadStmts = 512

// readCache runs reads through prepared statements kept for the life of the store: database/sql
// prepares each one once per pooled connection and reuses it, so a hot read (an inbox, a blob,
// an instance) is not parsed and planned on every call.
type readCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newReadCache(db *sql.DB) *readCache { return &readCache{db: db, stmts: map[string]*sql.Stmt{}} }

func (c *readCache) stmt(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[q]; ok {
		return s
	}
	if len(c.stmts) >= maxReadStmts {
		return nil
	}
	s, err := c.db.PrepareContext(ctx, q) //nolint:sqlclosecheck // cached; closed by close
	if err != nil {
		return nil // the unprepared query reports the error
	}
	c.stmts[q] = s
	return s
}

// QueryContext runs a read query.
func (c *readCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := c.stmt(ctx, q); s != nil { //nolint:sqlclosecheck // cached; closed by close
		return s.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, q, args...)
}

// QueryRowContext runs a read query for one row.
func (c *readCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := c.stmt(ctx, q); s != nil { //nolint:sqlclosecheck // cached; closed by close
		return s.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

func (c *readCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		_ = s.Close()
	}
	c.stmts = nil
}
