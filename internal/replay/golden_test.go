package replay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

var update = flag.Bool("update", false, "record the golden histories in testdata/ again")

// A golden history is what the store holds of an instance after it ran: each execution's events
// in the store's own encoding (history.Marshal, one history row each), the executions of a
// ContinueAsNew chain in order. The files were recorded by an earlier release; the current code
// must replay them without a NonDeterminismError and take the same decisions turn by turn —
// otherwise instances in flight during an upgrade would fail.
type goldenFile struct {
	Orchestrator string              `json:"orchestrator"`
	InstanceID   string              `json:"instanceId"`
	Executions   [][]json.RawMessage `json:"executions"`
}

// scenario is an orchestrator and the world it runs in: what its activities and
// sub-orchestrations return, and which events reach it in which turn.
type scenario struct {
	name  string
	orch  orca.Orchestrator
	input any
	// raised are the events (external events, suspend, resume) arriving with turn n (1-based).
	raised map[int][]*history.Event
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func scenarios() []scenario {
	return []scenario{
		{name: "activities", input: 3, orch: func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			// A chain, then a fan-out of n, with a GUID and the custom status along the way.
			id := ctx.NewGUID()
			if err := ctx.SetCustomStatus(map[string]any{"stage": "chain", "id": id}); err != nil {
				return nil, err
			}
			x := n
			for i := 0; i < 2; i++ {
				if err := ctx.CallActivity("Add", []int{x, 10}).Await(&x); err != nil {
					return nil, err
				}
			}
			tasks := make([]orca.Task, n)
			for i := range tasks {
				tasks[i] = ctx.CallActivity("Square", x+i)
			}
			var squares []int
			if err := ctx.WhenAll(tasks...).Await(&squares); err != nil {
				return nil, err
			}
			_ = ctx.SetCustomStatus(map[string]any{"stage": "done"})
			return map[string]any{"chain": x, "squares": squares, "id": id, "at": ctx.CurrentTime()}, nil
		}},
		{name: "timers", raised: map[int][]*history.Event{3: {history.NewEventRaised(t0, "Approve", json.RawMessage(`"yes"`))}},
			orch: func(ctx orca.OrchestrationContext) (any, error) {
				if err := ctx.CreateTimer(time.Hour).Await(nil); err != nil {
					return nil, err
				}
				// The event arrives before the timer fires: it wins the race.
				approve, deadline := ctx.WaitForExternalEvent("approve"), ctx.CreateTimer(10*time.Minute)
				var first int
				if err := ctx.WhenAny(approve, deadline).Await(&first); err != nil {
					return nil, err
				}
				var answer string
				if first == 0 {
					if err := approve.Await(&answer); err != nil {
						return nil, err
					}
				}
				// Nobody answers this one: its wait times out.
				err := ctx.WaitForExternalEvent("late", orca.WaitTimeout(5*time.Minute)).Await(nil)
				return map[string]any{"first": first, "answer": answer, "lateTimedOut": errors.Is(err, orca.ErrTimedOut)}, nil
			}},
		{name: "events", raised: map[int][]*history.Event{
			1: {history.NewEventRaised(t0, "Item", json.RawMessage(`1`)), history.NewEventRaised(t0, "ITEM", json.RawMessage(`2`))},
			2: {history.NewExecutionSuspended(t0, "hold on"), history.NewEventRaised(t0, "item", json.RawMessage(`3`))},
			3: {history.NewExecutionResumed(t0, "go on")},
		}, orch: func(ctx orca.OrchestrationContext) (any, error) {
			// Two events raised before it ran are buffered; the third arrives while suspended.
			sum := 0
			for i := 0; i < 3; i++ {
				var v int
				if err := ctx.WaitForExternalEvent("item").Await(&v); err != nil {
					return nil, err
				}
				sum += v
				if i == 1 {
					if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
						return nil, err
					}
				}
			}
			if err := ctx.SendEvent("other-instance", "Total", sum); err != nil {
				return nil, err
			}
			return sum, nil
		}},
		{name: "suborchestrations", orch: func(ctx orca.OrchestrationContext) (any, error) {
			var doubled int
			if err := ctx.CallSubOrchestrator("Double", 21, orca.WithInstanceID("child-1")).Await(&doubled); err != nil {
				return nil, err
			}
			err := ctx.CallSubOrchestrator("Broken", nil).Await(nil)
			var failed *orca.TaskFailedError
			if !errors.As(err, &failed) {
				return nil, fmt.Errorf("the broken child did not fail: %v", err)
			}
			return map[string]any{"doubled": doubled, "brokenFailed": failed.Failure.ErrorMessage}, nil
		}},
		{name: "continue-as-new", input: 0, raised: map[int][]*history.Event{
			2: {history.NewEventRaised(t0, "tick", json.RawMessage(`"a"`)), history.NewEventRaised(t0, "tick", json.RawMessage(`"b"`))},
			5: {history.NewEventRaised(t0, "tick", json.RawMessage(`"c"`))},
		}, orch: func(ctx orca.OrchestrationContext) (any, error) {
			// Each execution takes one tick; the second tick of the first is carried over.
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			var tick string
			if err := ctx.WaitForExternalEvent("tick").Await(&tick); err != nil {
				return nil, err
			}
			if err := ctx.CallActivity("Add", []int{n, 1}).Await(&n); err != nil {
				return nil, err
			}
			if n < 3 {
				ctx.ContinueAsNew(n)
				return nil, nil
			}
			return map[string]any{"n": n, "lastTick": tick}, nil
		}},
		{name: "retries", orch: func(ctx orca.OrchestrationContext) (any, error) {
			// Flaky fails twice, then succeeds on its third attempt; AlwaysFails fails the run.
			retry := orca.WithRetry(orca.RetryPolicy{MaxAttempts: 3, FirstRetryInterval: time.Minute, BackoffCoefficient: 2})
			var got string
			if err := ctx.CallActivity("Flaky", "x", retry).Await(&got); err != nil {
				return nil, err
			}
			if err := ctx.CallActivity("Fatal", nil, retry).Await(nil); err == nil {
				return nil, errors.New("Fatal did not fail")
			}
			return nil, ctx.CallActivity("AlwaysFails", got,
				orca.WithRetry(orca.RetryPolicy{MaxAttempts: 2, FirstRetryInterval: time.Second})).Await(nil)
		}},
	}
}

