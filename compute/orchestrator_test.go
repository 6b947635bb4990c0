package compute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/orcatest"
)

// fakeStorage records what the activities write.
type fakeStorage struct {
	mu       sync.Mutex
	blobs    map[string][]byte
	messages [][]byte
}

func (f *fakeStorage) PutBlob(_ context.Context, container, name string, data []byte, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobs[container+"/"+name] = data
	return nil
}

func (f *fakeStorage) Enqueue(_ context.Context, _ string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = append(f.messages, body)
	return nil
}

func newTester(t *testing.T) (*orcatest.Tester, *fakeStorage) {
	t.Helper()
	st := &fakeStorage{blobs: map[string][]byte{}}
	r := orca.NewRegistry()
	if err := compute.Register(r, st, ""); err != nil {
		t.Fatal(err)
	}
	return orcatest.New(r), st
}

func complete(t *testing.T, tester *orcatest.Tester, at time.Duration, id string, c compute.Completion) {
	t.Helper()
	if err := tester.RaiseEvent(at, id, compute.EventName, c); err != nil {
		t.Fatal(err)
	}
}

func TestRunCompletesWithEveryItemCountedOnce(t *testing.T) {
	tester, st := newTester(t)
	for i := 0; i < 5; i++ {
		complete(t, tester, time.Minute, "run", compute.Completion{InputID: i, OK: true, Result: json.RawMessage(fmt.Sprint(i * 10))})
	}
	// A duplicate and an unknown item change nothing.
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 2, OK: true, Result: json.RawMessage(`999`)})
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 77, OK: true})
	res, err := tester.Run("run", compute.OrchestratorName, "5")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusCompleted {
		t.Fatalf("status %s: %v", res.Status, res.Failure)
	}
	var out compute.RunOutput
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Total != 5 || out.Succeeded != 5 || out.Failed != 0 || len(out.Results) != 5 || string(out.Results[2].Result) != "20" {
		t.Fatalf("output %+v", out)
	}
	if len(st.messages) != 5 || len(st.blobs) != 5 {
		t.Fatalf("%d messages and %d blobs written, want 5 and 5", len(st.messages), len(st.blobs))
	}
	var item compute.WorkItem
	if err := json.Unmarshal(st.messages[0], &item); err != nil || item.InstanceID != "run" || item.PathToData != "input/run/0.json" {
		t.Fatalf("work item %s (%v)", st.messages[0], err)
	}
	var in compute.Input
	if err := json.Unmarshal(st.blobs["input/run/3.json"], &in); err != nil || in.InputID != 3 || in.InstanceID != "run" || string(in.InputData) != "[1,1]" {
		t.Fatalf("input blob %s", st.blobs["input/run/3.json"])
	}
	var progress compute.Progress
	if err := json.Unmarshal(res.CustomStatus, &progress); err != nil || progress.Completed != 5 || progress.Total != 5 {
		t.Fatalf("custom status %s", res.CustomStatus)
	}
}

