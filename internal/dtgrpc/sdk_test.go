package dtgrpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// scenarioResult is one line of testdata/js/scenarios.js.
type scenarioResult struct {
	Scenario         string     `json:"scenario"`
	Error            string     `json:"error"`
	ID               string     `json:"id"`
	Status           string     `json:"status"`
	Output           string     `json:"output"`
	CustomStatus     string     `json:"customStatus"`
	Failure          string     `json:"failure"`
	SeenCustomStatus string     `json:"seenCustomStatus"`
	WhileSuspended   string     `json:"whileSuspended"`
	Events           []string   `json:"events"`
	Pages            [][]string `json:"pages"`
	Deleted          int        `json:"deleted"`
	After            string     `json:"after"`
	State            string     `json:"state"`
	Raised           string     `json:"raised"`
}

// TestJSSDKRunsOnOrca runs orchestrators and activities written with @microsoft/durabletask-js
// on an orca node: the SDK's worker runs them, its client starts, waits for, signals and
// controls them, and orca keeps their instances and histories as it does its own.
func TestJSSDKRunsOnOrca(t *testing.T) {
	node, dir := jsSDK(t)
	a := apptest.Start(t, app.Config{GRPCListen: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "scenarios.js"), a.GRPCAddr)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scenarios.js: %v\n%s\n%s", err, out, stderr.String())
	}
	results := map[string]scenarioResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r scenarioResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("scenarios.js printed %q: %v", sc.Text(), err)
		}
		if r.Error != "" {
			t.Errorf("scenario %s: %s", r.Scenario, r.Error)
			continue
		}
		results[r.Scenario] = r
	}
	expect := func(scenario, status, output string) scenarioResult {
		t.Helper()
		r, ok := results[scenario]
		switch {
		case !ok:
			t.Errorf("scenario %s: no result", scenario)
		case r.Status != status || (output != "" && r.Output != output):
			t.Errorf("scenario %s: %s with output %s; want %s with %s", scenario, r.Status, r.Output, status, output)
		}
		return r
	}
	expect("fanout", "COMPLETED", "40425")
	expect("sequence", "COMPLETED", "10")
	expect("approval", "COMPLETED", `{"approvedBy":"ops"}`)
	expect("parent", "COMPLETED", `{"child":30}`)
	expect("retrying", "COMPLETED", `{"value":7,"attempts":3}`)
	if r := expect("status", "COMPLETED", `{"got":42}`); r.SeenCustomStatus != `{"stage":"waiting"}` {
		t.Errorf("custom status while waiting: %q", r.SeenCustomStatus)
	}
	expect("terminate", "TERMINATED", `"bye"`)
	if r := expect("suspend", "COMPLETED", `{"got":"late"}`); r.WhileSuspended != "SUSPENDED" {
		t.Errorf("status while suspended: %s", r.WhileSuspended)
	}
	expect("counter", "COMPLETED", "3")
	if r := expect("failing", "FAILED", ""); !strings.Contains(r.Failure, "boom") {
		t.Errorf("failure %q, want the orchestrator's error", r.Failure)
	}
	if r := results["history"]; strings.Join(r.Events, ",") == "" || r.Events[0] != "OrchestratorStarted" {
		t.Errorf("history: %v", r.Events)
	}
	if r := results["query"]; len(r.Pages) != 3 || len(strings.Join(flatten(r.Pages), ",")) == 0 || len(flatten(r.Pages)) != 5 {
		t.Errorf("query pages %v, want 5 instances in pages of 2", r.Pages)
	}
	if r := results["purge"]; r.Deleted != 1 || r.After != "gone" {
		t.Errorf("purge: deleted %d, afterwards %s", r.Deleted, r.After)
	}
	if r := results["unknown"]; r.State != "undefined" || !strings.Contains(r.Raised, "NOT_FOUND") && !strings.Contains(r.Raised, "not found") {
		t.Errorf("unknown instance: state %s, raise %q", r.State, r.Raised)
	}

	// orca's own view: each activity's result is recorded once, as for Go orchestrators.
	if r, ok := results["fanout"]; ok {
		completed := 0
		for after := -1; ; {
			recs, err := a.Engine.History(ctx, &store.HistoryReadParams{InstanceID: r.ID, After: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				if rec.Event.Type == history.TaskCompleted {
					completed++
				}
			}
			after = recs[len(recs)-1].Seq
		}
		if completed != 50 {
			t.Errorf("fanout history has %d TaskCompleted, want 50", completed)
		}
		in, err := a.Engine.Get(ctx, r.ID, true)
		if err != nil || in.Status != store.StatusCompleted || in.Name != "fanout" || string(in.Output) != "40425" {
			t.Errorf("orca's instance %+v (%v)", in, err)
		}
	}
}

func flatten(pages [][]string) []string {
	var all []string
	for _, p := range pages {
		all = append(all, p...)
	}
	return all
}
