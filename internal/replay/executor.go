// Package replay runs orchestrator functions against their history.
//
// An Executor owns one execution of an orchestrator function. The function runs as a coroutine
// (iter.Pull): it runs only while the executor hands it control, and hands control back whenever it
// awaits a task that has not completed. The executor feeds it history events one at a time:
// recorded events on replay (Replay), then the new events of a turn (Run). Actions the function
// takes (activities, timers, sub-orchestrations, sent events) get consecutive sequence numbers; on
// replay each recorded action event must match the action the function took under that number,
// otherwise the execution fails with a NonDeterminismError. A cached Executor keeps its coroutine
// parked between turns, so a turn costs O(new events), not O(history).
package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
)

// Outcome is the state an execution is in after a turn.
type Outcome int

// Outcomes of a turn.
const (
	Running Outcome = iota
	Completed
	Failed
	Terminated
	ContinuedAsNew
)

func (o Outcome) String() string {
	return [...]string{"Running", "Completed", "Failed", "Terminated", "ContinuedAsNew"}[o]
}

// Finished reports whether the execution has ended.
func (o Outcome) Finished() bool { return o != Running }

// Turn is the result of running one turn: the events to append to the history and the state to
// persist with them, all in one transaction.
type Turn struct {
	// History holds the events to append, in order: OrchestratorStarted, the new events that were
	// applied, the new actions, the terminal event if any, OrchestratorCompleted.
	History []*history.Event
	// Actions are the new action events (a subset of History) whose side effects the engine
	// carries out: activity tasks, timers, sub-orchestrations, events to other instances.
	Actions []*history.Event
	// Dropped counts new events that were discarded: duplicate or stale completions, events for an
	// execution that has ended.
	Dropped int

	Outcome   Outcome
	Suspended bool
	// Output is the result of a Completed execution or the reason of a Terminated one.
	Output json.RawMessage
	// Failure describes a Failed execution.
	Failure *history.FailureDetails
	// CustomStatus is the custom status after the turn.
	CustomStatus json.RawMessage
	// NewInput is the input of the next execution when the outcome is ContinuedAsNew, and
	// CarryOver the events it inherits.
	NewInput  json.RawMessage
	CarryOver []*history.Event
}

// Config creates an Executor.
type Config struct {
	InstanceID string
	// Resolve returns the orchestrator function for a name; a missing one fails the execution.
	Resolve func(name string) (orca.Orchestrator, bool)
	// Logger is the base logger for the orchestrator's context logger.
	Logger *slog.Logger
}

// Executor runs one execution of an orchestrator. It is not safe for concurrent use: one turn at
// a time.
type Executor struct {
	cfg Config
	ctx *orchContext

	name        string
	executionID string
	input       json.RawMessage
	started     bool
	skipRun     bool

	currentTime time.Time
	replaying   bool
	guidCounter int

	nextSeq int32
	// turnActions holds the actions taken since the last turn boundary, in sequence order; the
	// action with sequence number n is at index n-turnFirstSeq.
	turnActions   []*action
	turnFirstSeq  int32
	turnRecorded  int // actions of turnActions matched by recorded history (replay)
	open          []*task
	events        map[string]*eventQueue
	eventArrivals int

	suspended bool
	deferred  []*history.Event

	customStatus json.RawMessage

	// coroutine state
	next     func() (struct{}, bool)
	stop     func()
	yield    func(struct{}) bool
	waiting  *task
	aborting bool
	returned bool

	// outcome of the function (or of the executor when it failed the execution itself)
	outcome       Outcome
	output        json.RawMessage
	failure       *history.FailureDetails
	continueInput json.RawMessage
	continueOpts  *orca.ContinueAsNewOptions
	// nonDeterminism is set when replay found a mismatch; the next Run fails the execution.
	nonDeterminism *orca.NonDeterminismError
}

type action struct {
	event    *history.Event
	recorded bool
}

type eventQueue struct {
	buffered []bufferedEvent
	waiters  []*task
}

type bufferedEvent struct {
	arrival int
	event   *history.Event
}

