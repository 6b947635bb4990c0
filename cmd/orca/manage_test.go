package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
	"github.com/orcahq/orca/internal/testutil/wait"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNode is an orca node in the test process with the test orchestrators:
//   - Instant calls the activity Hello with its input and returns the greeting;
//   - WaitForGo waits for the event "Go" and returns its data;
//   - Progress sets a customStatus {"total": 2, "completed": 1}, then waits for "Go";
//   - Fail fails at once;
//   - Flaky calls the activity Flaky, which fails until the node's flakyOK is set.
type testNode struct {
	url     string
	flakyOK atomic.Bool
}

func newTestNode(t *testing.T, keys *auth.Keys) *testNode {
	t.Helper()
	n := &testNode{}
	r := orca.NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.AddActivity("Hello", func(ctx orca.ActivityContext) (any, error) {
		var name string
		err := ctx.Input(&name)
		return "Hello, " + name + "!", err
	}))
	must(r.AddOrchestrator("Instant", func(ctx orca.OrchestrationContext) (any, error) {
		var name string
		if err := ctx.Input(&name); err != nil {
			return nil, err
		}
		return orca.Await[string](ctx.CallActivity("Hello", name))
	}))
	must(r.AddOrchestrator("WaitForGo", func(ctx orca.OrchestrationContext) (any, error) {
		var data any
		err := ctx.WaitForExternalEvent("Go").Await(&data)
		return data, err
	}))
	must(r.AddOrchestrator("Progress", func(ctx orca.OrchestrationContext) (any, error) {
		if err := ctx.SetCustomStatus(map[string]any{"stage": "compute", "total": 2, "completed": 1, "failed": 0, "inFlight": 1}); err != nil {
			return nil, err
		}
		var data any
		err := ctx.WaitForExternalEvent("Go").Await(&data)
		return data, err
	}))
	must(r.AddOrchestrator("Fail", func(orca.OrchestrationContext) (any, error) {
		return nil, errors.New("boom")
	}))
	must(r.AddActivity("Flaky", func(orca.ActivityContext) (any, error) {
		if !n.flakyOK.Load() {
			return nil, errors.New("not yet")
		}
		return "fine", nil
	}))
	must(r.AddOrchestrator("Flaky", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[string](ctx.CallActivity("Flaky", nil))
	}))
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Registry: r, Keys: keys})
	must(err)
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	n.url = a.BaseURL
	return n
}

// result is what a CLI run printed and its exit code.
type result struct {
	out, err string
	code     int
	e        error
}

// cli runs the orca CLI against the node; args are the verb and its arguments.
func (n *testNode) cli(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, &syncbuf.Buffer{}, append(args, "--server", n.url)...)
}

func runWith(t *testing.T, errOut *syncbuf.Buffer, args ...string) result {
	t.Helper()
	cmd := newRootCmd()
	var out syncbuf.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return result{out: out.String(), err: errOut.String(), code: exitCode(err), e: err}
}

// ok fails the test unless the run succeeded, and returns its output.
func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.e != nil {
		t.Fatalf("exit %d: %v\nstdout: %s\nstderr: %s", r.code, r.e, r.out, r.err)
	}
	return r.out
}

