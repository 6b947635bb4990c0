package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/host"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
)

// TestActivitiesOnlyHostRunsTheRemoteActivity shares a PostgreSQL task hub between a host that
// runs the orchestrator, whose registry declares Render remote, and an activities-only host
// that has Render. Until the second host starts, the call waits, unleased and not failed; then
// it runs there and the run completes with its result.
func TestActivitiesOnlyHostRunsTheRemoteActivity(t *testing.T) {
	ctx := context.Background()
	hub := pgtest.FreshDatabase(t, "orca_host")
	orchestrating := orca.NewRegistry().
		MustAddRemoteActivity("Render").
		MustAddOrchestrator("Report", func(ctx orca.OrchestrationContext) (any, error) {
			var page int
			if err := ctx.Input(&page); err != nil {
				return nil, err
			}
			return orca.Await[string](ctx.CallActivity("Render", page))
		})
	a, err := host.Start(ctx, host.Options{Registry: orchestrating, Store: hub, Blob: "file://" + t.TempDir(),
		DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	c, err := client.New(a.URL())
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.StartOrchestration(ctx, "Report", "report", 3)
	if err != nil {
		t.Fatal(err)
	}

	// Render's call is scheduled; for two of the orchestrating host's activity polls (1 s
	// apart) it stays there: the run Running, nothing failed, the task never leased.
	history := func() (*client.Status, map[string]int) {
		t.Helper()
		st, err := c.StatusWithOptions(ctx, id, client.StatusOptions{ShowHistory: true})
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]int{}
		for _, ev := range st.HistoryEvents {
			types[ev.EventType]++
		}
		return st, types
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, types := history(); types["TaskScheduled"] == 0; _, types = history() {
		if time.Now().After(deadline) {
			t.Fatal("Render's call was never scheduled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for until := time.Now().Add(2500 * time.Millisecond); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
		st, types := history()
		if st.RuntimeStatus != client.RuntimeStatusRunning || types["TaskFailed"] > 0 {
			t.Fatalf("without a host for Render the run is %s with history %v, want Running without TaskFailed",
				st.RuntimeStatus, types)
		}
		if attempts := taskAttempts(t, hub, id); attempts != 0 {
			t.Fatalf("Render's task was leased %d times before a host that has it started", attempts)
		}
	}

	activities := orca.NewRegistry().MustAddActivity("Render", func(ctx orca.ActivityContext) (any, error) {
		var page int
		err := ctx.Input(&page)
		return fmt.Sprintf("page %d rendered by the activities-only host", page), err
	})
	b, err := host.Start(ctx, host.Options{Registry: activities, Store: hub, ActivitiesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	if b.URL() != "" {
		t.Fatalf("an activities-only host serves %s, want no API", b.URL())
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := c.WaitForCompletion(wctx, id, 20*time.Millisecond, nil)
	if err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted ||
		string(st.Output) != `"page 3 rendered by the activities-only host"` {
		t.Fatalf("run %s: %+v (%v), want Completed with the activities-only host's result", id, st, err)
	}
}

// taskAttempts is how many times the tasks of an instance were leased, summed.
func taskAttempts(t *testing.T, hub, id string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), hub)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(sum(attempt), 0) FROM tasks WHERE instance_id = $1",
		id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