// New returns an Executor for one instance; it starts the function when it sees ExecutionStarted.
func New(cfg Config) *Executor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Executor{cfg: cfg, events: map[string]*eventQueue{}}
	e.ctx = &orchContext{e: e}
	return e
}

// Started reports whether the executor has seen its ExecutionStarted event.
func (e *Executor) Started() bool { return e.started }

// ExecutionID returns the execution id from ExecutionStarted.
func (e *Executor) ExecutionID() string { return e.executionID }

// Outcome returns the execution's state.
func (e *Executor) Outcome() Outcome { return e.outcome }

// Replay feeds recorded history: whole turns, from the start of the execution. It returns a
// *orca.NonDeterminismError when the function does not follow the history; the executor then fails
// the execution on its next Run.
func (e *Executor) Replay(events []*history.Event) error {
	e.replaying = true
	defer func() { e.replaying = false }()
	for _, ev := range events {
		if e.nonDeterminism != nil {
			break
		}
		e.replayEvent(ev)
	}
	if e.nonDeterminism != nil {
		e.abort()
		return e.nonDeterminism
	}
	return nil
}

func (e *Executor) replayEvent(ev *history.Event) {
	switch ev.Type {
	case history.OrchestratorStarted:
		e.currentTime = ev.Timestamp
		return
	case history.OrchestratorCompleted:
		if len(e.turnActions) > e.turnRecorded {
			a := e.firstUnrecorded()
			e.mismatch("the orchestrator took action %s, which the history does not record", describe(a.event))
			return
		}
		e.endTurnActions()
		return
	case history.ExecutionCompleted, history.ContinueAsNew:
		if !e.returned {
			e.mismatch("the history records %s but the orchestrator has not returned", ev.Type)
		}
		return
	}
	if ev.Type.IsAction() {
		e.matchAction(ev)
		return
	}
	if e.returned && e.outcome != Running {
		e.mismatch("the orchestrator returned but the history continues with %s", describe(ev))
		return
	}
	if !e.apply(ev) && ev.Type != history.ExecutionStarted {
		if id, ok := ev.TaskScheduledID(); ok {
			e.mismatch("the history records %s for action #%d, which the orchestrator is not waiting for", ev.Type, id)
		}
	}
}

func (e *Executor) matchAction(ev *history.Event) {
	idx := int(ev.EventID - e.turnFirstSeq)
	if ev.EventID < e.turnFirstSeq || idx >= len(e.turnActions) {
		e.mismatch("the history records %s, but the orchestrator did not take that action", describe(ev))
		return
	}
	a := e.turnActions[idx]
	if !sameAction(a.event, ev) {
		e.mismatch("the history records %s, but the orchestrator took %s", describe(ev), describe(a.event))
		return
	}
	if !a.recorded {
		a.recorded = true
		e.turnRecorded++
	}
}

func sameAction(a, b *history.Event) bool {
	if a.Type != b.Type || a.EventID != b.EventID {
		return false
	}
	switch a.Type {
	case history.TaskScheduled:
		return a.TaskScheduled.Name == b.TaskScheduled.Name
	case history.SubOrchestrationInstanceCreated:
		return a.SubOrchestrationInstanceCreated.Name == b.SubOrchestrationInstanceCreated.Name &&
			a.SubOrchestrationInstanceCreated.InstanceID == b.SubOrchestrationInstanceCreated.InstanceID
	case history.EventSent:
		return a.EventSent.Name == b.EventSent.Name && a.EventSent.InstanceID == b.EventSent.InstanceID
	}
	return true
}

func describe(ev *history.Event) string {
	switch ev.Type {
	case history.TaskScheduled:
		return fmt.Sprintf("TaskScheduled #%d (activity %q)", ev.EventID, ev.TaskScheduled.Name)
	case history.SubOrchestrationInstanceCreated:
		return fmt.Sprintf("SubOrchestrationInstanceCreated #%d (orchestrator %q, instance %q)", ev.EventID,
			ev.SubOrchestrationInstanceCreated.Name, ev.SubOrchestrationInstanceCreated.InstanceID)
	case history.EventSent:
		return fmt.Sprintf("EventSent #%d (event %q to %q)", ev.EventID, ev.EventSent.Name, ev.EventSent.InstanceID)
	case history.TimerCreated:
		return fmt.Sprintf("TimerCreated #%d", ev.EventID)
	}
	return string(ev.Type)
}

