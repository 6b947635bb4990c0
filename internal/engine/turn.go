package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
	"github.com/orcahq/orca/internal/store"
)

// historyPage is how many events a cache miss reads per query while it replays.
const historyPage = 10_000

// runTurn runs one turn of r: it gathers the new events, runs the executor and commits.
func (o *orchestrations) runTurn(r *runner, local []localResult, readDB bool) error {
	ctx := o.e.runCtx
	now := o.e.clock.Now()
	var msgs []*store.Message
	if readDB {
		var err error
		if msgs, err = o.e.store.OrchestrationInbox(ctx, r.id, now, o.e.cfg.MaxTurnMessages); err != nil {
			return err
		}
		if len(msgs) == o.e.cfg.MaxTurnMessages {
			o.mu.Lock()
			r.dbPending = true
			o.mu.Unlock()
		}
	}
	if len(msgs) == 0 && len(local) == 0 {
		return nil
	}
	if r.status.Finished() {
		return o.finishedTurn(r, msgs, local, now)
	}
	if r.exec == nil {
		if err := o.load(r); err != nil {
			return err
		}
	}
	events := make([]*history.Event, 0, len(msgs)+len(local))
	consumed := make([]int64, len(msgs))
	executionID := r.currentExecution(o)
	for i, m := range msgs {
		consumed[i] = m.ID
		if m.ExecutionID == "" || m.ExecutionID == executionID {
			events = append(events, m.Event)
		}
	}
	completed := make([]store.TaskKey, len(local))
	for i, res := range local {
		completed[i] = res.lease.Key
		if res.lease.Key.ExecutionID == executionID {
			events = append(events, res.event)
		}
	}
	turn, err := r.exec.Run(now, events)
	if err != nil {
		return err
	}
	p, leased, unleased := o.commitParams(r, turn, now)
	p.Consumed = consumed
	p.CompletedTasks = completed
	o.advance(r, turn, p)
	// A few new tasks go to the workers now, while their commit is in flight, so a chain of
	// steps runs at the speed of the CPU rather than of fsync: such an activity may run before
	// its scheduling is durable, which at-least-once execution allows (a crash before the
	// commit replays the turn and schedules it again). A big fan-out waits for its commit, so
	// a crash does not make thousands of activities run twice.
	speculative := len(leased) <= maxSpeculativeTasks
	if speculative {
		o.e.acts.pushLeased(leased, false)
	}
	if unleased {
		o.e.acts.pollSoon()
	}
	o.startCommit(r, p, local, leased, speculative)
	return nil
}

// maxSpeculativeTasks is the most tasks a turn sends to the workers before its commit lands.
const maxSpeculativeTasks = 32

func (r *runner) currentExecution(o *orchestrations) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return r.executionID
}

// newExecutor returns an executor for r's orchestrator: the registry's, else a remote one when
// the engine has a Remote (an unknown name without one fails the execution).
func (o *orchestrations) newExecutor(r *runner) executor {
	if _, ok := o.e.cfg.Registry.Orchestrator(r.name); !ok && o.e.cfg.Remote != nil {
		return newRemoteExecutor(o.e.runCtx, o.e.cfg.Remote, r.id)
	}
	return localExecutor{replay.New(replay.Config{InstanceID: r.id, Resolve: o.e.cfg.Registry.Orchestrator, Logger: o.e.log})}
}

// load rebuilds r's executor from the stored history (a cache miss).
func (o *orchestrations) load(r *runner) error {
	exec := o.newExecutor(r)
	n := 0
	for after := -1; r.historyLen > 0; {
		recs, err := o.e.store.HistoryRead(o.e.runCtx, &store.HistoryReadParams{InstanceID: r.id, After: after, Limit: historyPage})
		if err != nil {
			exec.Close()
			return err
		}
		if len(recs) == 0 {
			break
		}
		events := make([]*history.Event, len(recs))
		for i, rec := range recs {
			events[i] = rec.Event
			if rec.Event.Type == history.ExecutionStarted {
				r.parentCache = rec.Event.ExecutionStarted.Parent
			}
		}
		n += len(recs)
		after = recs[len(recs)-1].Seq
		if err := exec.Replay(events); err != nil {
			o.e.log.Error("replay does not match the history", "instance_id", r.id, "err", err)
		}
	}
	if n != r.historyLen {
		exec.Close()
		return fmt.Errorf("load %s: history has %d events, the instance says %d: %w", r.id, n, r.historyLen, store.ErrLeaseLost)
	}
	r.exec = exec
	if n > 0 {
		o.e.stats.replays.Add(1)
	}
	return nil
}

