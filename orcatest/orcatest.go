// Package orcatest runs orchestrators in unit tests: on a virtual clock, with stubbed activities,
// without a store. Timers fire in order of their due time and the clock jumps to them, so a
// workflow that waits for days finishes in microseconds.
//
// By default every turn is also replayed from the recorded history on a fresh executor, so a
// non-deterministic orchestrator fails its test the way it would fail in production after a
// restart.
package orcatest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

// Status is an instance's runtime status as the tester sees it.
type Status string

// Statuses the tester reports.
const (
	StatusRunning    Status = "Running"
	StatusCompleted  Status = "Completed"
	StatusFailed     Status = "Failed"
	StatusTerminated Status = "Terminated"
	StatusSuspended  Status = "Suspended"
)

// Result is the state of the instance when Run returns.
type Result struct {
	InstanceID string
	Status     Status
	// Output is the orchestrator's result (Completed) or the termination reason (Terminated).
	Output json.RawMessage
	// Failure says why a Failed instance failed.
	Failure *orca.FailureDetails
	// CustomStatus is the last custom status set.
	CustomStatus json.RawMessage
	// History is the instance's history, event type names in order (ContinueAsNew restarts it).
	History []string
	// Time is the virtual time when Run returned.
	Time time.Time
	// Blocked is true when the instance was still running with nothing left to happen: it waits
	// for an event nobody raises.
	Blocked bool
}

// Decode unmarshals the output into v.
func (r *Result) Decode(v any) error { return orca.UnmarshalPayload(r.Output, v) }

// Tester runs one orchestration (and its sub-orchestrations) in memory.
type Tester struct {
	reg      *orca.Registry
	stubs    map[string]orca.Activity
	start    time.Time
	now      time.Time
	logger   *slog.Logger
	verify   bool
	maxTurns int

	scheduled []scheduledEvent
	instances map[string]*instance
	order     []string
	seq       int
}

type scheduledEvent struct {
	at         time.Time
	seq        int
	instanceID string
	event      *history.Event
}

type instance struct {
	id      string
	name    string
	exec    *replay.Executor
	history []*history.Event
	inbox   []*history.Event
	timers  []scheduledEvent
	parent  *history.ParentInstance
	turn    *replay.Turn
	status  Status
}

// Option configures a Tester.
type Option func(*Tester)

// WithStartTime sets the virtual clock's start (default 2026-01-01T00:00:00Z).
func WithStartTime(t time.Time) Option { return func(x *Tester) { x.start = t.UTC() } }

// WithLogger sends the orchestrators' and activities' logs to l.
func WithLogger(l *slog.Logger) Option { return func(x *Tester) { x.logger = l } }

// WithoutReplayCheck turns off replaying every turn from history (faster, but a non-deterministic
// orchestrator is no longer caught).
func WithoutReplayCheck() Option { return func(x *Tester) { x.verify = false } }

// WithMaxTurns bounds the number of turns Run executes (default 100,000) to stop runaway loops.
func WithMaxTurns(n int) Option { return func(x *Tester) { x.maxTurns = n } }

