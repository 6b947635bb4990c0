package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// activities is the activity dispatcher: it holds the task leases of this node, feeds them to a
// fixed pool of workers, renews them, and delivers the results.
type activities struct {
	e     *Engine
	queue chan *store.Task // leased tasks waiting for a worker; capacity ActivityPrefetch

	mu sync.Mutex
	// held are the leases this node holds: queued, running, or with a result handed to a runner
	// and not committed yet. len(held)+reserved never exceeds ActivityPrefetch.
	held     map[store.TaskKey]*heldTask
	reserved int
	more     bool // the store may have tasks nobody leased yet

	wake    chan struct{}
	drainCh chan struct{}
	workers sync.WaitGroup
	inStore sync.WaitGroup // completions on their way to the store
}

type heldTask struct {
	task   *store.Task
	cancel context.CancelFunc
	lost   bool
	// unconfirmed: created by a commit that has not landed yet.
	unconfirmed bool
}

func newActivities(e *Engine) *activities {
	return &activities{e: e, queue: make(chan *store.Task, e.cfg.ActivityPrefetch), held: map[store.TaskKey]*heldTask{},
		wake: make(chan struct{}, 1), drainCh: make(chan struct{}), more: true}
}

func (a *activities) start() {
	for i := 0; i < a.e.cfg.ActivityConcurrency; i++ {
		a.workers.Add(1)
		go a.worker()
	}
	a.e.goLoop(a.pollLoop)
}