// finishedTurn consumes messages that reached a finished instance: a rewind request on a Failed
// instance rewinds it, everything else is dropped.
func (o *orchestrations) finishedTurn(r *runner, msgs []*store.Message, local []localResult, now time.Time) error {
	var rewind *history.Event
	consumed := make([]int64, len(msgs))
	for i, m := range msgs {
		consumed[i] = m.ID
		if m.Event.Type == history.ExecutionRewound && r.status == store.StatusFailed && rewind == nil {
			rewind = m.Event
		}
	}
	completed := make([]store.TaskKey, len(local))
	for i, res := range local {
		completed[i] = res.lease.Key
	}
	if rewind != nil {
		return o.rewind(r, rewind, consumed, completed, now)
	}
	p := &store.OrchestrationCommitParams{InstanceID: r.id, Owner: o.e.cfg.NodeID, ExpectHistoryLen: r.historyLen,
		Consumed: consumed, CompletedTasks: completed, KeepState: true, Release: true,
		Update: store.InstanceUpdate{UpdatedAt: now}}
	if err := o.e.store.OrchestrationCommit(o.e.runCtx, p); err != nil {
		return err
	}
	o.e.log.Debug("dropped messages for a finished instance", "instance_id", r.id, "messages", len(msgs)+len(local))
	o.e.acts.forget(local)
	o.mu.Lock()
	o.removeLocked(r)
	o.mu.Unlock()
	return nil
}