// New returns a tester for the orchestrators (and activities) in reg.
func New(reg *orca.Registry, opts ...Option) *Tester {
	t := &Tester{
		reg: reg, stubs: map[string]orca.Activity{}, verify: true, maxTurns: 100_000,
		start:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Stub replaces the activity name (registered or not) with fn.
func (t *Tester) Stub(name string, fn orca.Activity) { t.stubs[name] = fn }

// RaiseEvent raises the event name with data on instanceID at the virtual offset after the
// start of Run. Events raised before the instance waits for them are buffered.
func (t *Tester) RaiseEvent(after time.Duration, instanceID, name string, data any) error {
	b, err := orca.MarshalPayload(data)
	if err != nil {
		return fmt.Errorf("raise event %q: %w", name, err)
	}
	t.schedule(after, instanceID, history.NewEventRaised(t.start.Add(after), name, b))
	return nil
}

// Terminate terminates instanceID at the virtual offset after the start of Run.
func (t *Tester) Terminate(after time.Duration, instanceID, reason string) {
	t.schedule(after, instanceID, history.NewExecutionTerminated(t.start.Add(after), reason))
}

// Suspend suspends instanceID at the virtual offset after the start of Run.
func (t *Tester) Suspend(after time.Duration, instanceID, reason string) {
	t.schedule(after, instanceID, history.NewExecutionSuspended(t.start.Add(after), reason))
}

// Resume resumes instanceID at the virtual offset after the start of Run.
func (t *Tester) Resume(after time.Duration, instanceID, reason string) {
	t.schedule(after, instanceID, history.NewExecutionResumed(t.start.Add(after), reason))
}

func (t *Tester) schedule(after time.Duration, id string, ev *history.Event) {
	t.seq++
	t.scheduled = append(t.scheduled, scheduledEvent{at: t.start.Add(after), seq: t.seq, instanceID: id, event: ev})
}

// Run starts the orchestrator name as instance instanceID with input and runs everything until the
// instance finishes or nothing is left to happen.
func (t *Tester) Run(instanceID, name string, input any) (*Result, error) {
	in, err := orca.MarshalPayload(input)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	if _, ok := t.reg.Orchestrator(name); !ok {
		return nil, fmt.Errorf("run %s: no orchestrator of that name is registered", name)
	}
	t.now = t.start
	t.instances = map[string]*instance{}
	t.order = nil
	defer t.close()
	t.startInstance(instanceID, name, in, nil)
	for turns := 0; ; turns++ {
		if turns >= t.maxTurns {
			return nil, fmt.Errorf("run %s: more than %d turns", name, t.maxTurns)
		}
		inst := t.ready()
		if inst == nil {
			if !t.advance() {
				break
			}
			continue
		}
		t.runTurn(inst)
		if root := t.instances[instanceID]; root.status != StatusRunning && root.status != StatusSuspended {
			break
		}
	}
	return t.result(t.instances[instanceID]), nil
}

func (t *Tester) close() {
	for _, inst := range t.instances {
		inst.exec.Close()
	}
}

func (t *Tester) startInstance(id, name string, input json.RawMessage, parent *history.ParentInstance) {
	inst := &instance{id: id, name: name, parent: parent, status: StatusRunning}
	inst.exec = t.newExecutor(id)
	inst.inbox = append(inst.inbox, history.NewExecutionStarted(t.now,
		history.ExecutionStartedAttrs{Name: name, ExecutionID: fmt.Sprintf("%s-exec", id), Input: input, Parent: parent}))
	if old, ok := t.instances[id]; ok {
		old.exec.Close()
	} else {
		t.order = append(t.order, id)
	}
	t.instances[id] = inst
}

func (t *Tester) newExecutor(id string) *replay.Executor {
	return replay.New(replay.Config{InstanceID: id, Resolve: t.reg.Orchestrator, Logger: t.logger})
}

// ready returns the first instance, in creation order, with events to process.
func (t *Tester) ready() *instance {
	for _, id := range t.order {
		inst := t.instances[id]
		if len(inst.inbox) > 0 && inst.status != StatusCompleted && inst.status != StatusFailed && inst.status != StatusTerminated {
			return inst
		}
		inst.inbox = nil
	}
	return nil
}

// advance moves the clock to the next timer or scheduled event and delivers everything due then.
func (t *Tester) advance() bool {
	var due []scheduledEvent
	for _, inst := range t.instances {
		due = append(due, inst.timers...)
	}
	due = append(due, t.scheduled...)
	if len(due) == 0 {
		return false
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].seq < due[j].seq
	})
	if due[0].at.After(t.now) {
		t.now = due[0].at
	}
	var keep []scheduledEvent
	for _, s := range t.scheduled {
		if s.at.After(t.now) {
			keep = append(keep, s)
		} else if inst, ok := t.instances[s.instanceID]; ok {
			inst.inbox = append(inst.inbox, s.event)
		}
	}
	t.scheduled = keep
	for _, inst := range t.instances {
		var pending []scheduledEvent
		for _, s := range inst.timers {
			if s.at.After(t.now) {
				pending = append(pending, s)
			} else {
				inst.inbox = append(inst.inbox, s.event)
			}
		}
		inst.timers = pending
	}
	return true
}

func (t *Tester) runTurn(inst *instance) {
	events := inst.inbox
	inst.inbox = nil
	if t.verify && len(inst.history) > 0 {
		// Replay the whole history on a fresh executor, as after a restart, and continue on it.
		// A replay that does not match makes the next Run fail the instance with a
		// NonDeterminismError, as the engine would.
		inst.exec.Close()
		inst.exec = t.newExecutor(inst.id)
		_ = inst.exec.Replay(inst.history)
	}
	turn := inst.exec.Run(t.now, events)
	inst.turn = turn
	inst.history = append(inst.history, turn.History...)
	switch turn.Outcome {
	case replay.Running:
		inst.status = StatusRunning
		if turn.Suspended {
			inst.status = StatusSuspended
		}
	case replay.Completed:
		inst.status = StatusCompleted
	case replay.Failed:
		inst.status = StatusFailed
	case replay.Terminated:
		inst.status = StatusTerminated
	case replay.ContinuedAsNew:
		inst.exec.Close()
		inst.exec = t.newExecutor(inst.id)
		inst.history = nil
		inst.timers = nil
		inst.inbox = append([]*history.Event{history.NewExecutionStarted(t.now, history.ExecutionStartedAttrs{
			Name: inst.name, ExecutionID: fmt.Sprintf("%s-exec", inst.id), Input: turn.NewInput, Parent: inst.parent,
		})}, turn.CarryOver...)
		return
	}
	for _, a := range turn.Actions {
		t.act(inst, a)
	}
	if turn.Outcome.Finished() && inst.parent != nil {
		t.notifyParent(inst, turn)
	}
}

