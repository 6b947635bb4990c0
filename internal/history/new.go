package history

import (
	"encoding/json"
	"time"
)

// Constructors for the events the engine and the executor create. Every event time is UTC.

func base(t Type, id int32, ts time.Time) *Event {
	return &Event{Type: t, EventID: id, Timestamp: ts.UTC()}
}

// NewOrchestratorStarted marks the start of a turn; its timestamp is the turn's current time.
func NewOrchestratorStarted(ts time.Time) *Event { return base(OrchestratorStarted, NoEventID, ts) }

// NewOrchestratorCompleted marks the end of a turn.
func NewOrchestratorCompleted(ts time.Time) *Event {
	return base(OrchestratorCompleted, NoEventID, ts)
}

// NewExecutionStarted starts an execution.
func NewExecutionStarted(ts time.Time, a ExecutionStartedAttrs) *Event {
	e := base(ExecutionStarted, NoEventID, ts)
	e.ExecutionStarted = &a
	return e
}

// NewExecutionCompleted records a completed orchestration and its result.
func NewExecutionCompleted(ts time.Time, result json.RawMessage) *Event {
	e := base(ExecutionCompleted, NoEventID, ts)
	e.ExecutionCompleted = &ExecutionCompletedAttrs{Status: OutcomeCompleted, Result: result}
	return e
}

// NewExecutionFailed records a failed orchestration (result is usually empty).
func NewExecutionFailed(ts time.Time, f *FailureDetails, result json.RawMessage) *Event {
	e := base(ExecutionCompleted, NoEventID, ts)
	e.ExecutionCompleted = &ExecutionCompletedAttrs{Status: OutcomeFailed, Failure: f, Result: result}
	return e
}

// NewExecutionTerminated requests termination.
func NewExecutionTerminated(ts time.Time, reason string) *Event {
	e := base(ExecutionTerminated, NoEventID, ts)
	e.ExecutionTerminated = &ExecutionTerminatedAttrs{Reason: reason}
	return e
}

// NewExecutionSuspended requests suspension.
func NewExecutionSuspended(ts time.Time, reason string) *Event {
	e := base(ExecutionSuspended, NoEventID, ts)
	e.ExecutionSuspended = &ExecutionSuspendedAttrs{Reason: reason}
	return e
}

// NewExecutionResumed requests resumption.
func NewExecutionResumed(ts time.Time, reason string) *Event {
	e := base(ExecutionResumed, NoEventID, ts)
	e.ExecutionResumed = &ExecutionResumedAttrs{Reason: reason}
	return e
}

// NewExecutionRewound marks a rewind.
func NewExecutionRewound(ts time.Time, reason string) *Event {
	e := base(ExecutionRewound, NoEventID, ts)
	e.ExecutionRewound = &ExecutionRewoundAttrs{Reason: reason}
	return e
}

// NewContinueAsNew records a continue-as-new with the next execution's input.
func NewContinueAsNew(ts time.Time, input json.RawMessage) *Event {
	e := base(ContinueAsNew, NoEventID, ts)
	e.ContinueAsNew = &ContinueAsNewAttrs{Input: input}
	return e
}

// NewTaskScheduled records action id: a call of activity name.
func NewTaskScheduled(ts time.Time, id int32, name string, input json.RawMessage) *Event {
	e := base(TaskScheduled, id, ts)
	e.TaskScheduled = &TaskScheduledAttrs{Name: name, Input: input}
	return e
}

// NewTaskCompleted delivers the result of action id.
func NewTaskCompleted(ts time.Time, id int32, result json.RawMessage) *Event {
	e := base(TaskCompleted, NoEventID, ts)
	e.TaskCompleted = &TaskCompletedAttrs{TaskScheduledID: id, Result: result}
	return e
}

// NewTaskFailed delivers the failure of action id.
func NewTaskFailed(ts time.Time, id int32, f *FailureDetails) *Event {
	e := base(TaskFailed, NoEventID, ts)
	e.TaskFailed = &TaskFailedAttrs{TaskScheduledID: id, Failure: f}
	return e
}

// NewTimerCreated records action id: a timer firing at fireAt.
func NewTimerCreated(ts time.Time, id int32, fireAt time.Time) *Event {
	e := base(TimerCreated, id, ts)
	e.TimerCreated = &TimerCreatedAttrs{FireAt: fireAt.UTC()}
	return e
}

// NewTimerFired delivers the firing of timer id.
func NewTimerFired(ts time.Time, id int32, fireAt time.Time) *Event {
	e := base(TimerFired, NoEventID, ts)
	e.TimerFired = &TimerFiredAttrs{TimerID: id, FireAt: fireAt.UTC()}
	return e
}

// NewEventRaised delivers an external event.
func NewEventRaised(ts time.Time, name string, input json.RawMessage) *Event {
	e := base(EventRaised, NoEventID, ts)
	e.EventRaised = &EventRaisedAttrs{Name: name, Input: input}
	return e
}

// NewEventSent records action id: an event sent to another instance.
func NewEventSent(ts time.Time, id int32, instanceID, name string, input json.RawMessage) *Event {
	e := base(EventSent, id, ts)
	e.EventSent = &EventSentAttrs{InstanceID: instanceID, Name: name, Input: input}
	return e
}

// NewSubOrchestrationCreated records action id: a started sub-orchestration.
func NewSubOrchestrationCreated(ts time.Time, id int32, name, instanceID string, input json.RawMessage) *Event {
	e := base(SubOrchestrationInstanceCreated, id, ts)
	e.SubOrchestrationInstanceCreated = &SubOrchestrationInstanceCreatedAttrs{Name: name, InstanceID: instanceID, Input: input}
	return e
}

// NewSubOrchestrationCompleted delivers a sub-orchestration's result to its parent's action id.
func NewSubOrchestrationCompleted(ts time.Time, id int32, result json.RawMessage) *Event {
	e := base(SubOrchestrationInstanceCompleted, NoEventID, ts)
	e.SubOrchestrationInstanceCompleted = &SubOrchestrationInstanceCompletedAttrs{TaskScheduledID: id, Result: result}
	return e
}

// NewSubOrchestrationFailed delivers a sub-orchestration's failure to its parent's action id.
func NewSubOrchestrationFailed(ts time.Time, id int32, f *FailureDetails) *Event {
	e := base(SubOrchestrationInstanceFailed, NoEventID, ts)
	e.SubOrchestrationInstanceFailed = &SubOrchestrationInstanceFailedAttrs{TaskScheduledID: id, Failure: f}
	return e
}