func (e *Executor) firstUnrecorded() *action {
	for _, a := range e.turnActions {
		if !a.recorded {
			return a
		}
	}
	return nil
}

func (e *Executor) endTurnActions() {
	// The events belong to the turn's commit now: keeping them here (in the reused array) would
	// hold every action event of a big fan-out, input included, for the life of the execution.
	if cap(e.turnActions) > maxKeptTurnActions {
		e.turnActions = nil
	} else {
		clear(e.turnActions)
		e.turnActions = e.turnActions[:0]
	}
	e.turnFirstSeq = e.nextSeq
	e.turnRecorded = 0
}

// maxKeptTurnActions is the largest turnActions array an executor keeps for its next turns.
const maxKeptTurnActions = 1024

func (e *Executor) mismatch(format string, args ...any) {
	if e.nonDeterminism == nil {
		e.nonDeterminism = &orca.NonDeterminismError{InstanceID: e.cfg.InstanceID, Detail: fmt.Sprintf(format, args...)}
	}
}

// Run applies a turn's new events at time now and returns what to persist. ExecutionStarted is
// applied first wherever it is in events; the rest keep their order.
func (e *Executor) Run(now time.Time, events []*history.Event) *Turn {
	t := &Turn{}
	e.currentTime = now.UTC()
	t.History = append(t.History, history.NewOrchestratorStarted(e.currentTime))
	if i := indexOf(events, history.ExecutionStarted); i > 0 {
		events = append([]*history.Event{events[i]}, append(events[:i:i], events[i+1:]...)...)
	}
	// An instance terminated before it ever ran is not started: its code does not run at all.
	e.skipRun = !e.started && indexOf(events, history.ExecutionTerminated) >= 0
	if e.nonDeterminism != nil && e.outcome == Running {
		e.abort()
		e.fail(&history.FailureDetails{ErrorType: "NonDeterminismError", ErrorMessage: e.nonDeterminism.Error()})
	}
	var leftover []*history.Event
	for _, ev := range events {
		if e.outcome != Running {
			leftover = append(leftover, ev)
			continue
		}
		if e.apply(ev) {
			t.History = append(t.History, ev)
		} else {
			t.Dropped++
		}
	}
	for _, a := range e.turnActions {
		if !a.recorded {
			t.History = append(t.History, a.event)
			t.Actions = append(t.Actions, a.event)
		}
	}
	e.endTurnActions()
	switch e.outcome {
	case Completed:
		t.History = append(t.History, history.NewExecutionCompleted(e.currentTime, e.output))
	case Failed:
		t.History = append(t.History, history.NewExecutionFailed(e.currentTime, e.failure, e.output))
	case ContinuedAsNew:
		t.History = append(t.History, history.NewContinueAsNew(e.currentTime, e.continueInput))
		t.NewInput = e.continueInput
	}
	carry := e.outcome == ContinuedAsNew && !e.continueOpts.DiscardUnprocessedEvents
	if carry {
		t.CarryOver = e.unconsumedEvents(leftover)
	}
	for _, ev := range leftover {
		if !carry || ev.Type != history.EventRaised {
			t.Dropped++
		}
	}
	t.History = append(t.History, history.NewOrchestratorCompleted(e.currentTime))
	t.Outcome = e.outcome
	t.Suspended = e.suspended && e.outcome == Running
	t.Output = e.output
	t.Failure = e.failure
	t.CustomStatus = e.customStatus
	return t
}

func indexOf(events []*history.Event, typ history.Type) int {
	for i, ev := range events {
		if ev.Type == typ {
			return i
		}
	}
	return -1
}

