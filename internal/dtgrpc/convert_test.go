package dtgrpc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
)

// TestPastOutSendsOnlyWhatTheSDKReplays: a turn's past events leave out what
// @microsoft/durabletask-js 0.4.0 does not read when it replays (OrchestratorCompleted events, the
// inputs of past TaskScheduled events) and keep what it does (event ids, names, results,
// timestamps); a history read (eventsOut) keeps everything.
func TestPastOutSendsOnlyWhatTheSDKReplays(t *testing.T) {
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	events := []*history.Event{
		history.NewOrchestratorStarted(now),
		history.NewTaskScheduled(now, 1, "add1", json.RawMessage(`{"big":"input"}`)),
		history.NewOrchestratorCompleted(now),
		history.NewOrchestratorStarted(now),
		history.NewTaskCompleted(now, 1, json.RawMessage(`2`)),
	}
	past := pastOut(events, "i")
	if len(past) != 4 {
		t.Fatalf("pastOut sent %d events, want 4 (no OrchestratorCompleted)", len(past))
	}
	ts := past[1].GetTaskScheduled()
	if ts == nil || ts.GetName() != "add1" || past[1].GetEventId() != 1 || ts.GetInput() != nil || !past[1].GetTimestamp().AsTime().Equal(now) {
		t.Errorf("past TaskScheduled %v: want name add1, event id 1, its timestamp, no input", past[1])
	}
	if r := past[3].GetTaskCompleted().GetResult().GetValue(); r != "2" {
		t.Errorf("past TaskCompleted result %q, want 2", r)
	}
	all := eventsOut(events, "i")
	if len(all) != 5 || all[1].GetTaskScheduled().GetInput().GetValue() != `{"big":"input"}` {
		t.Errorf("eventsOut %v: want all 5 events, the TaskScheduled with its input", all)
	}
}
