package dtgrpc

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
	"github.com/orcahq/orca/internal/store"
)

// The protocol carries payloads as JSON text in StringValues, where unset and "" both mean
// none; orca keeps them as json.RawMessage, empty for none.

func str(raw json.RawMessage) *wrapperspb.StringValue {
	if len(raw) == 0 {
		return nil
	}
	return wrapperspb.String(string(raw))
}

func text(s string) *wrapperspb.StringValue {
	if s == "" {
		return nil
	}
	return wrapperspb.String(s)
}

func raw(v *wrapperspb.StringValue) json.RawMessage {
	if v.GetValue() == "" {
		return nil
	}
	return json.RawMessage(v.GetValue())
}

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// when reads a timestamp; the epoch, which the SDKs send for "unset", is the zero time.
func when(ts *timestamppb.Timestamp) time.Time {
	if ts == nil || (ts.Seconds == 0 && ts.Nanos == 0) {
		return time.Time{}
	}
	return ts.AsTime()
}

func failureOut(f *history.FailureDetails) *dtpb.TaskFailureDetails {
	if f == nil {
		return nil
	}
	return &dtpb.TaskFailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: text(f.StackTrace),
		InnerFailure: failureOut(f.Inner), IsNonRetriable: f.NonRetriable}
}

// failureIn reads a worker's failure; nesting beyond depth is cut (the SDK nests 10 deep).
func failureIn(f *dtpb.TaskFailureDetails) *history.FailureDetails {
	return failureDepth(f, 0)
}

func failureDepth(f *dtpb.TaskFailureDetails, depth int) *history.FailureDetails {
	if f == nil || depth > 16 {
		return nil
	}
	return &history.FailureDetails{ErrorType: f.GetErrorType(), ErrorMessage: f.GetErrorMessage(),
		StackTrace: f.GetStackTrace().GetValue(), NonRetriable: f.GetIsNonRetriable(), Inner: failureDepth(f.GetInnerFailure(), depth+1)}
}