// unconsumedEvents returns the external events received but not consumed, in arrival order,
// followed by the leftover events of the turn that are external events.
func (e *Executor) unconsumedEvents(leftover []*history.Event) []*history.Event {
	var buffered []bufferedEvent
	for _, q := range e.events {
		buffered = append(buffered, q.buffered...)
	}
	sort.Slice(buffered, func(i, j int) bool { return buffered[i].arrival < buffered[j].arrival })
	var out []*history.Event
	for _, b := range buffered {
		out = append(out, b.event)
	}
	for _, ev := range append(e.deferred, leftover...) {
		if ev.Type == history.EventRaised {
			out = append(out, ev)
		}
	}
	return out
}

// apply applies one event (recorded or new) and reports whether it is part of the history; an
// event that is not (a duplicate or stale completion, a second ExecutionStarted) is dropped.
func (e *Executor) apply(ev *history.Event) bool {
	switch ev.Type {
	case history.ExecutionStarted:
		if e.started {
			return false
		}
		e.start(ev)
		return true
	case history.ExecutionTerminated:
		if !e.started {
			// Terminated before it ever ran: still an ending.
			e.started = true
		}
		e.outcome = Terminated
		e.output, _ = json.Marshal(ev.ExecutionTerminated.Reason)
		e.abort()
		return true
	case history.ExecutionRewound:
		return true
	}
	if !e.started {
		return false
	}
	switch ev.Type {
	case history.ExecutionSuspended:
		if e.suspended {
			return false
		}
		e.suspended = true
		return true
	case history.ExecutionResumed:
		if !e.suspended {
			return false
		}
		e.suspended = false
		deferred := e.deferred
		e.deferred = nil
		for _, d := range deferred {
			if e.outcome == Running {
				e.deliver(d)
			}
		}
		return true
	}
	if !e.accepts(ev) {
		return false
	}
	if e.suspended {
		e.deferred = append(e.deferred, ev)
		return true
	}
	e.deliver(ev)
	return true
}

// accepts reports whether a completion or external event belongs in the history: a completion
// must answer an action that is still open.
func (e *Executor) accepts(ev *history.Event) bool {
	if ev.Type == history.EventRaised {
		return true
	}
	id, ok := ev.TaskScheduledID()
	if !ok {
		return false
	}
	if id < 0 || int(id) >= len(e.open) || e.open[id] == nil {
		return false
	}
	// A deferred completion for the same action counts as already delivered.
	for _, d := range e.deferred {
		if did, ok := d.TaskScheduledID(); ok && did == id {
			return false
		}
	}
	return true
}

// deliver completes the task an event answers, then lets the function run if it can go on.
func (e *Executor) deliver(ev *history.Event) {
	switch ev.Type {
	case history.EventRaised:
		e.raise(ev)
	default:
		id, _ := ev.TaskScheduledID()
		t := e.open[id]
		e.open[id] = nil
		switch ev.Type {
		case history.TaskCompleted:
			t.complete(ev.TaskCompleted.Result, nil)
		case history.SubOrchestrationInstanceCompleted:
			t.complete(ev.SubOrchestrationInstanceCompleted.Result, nil)
		case history.TimerFired:
			t.complete(nil, nil)
		case history.TaskFailed:
			t.complete(nil, t.failedError(ev.TaskFailed.Failure))
		case history.SubOrchestrationInstanceFailed:
			t.complete(nil, t.failedError(ev.SubOrchestrationInstanceFailed.Failure))
		}
	}
	e.resume()
}

func (e *Executor) raise(ev *history.Event) {
	key := strings.ToLower(ev.EventRaised.Name)
	q := e.queue(key)
	if len(q.waiters) > 0 {
		w := q.waiters[0]
		q.waiters = q.waiters[1:]
		w.complete(ev.EventRaised.Input, nil)
		return
	}
	e.eventArrivals++
	q.buffered = append(q.buffered, bufferedEvent{arrival: e.eventArrivals, event: ev})
}

func (e *Executor) queue(key string) *eventQueue {
	q := e.events[key]
	if q == nil {
		q = &eventQueue{}
		e.events[key] = q
	}
	return q
}