// fails checks that the run failed with code and an error containing want.
func (r result) fails(t *testing.T, code int, want string) {
	t.Helper()
	if r.e == nil || r.code != code || !strings.Contains(r.e.Error(), want) {
		t.Fatalf("got exit %d, error %v; want exit %d, an error containing %q\nstdout: %s", r.code, r.e, code, want, r.out)
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}

// statusOf reads an instance's runtime status through the CLI.
func (n *testNode) statusOf(t *testing.T, id string) client.RuntimeStatus {
	t.Helper()
	return decode[client.Status](t, n.cli(t, "status", id, "-o", "json").ok(t)).RuntimeStatus
}

func (n *testNode) waitStatus(t *testing.T, id string, want client.RuntimeStatus) {
	t.Helper()
	wait.For(t, 20*time.Second, func() bool { return n.statusOf(t, id) == want }, "instance "+id+" to be "+string(want))
}

func TestStartStatusWait(t *testing.T) {
	n := newTestNode(t, nil)

	// Table: the id alone.
	id := strings.TrimSpace(n.cli(t, "start", "Instant", "--input", `"Ana"`).ok(t))
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("start printed %q, want an instance id", id)
	}
	// JSON: the check-status payload.
	cs := decode[client.CheckStatus](t, n.cli(t, "start", "Instant", "--input", `"Bo"`, "--id", "bo-1", "-o", "json").ok(t))
	if cs.ID != "bo-1" || !strings.Contains(cs.StatusQueryGetURI, "/instances/bo-1") || cs.SendEventPostURI == "" {
		t.Fatalf("check-status payload %+v", cs)
	}

	out := n.cli(t, "wait", id, "--interval", "20ms").ok(t)
	for _, want := range []string{"Instance:", id, "Name:", "Instant", "Status:", "Completed", "Created:", "Updated:", "Custom status:", `"Hello, Ana!"`} {
		if !strings.Contains(out, want) {
			t.Errorf("wait's table lacks %q:\n%s", want, out)
		}
	}
	st := decode[client.Status](t, n.cli(t, "wait", "bo-1", "--interval", "20ms", "-o", "json").ok(t))
	if st.InstanceID != "bo-1" || st.Name != "Instant" || st.RuntimeStatus != client.RuntimeStatusCompleted ||
		string(st.Output) != `"Hello, Bo!"` || string(st.Input) != `"Bo"` || st.CreatedTime.IsZero() {
		t.Fatalf("wait -o json: %+v", st)
	}

	// status, table and JSON, with the history.
	out = n.cli(t, "status", id, "--history").ok(t)
	for _, want := range []string{"Completed", "ExecutionStarted", "TaskCompleted", "ExecutionCompleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("status --history lacks %q:\n%s", want, out)
		}
	}
	st = decode[client.Status](t, n.cli(t, "status", id, "--history", "-o", "json").ok(t))
	if st.RuntimeStatus != client.RuntimeStatusCompleted || len(st.HistoryEvents) == 0 || st.HistoryEvents[0].EventType != "ExecutionStarted" {
		t.Fatalf("status --history -o json: %+v", st)
	}
	n.cli(t, "status", "nope").fails(t, exitFailed, "instance nope not found")

	// start --wait: exit 0 when Completed, 1 when Failed.
	st = decode[client.Status](t, n.cli(t, "start", "Instant", "--input", `"Cy"`, "--wait", "--interval", "20ms", "-o", "json").ok(t))
	if st.RuntimeStatus != client.RuntimeStatusCompleted || string(st.Output) != `"Hello, Cy!"` {
		t.Fatalf("start --wait: %+v", st)
	}
	r := n.cli(t, "start", "Fail", "--wait", "--interval", "20ms")
	r.fails(t, exitFailed, "failed")
	if !strings.Contains(r.out, "Failed") || !strings.Contains(r.out, "boom") {
		t.Fatalf("start --wait of a failing instance printed:\n%s", r.out)
	}

	// Start errors.
	n.cli(t, "start", "NoSuchOrchestrator").fails(t, exitFailed, "cannot start NoSuchOrchestrator")
	n.cli(t, "start", "Instant", "--input", "{bad").fails(t, exitUsage, "--input is not valid JSON")
	n.cli(t, "start", "WaitForGo", "--id", "dup").ok(t)
	n.cli(t, "start", "WaitForGo", "--id", "dup").fails(t, exitFailed, "instance dup is already running")
}

