// Package pgtest gives tests throw-away databases on the test PostgreSQL server, which
// scripts/services/postgres.sh starts (it exports ORCA_TEST_POSTGRES_URL). Without the server a
// test skips loudly, or fails under REQUIRE_INTEGRATION=1 (testenv.Service). Only tests import
// it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/testenv"
)

// URL is the test server's URL.
func URL(t testing.TB) string {
	t.Helper()
	return testenv.Service(t, "postgres.sh", "ORCA_TEST_POSTGRES_URL")[0]
}

// FreshDatabase creates an empty database named prefix_RANDOM on the test server, drops it when
// t ends (closing whatever still uses it), and returns its URL.
func FreshDatabase(t testing.TB, prefix string) string {
	t.Helper()
	base := URL(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := prefix + "_" + hex.EncodeToString(rnd[:])
	exec := func(sql string) error {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create a database on the test server: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
