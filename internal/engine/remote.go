package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

// Remote runs the orchestrators and activities the registry does not have in other processes:
// the workers of the Durable Task SDKs connected to orca over gRPC (internal/dtgrpc). An engine
// with a Remote takes any name: an orchestrator it does not know, or a call of an activity it has
// no function for, waits for a worker instead of failing.
type Remote interface {
	// Connected reports whether a worker is connected: only then does the node lease tasks of
	// activities it has no function for.
	Connected() bool
	// RunTurn runs one turn of an orchestrator on a worker and returns what it decided. It
	// returns ErrNoWorker when no worker took the turn; the instance waits and is tried again.
	RunTurn(ctx context.Context, t *RemoteTurn) (*RemoteDecision, error)
	// RunActivity runs an activity task on a worker and returns its result (JSON; nil for none)
	// or its failure. An error (ErrNoWorker, the worker lost, ctx ended) gives the task back to
	// the store to run again.
	RunActivity(ctx context.Context, t *RemoteActivity) (json.RawMessage, *history.FailureDetails, error)
}

// ErrNoWorker is a Remote's answer when no connected worker took the work.
var ErrNoWorker = errors.New("no worker is connected to run it")

// RemoteTurn is one turn of a remote orchestrator: the execution's history so far and the
// turn's new events, the first of them its OrchestratorStarted (the turn's time).
type RemoteTurn struct {
	InstanceID  string
	ExecutionID string
	Past, New   []*history.Event
}

// RemoteDecision is what a remote orchestrator decided in a turn.
type RemoteDecision struct {
	// Actions are the turn's new actions as the events that record them: TaskScheduled,
	// TimerCreated, SubOrchestrationInstanceCreated and EventSent, each with the orchestrator's
	// id for it as EventID, in increasing order.
	Actions      []*history.Event
	CustomStatus json.RawMessage
	// Outcome is Running while the execution goes on; Output, Failure, NewInput and CarryOver
	// describe how it ended, as in replay.Turn.
	Outcome   replay.Outcome
	Output    json.RawMessage
	Failure   *history.FailureDetails
	NewInput  json.RawMessage
	CarryOver []*history.Event
}

// RemoteActivity is an activity task a Remote runs.
type RemoteActivity struct {
	Name        string
	InstanceID  string
	ExecutionID string
	TaskID      int32
	Input       json.RawMessage
}

// TerminationOutput is the output of a remote orchestration's termination: the reason when it
// is JSON (the SDKs' terminate requests carry JSON), else the reason as a JSON string.
func TerminationOutput(reason string) json.RawMessage {
	if reason != "" && json.Valid([]byte(reason)) {
		return json.RawMessage(reason)
	}
	b, _ := json.Marshal(reason)
	return b
}

// executor runs an instance's turns: a replay.Executor for the registry's orchestrators, a
// remoteExecutor for the others.
type executor interface {
	// Replay applies recorded history (a cache miss).
	Replay(events []*history.Event) error
	// Run runs a turn; an error means the turn did not happen (the executor is unchanged).
	Run(now time.Time, events []*history.Event) (*replay.Turn, error)
	Close()
}

// localExecutor is a replay.Executor as an executor.
type localExecutor struct{ *replay.Executor }

func (l localExecutor) Run(now time.Time, events []*history.Event) (*replay.Turn, error) {
	return l.Executor.Run(now, events), nil
}

// remoteExecutor keeps an execution's history for a remote orchestrator, which replays the whole
// of it every turn (the SDKs keep nothing between work items), and checks what it decides: its
// new actions must follow the recorded ones.
type remoteExecutor struct {
	ctx    context.Context
	remote Remote
	id     string

	past        []*history.Event
	started     bool
	executionID string
	suspended   bool
	// open are the recorded actions waiting for their answer, by id; lastAction is the highest
	// recorded action id.
	open       map[int32]bool
	lastAction int32
	hasAction  bool
	finished   bool
}

func newRemoteExecutor(ctx context.Context, remote Remote, id string) *remoteExecutor {
	return &remoteExecutor{ctx: ctx, remote: remote, id: id, open: map[int32]bool{}}
}

func (x *remoteExecutor) Close() { x.past = nil }

// Replay implements executor.
func (x *remoteExecutor) Replay(events []*history.Event) error {
	for _, ev := range events {
		x.record(ev)
	}
	return nil
}

// record adds an event to the history and follows the execution's state.
func (x *remoteExecutor) record(ev *history.Event) {
	x.past = append(x.past, ev)
	switch ev.Type {
	case history.ExecutionStarted:
		x.started, x.executionID = true, ev.ExecutionStarted.ExecutionID
	case history.TaskScheduled, history.TimerCreated, history.SubOrchestrationInstanceCreated, history.EventSent:
		if ev.Type != history.EventSent {
			x.open[ev.EventID] = true
		}
		if !x.hasAction || ev.EventID > x.lastAction {
			x.lastAction, x.hasAction = ev.EventID, true
		}
	case history.ExecutionSuspended:
		x.suspended = true
	case history.ExecutionResumed:
		x.suspended = false
	case history.ExecutionCompleted, history.ContinueAsNew, history.ExecutionTerminated:
		x.finished = true
	default:
		if id, ok := ev.TaskScheduledID(); ok {
			delete(x.open, id)
		}
	}
}