func TestWaitExitCodesAndProgress(t *testing.T) {
	n := newTestNode(t, nil)

	// A running instance: --timeout gives up with 3.
	n.cli(t, "start", "WaitForGo", "--id", "slow").ok(t)
	n.cli(t, "wait", "slow", "--timeout", "100ms", "--interval", "20ms").fails(t, exitTimeout, "instance slow is still")

	// Terminated: 1.
	n.cli(t, "terminate", "slow", "--reason", "enough").ok(t)
	r := n.cli(t, "wait", "slow", "--interval", "20ms")
	r.fails(t, exitFailed, "instance slow terminated")
	if !strings.Contains(r.out, "Terminated") {
		t.Fatalf("wait printed:\n%s", r.out)
	}

	// Unknown instance and bad usage: 2.
	n.cli(t, "wait", "nope").fails(t, exitUsage, "instance nope not found")
	n.cli(t, "wait").fails(t, exitUsage, "accepts 1 arg")
	n.cli(t, "wait", "x", "--timeout", "soon").fails(t, exitUsage, "invalid argument")

	// A progress bar from the customStatus, written while the instance runs (plain lines: the
	// test's writer is no terminal); the event then completes it and wait exits with 0.
	n.cli(t, "start", "Progress", "--id", "bar").ok(t)
	progressOut := &syncbuf.Buffer{}
	done := make(chan result, 1)
	go func() { done <- runWith(t, progressOut, "wait", "bar", "--interval", "20ms", "--server", n.url) }()
	wait.For(t, 20*time.Second, func() bool { return strings.Contains(progressOut.String(), "1/2") }, "a progress line")
	line := progressOut.String()
	if !strings.Contains(line, "[###############...............]") || !strings.Contains(line, "compute") || strings.Contains(line, "\r") {
		t.Fatalf("progress line %q", line)
	}
	n.cli(t, "raise", "bar", "Go", `"now"`).ok(t)
	r = <-done
	if r.e != nil || !strings.Contains(r.out, "Completed") {
		t.Fatalf("wait: exit %d %v\n%s", r.code, r.e, r.out)
	}
	if lines := strings.Count(progressOut.String(), "1/2"); lines != 1 {
		t.Fatalf("progress printed %d lines for one state, want 1:\n%s", lines, progressOut.String())
	}
}

func TestProgressLine(t *testing.T) {
	st := &client.Status{RuntimeStatus: client.RuntimeStatusRunning,
		CustomStatus: json.RawMessage(`{"stage":"compute","total":10,"completed":4,"failed":1,"inFlight":3}`)}
	got := progressLine(string(st.RuntimeStatus), st.CustomStatus, "|")
	want := "[###############...............] 4/10  50%  failed 1  in flight 3  compute  Running"
	if got != want {
		t.Fatalf("progressLine:\n got %q\nwant %q", got, want)
	}
	st.CustomStatus = json.RawMessage(`{"step":"download"}`)
	if got := progressLine(string(st.RuntimeStatus), st.CustomStatus, "/"); got != "/ Running" {
		t.Fatalf("spinner line %q", got)
	}
	var b bytes.Buffer
	v := &progressView{w: &b, tty: true, start: time.Now()}
	v.update(st)
	v.update(st)
	v.done()
	if s := b.String(); !strings.HasPrefix(s, "\r\x1b[K| Running") || !strings.Contains(s, "\r\x1b[K/ Running") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Fatalf("terminal redraw %q", s)
	}
}

// TestProgressLineFits: on a terminal the line fits its width, dropping the status word, the
// stage, the elapsed time and the in-flight count, in that order, before it narrows the bar;
// the counts are never cut.
func TestProgressLineFits(t *testing.T) {
	st := &client.Status{RuntimeStatus: client.RuntimeStatusRunning,
		CustomStatus: json.RawMessage(`{"stage":"computing","total":100000,"completed":51234,"failed":2,"inFlight":48764}`)}
	counts := "51234/100000  51%  failed 2"
	for _, c := range []struct {
		width   int
		want    []string
		notWant []string
	}{
		{0, []string{counts, "in flight 48764", "12s", "computing", "Running"}, nil},
		{120, []string{counts, "in flight 48764", "12s", "computing", "Running"}, nil},
		{100, []string{"[###############...............] " + counts, "in flight 48764", "12s", "computing"}, []string{"Running"}},
		{85, []string{counts, "in flight 48764", "12s"}, []string{"Running", "computing"}},
		{79, []string{counts, "in flight 48764"}, []string{"Running", "computing", "12s"}},
		{60, []string{"[###############...............] " + counts}, []string{"Running", "computing", "in flight", "12s"}},
		{50, []string{"] " + counts}, []string{"[##############"}},
		{30, []string{counts}, []string{"["}},
	} {
		got := fitProgressLine(string(st.RuntimeStatus), st.CustomStatus, "|", "12s", c.width)
		if c.width > 0 && utf8.RuneCountInString(got) > c.width {
			t.Errorf("width %d: %q is %d wide", c.width, got, utf8.RuneCountInString(got))
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("width %d: %q lacks %q", c.width, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("width %d: %q has %q", c.width, got, w)
			}
		}
	}
}

