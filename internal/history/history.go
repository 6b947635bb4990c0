// Package history defines the events of an orchestration's history: the event-sourced record from
// which an orchestrator function is replayed. Event type names are the Durable Task Framework's and
// are persisted as stable strings; never renumber or rename them (golden fixtures in testdata/ catch
// a format change in review).
package history

import (
	"encoding/json"
	"fmt"
	"time"
)

// Type names an event type. The values are persisted; they are the Durable Task names.
type Type string

// The event types. Their string values are stored in history rows and inbox messages.
const (
	ExecutionStarted                  Type = "ExecutionStarted"
	ExecutionCompleted                Type = "ExecutionCompleted"
	ExecutionTerminated               Type = "ExecutionTerminated"
	ExecutionSuspended                Type = "ExecutionSuspended"
	ExecutionResumed                  Type = "ExecutionResumed"
	ExecutionRewound                  Type = "ExecutionRewound"
	ContinueAsNew                     Type = "ContinueAsNew"
	OrchestratorStarted               Type = "OrchestratorStarted"
	OrchestratorCompleted             Type = "OrchestratorCompleted"
	TaskScheduled                     Type = "TaskScheduled"
	TaskCompleted                     Type = "TaskCompleted"
	TaskFailed                        Type = "TaskFailed"
	TimerCreated                      Type = "TimerCreated"
	TimerFired                        Type = "TimerFired"
	EventRaised                       Type = "EventRaised"
	EventSent                         Type = "EventSent"
	SubOrchestrationInstanceCreated   Type = "SubOrchestrationInstanceCreated"
	SubOrchestrationInstanceCompleted Type = "SubOrchestrationInstanceCompleted"
	SubOrchestrationInstanceFailed    Type = "SubOrchestrationInstanceFailed"
)

// Types lists every event type, in a stable order.
var Types = []Type{
	ExecutionStarted, ExecutionCompleted, ExecutionTerminated, ExecutionSuspended, ExecutionResumed,
	ExecutionRewound, ContinueAsNew, OrchestratorStarted, OrchestratorCompleted, TaskScheduled,
	TaskCompleted, TaskFailed, TimerCreated, TimerFired, EventRaised, EventSent,
	SubOrchestrationInstanceCreated, SubOrchestrationInstanceCompleted, SubOrchestrationInstanceFailed,
}

// Valid reports whether t is a known event type.
func (t Type) Valid() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// IsAction reports whether events of this type record an action the orchestrator took; such events
// carry the action's sequence number in EventID and are matched against the orchestrator's actions
// during replay.
func (t Type) IsAction() bool {
	switch t {
	case TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated, EventSent:
		return true
	}
	return false
}

// NoEventID is the EventID of events that are not actions.
const NoEventID = -1

// Event is one history event. Exactly one of the attribute pointers is set, the one matching Type
// (OrchestratorStarted and OrchestratorCompleted have none).
type Event struct {
	Type Type `json:"type"`
	// EventID is the orchestrator's sequence number for action events (TaskScheduled, TimerCreated,
	// SubOrchestrationInstanceCreated, EventSent) and NoEventID for every other event.
	EventID   int32     `json:"eventId"`
	Timestamp time.Time `json:"timestamp"`

	ExecutionStarted                  *ExecutionStartedAttrs                  `json:"executionStarted,omitempty"`
	ExecutionCompleted                *ExecutionCompletedAttrs                `json:"executionCompleted,omitempty"`
	ExecutionTerminated               *ExecutionTerminatedAttrs               `json:"executionTerminated,omitempty"`
	ExecutionSuspended                *ExecutionSuspendedAttrs                `json:"executionSuspended,omitempty"`
	ExecutionResumed                  *ExecutionResumedAttrs                  `json:"executionResumed,omitempty"`
	ExecutionRewound                  *ExecutionRewoundAttrs                  `json:"executionRewound,omitempty"`
	ContinueAsNew                     *ContinueAsNewAttrs                     `json:"continueAsNew,omitempty"`
	TaskScheduled                     *TaskScheduledAttrs                     `json:"taskScheduled,omitempty"`
	TaskCompleted                     *TaskCompletedAttrs                     `json:"taskCompleted,omitempty"`
	TaskFailed                        *TaskFailedAttrs                        `json:"taskFailed,omitempty"`
	TimerCreated                      *TimerCreatedAttrs                      `json:"timerCreated,omitempty"`
	TimerFired                        *TimerFiredAttrs                        `json:"timerFired,omitempty"`
	EventRaised                       *EventRaisedAttrs                       `json:"eventRaised,omitempty"`
	EventSent                         *EventSentAttrs                         `json:"eventSent,omitempty"`
	SubOrchestrationInstanceCreated   *SubOrchestrationInstanceCreatedAttrs   `json:"subOrchestrationInstanceCreated,omitempty"`
	SubOrchestrationInstanceCompleted *SubOrchestrationInstanceCompletedAttrs `json:"subOrchestrationInstanceCompleted,omitempty"`
	SubOrchestrationInstanceFailed    *SubOrchestrationInstanceFailedAttrs    `json:"subOrchestrationInstanceFailed,omitempty"`
}

