// Package storeopen opens orca's store from a URL, choosing the backend by its scheme:
//
//	(empty)                         SQLite at <data dir>/orca.db
//	sqlite:PATH, sqlite:///PATH     SQLite at PATH (relative to the working directory, or absolute)
//	postgres://USER@HOST:PORT/DB?sslmode=...   PostgreSQL (postgresql:// too; pgx's URL and
//	                                keyword forms, and its PG* environment variables)
//
// SQLite is owned by one process; PostgreSQL is shared by every server of a task hub.
// A password is better given in PGPASSWORD or ~/.pgpass than in the URL, which ends up in
// config files and process listings.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/postgres"
	"github.com/orcahq/orca/internal/store/sqlite"
)

// Options are what the backends take besides the URL.
type Options struct {
	// DataDir holds the default SQLite database.
	DataDir string
	// Synchronous is SQLite's synchronous setting (FULL or NORMAL); refused for PostgreSQL.
	Synchronous string
	// ObserveCommit is told of SQLite's group commits (see sqlite.Config).
	ObserveCommit func(writes int, d time.Duration, err error)
	// Logger receives the store's own reports (PostgreSQL: its wake-up connection).
	Logger *slog.Logger
}

// Kind names a backend.
type Kind string

// The backends.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Parse returns the backend rawURL names and, for SQLite, the database path; it opens nothing
// (orca config check uses it).
func Parse(rawURL, dataDir string) (kind Kind, path string, err error) {
	switch {
	case rawURL == "":
		return SQLite, filepath.Join(dataDir, "orca.db"), nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return "", "", fmt.Errorf("store URL: %w", redactErr(err))
		}
		return Postgres, "", nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", "", fmt.Errorf("store URL: %w", err)
		}
		p := u.Opaque
		if p == "" {
			p = u.Host + u.Path
		}
		if p == "" {
			return "", "", fmt.Errorf("store URL %q: a path is required: sqlite:PATH or sqlite:///ABSOLUTE/PATH", rawURL)
		}
		return SQLite, filepath.FromSlash(p), nil
	}
	return "", "", fmt.Errorf("store URL: unknown form (want postgres://…, sqlite:PATH, or none for SQLite in the data directory)")
}

// Describe names the store rawURL opens, for banners and logs: no password, no parameters.
func Describe(rawURL, dataDir string) string {
	kind, path, err := Parse(rawURL, dataDir)
	switch {
	case err != nil:
		return "an invalid store URL"
	case kind == SQLite:
		return "SQLite " + path
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + u.Host + u.Path
}

// redactErr drops the URL (and any password in it) from url's parse errors.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Open opens the store rawURL names.
func Open(ctx context.Context, rawURL string, o Options) (store.Backend, Kind, error) {
	kind, path, err := Parse(rawURL, o.DataDir)
	if err != nil {
		return nil, "", err
	}
	if kind == Postgres {
		if o.Synchronous != "" {
			return nil, "", fmt.Errorf("the synchronous setting (--sync) is SQLite's; PostgreSQL's durability is its own configuration")
		}
		st, err := postgres.Open(ctx, postgres.Config{URL: rawURL, Logger: o.Logger})
		if err != nil {
			return nil, "", err
		}
		return st, kind, nil
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: path, Synchronous: o.Synchronous, ObserveCommit: o.ObserveCommit})
	if err != nil {
		return nil, "", err
	}
	return st, kind, nil
}
