package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// rewind makes a Failed instance run again. It cuts the history at the failure the orchestration
// never recovered from (the earliest failed task or sub-orchestration after which the
// orchestrator took no further action; failing that, the ExecutionCompleted), keeps everything
// before the cut, and puts back what the cut removed that is still valid: results of work
// scheduled before the cut are re-delivered, external events are re-delivered, and work
// scheduled before the cut that has no result is scheduled again (failed activities run again,
// failed sub-orchestrations are rewound). Actions after the cut are dropped; the replayed
// orchestrator takes them again. Any prefix of a deterministic history replays to the same
// state, so the rewound instance continues exactly as if the failures had not happened yet.
func (o *orchestrations) rewind(r *runner, req *history.Event, consumed []int64, completed []store.TaskKey, now time.Time) error {
	e := o.e
	ctx := e.runCtx
	in, err := e.store.InstanceGet(ctx, r.id, false)
	if err != nil {
		return err
	}
	var events []*history.Event
	for after := -1; ; {
		recs, err := e.store.HistoryRead(ctx, &store.HistoryReadParams{InstanceID: r.id, After: after, Limit: historyPage})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			events = append(events, rec.Event)
		}
		after = recs[len(recs)-1].Seq
	}
	if len(events) != r.historyLen {
		return fmt.Errorf("rewind %s: history changed while reading it: %w", r.id, store.ErrLeaseLost)
	}
	cut := rewindCut(events)
	if cut < 0 {
		return fmt.Errorf("rewind %s: the history has no failure to rewind", r.id)
	}
	scheduled := map[int32]*history.Event{}
	for _, ev := range events[:cut] {
		if ev.Type.IsAction() && ev.Type != history.EventSent {
			scheduled[ev.EventID] = ev
		} else if id, ok := ev.TaskScheduledID(); ok {
			delete(scheduled, id)
		}
	}
	p := &store.OrchestrationCommitParams{InstanceID: r.id, Owner: e.cfg.NodeID, ExpectHistoryLen: r.historyLen,
		TruncateHistory: cut, Append: []*history.Event{history.NewExecutionRewound(now, req.ExecutionRewound.Reason)},
		Consumed: consumed, CompletedTasks: completed, LockExpiry: now.Add(e.cfg.LockDuration),
		Update: store.InstanceUpdate{Status: store.StatusRunning, CustomStatus: in.CustomStatus, UpdatedAt: now}}
	for _, ev := range events[cut:] {
		switch ev.Type {
		case history.EventRaised:
			p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, Event: ev})
		case history.TaskCompleted, history.TimerFired, history.SubOrchestrationInstanceCompleted:
			id, _ := ev.TaskScheduledID()
			if scheduled[id] != nil {
				delete(scheduled, id)
				p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, ExecutionID: in.ExecutionID, Event: ev})
			}
		}
	}
	var children []string
	for id, ev := range scheduled {
		switch ev.Type {
		case history.TaskScheduled:
			p.Tasks = append(p.Tasks, &store.TaskCreate{TaskKey: store.TaskKey{InstanceID: r.id, ExecutionID: in.ExecutionID, TaskID: id},
				Name: ev.TaskScheduled.Name, Input: ev.TaskScheduled.Input})
		case history.TimerCreated:
			fire := ev.TimerCreated.FireAt
			p.Messages = append(p.Messages, &store.Message{InstanceID: r.id, ExecutionID: in.ExecutionID, VisibleAt: fire,
				Event: history.NewTimerFired(fire, id, fire)})
		case history.SubOrchestrationInstanceCreated:
			children = append(children, ev.SubOrchestrationInstanceCreated.InstanceID)
			if m := o.childOutcome(in, id, ev.SubOrchestrationInstanceCreated.InstanceID, now); m != nil {
				p.Messages = append(p.Messages, m)
			}
		}
	}
	if err := e.store.OrchestrationCommit(ctx, p); err != nil {
		return err
	}
	e.log.Info("instance rewound", "instance_id", r.id, "history_cut_at", cut, "tasks_rescheduled", len(p.Tasks))
	e.acts.pollSoon()
	r.historyLen = cut + len(p.Append)
	r.status = store.StatusRunning
	o.mu.Lock()
	r.dbPending = true
	o.mu.Unlock()
	for _, child := range children {
		// A failed child is rewound too; any other state needs nothing.
		err := e.Rewind(ctx, child, req.ExecutionRewound.Reason)
		if err != nil && !errors.Is(err, store.ErrWrongStatus) && !errors.Is(err, store.ErrNotFound) {
			e.log.Warn("rewind sub-orchestration", "instance_id", child, "err", err)
		}
	}
	e.notifyCommitted(r.id, store.StatusRunning)
	return nil
}

// childOutcome re-delivers the result of a sub-orchestration that finished while its parent was
// failed (its notice was dropped then); a failed child is rewound instead, a running one will
// report when it ends.
func (o *orchestrations) childOutcome(parent *store.Instance, taskID int32, childID string, now time.Time) *store.Message {
	child, err := o.e.store.InstanceGet(o.e.runCtx, childID, true)
	if err != nil {
		return nil
	}
	var ev *history.Event
	switch child.Status {
	case store.StatusCompleted:
		ev = history.NewSubOrchestrationCompleted(now, taskID, child.Output)
	case store.StatusTerminated:
		ev = history.NewSubOrchestrationFailed(now, taskID, &history.FailureDetails{ErrorType: "Terminated",
			ErrorMessage: "sub-orchestration was terminated: " + string(child.Output)})
	default:
		return nil
	}
	return &store.Message{InstanceID: parent.ID, ExecutionID: parent.ExecutionID, Event: ev}
}

// rewindCut returns where rewind cuts the history: at the earliest failure after which no action
// was taken, else at the ExecutionCompleted; -1 when the execution did not fail.
func rewindCut(events []*history.Event) int {
	lastAction := -1
	completed := -1
	for i, ev := range events {
		if ev.Type.IsAction() {
			lastAction = i
		}
		if ev.Type == history.ExecutionCompleted && ev.ExecutionCompleted.Status == history.OutcomeFailed {
			completed = i
		}
	}
	if completed < 0 {
		return -1
	}
	for i, ev := range events[:completed] {
		if (ev.Type == history.TaskFailed || ev.Type == history.SubOrchestrationInstanceFailed) && i > lastAction {
			return i
		}
	}
	return completed
}