func TestRaiseEvent(t *testing.T) {
	n := newTestNode(t, nil)
	n.cli(t, "start", "WaitForGo", "--id", "ev-1").ok(t)
	if out := n.cli(t, "raise", "ev-1", "Go", `{"approvedBy":"ana"}`).ok(t); !strings.Contains(out, "instance ev-1: event Go accepted") {
		t.Fatalf("raise printed %q", out)
	}
	st := decode[client.Status](t, n.cli(t, "wait", "ev-1", "--interval", "20ms", "-o", "json").ok(t))
	if compact(t, st.Output) != `{"approvedBy":"ana"}` {
		t.Fatalf("output %s, want the event's data", st.Output)
	}
	n.cli(t, "raise", "ev-1", "Go", "1").fails(t, exitFailed, "instance ev-1 has finished (Completed); events can no longer be raised")
	n.cli(t, "raise", "ev-none", "Go").fails(t, exitFailed, "instance ev-none not found")
	n.cli(t, "raise", "ev-1", "Go", "not json").fails(t, exitUsage, "DATA is not valid JSON")

	// No data is null; JSON output.
	n.cli(t, "start", "WaitForGo", "--id", "ev-2").ok(t)
	res := decode[opResult](t, n.cli(t, "raise", "ev-2", "Go", "-o", "json").ok(t))
	if res.InstanceID != "ev-2" || res.Event != "Go" || !res.Accepted {
		t.Fatalf("raise -o json: %+v", res)
	}
	st = decode[client.Status](t, n.cli(t, "wait", "ev-2", "--interval", "20ms", "-o", "json").ok(t))
	if string(st.Output) != "null" {
		t.Fatalf("output %s, want null", st.Output)
	}
}

func TestControlVerbs(t *testing.T) {
	n := newTestNode(t, nil)
	n.cli(t, "start", "WaitForGo", "--id", "c-1").ok(t)
	n.waitStatus(t, "c-1", client.RuntimeStatusRunning)

	if out := n.cli(t, "suspend", "c-1", "--reason", "lunch").ok(t); !strings.Contains(out, "instance c-1: suspend accepted") {
		t.Fatalf("suspend printed %q", out)
	}
	n.waitStatus(t, "c-1", client.RuntimeStatusSuspended)
	n.cli(t, "suspend", "c-1").fails(t, exitFailed, "instance c-1 is already suspended")
	res := decode[opResult](t, n.cli(t, "resume", "c-1", "--reason", "back", "-o", "json").ok(t))
	if res.Operation != "resume" || res.Reason != "back" || !res.Accepted {
		t.Fatalf("resume -o json: %+v", res)
	}
	n.waitStatus(t, "c-1", client.RuntimeStatusRunning)
	n.cli(t, "resume", "c-1").fails(t, exitFailed, "instance c-1 is not suspended (Running)")

	n.cli(t, "terminate", "c-1", "--reason", "enough").ok(t)
	n.waitStatus(t, "c-1", client.RuntimeStatusTerminated)
	n.cli(t, "terminate", "c-1").fails(t, exitFailed, "instance c-1 has finished (Terminated); it can no longer be terminated")
	n.cli(t, "terminate", "c-none").fails(t, exitFailed, "instance c-none not found")
	n.cli(t, "rewind", "c-1").fails(t, exitFailed, "only failed instances can be rewound")

	// Rewind a failed instance once its activity works.
	n.cli(t, "start", "Flaky", "--id", "f-1").ok(t)
	n.waitStatus(t, "f-1", client.RuntimeStatusFailed)
	n.flakyOK.Store(true)
	n.cli(t, "rewind", "f-1", "--reason", "fixed").ok(t)
	// The rewind is asynchronous, as in DF: the instance is Failed until the engine takes it.
	wait.For(t, 20*time.Second, func() bool { return n.statusOf(t, "f-1") != client.RuntimeStatusFailed }, "f-1 to leave Failed")
	st := decode[client.Status](t, n.cli(t, "wait", "f-1", "--interval", "20ms", "-o", "json").ok(t))
	if string(st.Output) != `"fine"` {
		t.Fatalf("rewound instance: %+v", st)
	}

	// Restart: a new id by default, the same one with --new-id=false.
	n.cli(t, "start", "Instant", "--id", "r-1", "--input", `"Di"`, "--wait").ok(t)
	newID := strings.TrimSpace(n.cli(t, "restart", "r-1").ok(t))
	if newID == "" || newID == "r-1" {
		t.Fatalf("restart printed %q, want a new id", newID)
	}
	st = decode[client.Status](t, n.cli(t, "wait", newID, "--interval", "20ms", "-o", "json").ok(t))
	if string(st.Output) != `"Hello, Di!"` {
		t.Fatalf("restarted instance: %+v", st)
	}
	cs := decode[client.CheckStatus](t, n.cli(t, "restart", "r-1", "--new-id=false", "-o", "json").ok(t))
	if cs.ID != "r-1" {
		t.Fatalf("restart --new-id=false: %+v", cs)
	}
	n.cli(t, "restart", "r-none").fails(t, exitFailed, "instance r-none not found")
}

