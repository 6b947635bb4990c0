package orca

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Orchestrator is an orchestrator function. Its result is marshalled to JSON and becomes the
// instance's output; a non-nil error fails the instance.
type Orchestrator func(ctx OrchestrationContext) (any, error)

// Activity is an activity function. Its result is marshalled to JSON and delivered to the
// orchestrator that called it; a non-nil error fails the call (see [TaskFailedError]).
type Activity func(ctx ActivityContext) (any, error)

// OrchestrationContext is what an orchestrator function sees of the engine. It is not a
// context.Context: time, GUIDs and results come from the history so that replay is deterministic.
// Its methods must only be called from the orchestrator function's own goroutine.
type OrchestrationContext interface {
	// InstanceID returns the id of the running instance.
	InstanceID() string
	// Name returns the orchestrator's registered name.
	Name() string
	// Input unmarshals the instance's input into v.
	Input(v any) error
	// CurrentTime returns the deterministic current time: the time the current turn started, as
	// recorded in the history.
	CurrentTime() time.Time
	// IsReplaying reports whether the function is re-running recorded history.
	IsReplaying() bool
	// NewGUID returns a deterministic, unique GUID (a UUID v5 derived from the instance id, the
	// current time and a counter).
	NewGUID() string
	// Logger returns a logger that is silent while the function is replaying.
	Logger() *slog.Logger
	// SetCustomStatus sets the instance's custom status (any JSON value; nil clears it).
	SetCustomStatus(v any) error

	// CallActivity schedules the activity name with input and returns its task. Await the task for
	// the result; a failure is a *TaskFailedError.
	CallActivity(name string, input any, opts ...CallOption) Task
	// CallSubOrchestrator starts the orchestrator name as a child instance and returns a task that
	// completes with the child's output. The child's id is WithInstanceID's, or derived from this
	// instance's id and the action's sequence number.
	CallSubOrchestrator(name string, input any, opts ...CallOption) Task
	// CreateTimer returns a task that completes d after CurrentTime. Timers are durable.
	CreateTimer(d time.Duration) Task
	// WaitForExternalEvent returns a task that completes with the next event of that name raised
	// to the instance. Events are buffered durably from the moment the instance exists and delivered
	// first in, first out per name; names are case-insensitive. With WaitTimeout the task fails with
	// ErrTimedOut when no event arrives in time.
	WaitForExternalEvent(name string, opts ...WaitOption) Task
	// SendEvent raises the event name with data on another instance.
	SendEvent(instanceID, name string, data any) error
	// ContinueAsNew ends this execution once the function returns and starts a fresh one with a
	// new input and an empty history. Events received but not yet consumed are carried over to
	// the new execution unless DiscardUnprocessedEvents is given. The function's return value is
	// ignored.
	ContinueAsNew(input any, opts ...ContinueAsNewOption)

	// WhenAll returns a task that completes when every task has completed. Await(&slice) fills
	// slice with the results in order; the error is the first failure in task order, if any.
	WhenAll(tasks ...Task) Task
	// WhenAny returns a task that completes when the first of tasks completes. Await(&i) with
	// an int sets the index of that task; its own outcome is read by awaiting it.
	WhenAny(tasks ...Task) Task
}

// Task is the pending result of an action taken by an orchestrator.
type Task interface {
	// Await blocks the orchestrator until the task completes, then unmarshals the result into v
	// (v may be nil) or returns the task's error.
	Await(v any) error
	// Done reports whether the task has completed.
	Done() bool
}

// ActivityContext is what an activity function sees. It is a context.Context that is cancelled
// when the activity's lease is lost or the process shuts down.
type ActivityContext interface {
	context.Context
	// Input unmarshals the activity's input into v.
	Input(v any) error
	// Name returns the activity's registered name.
	Name() string
	// InstanceID returns the id of the orchestration that called the activity.
	InstanceID() string
	// TaskID returns the sequence number of the call within the orchestration (its TaskScheduled
	// event id); together with InstanceID it identifies the call across redeliveries.
	TaskID() int32
	// Attempt returns how many times this call has been handed to a worker, starting at 1. A value
	// above 1 means an earlier delivery was lost (a crash or an expired lease).
	Attempt() int
	// Logger returns a logger carrying the instance and task ids.
	Logger() *slog.Logger
}

// CallOptions are the resolved options of CallActivity and CallSubOrchestrator.
type CallOptions struct {
	// Retry retries failed attempts; nil means a single attempt.
	Retry *RetryPolicy
	// InstanceID is the child instance id of a sub-orchestration; empty derives one.
	InstanceID string
}

// CallOption configures CallActivity or CallSubOrchestrator.
type CallOption func(*CallOptions)

// WithRetry retries failed attempts according to p.
func WithRetry(p RetryPolicy) CallOption {
	return func(o *CallOptions) { o.Retry = &p }
}

// WithInstanceID sets a sub-orchestration's instance id. It has no meaning for activities: a
// CallActivity with it fails at once.
func WithInstanceID(id string) CallOption {
	return func(o *CallOptions) { o.InstanceID = id }
}

// WaitOptions are the resolved options of WaitForExternalEvent.
type WaitOptions struct {
	// Timeout bounds the wait; 0 waits forever.
	Timeout time.Duration
}

// WaitOption configures WaitForExternalEvent.
type WaitOption func(*WaitOptions)

// WaitTimeout fails the wait with ErrTimedOut when no event arrives within d (a durable timer).
func WaitTimeout(d time.Duration) WaitOption {
	return func(o *WaitOptions) { o.Timeout = d }
}