func (t *Tester) act(inst *instance, a *history.Event) {
	switch a.Type {
	case history.TaskScheduled:
		inst.inbox = append(inst.inbox, t.callActivity(inst, a))
	case history.TimerCreated:
		t.seq++
		inst.timers = append(inst.timers, scheduledEvent{at: a.TimerCreated.FireAt, seq: t.seq, instanceID: inst.id,
			event: history.NewTimerFired(a.TimerCreated.FireAt, a.EventID, a.TimerCreated.FireAt)})
	case history.SubOrchestrationInstanceCreated:
		s := a.SubOrchestrationInstanceCreated
		t.startInstance(s.InstanceID, s.Name, s.Input, &history.ParentInstance{
			InstanceID: inst.id, Name: inst.name, TaskScheduledID: a.EventID, ExecutionID: inst.exec.ExecutionID()})
	case history.EventSent:
		if target, ok := t.instances[a.EventSent.InstanceID]; ok {
			target.inbox = append(target.inbox, history.NewEventRaised(t.now, a.EventSent.Name, a.EventSent.Input))
		}
	}
}

func (t *Tester) notifyParent(inst *instance, turn *replay.Turn) {
	parent, ok := t.instances[inst.parent.InstanceID]
	if !ok {
		return
	}
	id := inst.parent.TaskScheduledID
	switch turn.Outcome {
	case replay.Completed:
		parent.inbox = append(parent.inbox, history.NewSubOrchestrationCompleted(t.now, id, turn.Output))
	case replay.Failed:
		parent.inbox = append(parent.inbox, history.NewSubOrchestrationFailed(t.now, id, turn.Failure))
	case replay.Terminated:
		parent.inbox = append(parent.inbox, history.NewSubOrchestrationFailed(t.now, id,
			&history.FailureDetails{ErrorType: "Terminated", ErrorMessage: "sub-orchestration terminated: " + string(turn.Output)}))
	}
}

func (t *Tester) callActivity(inst *instance, a *history.Event) *history.Event {
	name := a.TaskScheduled.Name
	fn, ok := t.stubs[name]
	if !ok {
		fn, ok = t.reg.Activity(name)
	}
	if !ok {
		msg := fmt.Sprintf("no activity named %q is registered or stubbed", name)
		if t.reg.RemoteActivity(name) {
			msg = fmt.Sprintf("activity %q is declared remote (another host runs it): stub it", name)
		}
		return history.NewTaskFailed(t.now, a.EventID, &history.FailureDetails{ErrorType: "ActivityNotFound", ErrorMessage: msg})
	}
	actx := &activityContext{Context: context.Background(), name: name, instanceID: inst.id, taskID: a.EventID,
		input: a.TaskScheduled.Input, logger: t.logger}
	out, err := runActivity(fn, actx)
	if err != nil {
		f := orca.FailureFromError(err)
		return history.NewTaskFailed(t.now, a.EventID, &history.FailureDetails{ErrorType: f.ErrorType,
			ErrorMessage: f.ErrorMessage, NonRetriable: f.NonRetriable})
	}
	b, err := orca.MarshalPayload(out)
	if err != nil {
		return history.NewTaskFailed(t.now, a.EventID, &history.FailureDetails{ErrorType: "MarshalError", ErrorMessage: err.Error()})
	}
	return history.NewTaskCompleted(t.now, a.EventID, b)
}

func runActivity(fn orca.Activity, actx *activityContext) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("activity %s panicked: %v", actx.name, r)
		}
	}()
	return fn(actx)
}

func (t *Tester) result(inst *instance) *Result {
	r := &Result{InstanceID: inst.id, Status: inst.status, Time: t.now}
	if turn := inst.turn; turn != nil {
		r.Output = turn.Output
		r.CustomStatus = turn.CustomStatus
		if turn.Failure != nil {
			r.Failure = &orca.FailureDetails{ErrorType: turn.Failure.ErrorType, ErrorMessage: turn.Failure.ErrorMessage,
				StackTrace: turn.Failure.StackTrace, NonRetriable: turn.Failure.NonRetriable}
		}
	}
	for _, ev := range inst.history {
		r.History = append(r.History, string(ev.Type))
	}
	r.Blocked = inst.status == StatusRunning || inst.status == StatusSuspended
	return r
}

type activityContext struct {
	context.Context
	name       string
	instanceID string
	taskID     int32
	input      json.RawMessage
	logger     *slog.Logger
}

func (a *activityContext) Input(v any) error    { return orca.UnmarshalPayload(a.input, v) }
func (a *activityContext) Name() string         { return a.name }
func (a *activityContext) InstanceID() string   { return a.instanceID }
func (a *activityContext) TaskID() int32        { return a.taskID }
func (a *activityContext) Attempt() int         { return 1 }
func (a *activityContext) Logger() *slog.Logger { return a.logger }
