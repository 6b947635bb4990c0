package orca

import (
	"errors"
	"fmt"
)

// ErrTimedOut is the error of a WaitForExternalEvent task whose timeout fired first.
var ErrTimedOut = errors.New("timed out waiting for the event")

// FailureDetails describes a failure of an activity, a sub-orchestration or an orchestration.
type FailureDetails struct {
	// ErrorType is the Go type of the error ("*fs.PathError"), "panic", or a type named by the
	// worker that failed.
	ErrorType string `json:"errorType"`
	// ErrorMessage is the error's text.
	ErrorMessage string `json:"errorMessage"`
	// StackTrace is set for panics.
	StackTrace string `json:"stackTrace,omitempty"`
	// NonRetriable marks failures that retry policies must not retry (see NonRetriable).
	NonRetriable bool `json:"nonRetriable,omitempty"`
}

func (f *FailureDetails) String() string {
	if f.ErrorType == "" {
		return f.ErrorMessage
	}
	return f.ErrorType + ": " + f.ErrorMessage
}

// TaskFailedError is the error of an activity or sub-orchestration task that failed.
type TaskFailedError struct {
	// Name is the activity's or sub-orchestrator's name.
	Name string
	// TaskID is the sequence number of the call.
	TaskID int32
	// Failure says why it failed.
	Failure FailureDetails
}

func (e *TaskFailedError) Error() string {
	return fmt.Sprintf("task %s (#%d) failed: %s", e.Name, e.TaskID, e.Failure.String())
}

// NonDeterminismError fails an instance whose replay did not match its recorded history.
type NonDeterminismError struct {
	InstanceID string
	// Detail names the mismatch: what the history recorded and what the orchestrator did.
	Detail string
}

func (e *NonDeterminismError) Error() string {
	return fmt.Sprintf("non-deterministic orchestrator in instance %s: %s", e.InstanceID, e.Detail)
}

// nonRetriableError marks an error that retry policies must not retry.
type nonRetriableError struct{ err error }

func (e *nonRetriableError) Error() string { return e.err.Error() }
func (e *nonRetriableError) Unwrap() error { return e.err }

// NonRetriable wraps err so that a retry policy does not retry the failure it causes, whatever its
// handler says. Return it from an activity.
func NonRetriable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetriableError{err: err}
}

// IsNonRetriable reports whether err was wrapped with NonRetriable, or is a TaskFailedError whose
// failure was marked non-retriable.
func IsNonRetriable(err error) bool {
	var nr *nonRetriableError
	if errors.As(err, &nr) {
		return true
	}
	var tf *TaskFailedError
	return errors.As(err, &tf) && tf.Failure.NonRetriable
}

// FailureFromError describes err as a FailureDetails.
func FailureFromError(err error) FailureDetails {
	inner := err
	var nr *nonRetriableError
	if errors.As(err, &nr) {
		inner = nr.err
	}
	return FailureDetails{ErrorType: fmt.Sprintf("%T", inner), ErrorMessage: err.Error(), NonRetriable: nr != nil}
}

// OutputError fails an orchestration while still recording an output: return it from an
// orchestrator when the result is partial but worth keeping (the compute orchestrator reports
// every item's outcome and fails when any item failed).
type OutputError struct {
	Output any
	Err    error
}

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// FailWithOutput returns an error that fails the orchestration with err and records output as
// its output.
func FailWithOutput(output any, err error) error { return &OutputError{Output: output, Err: err} }
