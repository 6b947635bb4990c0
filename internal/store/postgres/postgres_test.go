package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/postgres"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
	"github.com/orcahq/orca/internal/store/storetest"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open opens a store on url and closes it when t ends.
func open(t testing.TB, url string) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), postgres.Config{URL: url, MaxConns: 8})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close postgres store: %v", err)
		}
	})
	return b
}

// testDB is a database of its own for this test run, in which each backend gets a schema.
type testDB struct {
	url   string
	admin *pgx.Conn
	n     int
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	u := pgtest.FreshDatabase(t, "orca_test")
	admin, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connect to %s: %v", u, err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	return &testDB{url: u, admin: admin}
}

// schemaURL creates an empty schema and returns a URL whose connections use it.
func (d *testDB) schemaURL(t testing.TB) string {
	t.Helper()
	d.n++
	name := fmt.Sprintf("s%d", d.n)
	if _, err := d.admin.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestConformance(t *testing.T) {
	db := newTestDB(t)
	storetest.Run(t, func(t *testing.T) store.Backend {
		return open(t, db.schemaURL(t))
	})
}

// BenchmarkStore: go test -run '^$' -bench . ./internal/store/sqlite ./internal/store/postgres
// TestPreviousCreateCallStillWorks: a server of the previous version, during a rolling upgrade,
// creates instances with the 10-argument orca_create_instance (before scheduled starts, migration
// 5); on the migrated schema that call still makes an instance ready at its creation, with its
// ExecutionStarted in the inbox.
func TestPreviousCreateCallStillWorks(t *testing.T) {
	db := newTestDB(t)
	u := db.schemaURL(t)
	b := open(t, u)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := history.NewExecutionStarted(created, history.ExecutionStartedAttrs{Name: "Orch", ExecutionID: "e1"})
	data, err := history.Marshal(started)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `SELECT orca_create_instance($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		"old", "Orch", "e1", nil, nil, created.UnixNano(), nil, int64(0), data, false); err != nil {
		t.Fatalf("the previous version's create: %v", err)
	}
	got, err := b.OrchestrationLease(t.Context(), &store.OrchestrationLeaseParams{Owner: "n", Now: created,
		LockExpiry: created.Add(time.Minute), Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != "old" || got[0].Status != store.StatusPending {
		t.Fatalf("lease at the creation time: %v (%v), want the Pending instance old", got, err)
	}
	msgs, err := b.OrchestrationInbox(t.Context(), "old", created, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Event.Type != history.ExecutionStarted {
		t.Fatalf("inbox: %v (%v), want its ExecutionStarted", msgs, err)
	}
}

func BenchmarkStore(b *testing.B) {
	db := newTestDB(b)
	storetest.Benchmark(b, func(b *testing.B) store.Backend { return open(b, db.schemaURL(b)) })
}

// Two servers starting at once on a new database apply the migrations once, and a write of
// one wakes the subscribers of the other.
func TestTwoProcessesMigrateAndWake(t *testing.T) {
	u := newTestDB(t).schemaURL(t)
	var stores [2]*postgres.Backend
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			b, err := postgres.Open(context.Background(), postgres.Config{URL: u, MaxConns: 4})
			if err != nil {
				t.Errorf("open %d: %v", i, err)
				return
			}
			stores[i] = b
		})
	}
	wg.Wait()
	for _, b := range stores {
		if b == nil {
			t.FailNow()
		}
		t.Cleanup(func() { _ = b.Close() })
	}
	if !stores[1].Supports(store.FeatureWakeups) || !stores[1].Supports(store.FeatureMultiProcess) {
		t.Fatal("postgres store lacks FeatureWakeups or FeatureMultiProcess")
	}
	wakes, cancel := stores[1].Subscribe()
	defer cancel()
	now := time.Now()
	deadline := time.After(10 * time.Second)
	// The listener may not be listening yet: enqueue until the wake-up arrives.
	for i := 0; ; i++ {
		err := stores[0].QueueEnqueue(t.Context(), &store.QueueEnqueueParams{Queue: "work",
			Messages: []*store.QueueMessage{{ID: fmt.Sprint(i), Body: []byte("x"), InsertedAt: now, VisibleAt: now}}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case w := <-wakes:
			if w.Kind == store.WakeQueue && w.Key == "work" {
				return
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no wake-up for queue work within 10s")
		}
	}
}

// TestLostWakeupConnectionIsReported kills the listening connection in the server: the loss is
// logged once as a warning (subscribers fall back to polling), every subscriber is woken, and
// the reconnection is logged when LISTEN is back.
func TestLostWakeupConnectionIsReported(t *testing.T) {
	u := pgtest.FreshDatabase(t, "orca_test")
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := postgres.Open(context.Background(), postgres.Config{URL: u, MaxConns: 4, PollFallback: 50 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	wakes, cancel := b.Subscribe()
	defer cancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	waitFor := func(what string, n int) {
		t.Helper()
		wait.For(t, 10*time.Second, func() bool { return strings.Count(logs.String(), what) >= n }, fmt.Sprintf("%d log lines %q", n, what))
	}
	const listening, lost = "PostgreSQL wake-up connection listening", "lost the PostgreSQL wake-up connection"
	waitFor(listening, 1)
	for len(wakes) > 0 {
		<-wakes
	}
	admin, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'orca-wakeups' AND datname = current_database()`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	waitFor(lost, 1)
	select {
	case w := <-wakes:
		if w.Kind != store.WakeAll {
			t.Fatalf("wake-up %+v after the loss, want WakeAll", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after the listening connection was lost")
	}
	waitFor(listening, 2)
	if n := strings.Count(logs.String(), lost); n != 1 {
		t.Fatalf("the loss was logged %d times, want once", n)
	}
}