// start begins the execution: it resolves the function and runs it until it first blocks.
func (e *Executor) start(ev *history.Event) {
	a := ev.ExecutionStarted
	e.started = true
	e.name = a.Name
	e.executionID = a.ExecutionID
	e.input = a.Input
	if e.skipRun {
		return
	}
	fn, ok := e.cfg.Resolve(a.Name)
	if !ok {
		e.fail(&history.FailureDetails{ErrorType: "OrchestratorNotFound",
			ErrorMessage: fmt.Sprintf("no orchestrator named %q is registered", a.Name)})
		return
	}
	e.next, e.stop = iter.Pull(func(yield func(struct{}) bool) {
		e.yield = yield
		defer func() {
			e.returned = true
			if r := recover(); r != nil {
				if _, ok := r.(abortSignal); ok {
					return
				}
				e.finish(nil, nil, &history.FailureDetails{ErrorType: "panic",
					ErrorMessage: fmt.Sprint(r), StackTrace: string(debug.Stack())})
			}
		}()
		out, err := fn(e.ctx)
		e.finish(out, err, nil)
	})
	e.next()
}

// finish records the function's return (on the coroutine's goroutine).
func (e *Executor) finish(out any, err error, panicked *history.FailureDetails) {
	if e.aborting || e.outcome != Running {
		return
	}
	switch {
	case panicked != nil:
		e.fail(panicked)
	case err != nil:
		var withOutput *orca.OutputError
		if errors.As(err, &withOutput) {
			b, merr := orca.MarshalPayload(withOutput.Output)
			if merr != nil {
				e.fail(&history.FailureDetails{ErrorType: "MarshalError", ErrorMessage: "orchestrator output: " + merr.Error()})
				return
			}
			e.output = b
			err = withOutput.Err
		}
		f := orca.FailureFromError(err)
		e.fail(&history.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, NonRetriable: f.NonRetriable})
	case e.continueOpts != nil:
		e.outcome = ContinuedAsNew
	default:
		b, merr := orca.MarshalPayload(out)
		if merr != nil {
			e.fail(&history.FailureDetails{ErrorType: "MarshalError", ErrorMessage: "orchestrator result: " + merr.Error()})
			return
		}
		e.outcome = Completed
		e.output = b
	}
}

// fail ends the execution as Failed. It does not stop the coroutine: callers on the executor's
// side abort it, and the coroutine itself unwinds after failing.
func (e *Executor) fail(f *history.FailureDetails) {
	e.outcome = Failed
	e.failure = f
}

// resume lets a blocked function continue once the task it waits for has completed. The function
// runs until it blocks again or returns.
func (e *Executor) resume() {
	for e.waiting != nil && e.waiting.done && !e.returned && !e.aborting {
		e.waiting = nil
		e.next()
	}
}

// abortSignal unwinds an aborted function's goroutine.
type abortSignal struct{}

// abort stops the coroutine, if it is parked.
func (e *Executor) abort() {
	if e.stop != nil && !e.returned && !e.aborting {
		e.aborting = true
		e.stop()
	}
}

// Close releases the coroutine. The executor must not be used afterwards.
func (e *Executor) Close() { e.abort() }

// block parks the function until t completes (called on the function's goroutine).
func (e *Executor) block(t *task) {
	if t.e != e {
		panic("orca: Await on a task of another orchestration")
	}
	for !t.done {
		if e.aborting || e.yield == nil {
			panic(abortSignal{})
		}
		e.waiting = t
		if !e.yield(struct{}{}) || e.aborting {
			e.aborting = true
			panic(abortSignal{})
		}
	}
}

// takeAction assigns the next sequence number to an action and returns its open task.
func (e *Executor) takeAction(ev *history.Event, name string) *task {
	ev.EventID = e.nextSeq
	ev.Timestamp = e.currentTime
	e.nextSeq++
	e.turnActions = append(e.turnActions, &action{event: ev})
	t := &task{e: e, name: name, id: ev.EventID}
	if ev.Type != history.EventSent {
		e.open = append(e.open, make([]*task, int(ev.EventID)+1-len(e.open))...)
		e.open[ev.EventID] = t
	} else {
		t.done = true
	}
	return t
}