// ContinueAsNewOptions are the resolved options of ContinueAsNew.
type ContinueAsNewOptions struct {
	// DiscardUnprocessedEvents drops events received but not consumed instead of carrying them
	// over to the new execution.
	DiscardUnprocessedEvents bool
}

// ContinueAsNewOption configures ContinueAsNew.
type ContinueAsNewOption func(*ContinueAsNewOptions)

// DiscardUnprocessedEvents drops the events that were received but not consumed.
func DiscardUnprocessedEvents() ContinueAsNewOption {
	return func(o *ContinueAsNewOptions) { o.DiscardUnprocessedEvents = true }
}

// Registry maps names to orchestrator and activity functions, and names the activities other
// hosts of the task hub run (AddRemoteActivity). It is safe for concurrent use.
type Registry struct {
	mu            sync.RWMutex
	orchestrators map[string]Orchestrator
	activities    map[string]Activity
	remote        map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{orchestrators: map[string]Orchestrator{}, activities: map[string]Activity{}, remote: map[string]bool{}}
}

// AddOrchestrator registers an orchestrator under name. Names are unique per kind.
func (r *Registry) AddOrchestrator(name string, fn Orchestrator) error {
	if err := checkRegistration("orchestrator", name, fn == nil); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.orchestrators[name]; ok {
		return fmt.Errorf("register orchestrator %q: already registered", name)
	}
	r.orchestrators[name] = fn
	return nil
}

// AddActivity registers an activity under name. Names are unique per kind.
func (r *Registry) AddActivity(name string, fn Activity) error {
	if err := checkRegistration("activity", name, fn == nil); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkActivityNameLocked("activity", name); err != nil {
		return err
	}
	r.activities[name] = fn
	return nil
}

// AddRemoteActivity declares an activity that another host of the task hub runs (one whose
// registry has its function, such as an activities-only host): the orchestrators here may call
// it, and each call waits in the store, pending, until such a host takes it. Calling a name
// that is neither registered nor declared still fails the call with ActivityNotFound, so a typo
// does not wait forever. A name is either an activity here or a remote one.
func (r *Registry) AddRemoteActivity(name string) error {
	if err := checkRegistration("remote activity", name, false); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkActivityNameLocked("remote activity", name); err != nil {
		return err
	}
	r.remote[name] = true
	return nil
}

func (r *Registry) checkActivityNameLocked(kind, name string) error {
	if _, ok := r.activities[name]; ok {
		return fmt.Errorf("register %s %q: already registered", kind, name)
	}
	if r.remote[name] {
		return fmt.Errorf("register %s %q: already declared remote", kind, name)
	}
	return nil
}

// MustAddOrchestrator is AddOrchestrator for registrations at program start: it panics on the
// error (an empty or too long name, a nil function, a name registered twice).
func (r *Registry) MustAddOrchestrator(name string, fn Orchestrator) *Registry {
	if err := r.AddOrchestrator(name, fn); err != nil {
		panic("orca: " + err.Error())
	}
	return r
}

// MustAddActivity is AddActivity for registrations at program start: it panics on the error.
func (r *Registry) MustAddActivity(name string, fn Activity) *Registry {
	if err := r.AddActivity(name, fn); err != nil {
		panic("orca: " + err.Error())
	}
	return r
}

// MustAddRemoteActivity is AddRemoteActivity for declarations at program start: it panics on
// the error.
func (r *Registry) MustAddRemoteActivity(name string) *Registry {
	if err := r.AddRemoteActivity(name); err != nil {
		panic("orca: " + err.Error())
	}
	return r
}

func checkRegistration(kind, name string, nilFunc bool) error {
	switch {
	case name == "":
		return fmt.Errorf("register %s: empty name", kind)
	case len(name) > MaxNameLength:
		return fmt.Errorf("register %s %.32q...: name longer than %d bytes", kind, name, MaxNameLength)
	case nilFunc:
		return fmt.Errorf("register %s %q: nil function", kind, name)
	}
	return nil
}

// MaxNameLength bounds orchestrator, activity and event names.
const MaxNameLength = 256

// Orchestrator returns the orchestrator registered under name.
func (r *Registry) Orchestrator(name string) (Orchestrator, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.orchestrators[name]
	return fn, ok
}

// Activity returns the activity registered under name.
func (r *Registry) Activity(name string) (Activity, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.activities[name]
	return fn, ok
}

// RemoteActivity reports whether name is declared an activity other hosts run.
func (r *Registry) RemoteActivity(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.remote[name]
}

// OrchestratorNames returns the registered orchestrator names, sorted.
func (r *Registry) OrchestratorNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.orchestrators)
}

// ActivityNames returns the registered activity names, sorted.
func (r *Registry) ActivityNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.activities)
}

// RemoteActivityNames returns the names declared with AddRemoteActivity, sorted.
func (r *Registry) RemoteActivityNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.remote)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Await is a typed form of Task.Await.
func Await[T any](t Task) (T, error) {
	var v T
	err := t.Await(&v)
	return v, err
}

// MarshalPayload encodes an input, result or event payload as orca stores it: nil stays absent,
// a json.RawMessage is kept as it is (it must be valid JSON), anything else goes through
// encoding/json.
func MarshalPayload(v any) (json.RawMessage, error) {
	switch p := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(p) == 0 {
			return nil, nil
		}
		if !json.Valid(p) {
			return nil, fmt.Errorf("marshal payload: invalid JSON")
		}
		return p, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal payload: %w", err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// UnmarshalPayload decodes a stored payload into v; an absent payload leaves v untouched. v may be
// nil to ignore the payload.
func UnmarshalPayload(data json.RawMessage, v any) error {
	if v == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := v.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("unmarshal payload: %w", err)
	}
	return nil
}