func TestListPagesToTheEnd(t *testing.T) {
	n := newTestNode(t, nil)
	for _, id := range []string{"page-1", "page-2", "page-3", "page-4", "page-5"} {
		n.cli(t, "start", "Instant", "--id", id, "--input", `"x"`, "--wait").ok(t)
	}
	n.cli(t, "start", "WaitForGo", "--id", "page-6").ok(t)
	n.cli(t, "start", "Instant", "--id", "other", "--input", `"x"`).ok(t)

	list := decode[[]client.Status](t, n.cli(t, "list", "--prefix", "page-", "--limit", "2", "-o", "json").ok(t))
	if len(list) != 6 {
		t.Fatalf("list --limit 2 found %d instances, want 6: %+v", len(list), list)
	}
	seen := map[string]bool{}
	for _, st := range list {
		if seen[st.InstanceID] || !strings.HasPrefix(st.InstanceID, "page-") {
			t.Fatalf("list gave %s twice or outside the prefix", st.InstanceID)
		}
		seen[st.InstanceID] = true
	}

	list = decode[[]client.Status](t, n.cli(t, "list", "--prefix", "page-", "--status", "completed", "--limit", "1", "--since", "1h", "-o", "json").ok(t))
	if len(list) != 5 {
		t.Fatalf("list --status completed found %d, want 5", len(list))
	}
	list = decode[[]client.Status](t, n.cli(t, "list", "--since", time.Now().Add(time.Hour).Format(time.RFC3339), "-o", "json").ok(t))
	if len(list) != 0 {
		t.Fatalf("list --since the future found %d", len(list))
	}

	out := n.cli(t, "list", "--prefix", "page-", "--limit", "4").ok(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "INSTANCE") || !strings.Contains(out, "WaitForGo") {
		t.Fatalf("list table:\n%s", out)
	}
	// Columns are aligned: every line has STATUS at the header's offset.
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "Completed") && !strings.HasPrefix(l[col:], "Running") && !strings.HasPrefix(l[col:], "Pending") {
			t.Fatalf("misaligned line %q (STATUS at %d)", l, col)
		}
	}

	n.cli(t, "list", "--status", "Done").fails(t, exitUsage, `--status "Done"`)
	n.cli(t, "list", "--since", "yesterday").fails(t, exitUsage, `--since "yesterday"`)
}