// ParentInstance identifies the orchestration that started a sub-orchestration and the action
// (TaskScheduledID) that waits for it.
type ParentInstance struct {
	InstanceID      string `json:"instanceId"`
	ExecutionID     string `json:"executionId"`
	Name            string `json:"name"`
	TaskScheduledID int32  `json:"taskScheduledId"`
}

// FailureDetails describes why a task, a sub-orchestration or an orchestration failed.
type FailureDetails struct {
	ErrorType    string          `json:"errorType"`
	ErrorMessage string          `json:"errorMessage"`
	StackTrace   string          `json:"stackTrace,omitempty"`
	NonRetriable bool            `json:"nonRetriable,omitempty"`
	Inner        *FailureDetails `json:"inner,omitempty"`
}

// String renders the failure as "type: message".
func (f *FailureDetails) String() string {
	if f == nil {
		return ""
	}
	if f.ErrorType == "" {
		return f.ErrorMessage
	}
	return f.ErrorType + ": " + f.ErrorMessage
}

// ExecutionStartedAttrs starts an execution (a generation) of an orchestration.
type ExecutionStartedAttrs struct {
	Name        string          `json:"name"`
	ExecutionID string          `json:"executionId"`
	Input       json.RawMessage `json:"input,omitempty"`
	Parent      *ParentInstance `json:"parent,omitempty"`
	// Generation counts the executions of this instance id: 0 for the first, +1 per ContinueAsNew.
	Generation int `json:"generation,omitempty"`
}

// Orchestration outcome names recorded in ExecutionCompleted.
const (
	OutcomeCompleted = "Completed"
	OutcomeFailed    = "Failed"
)

// ExecutionCompletedAttrs records the orchestrator's return: Completed with a result, or Failed
// with a failure (and a result when the orchestrator failed with orca.FailWithOutput).
type ExecutionCompletedAttrs struct {
	Status  string          `json:"status"`
	Result  json.RawMessage `json:"result,omitempty"`
	Failure *FailureDetails `json:"failure,omitempty"`
}

// ExecutionTerminatedAttrs records a terminate request; Reason becomes the instance's output.
type ExecutionTerminatedAttrs struct {
	Reason string `json:"reason,omitempty"`
}

// ExecutionSuspendedAttrs records a suspend request.
type ExecutionSuspendedAttrs struct {
	Reason string `json:"reason,omitempty"`
}

// ExecutionResumedAttrs records a resume request.
type ExecutionResumedAttrs struct {
	Reason string `json:"reason,omitempty"`
}

// ExecutionRewoundAttrs records that a failed instance was rewound; history after the failure was cut.
type ExecutionRewoundAttrs struct {
	Reason string `json:"reason,omitempty"`
}

// ContinueAsNewAttrs records that the orchestrator restarted itself with a new input.
type ContinueAsNewAttrs struct {
	Input json.RawMessage `json:"input,omitempty"`
}

// TaskScheduledAttrs records a scheduled activity.
type TaskScheduledAttrs struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input,omitempty"`
}

// TaskCompletedAttrs records an activity's result.
type TaskCompletedAttrs struct {
	TaskScheduledID int32           `json:"taskScheduledId"`
	Result          json.RawMessage `json:"result,omitempty"`
}

// TaskFailedAttrs records an activity's failure.
type TaskFailedAttrs struct {
	TaskScheduledID int32           `json:"taskScheduledId"`
	Failure         *FailureDetails `json:"failure"`
}

// TimerCreatedAttrs records a durable timer.
type TimerCreatedAttrs struct {
	FireAt time.Time `json:"fireAt"`
}

