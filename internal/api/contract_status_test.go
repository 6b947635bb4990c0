package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/testutil/wait"
)

// Contract: DF's instance status and its historyEvents (docs/api.md) and df.go.

// statusKeys are the status payload's keys in DF's order (StatusResponsePayload).
var statusKeys = []string{"name", "instanceId", "runtimeStatus", "input", "customStatus", "output", "createdTime", "lastUpdatedTime"}

var (
	// dfSeconds is createdTime/lastUpdatedTime: ToString("s")+"Z".
	dfSeconds = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
	// dtfxTime is a history timestamp: full precision, Z.
	dtfxTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$`)
)

// wantStatusShape checks the keys, their order and the time formats of a status body.
func wantStatusShape(t testing.TB, body []byte, withHistory bool) map[string]any {
	t.Helper()
	want := statusKeys
	if withHistory {
		want = append(slices.Clone(statusKeys), "historyEvents")
	}
	if keys := objectKeys(t, body); !slices.Equal(keys, want) {
		t.Fatalf("status keys %v, want %v", keys, want)
	}
	m := (&result{body: body}).object(t)
	for _, k := range []string{"createdTime", "lastUpdatedTime"} {
		if s, _ := m[k].(string); !dfSeconds.MatchString(s) {
			t.Fatalf("%s %q is not second precision with Z", k, m[k])
		}
	}
	return m
}

func TestStatusLifecycle(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "WaitEvent", "st-1", `{"city":"Oslo"}`)

	t.Run("running: 202 with Location = request URI and Retry-After: 5", func(t *testing.T) {
		path := df + "/instances/" + id + "?showHistory=false&taskHub=Hub&connection=Storage"
		r := n.do(t, "GET", path, "").want(t, http.StatusAccepted)
		r.jsonContentType(t)
		if loc := r.header.Get("Location"); loc != n.base+path {
			t.Fatalf("Location %q, want the request URI %q", loc, n.base+path)
		}
		if ra := r.header.Get("Retry-After"); ra != "5" {
			t.Fatalf("Retry-After %q, want 5", ra)
		}
		m := wantStatusShape(t, r.body, false)
		if m["name"] != "WaitEvent" || m["instanceId"] != id {
			t.Fatalf("status %s", r.body)
		}
		if s := m["runtimeStatus"]; s != "Running" && s != "Pending" {
			t.Fatalf("runtimeStatus %v", s)
		}
		sameJSON(t, "input", m["input"], `{"city":"Oslo"}`)
		if m["output"] != nil || m["customStatus"] != nil {
			t.Fatalf("output/customStatus of a running instance: %s", r.body)
		}
	})

	t.Run("showInput", func(t *testing.T) {
		for q, shown := range map[string]bool{"showInput=false": false, "ShowInput=False": false, "showInput=FALSE": false,
			"showInput=true": true, "showInput=nonsense": true, "showInput=": true, "": true} {
			_, m := n.status(t, id, q)
			if got := m["input"] != nil; got != shown {
				t.Errorf("%q: input shown = %v, want %v", q, got, shown)
			}
		}
	})

	n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", `["a","b"]`, withJSON()).wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Completed")

	t.Run("finished: 200 without Location", func(t *testing.T) {
		r := n.do(t, "GET", df+"/instances/"+id, "").want(t, http.StatusOK)
		if loc, ra := r.header.Get("Location"), r.header.Get("Retry-After"); loc != "" || ra != "" {
			t.Fatalf("Location %q Retry-After %q on a finished instance", loc, ra)
		}
		m := wantStatusShape(t, r.body, false)
		sameJSON(t, "output", m["output"], `["a","b"]`)
		if m["runtimeStatus"] != "Completed" {
			t.Fatalf("runtimeStatus %v", m["runtimeStatus"])
		}
	})

	t.Run("unknown: 404 with an empty body", func(t *testing.T) {
		n.do(t, "GET", df+"/instances/nope", "").wantEmpty(t, http.StatusNotFound)
		n.do(t, "GET", df+"/instances/nope?showHistory=true", "").wantEmpty(t, http.StatusNotFound)
	})
}

func TestStatusPending(t *testing.T) {
	n := newNode(t, nodeConfig{idle: true})
	id := n.start(t, "Hello", "", `"x"`)
	for _, q := range []string{"", "showHistory=true"} {
		r := n.do(t, "GET", df+"/instances/"+id+"?"+q, "").want(t, http.StatusAccepted)
		if m := wantStatusShape(t, r.body, false); m["runtimeStatus"] != "Pending" {
			t.Fatalf("runtimeStatus %v, want Pending", m["runtimeStatus"])
		}
		if r.header.Get("Retry-After") != "5" || r.header.Get("Location") == "" {
			t.Fatalf("a Pending instance answers without Location/Retry-After: %v", r.header)
		}
	}
}

func TestStatusFailed(t *testing.T) {
	n := newNode(t, nodeConfig{})
	failed := n.start(t, "Fail", "failed-1", "")
	n.waitStatus(t, failed, "Failed")
	done := n.start(t, "Echo", "", `1`)
	n.waitStatus(t, done, "Completed")
	cases := []struct {
		id, query string
		code      int
	}{
		{failed, "", http.StatusOK},
		{failed, "returnInternalServerErrorOnFailure=false", http.StatusOK},
		{failed, "returnInternalServerErrorOnFailure=true", http.StatusInternalServerError},
		{failed, "returninternalservererroronfailure=True", http.StatusInternalServerError},
		{failed, "returnInternalServerErrorOnFailure=yes", http.StatusOK},
		{done, "returnInternalServerErrorOnFailure=true", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.id+"?"+c.query, func(t *testing.T) {
			r := n.do(t, "GET", df+"/instances/"+c.id+"?"+c.query, "").want(t, c.code)
			m := wantStatusShape(t, r.body, false)
			if c.id == failed {
				if m["runtimeStatus"] != "Failed" || !strings.Contains(string(r.body), "boom") {
					t.Fatalf("failed status %s", r.body)
				}
			}
		})
	}
}

// historyOf returns the historyEvents of an instance's status.
func historyOf(t testing.TB, n *node, id, query string) []map[string]any {
	t.Helper()
	r := n.do(t, "GET", df+"/instances/"+id+"?showHistory=true&"+query, "")
	if r.code != http.StatusOK && r.code != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	wantStatusShape(t, r.body, true)
	var body struct {
		HistoryEvents []json.RawMessage `json:"historyEvents"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(body.HistoryEvents))
	for i, raw := range body.HistoryEvents {
		// PascalCase keys, EventType first and Timestamp last (DTFx's order).
		keys := objectKeys(t, raw)
		if keys[0] != "EventType" || keys[len(keys)-1] != "Timestamp" {
			t.Errorf("event keys %v: want EventType first and Timestamp last", keys)
		}
		out[i] = (&result{body: raw}).object(t)
	}
	return out
}

