// Package apptest starts orca nodes for tests.
package apptest

import (
	"context"
	"testing"

	"github.com/orcahq/orca/internal/app"
)

// Start assembles and starts a node with cfg — a fresh data directory and a free loopback port
// unless cfg says otherwise — and stops it when t ends.
func Start(t testing.TB, cfg app.Config) *app.App {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" && !cfg.NoHTTP {
		cfg.Listen = "127.0.0.1:0"
	}
	a, err := app.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}
