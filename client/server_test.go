package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
)

// node runs an orca node in the test process, with Double (returns twice its input at once),
// Await (waits for the event "Go" and returns its data) and Fail (fails at once).
func node(t *testing.T) *client.Client {
	t.Helper()
	r := orca.NewRegistry()
	for name, fn := range map[string]orca.Orchestrator{
		"Double": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			err := ctx.Input(&n)
			return 2 * n, err
		},
		"Await": func(ctx orca.OrchestrationContext) (any, error) {
			var v any
			err := ctx.WaitForExternalEvent("Go").Await(&v)
			return v, err
		},
		"Fail": func(orca.OrchestrationContext) (any, error) { return nil, errors.New("boom") },
	} {
		if err := r.AddOrchestrator(name, fn); err != nil {
			t.Fatal(err)
		}
	}
	a := apptest.Start(t, app.Config{Registry: r})
	c, err := client.New(a.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, c *client.Client, id string) *client.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.WaitForCompletion(ctx, id, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	return st
}

// TestAgainstServer runs every client method against a real node, checking the answers the
// contract gives and their mapping onto the error helpers.
func TestAgainstServer(t *testing.T) {
	c := node(t)
	ctx := context.Background()

	// Start and wait on the server: Completed answers with the output alone.
	res, err := c.StartOrchestrationWithOptions(ctx, "Double", 21, client.StartOptions{WaitTimeout: 20 * time.Second, PollingInterval: 10 * time.Millisecond})
	if err != nil || res.RuntimeStatus != client.RuntimeStatusCompleted || string(res.Output) != "42" || res.ID == "" {
		t.Fatalf("start and wait: %+v %v", res, err)
	}
	if st, err := c.Status(ctx, res.ID); err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted || string(st.Input) != "21" {
		t.Fatalf("status of %s: %+v %v", res.ID, st, err)
	}
	res, err = c.StartOrchestrationWithOptions(ctx, "Fail", nil, client.StartOptions{InstanceID: "f", WaitTimeout: 20 * time.Second, PollingInterval: 10 * time.Millisecond})
	if err != nil || res.RuntimeStatus != client.RuntimeStatusFailed || res.Status == nil || res.Status.Name != "Fail" {
		t.Fatalf("start and wait for a failure: %+v %v", res, err)
	}
	res, err = c.StartOrchestrationWithOptions(ctx, "Await", nil, client.StartOptions{InstanceID: "a", WaitTimeout: 50 * time.Millisecond, PollingInterval: 10 * time.Millisecond})
	if err != nil || res.Finished() || res.CheckStatus == nil || res.ID != "a" {
		t.Fatalf("start and wait past the timeout: %+v %v", res, err)
	}
	if _, err := c.StartOrchestration(ctx, "Await", "a", nil); !client.IsConflict(err) {
		t.Fatalf("start of a running id: %v", err)
	}
	if _, err := c.StartOrchestration(ctx, "Nope", "", nil); !client.IsBadRequest(err) {
		t.Fatalf("start of an unknown orchestrator: %v", err)
	}

	// Operations and their refusals.
	if _, err := c.Status(ctx, "none"); !client.IsNotFound(err) {
		t.Fatalf("status of none: %v", err)
	}
	if err := c.Rewind(ctx, "a", ""); !client.IsPreconditionFailed(err) {
		t.Fatalf("rewind of a running instance: %v", err)
	}
	if err := c.Resume(ctx, "a", ""); !client.IsConflict(err) {
		t.Fatalf("resume of a running instance: %v", err)
	}
	if err := c.Purge(ctx, "a"); !client.IsConflict(err) {
		t.Fatalf("purge of a running instance: %v", err)
	}
	if err := c.RaiseEvent(ctx, "a", "Go", map[string]string{"by": "test"}); err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, c, "a"); string(st.Output) != `{"by":"test"}` {
		t.Fatalf("output %s", st.Output)
	}
	if err := c.RaiseEvent(ctx, "a", "Go", nil); !client.IsGone(err) {
		t.Fatalf("raise on a finished instance: %v", err)
	}
	if err := c.Terminate(ctx, "a", "late"); !client.IsGone(err) {
		t.Fatalf("terminate of a finished instance: %v", err)
	}
	if err := c.Terminate(ctx, "none", ""); !client.IsNotFound(err) {
		t.Fatalf("terminate of none: %v", err)
	}
	if _, err := c.Restart(ctx, "none", client.RestartOptions{}); !client.IsBadRequest(err) {
		t.Fatalf("restart of none: %v", err)
	}
	res, err = c.Restart(ctx, "a", client.RestartOptions{KeepInstanceID: true})
	if err != nil || res.ID != "a" || res.CheckStatus == nil {
		t.Fatalf("restart: %+v %v", res, err)
	}
	if err := c.Suspend(ctx, "a", "pause"); err != nil {
		t.Fatal(err)
	}

	// History, paged and filtered.
	events := 0
	for e, err := range c.WalkHistory(ctx, "f", client.HistoryOptions{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.EventType == "" || e.Timestamp.IsZero() {
			t.Fatalf("event %s", e.Raw)
		}
		events++
	}
	if events < 2 {
		t.Fatalf("%d events", events)
	}
	if _, _, err := c.History(ctx, "none", client.HistoryOptions{}); !client.IsNotFound(err) {
		t.Fatalf("history of none: %v", err)
	}
	st, err := c.StatusWithOptions(ctx, "f", client.StatusOptions{ShowHistory: true, HideInput: true})
	if err != nil || len(st.HistoryEvents) == 0 || st.HistoryEvents[0].EventType != "ExecutionStarted" {
		t.Fatalf("status with history: %+v %v", st, err)
	}

	// Listing, the summary and purges.
	n := 0
	for st, err := range c.WalkInstances(ctx, client.ListOptions{PageSize: 1, RuntimeStatus: []client.RuntimeStatus{client.RuntimeStatusFailed}}) {
		if err != nil {
			t.Fatal(err)
		}
		if st.RuntimeStatus != client.RuntimeStatusFailed {
			t.Fatalf("listed %s", st.RuntimeStatus)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d failed instances listed", n)
	}
	sum, err := c.Summary(ctx)
	if err != nil || sum.Total != 3 || sum.Counts[client.RuntimeStatusFailed] != 1 || sum.Counts[client.RuntimeStatusCompleted] != 1 {
		t.Fatalf("summary: %+v %v", sum, err)
	}
	if err := c.Purge(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if err := c.Purge(ctx, "f"); !client.IsNotFound(err) {
		t.Fatalf("second purge: %v", err)
	}
	deleted, err := c.PurgeMany(ctx, client.PurgeOptions{CreatedFrom: time.Now().Add(-time.Hour)})
	if err != nil || deleted != 1 {
		t.Fatalf("purge many: %d %v", deleted, err)
	}
}