// eventOut renders a history event for a worker; events the protocol has no use for
// (ExecutionRewound) come back nil.
func eventOut(ev *history.Event, instanceID string) *dtpb.HistoryEvent {
	out := &dtpb.HistoryEvent{EventId: ev.EventID, Timestamp: timestamppb.New(ev.Timestamp)}
	switch ev.Type {
	case history.ExecutionStarted:
		a := ev.ExecutionStarted
		es := &dtpb.ExecutionStartedEvent{Name: a.Name, Input: str(a.Input),
			OrchestrationInstance: &dtpb.OrchestrationInstance{InstanceId: instanceID, ExecutionId: text(a.ExecutionID)}}
		if p := a.Parent; p != nil {
			es.ParentInstance = &dtpb.ParentInstanceInfo{TaskScheduledId: p.TaskScheduledID, Name: text(p.Name),
				OrchestrationInstance: &dtpb.OrchestrationInstance{InstanceId: p.InstanceID, ExecutionId: text(p.ExecutionID)}}
		}
		out.EventType = &dtpb.HistoryEvent_ExecutionStarted{ExecutionStarted: es}
	case history.ExecutionCompleted:
		a := ev.ExecutionCompleted
		st := dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED
		if a.Status == history.OutcomeFailed {
			st = dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED
		}
		out.EventType = &dtpb.HistoryEvent_ExecutionCompleted{ExecutionCompleted: &dtpb.ExecutionCompletedEvent{
			OrchestrationStatus: st, Result: str(a.Result), FailureDetails: failureOut(a.Failure)}}
	case history.ExecutionTerminated:
		out.EventType = &dtpb.HistoryEvent_ExecutionTerminated{ExecutionTerminated: &dtpb.ExecutionTerminatedEvent{
			Input: str(engine.TerminationOutput(ev.ExecutionTerminated.Reason))}}
	case history.ExecutionSuspended:
		out.EventType = &dtpb.HistoryEvent_ExecutionSuspended{ExecutionSuspended: &dtpb.ExecutionSuspendedEvent{
			Input: text(ev.ExecutionSuspended.Reason)}}
	case history.ExecutionResumed:
		out.EventType = &dtpb.HistoryEvent_ExecutionResumed{ExecutionResumed: &dtpb.ExecutionResumedEvent{
			Input: text(ev.ExecutionResumed.Reason)}}
	case history.ContinueAsNew:
		out.EventType = &dtpb.HistoryEvent_ContinueAsNew{ContinueAsNew: &dtpb.ContinueAsNewEvent{Input: str(ev.ContinueAsNew.Input)}}
	case history.OrchestratorStarted:
		out.EventType = &dtpb.HistoryEvent_OrchestratorStarted{OrchestratorStarted: &dtpb.OrchestratorStartedEvent{}}
	case history.OrchestratorCompleted:
		out.EventType = &dtpb.HistoryEvent_OrchestratorCompleted{OrchestratorCompleted: &dtpb.OrchestratorCompletedEvent{}}
	case history.TaskScheduled:
		a := ev.TaskScheduled
		out.EventType = &dtpb.HistoryEvent_TaskScheduled{TaskScheduled: &dtpb.TaskScheduledEvent{Name: a.Name, Input: str(a.Input)}}
	case history.TaskCompleted:
		a := ev.TaskCompleted
		out.EventType = &dtpb.HistoryEvent_TaskCompleted{TaskCompleted: &dtpb.TaskCompletedEvent{
			TaskScheduledId: a.TaskScheduledID, Result: str(a.Result)}}
	case history.TaskFailed:
		a := ev.TaskFailed
		out.EventType = &dtpb.HistoryEvent_TaskFailed{TaskFailed: &dtpb.TaskFailedEvent{
			TaskScheduledId: a.TaskScheduledID, FailureDetails: failureOut(a.Failure)}}
	case history.TimerCreated:
		out.EventType = &dtpb.HistoryEvent_TimerCreated{TimerCreated: &dtpb.TimerCreatedEvent{FireAt: stamp(ev.TimerCreated.FireAt)}}
	case history.TimerFired:
		a := ev.TimerFired
		out.EventType = &dtpb.HistoryEvent_TimerFired{TimerFired: &dtpb.TimerFiredEvent{TimerId: a.TimerID, FireAt: stamp(a.FireAt)}}
	case history.EventRaised:
		a := ev.EventRaised
		out.EventType = &dtpb.HistoryEvent_EventRaised{EventRaised: &dtpb.EventRaisedEvent{Name: a.Name, Input: str(a.Input)}}
	case history.EventSent:
		a := ev.EventSent
		out.EventType = &dtpb.HistoryEvent_EventSent{EventSent: &dtpb.EventSentEvent{InstanceId: a.InstanceID, Name: a.Name, Input: str(a.Input)}}
	case history.SubOrchestrationInstanceCreated:
		a := ev.SubOrchestrationInstanceCreated
		out.EventType = &dtpb.HistoryEvent_SubOrchestrationInstanceCreated{SubOrchestrationInstanceCreated: &dtpb.SubOrchestrationInstanceCreatedEvent{
			InstanceId: a.InstanceID, Name: a.Name, Input: str(a.Input)}}
	case history.SubOrchestrationInstanceCompleted:
		a := ev.SubOrchestrationInstanceCompleted
		out.EventType = &dtpb.HistoryEvent_SubOrchestrationInstanceCompleted{SubOrchestrationInstanceCompleted: &dtpb.SubOrchestrationInstanceCompletedEvent{
			TaskScheduledId: a.TaskScheduledID, Result: str(a.Result)}}
	case history.SubOrchestrationInstanceFailed:
		a := ev.SubOrchestrationInstanceFailed
		out.EventType = &dtpb.HistoryEvent_SubOrchestrationInstanceFailed{SubOrchestrationInstanceFailed: &dtpb.SubOrchestrationInstanceFailedEvent{
			TaskScheduledId: a.TaskScheduledID, FailureDetails: failureOut(a.Failure)}}
	default:
		return nil
	}
	return out
}

// pastOut renders the history a turn replays. Every turn replays the whole history, so it leaves
// out what the SDKs do not read when they replay: the OrchestratorCompleted events (a quarter of a
// sequence's history) and the inputs of past TaskScheduled events (@microsoft/durabletask-js
// 0.4.0 checks a recorded TaskScheduled's event id and name only; its tracing reads the name,
// the version and the timestamp). A history read (eventsOut) gets everything.
func pastOut(events []*history.Event, instanceID string) []*dtpb.HistoryEvent {
	out := make([]*dtpb.HistoryEvent, 0, len(events))
	for _, ev := range events {
		if ev.Type == history.OrchestratorCompleted {
			continue
		}
		if e := eventOut(ev, instanceID); e != nil {
			if ts := e.GetTaskScheduled(); ts != nil {
				ts.Input = nil
			}
			out = append(out, e)
		}
	}
	return out
}

