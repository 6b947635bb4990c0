package history

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	ts   = time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	fire = time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)
	fail = &FailureDetails{ErrorType: "*errors.errorString", ErrorMessage: "disk full", StackTrace: "main.go:12", NonRetriable: true}
)

// samples has one event of every type, as the engine writes them.
func samples() map[Type]*Event {
	return map[Type]*Event{
		ExecutionStarted: NewExecutionStarted(ts, ExecutionStartedAttrs{Name: "Process", ExecutionID: "e1",
			Input: json.RawMessage(`{"n":3}`), Generation: 2,
			Parent: &ParentInstance{InstanceID: "parent", ExecutionID: "pe", Name: "Parent", TaskScheduledID: 4}}),
		ExecutionCompleted:                NewExecutionCompleted(ts, json.RawMessage(`[1,2,3]`)),
		ExecutionTerminated:               NewExecutionTerminated(ts, "stop"),
		ExecutionSuspended:                NewExecutionSuspended(ts, "pause"),
		ExecutionResumed:                  NewExecutionResumed(ts, "go on"),
		ExecutionRewound:                  NewExecutionRewound(ts, "fixed"),
		ContinueAsNew:                     NewContinueAsNew(ts, json.RawMessage(`7`)),
		OrchestratorStarted:               NewOrchestratorStarted(ts),
		OrchestratorCompleted:             NewOrchestratorCompleted(ts),
		TaskScheduled:                     NewTaskScheduled(ts, 3, "Compute", json.RawMessage(`{"x":1}`)),
		TaskCompleted:                     NewTaskCompleted(ts, 3, json.RawMessage(`"ok"`)),
		TaskFailed:                        NewTaskFailed(ts, 3, fail),
		TimerCreated:                      NewTimerCreated(ts, 5, fire),
		TimerFired:                        NewTimerFired(ts, 5, fire),
		EventRaised:                       NewEventRaised(ts, "Approval", json.RawMessage(`true`)),
		EventSent:                         NewEventSent(ts, 6, "other", "Ping", json.RawMessage(`null`)),
		SubOrchestrationInstanceCreated:   NewSubOrchestrationCreated(ts, 7, "Child", "parent:7", json.RawMessage(`1`)),
		SubOrchestrationInstanceCompleted: NewSubOrchestrationCompleted(ts, 7, json.RawMessage(`2`)),
		SubOrchestrationInstanceFailed:    NewSubOrchestrationFailed(ts, 7, fail),
	}
}

// TestGoldenJSON pins the persisted form of every event type: a change shows in review as a
// diff of testdata/. Run with -update after an intended change (and a migration if needed).
func TestGoldenJSON(t *testing.T) {
	s := samples()
	if len(s) != len(Types) {
		t.Fatalf("samples cover %d of %d event types", len(s), len(Types))
	}
	for _, typ := range Types {
		t.Run(string(typ), func(t *testing.T) {
			ev := s[typ]
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", string(typ)+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/history -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Fatalf("%s changed:\n got: %s\nwant: %s", path, pretty.Bytes(), want)
			}
			back, err := Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, ev) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, ev)
			}
		})
	}
}

func TestValidateRejectsMalformedEvents(t *testing.T) {
	cases := map[string]string{
		"unknown type":        `{"type":"Nope","eventId":-1,"timestamp":"2026-01-01T00:00:00Z"}`,
		"missing attributes":  `{"type":"TaskScheduled","eventId":1,"timestamp":"2026-01-01T00:00:00Z"}`,
		"wrong attributes":    `{"type":"TaskCompleted","eventId":-1,"timestamp":"2026-01-01T00:00:00Z","taskScheduled":{"name":"x"}}`,
		"two attributes":      `{"type":"TaskCompleted","eventId":-1,"timestamp":"2026-01-01T00:00:00Z","taskCompleted":{"taskScheduledId":1},"taskFailed":{"taskScheduledId":1}}`,
		"action without id":   `{"type":"TaskScheduled","eventId":-1,"timestamp":"2026-01-01T00:00:00Z","taskScheduled":{"name":"x"}}`,
		"id on a non-action":  `{"type":"TaskCompleted","eventId":4,"timestamp":"2026-01-01T00:00:00Z","taskCompleted":{"taskScheduledId":1}}`,
		"not json":            `{"type":`,
		"attributes on start": `{"type":"OrchestratorStarted","eventId":-1,"timestamp":"2026-01-01T00:00:00Z","taskCompleted":{"taskScheduledId":1}}`,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if ev, err := Unmarshal([]byte(data)); err == nil {
				t.Fatalf("accepted %+v", ev)
			}
		})
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, ev := range samples() {
		b, _ := Marshal(ev)
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Anything accepted must survive a round trip unchanged.
		b, err := Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		b2, _ := Marshal(back)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed %s to %s", b, b2)
		}
	})
}
