package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

// recordingRemote answers every turn with no actions and remembers what it was sent.
type recordingRemote struct{ turns []*RemoteTurn }

func (r *recordingRemote) Connected() bool { return true }

func (r *recordingRemote) RunTurn(_ context.Context, t *RemoteTurn) (*RemoteDecision, error) {
	r.turns = append(r.turns, t)
	return &RemoteDecision{}, nil
}

func (r *recordingRemote) RunActivity(context.Context, *RemoteActivity) (json.RawMessage, *history.FailureDetails, error) {
	return nil, nil, ErrNoWorker
}

// TestRemoteExecutorKeepsTheReplayExecutorsRules: the events a remote orchestrator is sent
// follow the replay executor's rules — ExecutionStarted first, stale completions dropped, a
// second termination ignored — and a termination ends the execution without asking the worker.
func TestRemoteExecutorKeepsTheReplayExecutorsRules(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	r := &recordingRemote{}
	x := newRemoteExecutor(context.Background(), r, "i")
	started := history.NewExecutionStarted(now, history.ExecutionStartedAttrs{Name: "o", ExecutionID: "e1"})
	raised := history.NewEventRaised(now, "early", nil)
	turn, err := x.Run(now, []*history.Event{raised, started, history.NewTaskCompleted(now, 7, nil)})
	if err != nil {
		t.Fatal(err)
	}
	sent := r.turns[0].New
	if len(sent) != 3 || sent[0].Type != history.OrchestratorStarted || sent[1] != started || sent[2] != raised || turn.Dropped != 1 {
		t.Fatalf("first turn sent %v, dropped %d: want OrchestratorStarted, ExecutionStarted, the early event; the stale completion dropped",
			types(sent), turn.Dropped)
	}
	// A turn whose events are all dropped (a completion of an action never taken) asks nobody.
	if _, err := x.Run(now, []*history.Event{history.NewTimerFired(now, 1, now)}); err != nil || len(r.turns) != 1 {
		t.Fatalf("a turn of dropped events was sent (%d turns, %v)", len(r.turns), err)
	}
	first := history.NewExecutionTerminated(now, `"first"`)
	turn, err = x.Run(now, []*history.Event{first, history.NewExecutionTerminated(now, `"second"`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.turns) != 1 || turn.Outcome != replay.Terminated || string(turn.Output) != `"first"` || turn.Dropped != 1 {
		t.Fatalf("terminate: %d turns sent, outcome %v, output %s, dropped %d", len(r.turns), turn.Outcome, turn.Output, turn.Dropped)
	}
}

func types(events []*history.Event) []history.Type {
	out := make([]history.Type, len(events))
	for i, ev := range events {
		out[i] = ev.Type
	}
	return out
}
