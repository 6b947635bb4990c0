package bench_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/bench"
	"github.com/orcahq/orca/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var line = regexp.MustCompile(`^BENCH scenario=([a-z-]+) n=(\d+) servers=(\d+) seconds=[0-9.]+ items_per_sec=\d+ peak_rss_mb=[0-9.]+$`)

// checkLine checks a result's BENCH line names the scenario, n and the servers.
func checkLine(t *testing.T, res bench.Result, scenario string, n, servers int) {
	t.Helper()
	m := line.FindStringSubmatch(res.Line())
	if m == nil || m[1] != scenario || m[2] != fmt.Sprint(n) || m[3] != fmt.Sprint(servers) {
		t.Fatalf("line %q, want scenario=%s n=%d servers=%d", res.Line(), scenario, n, servers)
	}
}

func TestSQLite(t *testing.T) {
	for _, sc := range []string{"fanout", "many", "compute-inproc"} {
		t.Run(sc, func(t *testing.T) {
			res, err := bench.Run(context.Background(), sc, 50, bench.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			checkLine(t, res, sc, 50, 1)
			if res.Database != "" {
				t.Fatalf("a SQLite run reports database %q", res.Database)
			}
		})
	}
}

// databaseExists reports whether the server serverURL names has a database called name.
func databaseExists(t *testing.T, serverURL, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestPostgres(t *testing.T) {
	u := testenv.Service(t, "postgres.sh", "ORCA_TEST_POSTGRES_URL")[0]
	for _, c := range []struct {
		scenario string
		servers  int
	}{{"fanout", 1}, {"many", 1}, {"compute-inproc", 1}, {"fanout", 2}, {"many", 2}} {
		t.Run(fmt.Sprintf("%s/servers=%d", c.scenario, c.servers), func(t *testing.T) {
			const n = 50
			res, err := bench.Run(context.Background(), c.scenario, n, bench.Options{Dir: t.TempDir(), StoreURL: u, Servers: c.servers})
			if err != nil {
				t.Fatal(err)
			}
			checkLine(t, res, c.scenario+"-postgres", n, c.servers)
			if !strings.HasPrefix(res.Database, bench.DatabasePrefix) {
				t.Fatalf("database %q, want one named %s…", res.Database, bench.DatabasePrefix)
			}
			if databaseExists(t, u, res.Database) {
				t.Fatalf("database %s still exists after the run", res.Database)
			}
		})
	}
}

// TestRefused checks the combinations a run refuses, before it connects anywhere.
func TestRefused(t *testing.T) {
	const pg = "postgres://nobody@127.0.0.1:1/none?sslmode=disable" // never reached
	for _, c := range []struct {
		name     string
		scenario string
		opt      bench.Options
		want     string
	}{
		{"sequence on PostgreSQL", "sequence", bench.Options{StoreURL: pg}, "those that do: compute-dev, compute-inproc, fanout, many"},
		{"compute-exec on PostgreSQL", "compute-exec", bench.Options{StoreURL: pg}, "does not run on PostgreSQL"},
		{"cold-start on PostgreSQL", "cold-start", bench.Options{StoreURL: pg}, "does not run on PostgreSQL"},
		{"sync on PostgreSQL", "fanout", bench.Options{StoreURL: pg, Synchronous: "NORMAL"}, "SQLite's"},
		{"two servers on SQLite", "fanout", bench.Options{Servers: 2}, "postgres://"},
		{"two servers of compute-inproc", "compute-inproc", bench.Options{StoreURL: pg, Servers: 2}, "with several: fanout, many"},
		{"a SQLite URL", "fanout", bench.Options{StoreURL: "sqlite:x.db"}, "fresh store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := bench.Run(context.Background(), c.scenario, 10, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