func eventTypes(events []map[string]any) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i], _ = e["EventType"].(string)
	}
	return out
}

func TestStatusHistory(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "Hello", "hist-1", `"Tokyo"`)
	n.waitStatus(t, id, "Completed")

	t.Run("absent unless asked", func(t *testing.T) {
		for _, q := range []string{"", "showHistory=false", "showHistoryOutput=true"} {
			r := n.do(t, "GET", df+"/instances/"+id+"?"+q, "").want(t, http.StatusOK)
			wantStatusShape(t, r.body, false)
		}
	})

	t.Run("merged as DF", func(t *testing.T) {
		events := historyOf(t, n, id, "")
		if got, want := eventTypes(events), []string{"ExecutionStarted", "TaskCompleted", "ExecutionCompleted"}; !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v (OrchestratorStarted/Completed removed, TaskScheduled merged)", got, want)
		}
		for _, e := range events {
			for _, gone := range []string{"EventId", "IsPlayed", "TaskScheduledId", "Result", "Version", "OrchestrationInstance", "Tags"} {
				if _, ok := e[gone]; ok {
					t.Errorf("%s event has %s: %v", e["EventType"], gone, e)
				}
			}
			if ts, _ := e["Timestamp"].(string); !dtfxTime.MatchString(ts) {
				t.Errorf("%s Timestamp %q is not full precision", e["EventType"], e["Timestamp"])
			}
		}
		started, task, done := events[0], events[1], events[2]
		if started["FunctionName"] != "Hello" || started["Name"] != nil || started["Input"] != "Tokyo" {
			t.Errorf("ExecutionStarted %v: want FunctionName Hello, no Name, Input Tokyo", started)
		}
		if task["FunctionName"] != "SayHello" || task["Name"] != nil || task["Input"] != "Tokyo" {
			t.Errorf("TaskCompleted %v: want FunctionName SayHello (merged), no Name, Input Tokyo", task)
		}
		if st, _ := task["ScheduledTime"].(string); !dtfxTime.MatchString(st) {
			t.Errorf("TaskCompleted ScheduledTime %q is not a full-precision time", task["ScheduledTime"])
		}
		if st, ts := task["ScheduledTime"].(string), task["Timestamp"].(string); st > ts {
			t.Errorf("ScheduledTime %s after Timestamp %s", st, ts)
		}
		if done["OrchestrationStatus"] != "Completed" {
			t.Errorf("ExecutionCompleted OrchestrationStatus %v, want the name Completed", done["OrchestrationStatus"])
		}
	})

	t.Run("showHistoryOutput keeps results", func(t *testing.T) {
		events := historyOf(t, n, id, "showHistoryOutput=true")
		if events[1]["Result"] != "Hello Tokyo" || events[2]["Result"] != "Hello Tokyo" {
			t.Fatalf("results %v / %v, want Hello Tokyo", events[1]["Result"], events[2]["Result"])
		}
	})

	t.Run("showInput=false drops inputs", func(t *testing.T) {
		r := n.do(t, "GET", df+"/instances/"+id+"?showHistory=true&showInput=false", "").want(t, http.StatusOK)
		if m := wantStatusShape(t, r.body, true); m["input"] != nil {
			t.Fatalf("input %v with showInput=false", m["input"])
		}
		for _, e := range historyOf(t, n, id, "showInput=false") {
			if _, ok := e["Input"]; ok {
				t.Errorf("%s keeps Input with showInput=false", e["EventType"])
			}
		}
	})

	t.Run("failed", func(t *testing.T) {
		f := n.start(t, "Flaky", "hist-fail", "")
		n.waitStatus(t, f, "Failed")
		events := historyOf(t, n, f, "")
		if got, want := eventTypes(events), []string{"ExecutionStarted", "TaskFailed", "ExecutionCompleted"}; !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		if events[1]["FunctionName"] != "FlakyAct" || events[1]["ScheduledTime"] == nil {
			t.Errorf("TaskFailed %v: want FunctionName FlakyAct and ScheduledTime (merged)", events[1])
		}
		if !strings.Contains(events[1]["Reason"].(string), "flaky failure") {
			t.Errorf("TaskFailed Reason %v", events[1]["Reason"])
		}
		if events[2]["OrchestrationStatus"] != "Failed" {
			t.Errorf("ExecutionCompleted %v", events[2])
		}
	})
}