// TimerFiredAttrs records that the timer TimerID (its TimerCreated EventID) fired.
type TimerFiredAttrs struct {
	TimerID int32     `json:"timerId"`
	FireAt  time.Time `json:"fireAt"`
}

// EventRaisedAttrs records an external event delivered to the instance.
type EventRaisedAttrs struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input,omitempty"`
}

// EventSentAttrs records an event the orchestrator sent to another instance.
type EventSentAttrs struct {
	InstanceID string          `json:"instanceId"`
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input,omitempty"`
}

// SubOrchestrationInstanceCreatedAttrs records a started sub-orchestration.
type SubOrchestrationInstanceCreatedAttrs struct {
	Name       string          `json:"name"`
	InstanceID string          `json:"instanceId"`
	Input      json.RawMessage `json:"input,omitempty"`
}

// SubOrchestrationInstanceCompletedAttrs records a sub-orchestration's result.
type SubOrchestrationInstanceCompletedAttrs struct {
	TaskScheduledID int32           `json:"taskScheduledId"`
	Result          json.RawMessage `json:"result,omitempty"`
}

// SubOrchestrationInstanceFailedAttrs records a sub-orchestration's failure.
type SubOrchestrationInstanceFailedAttrs struct {
	TaskScheduledID int32           `json:"taskScheduledId"`
	Failure         *FailureDetails `json:"failure"`
}

// Validate checks that the event has a known type and exactly the attributes that type needs.
func (e *Event) Validate() error {
	if !e.Type.Valid() {
		return fmt.Errorf("unknown event type %q", e.Type)
	}
	set := e.attrsSet()
	want := 1
	if e.Type == OrchestratorStarted || e.Type == OrchestratorCompleted {
		want = 0
	}
	if len(set) != want || (want == 1 && set[0] != e.Type) {
		return fmt.Errorf("event %s has attributes %v", e.Type, set)
	}
	if e.Type.IsAction() != (e.EventID >= 0) {
		return fmt.Errorf("event %s has event id %d", e.Type, e.EventID)
	}
	return nil
}

func (e *Event) attrsSet() []Type {
	var set []Type
	add := func(ok bool, t Type) {
		if ok {
			set = append(set, t)
		}
	}
	add(e.ExecutionStarted != nil, ExecutionStarted)
	add(e.ExecutionCompleted != nil, ExecutionCompleted)
	add(e.ExecutionTerminated != nil, ExecutionTerminated)
	add(e.ExecutionSuspended != nil, ExecutionSuspended)
	add(e.ExecutionResumed != nil, ExecutionResumed)
	add(e.ExecutionRewound != nil, ExecutionRewound)
	add(e.ContinueAsNew != nil, ContinueAsNew)
	add(e.TaskScheduled != nil, TaskScheduled)
	add(e.TaskCompleted != nil, TaskCompleted)
	add(e.TaskFailed != nil, TaskFailed)
	add(e.TimerCreated != nil, TimerCreated)
	add(e.TimerFired != nil, TimerFired)
	add(e.EventRaised != nil, EventRaised)
	add(e.EventSent != nil, EventSent)
	add(e.SubOrchestrationInstanceCreated != nil, SubOrchestrationInstanceCreated)
	add(e.SubOrchestrationInstanceCompleted != nil, SubOrchestrationInstanceCompleted)
	add(e.SubOrchestrationInstanceFailed != nil, SubOrchestrationInstanceFailed)
	return set
}

// Marshal encodes an event in its persisted JSON form.
func Marshal(e *Event) ([]byte, error) {
	return json.Marshal(e)
}

// Unmarshal decodes and validates an event in its persisted JSON form.
func Unmarshal(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode history event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("decode history event: %w", err)
	}
	return &e, nil
}

// TaskScheduledID returns the action id a completion-type event refers to (TaskCompleted,
// TaskFailed, TimerFired, SubOrchestrationInstanceCompleted/Failed), and false for other events.
func (e *Event) TaskScheduledID() (int32, bool) {
	switch e.Type {
	case TaskCompleted:
		return e.TaskCompleted.TaskScheduledID, true
	case TaskFailed:
		return e.TaskFailed.TaskScheduledID, true
	case TimerFired:
		return e.TimerFired.TimerID, true
	case SubOrchestrationInstanceCompleted:
		return e.SubOrchestrationInstanceCompleted.TaskScheduledID, true
	case SubOrchestrationInstanceFailed:
		return e.SubOrchestrationInstanceFailed.TaskScheduledID, true
	}
	return 0, false
}