// world answers the actions of a scenario's orchestrator as the engine's activities, timers and
// child instances would, deterministically.
type world struct {
	attempts map[string]int
}

func (w *world) activity(name string, input json.RawMessage) (json.RawMessage, error) {
	w.attempts[name]++
	switch name {
	case "Add":
		var xs []int
		if err := json.Unmarshal(input, &xs); err != nil {
			return nil, err
		}
		return json.Marshal(xs[0] + xs[1])
	case "Square":
		var x int
		if err := json.Unmarshal(input, &x); err != nil {
			return nil, err
		}
		return json.Marshal(x * x)
	case "Flaky":
		if w.attempts[name] < 3 {
			return nil, fmt.Errorf("flaky attempt %d", w.attempts[name])
		}
		return json.Marshal("flaky ok")
	case "Fatal":
		return nil, orca.NonRetriable(errors.New("bad input"))
	case "AlwaysFails":
		return nil, errors.New("always fails")
	}
	return nil, fmt.Errorf("no activity %q", name)
}

func (w *world) child(name string, input json.RawMessage) (json.RawMessage, error) {
	switch name {
	case "Double":
		var x int
		if err := json.Unmarshal(input, &x); err != nil {
			return nil, err
		}
		return json.Marshal(2 * x)
	case "Broken":
		return nil, errors.New("the child broke")
	}
	return nil, fmt.Errorf("no orchestrator %q", name)
}

func failure(err error) *history.FailureDetails {
	f := orca.FailureFromError(err)
	return &history.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, NonRetriable: f.NonRetriable}
}

