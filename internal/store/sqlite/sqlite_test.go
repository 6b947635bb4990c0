package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
	"github.com/orcahq/orca/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		return sqlitetest.Open(t, sqlite.Config{})
	})
}

// Without FeatureMultiProcess the store belongs to one process: Open releases the locks and
// leases a previous process left behind.
func TestOpenReleasesStaleLeases(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orca.db")
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	expiry := t0.Add(time.Hour)

	b := sqlitetest.Open(t, sqlite.Config{Path: path})
	if b.Supports(store.FeatureMultiProcess) {
		t.Fatal("sqlite store claims FeatureMultiProcess")
	}
	err := b.InstanceCreate(ctx, &store.InstanceCreateParams{ID: "i1", Name: "Orch", CreatedAt: t0, Owner: "old", LockExpiry: expiry,
		Started: history.NewExecutionStarted(t0, history.ExecutionStartedAttrs{Name: "Orch", ExecutionID: "e1"})})
	if err != nil {
		t.Fatal(err)
	}
	key := store.TaskKey{InstanceID: "i1", ExecutionID: "e1", TaskID: 0}
	err = b.OrchestrationCommit(ctx, &store.OrchestrationCommitParams{InstanceID: "i1", Owner: "old", TruncateHistory: -1,
		Tasks:  []*store.TaskCreate{{TaskKey: key, Name: "Act", Owner: "old", LockExpiry: expiry}},
		Update: store.InstanceUpdate{Status: store.StatusRunning, UpdatedAt: t0}, LockExpiry: expiry})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = sqlitetest.Open(t, sqlite.Config{Path: path})
	now := t0.Add(time.Minute)
	ins, err := b.OrchestrationLease(ctx, &store.OrchestrationLeaseParams{Owner: "new", Now: now, LockExpiry: expiry, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].ID != "i1" {
		t.Fatalf("OrchestrationLease after reopening = %v, want i1", ins)
	}
	tasks, err := b.TaskLease(ctx, &store.TaskLeaseParams{Owner: "new", Now: now, LockExpiry: expiry, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].TaskKey != key || tasks[0].Attempt != 2 {
		t.Fatalf("TaskLease after reopening = %+v, want %v at attempt 2", tasks, key)
	}
}

// The database path is a file name, not a URI: characters that mean something in a URI open
// the file they name.
func TestOpenPathWithURICharacters(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"Percent", "100%.db"},
		{"PercentEscape", "a%41.db"},
		{"QuestionMark", "a?b.db"},
		{"Hash", "a#b.db"},
		{"Space", "a b.db"},
	} {
		// Subtest names stay plain so that t.TempDir, which includes them, is a clean path.
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			b := sqlitetest.Open(t, sqlite.Config{Path: path})
			t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
			err := b.InstanceCreate(context.Background(), &store.InstanceCreateParams{ID: "i1", Name: "Orch", CreatedAt: t0,
				Started: history.NewExecutionStarted(t0, history.ExecutionStartedAttrs{Name: "Orch", ExecutionID: "e1"})})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file: %v", err)
			}
			b = sqlitetest.Open(t, sqlite.Config{Path: path})
			if _, err := b.InstanceGet(context.Background(), "i1", false); err != nil {
				t.Fatalf("instance not found after reopening %s: %v", path, err)
			}
		})
	}
}

// ObserveCommit sees every write once, in the transactions that commit, and not the lone write
// that failed and rolled back.
func TestObserveCommit(t *testing.T) {
	var mu sync.Mutex
	commits, writes := 0, 0
	b, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "orca.db"),
		ObserveCommit: func(n int, d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil || n <= 0 || d <= 0 {
				t.Errorf("observed a commit of %d writes in %v with error %v", n, d, err)
			}
			commits++
			writes += n
		}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := b.QueueEnqueue(context.Background(), &store.QueueEnqueueParams{Queue: "work",
				Messages: []*store.QueueMessage{{ID: fmt.Sprint(i), InsertedAt: t0, VisibleAt: t0}}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := b.QueueDelete(context.Background(), "work", "nope", "r"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("QueueDelete of an unknown message: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if writes != n || commits < 1 || commits > n {
		t.Fatalf("observed %d writes in %d commits, want %d writes in 1 to %d commits", writes, commits, n, n)
	}
}

// BenchmarkStore: go test -run '^$' -bench . ./internal/store/sqlite ./internal/store/postgres
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Backend {
		st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "orca.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return st
	})
}