// reserve promises up to n queue slots to tasks a commit is about to create leased to this node.
func (a *activities) reserve(n int) int {
	if n == 0 || a.e.isStopping() {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := min(n, a.e.cfg.ActivityPrefetch-len(a.held)-a.reserved)
	if k < 0 {
		k = 0
	}
	a.reserved += k
	return k
}

// pushLeased queues tasks a commit creates leased to this node (their slots were reserved). If
// the commit has not landed yet (not committed), their leases are not renewed until confirm: the
// rows may not exist yet, and a renewal would report them lost.
func (a *activities) pushLeased(tcs []*store.TaskCreate, committed bool) {
	if len(tcs) == 0 {
		return
	}
	a.mu.Lock()
	a.reserved -= len(tcs)
	tasks := make([]*store.Task, len(tcs))
	for i, tc := range tcs {
		t := &store.Task{TaskKey: tc.TaskKey, Name: tc.Name, Input: tc.Input, Attempt: 1, LockOwner: tc.Owner, LockExpiry: tc.LockExpiry}
		a.holdLocked(t).unconfirmed = !committed
		tasks[i] = t
	}
	a.mu.Unlock()
	for _, t := range tasks {
		a.queue <- t
	}
}

// unreserve returns slots reserved for tasks whose commit failed.
func (a *activities) unreserve(k int) {
	if k == 0 {
		return
	}
	a.mu.Lock()
	a.reserved -= k
	a.mu.Unlock()
}

// pollSoon tells the poller that the store has tasks nobody leased yet.
func (a *activities) pollSoon() {
	a.mu.Lock()
	a.more = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *activities) pollLoop() {
	for {
		if a.e.isStopping() {
			return
		}
		if a.pollOnce(a.e.runCtx) {
			continue
		}
		select {
		case <-a.e.stopping:
			return
		case <-a.wake:
		case <-a.e.clock.After(a.e.cfg.PollInterval):
			a.mu.Lock()
			a.more = true // periodic: expired leases of other nodes
			a.mu.Unlock()
		}
	}
}

// pollOnce leases tasks into the free queue slots; it reports whether it filled them all (more
// may be waiting).
func (a *activities) pollOnce(ctx context.Context) bool {
	a.mu.Lock()
	free := a.e.cfg.ActivityPrefetch - len(a.held) - a.reserved
	more := a.more
	a.mu.Unlock()
	if free <= 0 || !more {
		return false
	}
	// Only the activities this node has functions for: the others are for the hosts that have
	// them (orca.Registry.AddRemoteActivity), and a node deployed without an activity must not
	// take its tasks and fail them.
	names := a.e.cfg.Registry.ActivityNames()
	if a.takesAny() {
		names = nil // any: the ones the registry lacks go to the remote workers
	} else if len(names) == 0 {
		return false
	}
	now := a.e.clock.Now()
	tasks, err := a.e.store.TaskLease(ctx, &store.TaskLeaseParams{Owner: a.e.cfg.NodeID, Now: now,
		LockExpiry: now.Add(a.e.cfg.LockDuration), Limit: free, Names: names})
	if err != nil {
		if ctx.Err() == nil {
			a.e.log.Error("lease activity tasks", "err", err)
		}
		return false
	}
	a.mu.Lock()
	a.more = len(tasks) == free
	for _, t := range tasks {
		a.holdLocked(t)
	}
	a.mu.Unlock()
	for _, t := range tasks {
		a.queue <- t
	}
	return len(tasks) == free && free > 0
}

func (a *activities) worker() {
	defer a.workers.Done()
	for {
		select {
		case <-a.drainCh:
			return
		case t := <-a.queue:
			select {
			case <-a.drainCh:
				return // shutting down: the task stays leased until Stop abandons it
			default:
			}
			if a.remote(t.Name) {
				// A remote worker runs it: the slot is not held while it does, so that every task
				// this node holds can be out at once (the SDKs' workers take all they are sent).
				a.workers.Add(1)
				go func() {
					defer a.workers.Done()
					a.run(t)
				}()
				continue
			}
			a.run(t)
		}
	}
}

// takesAny reports whether the node leases tasks of any activity: it has a Remote with a worker
// connected, to run those the registry lacks. A registry that declares remote activities
// (Registry.AddRemoteActivity) leaves unknown names to the hosts that have them instead.
func (a *activities) takesAny() bool {
	r := a.e.cfg.Remote
	return r != nil && len(a.e.cfg.Registry.RemoteActivityNames()) == 0 && r.Connected()
}

// remote reports whether the Remote runs an activity: the registry has no function for it.
func (a *activities) remote(name string) bool {
	if a.e.cfg.Remote == nil {
		return false
	}
	_, ok := a.e.cfg.Registry.Activity(name)
	return !ok
}

// run executes one task and delivers its result.
func (a *activities) run(t *store.Task) {
	ctx, cancel := context.WithCancel(a.e.runCtx)
	defer cancel()
	a.mu.Lock()
	h := a.held[t.TaskKey]
	if h == nil || h.task != t || h.lost {
		a.forgetLocked(t.TaskKey, t.Attempt)
		a.mu.Unlock()
		return
	}
	h.cancel = cancel
	a.mu.Unlock()

	began := time.Now()
	var ev *history.Event
	if fn, ok := a.e.cfg.Registry.Activity(t.Name); ok {
		ev = a.execute(ctx, fn, t)
	} else if a.e.cfg.Remote != nil {
		var err error
		if ev, err = a.executeRemote(ctx, t); err != nil {
			a.e.log.Debug("remote activity did not run; its task goes back", "instance_id", t.InstanceID,
				"task_id", t.TaskID, "activity", t.Name, "err", err)
			a.giveBack(t)
			return
		}
	} else {
		// Leases are restricted to the registry's activities, which only grow, so this does not
		// happen; should it, the task goes back to the store for a host that has the function.
		a.giveBack(t)
		return
	}
	a.e.stats.activities.Add(1)
	if observe := a.e.cfg.ObserveActivity; observe != nil {
		observe(t.Name, ev.TaskFailed != nil, time.Since(began))
	}

	a.mu.Lock()
	lost := h.lost
	if lost {
		a.forgetLocked(t.TaskKey, t.Attempt)
	}
	a.mu.Unlock()
	switch {
	case lost:
		a.e.log.Info("activity lease lost; result dropped", "instance_id", t.InstanceID, "task_id", t.TaskID, "activity", t.Name)
		return
	case a.e.runCtx.Err() != nil:
		// Hard shutdown cancelled it: its outcome says nothing about the work. The lease is
		// abandoned and the task runs again elsewhere.
		return
	}
	lease := store.TaskLease{Key: t.TaskKey, Attempt: t.Attempt}
	if !a.e.orch.deliverLocal(localResult{lease: lease, event: ev}) {
		a.completeInStore(localResult{lease: lease, event: ev})
	}
	a.maybeWakePoll()
}

// executeRemote runs a task of an activity the registry lacks on the Remote. An error means it
// did not run there (no worker, the worker lost, shutdown): the task goes back to the store.
func (a *activities) executeRemote(ctx context.Context, t *store.Task) (*history.Event, error) {
	result, failure, err := a.e.cfg.Remote.RunActivity(ctx, &RemoteActivity{Name: t.Name, InstanceID: t.InstanceID,
		ExecutionID: t.ExecutionID, TaskID: t.TaskID, Input: t.Input})
	switch {
	case err != nil:
		return nil, err
	case failure != nil:
		return history.NewTaskFailed(a.e.clock.Now(), t.TaskID, failure), nil
	}
	return history.NewTaskCompleted(a.e.clock.Now(), t.TaskID, result), nil
}

// giveBack abandons the lease of a task this node cannot run.
func (a *activities) giveBack(t *store.Task) {
	err := a.e.store.TaskAbandon(a.e.runCtx, a.e.cfg.NodeID, []store.TaskLease{{Key: t.TaskKey, Attempt: t.Attempt}})
	a.mu.Lock()
	a.forgetLocked(t.TaskKey, t.Attempt)
	a.mu.Unlock()
	if err != nil && a.e.runCtx.Err() == nil {
		a.e.log.Error("give back a task of an activity this node does not have; it returns when its lease expires",
			"instance_id", t.InstanceID, "task_id", t.TaskID, "activity", t.Name, "err", err)
	}
}

// execute runs the activity function fn and returns its TaskCompleted or TaskFailed event.
func (a *activities) execute(ctx context.Context, fn orca.Activity, t *store.Task) (ev *history.Event) {
	now := a.e.clock.Now
	actx := &activityContext{Context: ctx, task: t, logger: a.e.log.With("instance_id", t.InstanceID, "task_id", t.TaskID, "activity", t.Name)}
	defer func() {
		if r := recover(); r != nil {
			ev = history.NewTaskFailed(now(), t.TaskID, &history.FailureDetails{ErrorType: "panic",
				ErrorMessage: fmt.Sprint(r), StackTrace: string(debug.Stack())})
		}
	}()
	out, err := fn(actx)
	if err != nil {
		f := orca.FailureFromError(err)
		return history.NewTaskFailed(now(), t.TaskID, &history.FailureDetails{ErrorType: f.ErrorType,
			ErrorMessage: f.ErrorMessage, NonRetriable: f.NonRetriable})
	}
	b, err := orca.MarshalPayload(out)
	if err != nil {
		return history.NewTaskFailed(now(), t.TaskID, &history.FailureDetails{ErrorType: "MarshalError",
			ErrorMessage: "activity result: " + err.Error(), NonRetriable: true})
	}
	return history.NewTaskCompleted(now(), t.TaskID, b)
}

// completeInStore completes a task through the store: task deleted, result in the inbox.
func (a *activities) completeInStore(res localResult) {
	a.inStore.Add(1)
	defer a.inStore.Done()
	key := res.lease.Key
	err := a.e.store.TaskComplete(a.e.runCtx, &store.TaskCompleteParams{Key: key, Owner: a.e.cfg.NodeID, Now: a.e.clock.Now(),
		Attempt: res.lease.Attempt, Result: &store.Message{InstanceID: key.InstanceID, ExecutionID: key.ExecutionID, Event: res.event}})
	a.mu.Lock()
	a.forgetLocked(key, res.lease.Attempt)
	a.mu.Unlock()
	switch {
	case err == nil:
		a.e.orch.notify(key.InstanceID)
	case errors.Is(err, store.ErrLeaseLost):
		a.e.log.Info("activity completed after its lease was lost; result dropped", "instance_id", key.InstanceID, "task_id", key.TaskID)
	case a.e.runCtx.Err() == nil:
		a.e.log.Error("complete activity; it will run again when its lease expires", "instance_id", key.InstanceID,
			"task_id", key.TaskID, "err", err)
	}
}

// forget drops the leases of results a runner recorded (or that became void with their
// execution).
func (a *activities) forget(local []localResult) {
	if len(local) == 0 {
		return
	}
	a.mu.Lock()
	for _, res := range local {
		a.forgetLocked(res.lease.Key, res.lease.Attempt)
	}
	a.mu.Unlock()
	a.maybeWakePoll()
}

// holdLocked records a lease this node took. If it still held an older lease of the same task,
// that lease expired or was taken away: the run that holds it is lost.
func (a *activities) holdLocked(t *store.Task) *heldTask {
	if old := a.held[t.TaskKey]; old != nil {
		old.lost = true
		if old.cancel != nil {
			old.cancel()
		}
	}
	h := &heldTask{task: t}
	a.held[t.TaskKey] = h
	return h
}

// confirm makes the leases of pushed tasks renewable: their commit landed.
func (a *activities) confirm(tcs []*store.TaskCreate) {
	if len(tcs) == 0 {
		return
	}
	a.mu.Lock()
	for _, tc := range tcs {
		if h := a.held[tc.TaskKey]; h != nil && h.task.Attempt == 1 {
			h.unconfirmed = false
		}
	}
	a.mu.Unlock()
}

// forgetLocked drops the lease of one attempt; a newer lease of the same task stays.
func (a *activities) forgetLocked(key store.TaskKey, attempt int) {
	if h := a.held[key]; h != nil && h.task.Attempt == attempt {
		delete(a.held, key)
	}
}

// maybeWakePoll wakes the poller when tasks may be waiting in the store and a quarter of the
// queue is free.
func (a *activities) maybeWakePoll() {
	a.mu.Lock()
	wake := a.more && a.e.cfg.ActivityPrefetch-len(a.held)-a.reserved >= a.e.cfg.ActivityPrefetch/4
	a.mu.Unlock()
	if wake {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// renew extends the leases this node holds and cancels the activities whose lease is gone.
func (a *activities) renew(ctx context.Context, expiry time.Time) {
	a.mu.Lock()
	leases := make([]store.TaskLease, 0, len(a.held))
	for k, h := range a.held {
		if !h.unconfirmed {
			leases = append(leases, store.TaskLease{Key: k, Attempt: h.task.Attempt})
		}
	}
	a.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	lost, err := a.e.store.TaskRenew(ctx, a.e.cfg.NodeID, leases, expiry)
	if err != nil {
		if ctx.Err() == nil {
			a.e.log.Warn("renew activity leases", "err", err)
		}
		return
	}
	sent := make(map[store.TaskKey]int, len(leases))
	for _, l := range leases {
		sent[l.Key] = l.Attempt
	}
	a.mu.Lock()
	for _, k := range lost {
		if h := a.held[k]; h != nil && h.task.Attempt == sent[k] {
			h.lost = true
			if h.cancel != nil {
				h.cancel()
			}
		}
	}
	a.mu.Unlock()
}

// drain stops the workers from taking new tasks and waits for the running ones, or ctx.
func (a *activities) drain(ctx context.Context) {
	close(a.drainCh)
	done := make(chan struct{})
	go func() {
		a.workers.Wait()
		a.inStore.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (a *activities) wait() {
	a.workers.Wait()
	a.inStore.Wait()
}

// activityContext is the orca.ActivityContext of one task run.
type activityContext struct {
	context.Context
	task   *store.Task
	logger *slog.Logger
}

func (c *activityContext) Input(v any) error    { return orca.UnmarshalPayload(c.task.Input, v) }
func (c *activityContext) Name() string         { return c.task.Name }
func (c *activityContext) InstanceID() string   { return c.task.InstanceID }
func (c *activityContext) TaskID() int32        { return c.task.TaskID }
func (c *activityContext) Attempt() int         { return c.task.Attempt }
func (c *activityContext) Logger() *slog.Logger { return c.logger }

var _ orca.ActivityContext = (*activityContext)(nil)