// accept picks the events of a turn that belong in the history, as replay.Executor does:
// ExecutionStarted comes first wherever it is; a second ExecutionStarted, a completion of no open
// action (a duplicate or a stale one), a suspension of a suspended execution and a resumption of
// a running one are dropped.
func (x *remoteExecutor) accept(events []*history.Event) (accepted []*history.Event, terminate *history.Event, dropped int) {
	for i, ev := range events {
		if ev.Type == history.ExecutionStarted && i > 0 {
			events = append([]*history.Event{ev}, append(events[:i:i], events[i+1:]...)...)
			break
		}
	}
	started, suspended := x.started, x.suspended
	answered := map[int32]bool{}
	for _, ev := range events {
		ok := false
		switch ev.Type {
		case history.ExecutionStarted:
			ok = !started
			started = true
		case history.ExecutionTerminated:
			if ok = terminate == nil; ok {
				terminate = ev
			}
		case history.ExecutionSuspended:
			ok = started && !suspended
			suspended = true
		case history.ExecutionResumed:
			ok = started && suspended
			suspended = false
		case history.EventRaised:
			ok = started
		default:
			if id, isAnswer := ev.TaskScheduledID(); isAnswer && started && x.open[id] && !answered[id] {
				ok, answered[id] = true, true
			}
		}
		if ok {
			accepted = append(accepted, ev)
		} else {
			dropped++
		}
	}
	return accepted, terminate, dropped
}

// Run implements executor: the worker sees the history and the turn's new events and decides.
// A termination ends the execution here, without a worker.
func (x *remoteExecutor) Run(now time.Time, events []*history.Event) (*replay.Turn, error) {
	now = now.UTC()
	t := &replay.Turn{History: []*history.Event{history.NewOrchestratorStarted(now)}}
	if x.finished {
		t.Dropped = len(events)
		return x.commit(t, now), nil
	}
	accepted, terminate, dropped := x.accept(events)
	t.Dropped = dropped
	switch {
	case terminate != nil:
		t.History = append(t.History, accepted...)
		t.Outcome = replay.Terminated
		t.Output = TerminationOutput(terminate.ExecutionTerminated.Reason)
		return x.commit(t, now), nil
	case len(accepted) == 0:
		t.Suspended = x.suspended
		return x.commit(t, now), nil
	}
	d, err := x.remote.RunTurn(x.ctx, &RemoteTurn{InstanceID: x.id, ExecutionID: x.executionID, Past: x.past,
		New: append([]*history.Event{t.History[0]}, accepted...)})
	if err != nil {
		return nil, err
	}
	t.History = append(t.History, accepted...)
	t.CustomStatus = d.CustomStatus
	if err := x.checkActions(d.Actions); err != nil {
		t.Outcome = replay.Failed
		t.Failure = &history.FailureDetails{ErrorType: "NonDeterminismError", ErrorMessage: err.Error(), NonRetriable: true}
		t.History = append(t.History, history.NewExecutionFailed(now, t.Failure, nil))
		return x.commit(t, now), nil
	}
	t.History = append(t.History, d.Actions...)
	t.Actions = d.Actions
	t.Outcome, t.Output, t.Failure = d.Outcome, d.Output, d.Failure
	switch d.Outcome {
	case replay.Completed:
		t.History = append(t.History, history.NewExecutionCompleted(now, d.Output))
	case replay.Failed:
		t.History = append(t.History, history.NewExecutionFailed(now, d.Failure, d.Output))
	case replay.ContinuedAsNew:
		t.NewInput, t.CarryOver = d.NewInput, d.CarryOver
		t.History = append(t.History, history.NewContinueAsNew(now, d.NewInput))
	case replay.Terminated:
		t.History = append(t.History, history.NewExecutionTerminated(now, string(d.Output)))
	}
	suspended := x.suspended
	for _, ev := range accepted {
		switch ev.Type {
		case history.ExecutionSuspended:
			suspended = true
		case history.ExecutionResumed:
			suspended = false
		}
	}
	t.Suspended = suspended && !d.Outcome.Finished()
	return x.commit(t, now), nil
}

// commit ends the turn: its events become history.
func (x *remoteExecutor) commit(t *replay.Turn, now time.Time) *replay.Turn {
	t.History = append(t.History, history.NewOrchestratorCompleted(now))
	for _, ev := range t.History {
		x.record(ev)
	}
	return t
}

// checkActions refuses actions that do not follow the recorded ones: an SDK that replays
// correctly returns only new actions, numbered after every action of the history.
func (x *remoteExecutor) checkActions(actions []*history.Event) error {
	last, has := x.lastAction, x.hasAction
	for _, a := range actions {
		switch a.Type {
		case history.TaskScheduled, history.TimerCreated, history.SubOrchestrationInstanceCreated, history.EventSent:
		default:
			return fmt.Errorf("the worker returned a %s as an action", a.Type)
		}
		if has && a.EventID <= last {
			return fmt.Errorf("the worker returned action #%d (%s) again or out of order: the history records actions up to #%d; "+
				"the orchestrator's code is not deterministic, or it changed while the instance ran", a.EventID, a.Type, last)
		}
		last, has = a.EventID, true
	}
	return nil
}
