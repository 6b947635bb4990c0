package storeopen_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/store/storeopen"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		url, kind, path string
	}{
		{"", "sqlite", filepath.Join("data", "orca.db")},
		{"sqlite:rel/o.db", "sqlite", filepath.Join("rel", "o.db")},
		{"sqlite:///abs/o.db", "sqlite", "/abs/o.db"},
		{"postgres://u@h:5432/db?sslmode=disable", "postgres", ""},
		{"postgresql://u:secret@h/db", "postgres", ""},
	} {
		kind, path, err := storeopen.Parse(c.url, "data")
		if err != nil || string(kind) != c.kind || path != c.path {
			t.Errorf("Parse(%q) = %s, %q, %v; want %s, %q", c.url, kind, path, err, c.kind, c.path)
		}
	}
	for _, bad := range []string{"mysql://h/db", "sqlite:", "/just/a/path", "postgres://u@h:port/db"} {
		if _, _, err := storeopen.Parse(bad, "data"); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestDescribeHidesThePassword(t *testing.T) {
	got := storeopen.Describe("postgres://orca:s3cret@db.internal:5432/hub?sslmode=require&password=s3cret", "data")
	if got != "PostgreSQL db.internal:5432/hub" {
		t.Fatalf("Describe = %q", got)
	}
	if d := storeopen.Describe("", "data"); !strings.HasPrefix(d, "SQLite ") {
		t.Fatalf("Describe(\"\") = %q", d)
	}
}

func TestOpenRefusesSynchronousForPostgres(t *testing.T) {
	_, _, err := storeopen.Open(context.Background(), "postgres://u@127.0.0.1:1/db", storeopen.Options{Synchronous: "NORMAL"})
	if err == nil || !strings.Contains(err.Error(), "SQLite") {
		t.Fatalf("Open with --sync on PostgreSQL = %v, want an error naming SQLite's setting", err)
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	st, kind, err := storeopen.Open(context.Background(), "", storeopen.Options{DataDir: dir})
	if err != nil || kind != storeopen.SQLite {
		t.Fatalf("Open: %v, %v", kind, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