func TestStatusHistoryPendingTask(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "Block", "blocked-1", "")
	n.waitStatus(t, id, "Running")
	var events []map[string]any
	wait.For(t, waitLimit, func() bool {
		events = historyOf(t, n, id, "")
		return slices.Contains(eventTypes(events), "TaskScheduled")
	}, "the Gate activity to be scheduled")
	for _, e := range events {
		if e["EventType"] != "TaskScheduled" {
			continue
		}
		if e["Name"] != "Gate" || e["FunctionName"] != nil {
			t.Fatalf("pending TaskScheduled %v: want Name Gate, no FunctionName", e)
		}
		if _, ok := e["Version"]; ok {
			t.Fatalf("pending TaskScheduled keeps Version: %v", e)
		}
	}
}

func TestRunsSummary(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for i := 0; i < 2; i++ {
		n.waitStatus(t, n.start(t, "Echo", "", ""), "Completed")
	}
	n.waitStatus(t, n.start(t, "Fail", "", ""), "Failed")
	n.waitStatus(t, n.start(t, "WaitEvent", "", ""), "Running")
	r := n.do(t, "GET", "/api/runs/summary", "").want(t, http.StatusOK)
	var body struct {
		Counts map[string]int `json:"counts"`
		Total  int            `json:"total"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Pending": 0, "Running": 1, "Completed": 2, "ContinuedAsNew": 0, "Failed": 1, "Terminated": 0, "Suspended": 0}
	for k, v := range want {
		got, ok := body.Counts[k]
		if !ok || got != v {
			t.Errorf("counts[%s] = %d (present %v), want %d", k, got, ok, v)
		}
	}
	if body.Total != 4 {
		t.Errorf("total %d, want 4", body.Total)
	}
}