// commitParams turns a Turn into the step's store transaction. leased are the new tasks created
// leased to this node (slots reserved in the activity dispatcher); unleased reports whether
// tasks of activities this node runs were left in the store for want of slots.
//
// A task of an activity this node has no function for is created unleased, for a host that has
// it (orca.Registry.AddRemoteActivity); one neither registered nor declared remote fails at once
// with ActivityNotFound.
func (o *orchestrations) commitParams(r *runner, turn *replay.Turn, now time.Time) (p *store.OrchestrationCommitParams,
	leased []*store.TaskCreate, unleased bool) {
	e := o.e
	executionID := r.currentExecution(o)
	p = &store.OrchestrationCommitParams{
		InstanceID: r.id, Owner: e.cfg.NodeID, ExpectHistoryLen: r.historyLen,
		Append: turn.History, LockExpiry: now.Add(e.cfg.LockDuration),
		Update: store.InstanceUpdate{Status: statusOf(turn), CustomStatus: turn.CustomStatus, Output: turn.Output,
			Failure: turn.Failure, UpdatedAt: now},
	}
	for _, ev := range turn.History {
		if ev.Type == history.ExecutionStarted {
			r.parentCache = ev.ExecutionStarted.Parent
		}
	}
	var tasks []*history.Event
	var runsHere []bool // runsHere[i]: this node has tasks[i]'s function
	locals := 0
	// Whether this node takes the Remote's tasks: asked once per turn, not per task (a fan-out
	// schedules thousands).
	remoteHere := e.acts.takesAny()
	for _, a := range turn.Actions {
		switch a.Type {
		case history.TaskScheduled:
			if turn.Outcome.Finished() {
				continue // nobody will wait for it
			}
			name := a.TaskScheduled.Name
			_, here := e.cfg.Registry.Activity(name)
			declared := e.cfg.Registry.RemoteActivity(name)
			if !here && !declared && e.cfg.Remote != nil {
				// The Remote's workers run it: leased here while one is connected to take it.
				here = remoteHere
			} else if !here && !declared {
				p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, ExecutionID: executionID,
					Event: history.NewTaskFailed(now, a.EventID, &history.FailureDetails{ErrorType: "ActivityNotFound",
						ErrorMessage: fmt.Sprintf("no activity named %q is registered or declared remote", name)})})
				continue
			}
			tasks = append(tasks, a)
			runsHere = append(runsHere, here)
			if here {
				locals++
			}
		case history.TimerCreated:
			if turn.Outcome.Finished() {
				continue
			}
			fire := a.TimerCreated.FireAt
			p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, ExecutionID: executionID, VisibleAt: fire,
				Event: history.NewTimerFired(fire, a.EventID, fire)})
		case history.SubOrchestrationInstanceCreated:
			if turn.Outcome == replay.Terminated {
				continue
			}
			s := a.SubOrchestrationInstanceCreated
			p.SubOrchestrations = append(p.SubOrchestrations, &store.InstanceCreateParams{
				ID: s.InstanceID, Name: s.Name, CreatedAt: now, Owner: e.cfg.NodeID, LockExpiry: p.LockExpiry,
				Started: history.NewExecutionStarted(now, history.ExecutionStartedAttrs{Name: s.Name, ExecutionID: newID(),
					Input: s.Input, Parent: &history.ParentInstance{InstanceID: r.id, ExecutionID: executionID,
						Name: r.name, TaskScheduledID: a.EventID}})})
		case history.EventSent:
			if turn.Outcome == replay.Terminated {
				continue
			}
			p.Messages = append(p.Messages, &store.Message{InstanceID: a.EventSent.InstanceID,
				Event: history.NewEventRaised(now, a.EventSent.Name, a.EventSent.Input)})
		}
	}
	granted := e.acts.reserve(locals)
	for i, a := range tasks {
		tc := &store.TaskCreate{TaskKey: store.TaskKey{InstanceID: r.id, ExecutionID: executionID, TaskID: a.EventID},
			Name: a.TaskScheduled.Name, Input: a.TaskScheduled.Input}
		switch {
		case !runsHere[i]: // another host runs it: it waits in the store, unleased
		case len(leased) < granted:
			tc.Owner, tc.LockExpiry = e.cfg.NodeID, p.LockExpiry
			leased = append(leased, tc)
		default:
			unleased = true
		}
		p.Tasks = append(p.Tasks, tc)
	}
	switch turn.Outcome {
	case replay.Completed, replay.Failed, replay.Terminated:
		p.EndExecution, p.Release = true, true
		if parent := r.parentCache; parent != nil {
			p.Messages = append(p.Messages, parentNotice(parent, turn, now))
		}
	case replay.ContinuedAsNew:
		next := newID()
		p.EndExecution, p.ResetHistory, p.Append = true, true, nil
		p.Update.ExecutionID, p.Update.Input = next, turn.NewInput
		p.Update.Output, p.Update.Failure = nil, nil
		p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, ExecutionID: next,
			Event: history.NewExecutionStarted(now, history.ExecutionStartedAttrs{Name: r.name, ExecutionID: next,
				Input: turn.NewInput, Parent: r.parentCache})})
		for _, ev := range turn.CarryOver {
			p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, Event: ev})
		}
	}
	return p, leased, unleased
}

// parentNotice is the message that tells a parent orchestration how its sub-orchestration ended.
func parentNotice(parent *history.ParentInstance, turn *replay.Turn, now time.Time) *store.Message {
	var ev *history.Event
	switch turn.Outcome {
	case replay.Completed:
		ev = history.NewSubOrchestrationCompleted(now, parent.TaskScheduledID, turn.Output)
	case replay.Failed:
		ev = history.NewSubOrchestrationFailed(now, parent.TaskScheduledID, turn.Failure)
	default:
		ev = history.NewSubOrchestrationFailed(now, parent.TaskScheduledID, &history.FailureDetails{
			ErrorType: "Terminated", ErrorMessage: "sub-orchestration was terminated: " + string(turn.Output)})
	}
	return &store.Message{InstanceID: parent.InstanceID, ExecutionID: parent.ExecutionID, Event: ev}
}

func statusOf(turn *replay.Turn) store.Status {
	switch turn.Outcome {
	case replay.Completed:
		return store.StatusCompleted
	case replay.Failed:
		return store.StatusFailed
	case replay.Terminated:
		return store.StatusTerminated
	case replay.ContinuedAsNew:
		return store.StatusContinuedAsNew
	}
	if turn.Suspended {
		return store.StatusSuspended
	}
	return store.StatusRunning
}