func TestMissingCompletionNeverCompletesTheRun(t *testing.T) {
	tester, _ := newTester(t)
	for _, i := range []int{0, 1, 1, 1} { // item 2 never reports; duplicates of 1 do not stand in for it
		complete(t, tester, time.Minute, "run", compute.Completion{InputID: i, OK: true})
	}
	res, err := tester.Run("run", compute.OrchestratorName, map[string]any{"inputCount": 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusRunning || !res.Blocked {
		t.Fatalf("status %s blocked %v, want Running and waiting", res.Status, res.Blocked)
	}
}

func TestFailedItemsFailTheRunAndAreReported(t *testing.T) {
	tester, _ := newTester(t)
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 0, OK: true, Result: json.RawMessage(`1`)})
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 1, OK: false, Reason: "exit status 3: boom"})
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 2, OK: true, Result: json.RawMessage(`2`)})
	res, err := tester.Run("run", compute.OrchestratorName, map[string]any{"items": []any{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusFailed || !strings.Contains(res.Failure.ErrorMessage, "1 of 3 items failed: 1") {
		t.Fatalf("status %s failure %v", res.Status, res.Failure)
	}
	var out compute.RunOutput
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Succeeded != 2 || out.Failed != 1 || len(out.Failures) != 1 || out.Failures[0].Reason != "exit status 3: boom" {
		t.Fatalf("output %+v", out)
	}
}

func TestItemTimeoutEnqueuesAgainThenFails(t *testing.T) {
	tester, st := newTester(t)
	complete(t, tester, time.Minute, "run", compute.Completion{InputID: 0, OK: true})
	// Item 1 never completes: enqueued again after 10m, failed after 20m.
	res, err := tester.Run("run", compute.OrchestratorName, map[string]any{"inputCount": 2, "itemTimeout": "10m", "itemRetries": 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	var out compute.RunOutput
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 1 || out.Failures[0].InputID != 1 || !strings.Contains(out.Failures[0].Reason, "timed out after 2 attempt") {
		t.Fatalf("failures %+v", out.Failures)
	}
	if len(st.messages) != 3 {
		t.Fatalf("%d work items enqueued, want 3 (item 1 twice)", len(st.messages))
	}
	if d := res.Time.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); d != 20*time.Minute {
		t.Fatalf("failed after %s, want 20m", d)
	}
}

func TestLargeRunsWriteTheirResultsToABlob(t *testing.T) {
	tester, st := newTester(t)
	for i := 0; i < 3; i++ {
		complete(t, tester, time.Minute, "big", compute.Completion{InputID: i, OK: true, Result: json.RawMessage(`7`)})
	}
	res, err := tester.Run("big", compute.OrchestratorName, map[string]any{"inputCount": "3", "resultsBlobThreshold": 2})
	if err != nil {
		t.Fatal(err)
	}
	var out compute.RunOutput
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.ResultsBlob != "results/big.json" || out.Results != nil {
		t.Fatalf("output %+v", out)
	}
	var results []compute.Result
	if err := json.Unmarshal(st.blobs["results/big.json"], &results); err != nil || len(results) != 3 {
		t.Fatalf("results blob %s", st.blobs["results/big.json"])
	}
}

func TestParseSpec(t *testing.T) {
	good := map[string]int{`3`: 3, `"3"`: 3, `" 12 "`: 12, `{"inputCount": 4}`: 4, `{"inputCount": "5"}`: 5,
		`{"items": [1, [2,3], {"a": 1}]}`: 3, `1000000`: 1000000}
	for in, n := range good {
		_, items, err := compute.ParseSpec(json.RawMessage(in))
		if err != nil || len(items) != n {
			t.Errorf("ParseSpec(%s) = %d items, %v; want %d", in, len(items), err, n)
		}
	}
	bad := []string{``, `null`, `0`, `-1`, `"abc"`, `1.5`, `1000001`, `{"inputCount": 0}`, `{}`,
		`{"inputCount": 2, "items": [1]}`, `{"inputCount": 2, "bogus": 1}`, `{"inputCount": 2, "itemTimeout": "soon"}`,
		`{"inputCount": 2, "itemRetries": -1}`, `[1,2]`}
	for _, in := range bad {
		if _, _, err := compute.ParseSpec(json.RawMessage(in)); err == nil {
			t.Errorf("ParseSpec(%s) accepted", in)
		}
	}
}

func TestInvalidInputFailsTheRun(t *testing.T) {
	tester, _ := newTester(t)
	res, err := tester.Run("bad", compute.OrchestratorName, "zero")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusFailed || !strings.Contains(res.Failure.ErrorMessage, "inputCount") {
		t.Fatalf("status %s failure %v", res.Status, res.Failure)
	}
}

func TestSum(t *testing.T) {
	for in, want := range map[string]string{`[1,1]`: `2`, `[1,2.5]`: `3.5`, `7`: `7`, `[]`: `0`, `[1e2, 1]`: `101`} {
		got, err := compute.Sum(json.RawMessage(in))
		if err != nil || string(got) != want {
			t.Errorf("Sum(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{`"x"`, `[1,"a"]`, `{}`} {
		if _, err := compute.Sum(json.RawMessage(in)); err == nil {
			t.Errorf("Sum(%s) accepted", in)
		}
	}
}

func TestParseOutputBlobName(t *testing.T) {
	id, n, err := compute.ParseOutputBlobName("abc123/42.json")
	if err != nil || id != "abc123" || n != 42 {
		t.Fatalf("got %q %d %v", id, n, err)
	}
	for _, bad := range []string{"abc/x.json", "abc/1.txt", "1.json", "a/b/1.json", "/1.json", "a/-1.json"} {
		if _, _, err := compute.ParseOutputBlobName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestBigRunFansOutInAWindow: a run bigger than the fan-out window schedules the window in its
// first turn and the rest as the first ones finish, every turn replayed from its history on a
// fresh executor (orcatest's default), and completes with every item once.
func TestBigRunFansOutInAWindow(t *testing.T) {
	compute.SetFanOutWindow(t, 3)
	tester, st := newTester(t)
	const n = 10
	for i := range n {
		complete(t, tester, time.Minute, "run", compute.Completion{InputID: i, OK: true, Result: json.RawMessage(fmt.Sprint(i))})
	}
	res, err := tester.Run("run", compute.OrchestratorName, n)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != orcatest.StatusCompleted {
		t.Fatalf("status %s: %v", res.Status, res.Failure)
	}
	var out compute.RunOutput
	if err := res.Decode(&out); err != nil || out.Succeeded != n || len(out.Results) != n {
		t.Fatalf("output %+v (%v)", out, err)
	}
	if len(st.messages) != n || len(st.blobs) != n {
		t.Fatalf("%d messages and %d blobs written, want %d each", len(st.messages), len(st.blobs), n)
	}
	firstTurn, scheduled := -1, 0
	for _, ev := range res.History {
		switch ev {
		case "TaskScheduled":
			scheduled++
		case "OrchestratorCompleted":
			if firstTurn < 0 {
				firstTurn = scheduled
			}
		}
	}
	if firstTurn != 3 || scheduled != n {
		t.Fatalf("first turn scheduled %d enqueues (want the window, 3), %d in all (want %d)", firstTurn, scheduled, n)
	}
}

func TestParseProgress(t *testing.T) {
	for _, c := range []struct {
		custom string
		want   compute.Progress
		ok     bool
	}{
		{`{"stage":"running","total":10,"completed":4,"failed":1,"inFlight":5}`, compute.Progress{Stage: "running", Total: 10, Completed: 4, Failed: 1, InFlight: 5}, true},
		{`{"total":0,"completed":0}`, compute.Progress{}, true},
		{`{"total":10}`, compute.Progress{}, false},
		{`{"completed":3}`, compute.Progress{}, false},
		{`{"total":-1,"completed":0}`, compute.Progress{}, false},
		{`{"total":"10","completed":3}`, compute.Progress{}, false},
		{`"enqueuing"`, compute.Progress{}, false},
		{``, compute.Progress{}, false},
	} {
		got, ok := compute.ParseProgress(json.RawMessage(c.custom))
		if got != c.want || ok != c.ok {
			t.Errorf("ParseProgress(%s) = %+v, %v; want %+v, %v", c.custom, got, ok, c.want, c.ok)
		}
	}
}

// TestItemsFinishedWhileEnqueuingAreCounted: completions that arrive while the run still waits
// for an enqueue show in its progress at once, not only after the last enqueue.
func TestItemsFinishedWhileEnqueuingAreCounted(t *testing.T) {
	tester, _ := newTester(t)
	attempts := 0
	// Item 0's enqueue fails twice: it is retried after 1s and 2s more, so the run waits for it
	// until 3s.
	tester.Stub(compute.ActivityName, func(ctx orca.ActivityContext) (any, error) {
		var in compute.ActivityInput
		if err := ctx.Input(&in); err != nil {
			return nil, err
		}
		if in.InputID == 0 {
			if attempts++; attempts <= 2 {
				return nil, fmt.Errorf("queue unavailable (attempt %d)", attempts)
			}
		}
		return nil, nil
	})
	for _, i := range []int{1, 2} {
		complete(t, tester, 500*time.Millisecond, "run", compute.Completion{InputID: i, OK: true, Result: json.RawMessage(`2`)})
	}
	tester.Terminate(2*time.Second, "run", "look at the progress")
	res, err := tester.Run("run", compute.OrchestratorName, "3")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := compute.ParseProgress(res.CustomStatus)
	if res.Status != orcatest.StatusTerminated || !ok || p.Stage != "enqueuing" || p.Completed != 2 {
		t.Fatalf("status %s, custom status %s: want Terminated while enqueuing, with the 2 finished items counted", res.Status, res.CustomStatus)
	}
}
