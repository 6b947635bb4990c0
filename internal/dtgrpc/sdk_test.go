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
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/testutil/wait"
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
	Before           string     `json:"before"`
	Refusals         []string   `json:"refusals"`
	Children         []string   `json:"children"`
	StartAt          int64      `json:"startAt"`
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
	// A scheduled start: Pending half a second after the request, its first turn no sooner than
	// startAt, and the event raised before it kept for it.
	if r := expect("scheduled", "COMPLETED", ""); r.Status == "COMPLETED" {
		var out struct {
			StartedAt int64  `json:"startedAt"`
			Got       string `json:"got"`
		}
		if err := json.Unmarshal([]byte(r.Output), &out); err != nil || out.Got != "early" || out.StartedAt < r.StartAt || r.Before != "PENDING" {
			t.Errorf("scheduled start: output %s (%v), status before the start %s; want Pending before, a first turn at or after %d and the early event",
				r.Output, err, r.Before, r.StartAt)
		}
	}
	expect("terminate", "TERMINATED", `"bye"`)
	if r := expect("suspend", "COMPLETED", `{"got":"late"}`); r.WhileSuspended != "SUSPENDED" {
		t.Errorf("status while suspended: %s", r.WhileSuspended)
	}
	expect("counter", "COMPLETED", "3")
	if r := expect("failing", "FAILED", ""); !strings.Contains(r.Failure, "boom") {
		t.Errorf("failure %q, want the orchestrator's error", r.Failure)
	}
	// Rewind: the failed activity runs again (in a sub-orchestration: the child is rewound with
	// its parent); what succeeded before the failure is kept.
	if r := expect("rewind", "COMPLETED", "20"); r.Before != "FAILED" {
		t.Errorf("rewind: before the rewind the instance was %s, want FAILED", r.Before)
	}
	if r := expect("rewindChild", "COMPLETED", `{"child":30}`); r.Before != "FAILED" {
		t.Errorf("rewindChild: before the rewind the instance was %s, want FAILED", r.Before)
	}
	// FAILED_PRECONDITION (9) for an instance that did not fail, NOT_FOUND (5) for none.
	if r := results["rewindRefused"]; len(r.Refusals) != 2 || r.Refusals[0] != "9" || r.Refusals[1] != "5" {
		t.Errorf("rewind of a completed and of an unknown instance: %v, want [9 5]", r.Refusals)
	}
	if r, ok := results["rewind"]; ok {
		if counts := taskResults(t, a, r.ID); counts[1] != 1 || counts[2] != 1 {
			t.Errorf("rewind: TaskCompleted by task id %v, want add1 (#1) once and failOnce (#2) once", counts)
		}
	}
	// Recursive terminate ends the whole chain; without it the children run on.
	if r := expect("terminateTree", "TERMINATED", `"stop"`); strings.Join(r.Children, ",") != "TERMINATED,TERMINATED" {
		t.Errorf("terminateTree: children %v, want both TERMINATED", r.Children)
	}
	if r := expect("terminateOne", "TERMINATED", `"stop"`); strings.Join(r.Children, ",") != "RUNNING,RUNNING" {
		t.Errorf("terminateOne: children %v, want both RUNNING", r.Children)
	}
	// Recursive purge deletes the children too and counts them.
	if r := results["purgeTree"]; r.Deleted != 2 || r.After != "gone" {
		t.Errorf("purgeTree: deleted %d, the child afterwards %s; want 2, gone", r.Deleted, r.After)
	}
	if r := results["purgeOne"]; r.Deleted != 1 || r.After != "still there" {
		t.Errorf("purgeOne: deleted %d, the child afterwards %s; want 1, still there", r.Deleted, r.After)
	}
	if r := results["purgeTreeFilter"]; r.Deleted != 3 || r.After != "gone" {
		t.Errorf("purgeTreeFilter: deleted %d, left %s; want 3, gone", r.Deleted, r.After)
	}
	if r := results["history"]; len(r.Events) == 0 || r.Events[0] != "OrchestratorStarted" {
		t.Errorf("history: %v", r.Events)
	}
	if r := results["query"]; len(r.Pages) != 3 || len(flatten(r.Pages)) != 5 {
		t.Errorf("query pages %v, want 5 instances in pages of 2", r.Pages)
	}
	if r := results["purge"]; r.Deleted != 1 || r.After != "gone" {
		t.Errorf("purge: deleted %d, afterwards %s", r.Deleted, r.After)
	}
	if r := results["unknown"]; r.State != "undefined" || (!strings.Contains(r.Raised, "NOT_FOUND") && !strings.Contains(r.Raised, "not found")) {
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

// startJSWorker runs a worker script of testdata/js on a; it is killed when t ends.
func startJSWorker(t *testing.T, node, dir, script, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(node, filepath.Join(dir, script), addr)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("%s did not start: %q %v\n%s", script, line, err, stderr.String())
	}
	return cmd
}

// taskResults counts the TaskCompleted events of an instance's history by task id.
func taskResults(t *testing.T, a *app.App, id string) map[int32]int {
	t.Helper()
	counts := map[int32]int{}
	for after := -1; ; {
		recs, err := a.Engine.History(context.Background(), &store.HistoryReadParams{InstanceID: id, After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return counts
		}
		for _, rec := range recs {
			if rec.Event.Type == history.TaskCompleted {
				counts[rec.Event.TaskCompleted.TaskScheduledID]++
			}
		}
		after = recs[len(recs)-1].Seq
	}
}

// TestKilledJSWorkerItsWorkGoesToTheNext: the SDK's worker is killed (SIGKILL) in the middle of a
// fan-out; the work items it held go to the worker started after it, the run completes, and
// each activity's result is recorded once.
func TestKilledJSWorkerItsWorkGoesToTheNext(t *testing.T) {
	node, dir := jsSDK(t)
	a := apptest.Start(t, app.Config{GRPCListen: "127.0.0.1:0"})
	first := startJSWorker(t, node, dir, "slow.js", a.GRPCAddr)
	const n = 200
	ctx := context.Background()
	id, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: "slowfan", ID: "killed-worker", Input: json.RawMessage("200")})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 60*time.Second, func() bool { return len(taskResults(t, a, id)) >= 20 }, "20 activities done")
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	done := len(taskResults(t, a, id))
	if done >= n {
		t.Fatalf("all %d activities were done before the kill", n)
	}
	t.Logf("killed the worker with %d of %d activities recorded", done, n)
	startJSWorker(t, node, dir, "slow.js", a.GRPCAddr)
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	in, err := a.Engine.WaitForFinish(waitCtx, id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != store.StatusCompleted || string(in.Output) != "20100" {
		t.Fatalf("run %s, output %s, failure %v", in.Status, in.Output, in.Failure)
	}
	results := taskResults(t, a, id)
	for i := int32(1); i <= n; i++ {
		if results[i] != 1 {
			t.Errorf("activity #%d recorded %d times", i, results[i])
		}
	}
}
