package host_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/host"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func registry() *orca.Registry {
	return orca.NewRegistry().
		MustAddActivity("Double", func(ctx orca.ActivityContext) (any, error) {
			var x int
			err := ctx.Input(&x)
			return 2 * x, err
		}).
		// Doubling: 1 doubled n times, one activity after another.
		MustAddOrchestrator("Doubling", func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			x := 1
			for range n {
				if err := ctx.CallActivity("Double", x).Await(&x); err != nil {
					return nil, err
				}
			}
			return x, nil
		}).
		MustAddOrchestrator("WaitForGo", func(ctx orca.OrchestrationContext) (any, error) {
			var v string
			err := ctx.WaitForExternalEvent("Go").Await(&v)
			return v, err
		})
}

// TestHostRunsYourOrchestrators hosts a registry, drives it through the Durable Functions API
// with orca's client, stops the host with a run waiting for an event, and starts it again on
// the same data: the run resumes and completes.
func TestHostRunsYourOrchestrators(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const key = "host-test-admin-key-0123456789"
	opt := host.Options{Registry: registry(), DataDir: dir, Listen: "127.0.0.1:0", AdminKey: key}
	h, err := host.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(h.URL(), client.WithKey(key))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.StartOrchestration(ctx, "Doubling", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.WaitForCompletion(ctx, id, 20*time.Millisecond, nil)
	if err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted || string(st.Output) != "1024" {
		t.Fatalf("run %s: %+v (%v), want Completed with 1024", id, st, err)
	}
	// The key is required.
	resp, err := http.Get(h.URL() + "/runtime/webhooks/durabletask/instances/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status without the key: %d, want 401", resp.StatusCode)
	}

	waiting, err := c.StartOrchestration(ctx, "WaitForGo", "waits", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, waiting, client.RuntimeStatusRunning)
	if err := h.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	opt.Registry = registry()
	h, err = host.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx)
	if c, err = client.New(h.URL(), client.WithKey(key)); err != nil {
		t.Fatal(err)
	}
	if err := c.RaiseEvent(ctx, waiting, "Go", "again"); err != nil {
		t.Fatal(err)
	}
	st, err = c.WaitForCompletion(ctx, waiting, 20*time.Millisecond, nil)
	if err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted || string(st.Output) != `"again"` {
		t.Fatalf("resumed run: %+v (%v)", st, err)
	}
}

func waitStatus(t *testing.T, c *client.Client, id string, want client.RuntimeStatus) {
	t.Helper()
	wait.For(t, 10*time.Second, func() bool {
		st, err := c.Status(context.Background(), id)
		return err == nil && st.RuntimeStatus == want
	}, id+" to become "+string(want))
}

func TestHostRefusesBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  host.Options
		says string
	}{
		{"no registry", host.Options{}, "Registry is required"},
		{"short key", host.Options{Registry: registry(), AdminKey: "short"}, "shorter than 16"},
		{"open beyond loopback", host.Options{Registry: registry(), Listen: "0.0.0.0:0"}, "refusing to listen on 0.0.0.0:0"},
		// A SQLite store belongs to the host that runs its orchestrations: another process
		// cannot take its tasks.
		{"activities only on SQLite", host.Options{Registry: registry(), ActivitiesOnly: true},
			"needs a store the task hub's other processes share (postgres://…)"},
		{"activities only on a SQLite path", host.Options{Registry: registry(), Store: "sqlite:orca.db", ActivitiesOnly: true},
			"needs a store the task hub's other processes share (postgres://…)"},
		{"remote activities on SQLite", host.Options{Registry: registry().MustAddRemoteActivity("Render")},
			"no other host can take their tasks"},
		{"activities only without activities", host.Options{Registry: orca.NewRegistry().MustAddRemoteActivity("Elsewhere"),
			Store: "postgres://127.0.0.1:1/none", ActivitiesOnly: true}, "needs a registry with activities"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opt.DataDir = t.TempDir()
			h, err := host.Start(context.Background(), c.opt)
			if err == nil {
				_ = h.Stop(context.Background())
				t.Fatalf("started, want an error saying %q", c.says)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q, want it to say %q", err, c.says)
			}
		})
	}
}