// record runs a scenario to its end the way the engine would: one turn a second, the results of
// a turn's activities and children in the next turn, timers in the first turn at or after their
// fire time. It returns each execution's history.
func record(t *testing.T, sc scenario) [][]*history.Event {
	t.Helper()
	w := &world{attempts: map[string]int{}}
	input, err := orca.MarshalPayload(sc.input)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	turnNo := 0
	var executions [][]*history.Event
	next := []*history.Event{history.NewExecutionStarted(now, history.ExecutionStartedAttrs{
		Name: sc.name, ExecutionID: "execution-1", Input: input})}
	for gen := 1; ; gen++ {
		exec := replay.New(replay.Config{InstanceID: "golden-" + sc.name, Resolve: resolve(sc)})
		var events []*history.Event
		var timers []*history.Event // pending TimerCreated
		for {
			turnNo++
			if turnNo > 100 {
				t.Fatalf("%s: no end after 100 turns", sc.name)
			}
			for _, ev := range sc.raised[turnNo] {
				ev.Timestamp = now
				next = append(next, ev)
			}
			turn := exec.Run(now, next)
			events = append(events, turn.History...)
			next = nil
			now = now.Add(time.Second)
			for _, a := range turn.Actions {
				switch a.Type {
				case history.TaskScheduled:
					out, err := w.activity(a.TaskScheduled.Name, a.TaskScheduled.Input)
					if err != nil {
						next = append(next, history.NewTaskFailed(now, a.EventID, failure(err)))
					} else {
						next = append(next, history.NewTaskCompleted(now, a.EventID, out))
					}
				case history.SubOrchestrationInstanceCreated:
					out, err := w.child(a.SubOrchestrationInstanceCreated.Name, a.SubOrchestrationInstanceCreated.Input)
					if err != nil {
						next = append(next, history.NewSubOrchestrationFailed(now, a.EventID, failure(err)))
					} else {
						next = append(next, history.NewSubOrchestrationCompleted(now, a.EventID, out))
					}
				case history.TimerCreated:
					timers = append(timers, a)
				}
			}
			if turn.Outcome.Finished() {
				exec.Close()
				executions = append(executions, events)
				if turn.Outcome != replay.ContinuedAsNew {
					return executions
				}
				next = append([]*history.Event{history.NewExecutionStarted(now, history.ExecutionStartedAttrs{
					Name: sc.name, ExecutionID: fmt.Sprintf("execution-%d", gen+1), Input: turn.NewInput})}, turn.CarryOver...)
				break
			}
			if len(next) == 0 && len(sc.raised[turnNo+1]) == 0 && len(timers) > 0 {
				now = latest(now, earliest(timers))
			}
			timers = fireDue(now, timers, &next)
			if len(next) == 0 && len(sc.raised[turnNo+1]) == 0 {
				t.Fatalf("%s: the orchestrator waits for nothing the scenario sends (turn %d)", sc.name, turnNo)
			}
		}
	}
}

func resolve(sc scenario) func(string) (orca.Orchestrator, bool) {
	return func(name string) (orca.Orchestrator, bool) { return sc.orch, name == sc.name }
}

func earliest(timers []*history.Event) time.Time {
	at := timers[0].TimerCreated.FireAt
	for _, tm := range timers[1:] {
		if tm.TimerCreated.FireAt.Before(at) {
			at = tm.TimerCreated.FireAt
		}
	}
	return at
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fireDue moves the timers due at now to next as TimerFired and returns the others.
func fireDue(now time.Time, timers []*history.Event, next *[]*history.Event) []*history.Event {
	var keep []*history.Event
	for _, tm := range timers {
		if tm.TimerCreated.FireAt.After(now) {
			keep = append(keep, tm)
			continue
		}
		*next = append(*next, history.NewTimerFired(now, tm.EventID, tm.TimerCreated.FireAt))
	}
	return keep
}

func goldenPath(name string) string { return filepath.Join("testdata", "history-"+name+".json") }

func writeGolden(t *testing.T, sc scenario, executions [][]*history.Event) {
	t.Helper()
	f := goldenFile{Orchestrator: sc.name, InstanceID: "golden-" + sc.name}
	for _, events := range executions {
		var rows []json.RawMessage
		for _, ev := range events {
			b, err := history.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, b)
		}
		f.Executions = append(f.Executions, rows)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath(sc.name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, name string) (goldenFile, [][]*history.Event) {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if err != nil {
		t.Fatalf("%v (go test ./internal/replay -run TestGoldenHistories -update records it)", err)
	}
	var f goldenFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", goldenPath(name), err)
	}
	var executions [][]*history.Event
	for _, rows := range f.Executions {
		var events []*history.Event
		for i, row := range rows {
			ev, err := history.Unmarshal(row)
			if err != nil {
				t.Fatalf("%s: event %d: %v", goldenPath(name), i, err)
			}
			events = append(events, ev)
		}
		executions = append(executions, events)
	}
	return f, executions
}

// TestGoldenHistories replays the recorded histories in testdata/ with the current code. Each
// execution is checked twice: replayed whole, as the engine does after a restart or a cache
// miss, it must raise no NonDeterminismError and end in the recorded outcome; and re-run turn by
// turn from the events that reached it, every turn must record exactly what was recorded — the
// same actions with the same ids, inputs, fire times and outputs. Run with -update to record
// them again after a change that is meant to alter histories (instances in flight across that
// upgrade will then fail).
func TestGoldenHistories(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			if *update {
				writeGolden(t, sc, record(t, sc))
			}
			f, executions := readGolden(t, sc.name)
			if f.Orchestrator != sc.name || len(executions) == 0 {
				t.Fatalf("%s records orchestrator %q with %d executions", goldenPath(sc.name), f.Orchestrator, len(executions))
			}
			for i, events := range executions {
				replayWhole(t, f, i, events, resolve(sc))
				rerunTurns(t, f, i, events, resolve(sc))
			}
		})
	}
}

