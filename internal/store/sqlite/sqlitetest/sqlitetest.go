// Package sqlitetest opens throw-away SQLite stores for the tests of other packages. Only tests
// import it.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/orcahq/orca/internal/store/sqlite"
)

// Open opens a store with cfg, by default (no cfg.Path) in a new database under t.TempDir(),
// and closes it when t ends; failing to open or to close fails t.
func Open(t testing.TB, cfg sqlite.Config) *sqlite.Backend {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "orca.db")
	}
	st, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close sqlite store: %v", err)
		}
	})
	return st
}