// advance moves the runner to the state its turn commits, before the commit lands (the turn
// goroutine's view; the store catches up in order or the runner is dropped).
func (o *orchestrations) advance(r *runner, turn *replay.Turn, p *store.OrchestrationCommitParams) {
	r.historyLen = p.ExpectHistoryLen + len(p.Append)
	if p.ResetHistory {
		r.historyLen = len(p.Append)
	}
	r.status = p.Update.Status
	if turn.Outcome.Finished() {
		r.exec.Close()
		r.exec = nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if turn.Outcome == replay.ContinuedAsNew {
		r.executionID = p.Update.ExecutionID
		r.dbPending = true // the new execution's ExecutionStarted is in the inbox
		return
	}
	now := o.e.clock.Now()
	for _, m := range p.Messages {
		if m.InstanceID == r.id && !m.VisibleAt.After(now) {
			r.dbPending = true
		}
	}
	if len(p.SubOrchestrations) > 0 {
		r.dbPending = true // a child id that was taken sends its failure to this inbox
	}
}

// maxInflightCommits bounds the commits of one instance on their way to the store.
const maxInflightCommits = 16

// pendingCommit is a turn's commit on its way to the store.
type pendingCommit struct {
	done chan struct{} // closed when it landed or failed
}

// errPrecedingCommitFailed fails the commits queued behind a failed one: they build on it.
var errPrecedingCommitFailed = errors.New("a preceding commit of the instance failed")

// startCommit hands p to the store after the runner's previous commit and returns at once. Once
// it has landed, its effects beyond the store start: results forgotten, tasks renewable, other
// instances woken, waiters notified. If it fails, the results it carried become orphans for
// the turn goroutine to deliver through the store.
func (o *orchestrations) startCommit(r *runner, p *store.OrchestrationCommitParams, local []localResult,
	leased []*store.TaskCreate, speculative bool) {
	// Bound how far the runner gets ahead of the store: a crash replays at most this many turns
	// and runs their activities again.
	for len(r.inflight) > 0 {
		select {
		case <-r.inflight[0].done:
			r.inflight = r.inflight[1:]
			continue
		default:
		}
		if len(r.inflight) < maxInflightCommits {
			break
		}
		<-r.inflight[0].done
	}
	c := &pendingCommit{done: make(chan struct{})}
	prev := r.lastCommit
	r.lastCommit = c
	r.inflight = append(r.inflight, c)
	// Queued from this goroutine, commits of one instance reach the store in turn order and
	// can share a group commit.
	outcome := o.e.store.OrchestrationCommitAsync(o.e.runCtx, p)
	o.turns.Add(1)
	go func() {
		defer o.turns.Done()
		defer close(c.done)
		err := <-outcome
		if prev != nil {
			<-prev.done // land in order, so a failure is seen before anything built on it
		}
		o.mu.Lock()
		if err == nil && r.commitErr != nil {
			err = errPrecedingCommitFailed // cannot happen: it failed its history check
		}
		o.mu.Unlock()
		if err != nil {
			o.mu.Lock()
			if r.commitErr == nil {
				r.commitErr = err
			}
			r.orphans = append(r.orphans, local...)
			o.mu.Unlock()
			if !speculative {
				o.e.acts.unreserve(len(leased))
			}
			return
		}
		o.e.stats.turns.Add(1)
		if speculative {
			o.e.acts.confirm(leased)
		} else {
			o.e.acts.pushLeased(leased, true)
		}
		o.landed(r, p, local)
	}()
}

// landed starts the effects of a commit that are only valid once it is durable.
func (o *orchestrations) landed(r *runner, p *store.OrchestrationCommitParams, local []localResult) {
	e := o.e
	e.acts.forget(local)
	woken := map[string]bool{}
	for _, m := range p.Messages {
		if m.InstanceID != r.id && !woken[m.InstanceID] {
			woken[m.InstanceID] = true
			o.notify(m.InstanceID)
		}
	}
	if len(p.SubOrchestrations) > 0 || hasTimer(p.Messages) {
		o.wakePoll()
	}
	e.notifyCommitted(r.id, p.Update.Status)
}

func hasTimer(ms []*store.Message) bool {
	for _, m := range ms {
		if !m.VisibleAt.IsZero() {
			return true
		}
	}
	return false
}