func eventsOut(events []*history.Event, instanceID string) []*dtpb.HistoryEvent {
	out := make([]*dtpb.HistoryEvent, 0, len(events))
	for _, ev := range events {
		if e := eventOut(ev, instanceID); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// decide turns a worker's OrchestratorResponse into the engine's RemoteDecision. A response
// orca cannot carry out (an unknown action, a malformed one) is an error that fails the
// orchestration with a clear message.
func decide(resp *dtpb.OrchestratorResponse, now time.Time) (*engine.RemoteDecision, error) {
	d := &engine.RemoteDecision{CustomStatus: raw(resp.GetCustomStatus())}
	for _, a := range resp.GetActions() {
		id := a.GetId()
		switch x := a.GetOrchestratorActionType().(type) {
		case *dtpb.OrchestratorAction_ScheduleTask:
			if x.ScheduleTask.GetName() == "" {
				return nil, fmt.Errorf("action #%d schedules an activity without a name", id)
			}
			d.Actions = append(d.Actions, history.NewTaskScheduled(now, id, x.ScheduleTask.GetName(), raw(x.ScheduleTask.GetInput())))
		case *dtpb.OrchestratorAction_CreateTimer:
			fire := when(x.CreateTimer.GetFireAt())
			if fire.IsZero() {
				return nil, fmt.Errorf("action #%d creates a timer without a fireAt", id)
			}
			d.Actions = append(d.Actions, history.NewTimerCreated(now, id, fire))
		case *dtpb.OrchestratorAction_CreateSubOrchestration:
			s := x.CreateSubOrchestration
			if s.GetName() == "" || s.GetInstanceId() == "" {
				return nil, fmt.Errorf("action #%d creates a sub-orchestration without a name or an instance id", id)
			}
			d.Actions = append(d.Actions, history.NewSubOrchestrationCreated(now, id, s.GetName(), s.GetInstanceId(), raw(s.GetInput())))
		case *dtpb.OrchestratorAction_SendEvent:
			s := x.SendEvent
			if s.GetInstance().GetInstanceId() == "" || s.GetName() == "" {
				return nil, fmt.Errorf("action #%d sends an event without an instance id or a name", id)
			}
			d.Actions = append(d.Actions, history.NewEventSent(now, id, s.GetInstance().GetInstanceId(), s.GetName(), raw(s.GetData())))
		case *dtpb.OrchestratorAction_CompleteOrchestration:
			if err := complete(d, x.CompleteOrchestration, now); err != nil {
				return nil, fmt.Errorf("action #%d: %w", id, err)
			}
		default:
			return nil, fmt.Errorf("action #%d is of a kind orca does not serve (%T)", id, x)
		}
	}
	return d, nil
}

// complete reads a CompleteOrchestration action of the turn at now into d.
func complete(d *engine.RemoteDecision, c *dtpb.CompleteOrchestrationAction, now time.Time) error {
	switch c.GetOrchestrationStatus() {
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED:
		d.Outcome, d.Output = replay.Completed, raw(c.GetResult())
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED:
		d.Outcome, d.Failure = replay.Failed, failureIn(c.GetFailureDetails())
		if d.Failure == nil {
			d.Failure = &history.FailureDetails{ErrorType: "OrchestrationFailed", ErrorMessage: "the orchestrator failed without details"}
		}
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_TERMINATED:
		d.Outcome, d.Output = replay.Terminated, raw(c.GetResult())
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
		d.Outcome, d.NewInput = replay.ContinuedAsNew, raw(c.GetResult())
		for _, ev := range c.GetCarryoverEvents() {
			if r := ev.GetEventRaised(); r != nil {
				d.CarryOver = append(d.CarryOver, history.NewEventRaised(now, r.GetName(), raw(r.GetInput())))
			}
		}
	default:
		return fmt.Errorf("completes the orchestration as %s, which is not an ending", c.GetOrchestrationStatus())
	}
	return nil
}

// statusOut is the protocol's status of an instance. ContinuedAsNew is reported Running (the
// next execution is on its way), as the SDKs' own backends do.
func statusOut(s store.Status) dtpb.OrchestrationStatus {
	switch s {
	case store.StatusPending:
		return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_PENDING
	case store.StatusCompleted:
		return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED
	case store.StatusFailed:
		return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED
	case store.StatusTerminated:
		return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_TERMINATED
	case store.StatusSuspended:
		return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_SUSPENDED
	}
	return dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_RUNNING
}

// statusIn is the store's status for a protocol status in a query; ok is false for one orca
// has no instances in (CANCELED).
func statusIn(s dtpb.OrchestrationStatus) (store.Status, bool) {
	switch s {
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_RUNNING:
		return store.StatusRunning, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED:
		return store.StatusCompleted, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
		return store.StatusContinuedAsNew, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED:
		return store.StatusFailed, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_TERMINATED:
		return store.StatusTerminated, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_PENDING:
		return store.StatusPending, true
	case dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_SUSPENDED:
		return store.StatusSuspended, true
	}
	return "", false
}

// stateOut renders an instance; payloads only when asked for, as the protocol says.
func stateOut(in *store.Instance, payloads bool) *dtpb.OrchestrationState {
	st := &dtpb.OrchestrationState{InstanceId: in.ID, Name: in.Name, OrchestrationStatus: statusOut(in.Status),
		CreatedTimestamp: stamp(in.CreatedAt), LastUpdatedTimestamp: stamp(in.UpdatedAt), ExecutionId: text(in.ExecutionID),
		CustomStatus: str(in.CustomStatus), FailureDetails: failureOut(in.Failure)}
	if in.Status.Finished() {
		st.CompletedTimestamp = stamp(in.UpdatedAt)
	}
	if in.Parent != nil {
		st.ParentInstanceId = text(in.Parent.InstanceID)
	}
	if payloads {
		st.Input, st.Output = str(in.Input), str(in.Output)
	}
	return st
}