// outcomeOf is the outcome an execution's history records.
func outcomeOf(events []*history.Event) replay.Outcome {
	for _, ev := range events {
		switch {
		case ev.Type == history.ContinueAsNew:
			return replay.ContinuedAsNew
		case ev.Type == history.ExecutionTerminated:
			return replay.Terminated
		case ev.Type == history.ExecutionCompleted && ev.ExecutionCompleted.Status == history.OutcomeFailed:
			return replay.Failed
		case ev.Type == history.ExecutionCompleted:
			return replay.Completed
		}
	}
	return replay.Running
}

func replayWhole(t *testing.T, f goldenFile, i int, events []*history.Event, res func(string) (orca.Orchestrator, bool)) {
	t.Helper()
	exec := replay.New(replay.Config{InstanceID: f.InstanceID, Resolve: res})
	defer exec.Close()
	if err := exec.Replay(events); err != nil {
		t.Fatalf("execution %d: replaying the recorded history: %v", i+1, err)
	}
	if got, want := exec.Outcome(), outcomeOf(events); got != want {
		t.Fatalf("execution %d: replay ends %s, the history records %s", i+1, got, want)
	}
}

// rerunTurns feeds each recorded turn's incoming events to a fresh executor and compares the
// turn it records with the recorded one.
func rerunTurns(t *testing.T, f goldenFile, i int, events []*history.Event, res func(string) (orca.Orchestrator, bool)) {
	t.Helper()
	exec := replay.New(replay.Config{InstanceID: f.InstanceID, Resolve: res})
	defer exec.Close()
	for n, recorded := range splitTurns(t, events) {
		var incoming []*history.Event
		for _, ev := range recorded[1 : len(recorded)-1] {
			if !ev.Type.IsAction() && ev.Type != history.ExecutionCompleted && ev.Type != history.ContinueAsNew {
				incoming = append(incoming, ev)
			}
		}
		turn := exec.Run(recorded[0].Timestamp, incoming)
		if got, want := encode(t, turn.History), encode(t, recorded); got != want {
			t.Fatalf("execution %d, turn %d records\n%s\nthe history recorded\n%s", i+1, n+1, got, want)
		}
	}
}

// splitTurns cuts a history into turns: OrchestratorStarted … OrchestratorCompleted.
func splitTurns(t *testing.T, events []*history.Event) [][]*history.Event {
	t.Helper()
	var turns [][]*history.Event
	start := -1
	for j, ev := range events {
		switch ev.Type {
		case history.OrchestratorStarted:
			start = j
		case history.OrchestratorCompleted:
			if start < 0 {
				t.Fatalf("event %d: OrchestratorCompleted outside a turn", j)
			}
			turns = append(turns, events[start:j+1])
			start = -1
		}
	}
	if start >= 0 {
		t.Fatal("the history ends inside a turn")
	}
	return turns
}

func encode(t *testing.T, events []*history.Event) string {
	t.Helper()
	var b strings.Builder
	for _, ev := range events {
		raw, err := history.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		b.Write(compact.Bytes())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestChangedOrchestratorIsNonDeterministic replays a recorded history with an orchestrator that
// now calls another activity: Replay reports a NonDeterminismError naming both, and the next turn
// fails the execution with it instead of running on.
func TestChangedOrchestratorIsNonDeterministic(t *testing.T) {
	_, executions := readGolden(t, "activities")
	changed := func(ctx orca.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("Multiply", []int{3, 10}).Await(nil)
	}
	exec := replay.New(replay.Config{InstanceID: "golden-activities",
		Resolve: func(string) (orca.Orchestrator, bool) { return changed, true }})
	defer exec.Close()
	err := exec.Replay(executions[0])
	var nd *orca.NonDeterminismError
	if !errors.As(err, &nd) || !strings.Contains(nd.Detail, `"Add"`) || !strings.Contains(nd.Detail, `"Multiply"`) {
		t.Fatalf("Replay = %v, want a NonDeterminismError naming Add and Multiply", err)
	}
	turn := exec.Run(t0.Add(time.Hour), []*history.Event{history.NewEventRaised(t0, "poke", nil)})
	if turn.Outcome != replay.Failed || turn.Failure == nil || turn.Failure.ErrorType != "NonDeterminismError" {
		t.Fatalf("next turn: outcome %s failure %+v, want Failed with a NonDeterminismError", turn.Outcome, turn.Failure)
	}
}