func TestHistoryPaged(t *testing.T) {
	n := newTestNode(t, nil)
	n.cli(t, "start", "Instant", "--id", "h-1", "--input", `"Ed"`, "--wait").ok(t)

	all := decode[[]map[string]any](t, n.cli(t, "history", "h-1", "--limit", "2", "-o", "json").ok(t))
	types := map[string]int{}
	for _, e := range all {
		types[e["EventType"].(string)]++
		if _, ok := e["EventId"]; !ok {
			t.Errorf("event without EventId: %v", e)
		}
		if _, ok := e["Timestamp"]; !ok {
			t.Errorf("event without Timestamp: %v", e)
		}
	}
	for _, want := range []string{"ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted"} {
		if types[want] == 0 {
			t.Errorf("history lacks %s: %v", want, types)
		}
	}
	whole := decode[[]map[string]any](t, n.cli(t, "history", "h-1", "-o", "json").ok(t))
	if len(whole) != len(all) {
		t.Fatalf("history read %d events in pages of 2, %d in one page", len(all), len(whole))
	}

	sched := decode[[]map[string]any](t, n.cli(t, "history", "h-1", "--type", "taskscheduled,TaskCompleted", "--limit", "1", "-o", "json").ok(t))
	if len(sched) != 2 || sched[0]["EventType"] != "TaskScheduled" || sched[1]["EventType"] != "TaskCompleted" {
		t.Fatalf("history --type: %v", sched)
	}

	out := n.cli(t, "history", "h-1", "--type", "TaskScheduled").ok(t)
	if !strings.HasPrefix(out, "ID") || !strings.Contains(out, "TaskScheduled") || !strings.Contains(out, "Hello") {
		t.Fatalf("history table:\n%s", out)
	}
	n.cli(t, "history", "h-none").fails(t, exitFailed, "instance h-none not found")
	n.cli(t, "history", "h-1", "--type", "Nope").fails(t, exitUsage, `--type "Nope"`)
}

func TestPurge(t *testing.T) {
	n := newTestNode(t, nil)
	n.cli(t, "start", "WaitForGo", "--id", "p-run").ok(t)
	n.cli(t, "purge", "p-run").fails(t, exitFailed, "instance p-run has not finished")

	n.cli(t, "start", "Instant", "--id", "p-1", "--input", `"x"`, "--wait").ok(t)
	if out := n.cli(t, "purge", "p-1").ok(t); out != "purged instance p-1\n" {
		t.Fatalf("purge printed %q", out)
	}
	n.cli(t, "status", "p-1").fails(t, exitFailed, "instance p-1 not found")
	n.cli(t, "purge", "p-1").fails(t, exitFailed, "instance p-1 not found")

	r := n.cli(t, "purge", "--status", "Completed")
	r.fails(t, exitUsage, "refusing to purge without --since")
	n.cli(t, "purge", "p-2", "--since", "1h").fails(t, exitUsage, "not both")

	for _, id := range []string{"p-2", "p-3"} {
		n.cli(t, "start", "Instant", "--id", id, "--input", `"x"`, "--wait").ok(t)
	}
	n.cli(t, "start", "Fail", "--id", "p-4", "--wait").fails(t, exitFailed, "failed")
	res := decode[map[string]int](t, n.cli(t, "purge", "--status", "Completed", "--since", "1h", "-o", "json").ok(t))
	if res["instancesDeleted"] != 2 {
		t.Fatalf("purge-many: %v, want 2 deleted", res)
	}
	if out := n.cli(t, "purge", "--since", "1h").ok(t); out != "purged 1 instances\n" {
		t.Fatalf("purge --since printed %q (the failed one should go)", out)
	}
	if out := n.cli(t, "purge", "--since", "1h").ok(t); out != "purged 0 instances\n" {
		t.Fatalf("purge of nothing printed %q", out)
	}
	if n.statusOf(t, "p-run") != client.RuntimeStatusRunning {
		t.Fatal("purge-many touched a running instance")
	}
}

func TestAuthErrors(t *testing.T) {
	const admin, reader = "admin-key-0123456789", "reader-key-0123456789"
	keys := &auth.Keys{}
	keys.Add("admin", auth.ScopeAdmin, admin)
	keys.Add("reader", auth.ScopeReader, reader)
	n := newTestNode(t, keys)
	t.Setenv("ORCA_KEY", "")

	n.cli(t, "list").fails(t, exitFailed, "refused the key (401)")
	n.cli(t, "list", "--key", "wrong-key-0123456789").fails(t, exitFailed, "refused the key (401)")
	id := strings.TrimSpace(n.cli(t, "start", "WaitForGo", "--key", admin).ok(t))
	n.cli(t, "status", id, "--key", reader).ok(t)
	n.cli(t, "terminate", id, "--key", reader).fails(t, exitFailed, "(403)")
	t.Setenv("ORCA_KEY", admin)
	n.cli(t, "terminate", id).ok(t)
}

func TestUsageAndTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	r := runWith(t, &syncbuf.Buffer{}, "status", "x", "--server", dead)
	r.fails(t, exitUsage, "cannot reach the orca server at "+dead)

	runWith(t, &syncbuf.Buffer{}, "status").fails(t, exitUsage, "accepts 1 arg")
	runWith(t, &syncbuf.Buffer{}, "status", "x", "--server", "ftp://x").fails(t, exitUsage, "must be http(s)")
	runWith(t, &syncbuf.Buffer{}, "status", "x", "--output", "yaml").fails(t, exitUsage, `--output "yaml"`)
	runWith(t, &syncbuf.Buffer{}, "list", "--nope").fails(t, exitUsage, "unknown flag")
}

func TestCompletion(t *testing.T) {
	out := runWith(t, &syncbuf.Buffer{}, "completion", "bash").ok(t)
	if !strings.Contains(out, "bash completion") || !strings.Contains(out, "__start_orca") {
		t.Fatalf("completion bash printed:\n%.300s", out)
	}
	out = runWith(t, &syncbuf.Buffer{}, "__complete", "list", "--status", "").ok(t)
	if !strings.Contains(out, "Completed\n") || !strings.Contains(out, "Suspended\n") {
		t.Fatalf("--status completion:\n%s", out)
	}
	out = runWith(t, &syncbuf.Buffer{}, "__complete", "status", "--output", "").ok(t)
	if !strings.Contains(out, "table\njson\n") {
		t.Fatalf("--output completion:\n%s", out)
	}

	n := newTestNode(t, nil)
	n.cli(t, "start", "WaitForGo", "--id", "comp-1").ok(t)
	n.cli(t, "start", "WaitForGo", "--id", "other-1").ok(t)
	out = runWith(t, &syncbuf.Buffer{}, "__complete", "status", "--server", n.url, "comp").ok(t)
	if !strings.Contains(out, "comp-1\tWaitForGo") || strings.Contains(out, "other-1") {
		t.Fatalf("instance id completion:\n%s", out)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-01-02":           time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		got, err := parseSince("--since", in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5h", "2026-13-01"} {
		if _, err := parseSince("--since", bad, now); exitCode(err) != exitUsage {
			t.Errorf("parseSince(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestPools(t *testing.T) {
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	server := "--server=" + a.BaseURL

	if out := runWith(t, &syncbuf.Buffer{}, "pools", server).ok(t); !strings.Contains(out, "No worker pools") {
		t.Fatalf("pools without a scaler:\n%s", out)
	}

	pool := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
		PollWait: 100 * time.Millisecond})
	if err := a.StartPools(ctx, []scaler.Pool{{Name: "crunch", Queue: a.WorkQueue(), Provider: pool,
		Policy: scaler.Policy{Min: 1, Max: 2}}}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 20*time.Second, func() bool { return pool.Workers().Ready == 1 }, "the pool's first worker")

	out := runWith(t, &syncbuf.Buffer{}, "pools", server).ok(t)
	if !strings.Contains(out, "crunch") || !strings.Contains(out, "goroutine") || !strings.Contains(out, "1-2") {
		t.Fatalf("pools table:\n%s", out)
	}
	var pools []client.Pool
	if err := json.Unmarshal([]byte(runWith(t, &syncbuf.Buffer{}, "pools", server, "-o", "json").ok(t)), &pools); err != nil {
		t.Fatal(err)
	}
	if len(pools) != 1 || pools[0].Name != "crunch" || pools[0].Workers.Ready != 1 || pools[0].Desired != 1 || pools[0].Max != 2 {
		t.Fatalf("pools %+v", pools)
	}
	out = runWith(t, &syncbuf.Buffer{}, "pools", "crunch", server).ok(t)
	if !strings.Contains(out, "0 → 1") || !strings.Contains(out, "activated") {
		t.Fatalf("resizes:\n%s", out)
	}
	var ds []client.PoolDecision
	if err := json.Unmarshal([]byte(runWith(t, &syncbuf.Buffer{}, "pools", "crunch", "--all", "--limit", "1", server, "-o", "json").ok(t)), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Pool != "crunch" {
		t.Fatalf("decisions %+v", ds)
	}
	runWith(t, &syncbuf.Buffer{}, "pools", "nope", server).fails(t, exitFailed, `no pool named "nope"`)
	runWith(t, &syncbuf.Buffer{}, "pools", "a", "b", server).fails(t, exitUsage, "accepts at most 1 arg")
}
