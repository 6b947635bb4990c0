package engine

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/orcahq/orca/internal/backoff"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// orchestrations is the orchestration dispatcher: the cache of runners (one per instance this
// node holds the lock of) and the poller that finds instances with new work.
type orchestrations struct {
	e   *Engine
	sem chan struct{} // bounds concurrent turns

	mu      sync.Mutex
	runners map[string]*runner
	idle    *list.List // idle runners, most recently used first
	backoff map[string]*turnBackoff
	// releasing are evicted instances whose lock release is not committed yet.
	releasing map[string]bool

	wake  chan struct{}
	turns sync.WaitGroup
}

// turnBackoff holds an instance back after failed turns: it is not adopted again before until.
// The delays grow from up to 2s to up to 64s while turns keep failing; a turn loop that ends
// with its commits landed forgets them.
type turnBackoff struct {
	until  time.Time
	delays backoff.Backoff
	// noWorker: the instance waits for a Remote's worker, not after a failure.
	noWorker bool
}

// runner holds one instance's cached executor and the work waiting for its next turn. Fields
// below mu are guarded by orchestrations.mu; the rest belong to the runner's turn goroutine.
type runner struct {
	id          string
	name        string
	status      store.Status
	historyLen  int
	exec        executor
	parentCache *history.ParentInstance

	// inflight are the commits handed to the store and not landed yet, oldest first; the last
	// one handed over is lastCommit.
	inflight   []*pendingCommit
	lastCommit *pendingCommit
	// wake tells a busy turn goroutine that new work arrived.
	wake chan struct{}

	// guarded by orchestrations.mu
	executionID string
	local       []localResult
	dbPending   bool
	busy        bool
	gone        bool
	idleElem    *list.Element
	lastUsed    time.Time
	// commitErr is the first failed commit's error; orphans are the results that commit and the
	// ones queued behind it carried, which go to the store instead.
	commitErr error
	orphans   []localResult
}

// localResult is an activity result from this node, handed to the runner in memory instead of
// through the store's inbox; its task row is deleted by the turn that applies it.
type localResult struct {
	lease store.TaskLease
	event *history.Event
}

func newOrchestrations(e *Engine) *orchestrations {
	return &orchestrations{e: e, sem: make(chan struct{}, e.cfg.TurnConcurrency), runners: map[string]*runner{},
		idle: list.New(), backoff: map[string]*turnBackoff{}, releasing: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (o *orchestrations) start() {
	o.e.goLoop(o.pollLoop)
	o.e.goLoop(o.janitorLoop)
}

// adopt takes an instance this node holds the lock of into the cache and schedules a turn.
func (o *orchestrations) adopt(in *store.Instance) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.backoff[in.ID]; ok && o.e.clock.Now().Before(b.until) {
		return
	}
	if o.releasing[in.ID] {
		return // its lock is being released; the next poll leases it again
	}
	r := o.runners[in.ID]
	if r == nil {
		r = &runner{id: in.ID, name: in.Name, status: in.Status, historyLen: in.HistoryLen, executionID: in.ExecutionID,
			wake: make(chan struct{}, 1)}
		o.runners[in.ID] = r
		o.evictLocked()
	}
	r.dbPending = true
	o.scheduleLocked(r)
}

// notify tells the dispatcher that an instance has new messages in the store.
func (o *orchestrations) notify(id string) {
	o.mu.Lock()
	r := o.runners[id]
	if r != nil {
		r.dbPending = true
		o.scheduleLocked(r)
	}
	o.mu.Unlock()
	if r == nil {
		o.wakePoll()
	}
}

// deliverLocal hands an activity result to the runner of its instance. It returns false when no
// runner of that execution is cached here; the caller then completes the task in the store.
func (o *orchestrations) deliverLocal(res localResult) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.runners[res.lease.Key.InstanceID]
	if r == nil || r.gone || r.executionID != res.lease.Key.ExecutionID {
		return false
	}
	r.local = append(r.local, res)
	o.scheduleLocked(r)
	return true
}

// retryWaiting lets the instances that waited for a worker run at the next poll.
func (o *orchestrations) retryWaiting() {
	o.mu.Lock()
	for id, b := range o.backoff {
		if b.noWorker {
			delete(o.backoff, id)
		}
	}
	o.mu.Unlock()
	o.wakePoll()
}

func (o *orchestrations) wakePoll() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *orchestrations) scheduleLocked(r *runner) {
	if r.gone {
		return
	}
	if r.busy {
		select {
		case r.wake <- struct{}{}:
		default:
		}
		return
	}
	r.busy = true
	if r.idleElem != nil {
		o.idle.Remove(r.idleElem)
		r.idleElem = nil
	}
	o.turns.Add(1)
	go o.turnLoop(r)
}

// turnLoop runs turns for r until it has no more work and its commits have landed.
//
// Turns are pipelined: a turn's commit is handed to the store and the next turn runs while it
// is in flight (its tasks already on their way to the workers), so a chain of steps is not
// slowed down to one fsync per step. The commits of one instance land in order, and each
// checks the history length the previous one left, so a failed commit fails every commit behind
// it and the runner is dropped. Anything that reads the store (the inbox, a replay, a rewind)
// first waits for the pending commits.
func (o *orchestrations) turnLoop(r *runner) {
	defer o.turns.Done()
	o.sem <- struct{}{}
	defer func() { <-o.sem }()
	for {
		o.mu.Lock()
		if err := r.commitErr; err != nil {
			o.mu.Unlock()
			o.fail(r, nil, err)
			return
		}
		local, readDB := r.local, r.dbPending
		if len(local) == 0 && !readDB {
			if r.committing() {
				// Not idle until the commit lands; new work may come first.
				o.mu.Unlock()
				select {
				case <-r.lastCommit.done:
				case <-r.wake:
				}
				continue
			}
			r.busy = false
			delete(o.backoff, r.id) // every commit landed: the failures in a row are over
			if !r.gone {
				r.lastUsed = o.e.clock.Now()
				r.idleElem = o.idle.PushFront(r)
				o.evictLocked() // the cache may have grown past its size while all were busy
			}
			o.mu.Unlock()
			return
		}
		if (readDB || r.status.Finished() || r.exec == nil) && r.committing() {
			o.mu.Unlock()
			<-r.lastCommit.done
			continue
		}
		r.local, r.dbPending = nil, false
		o.mu.Unlock()
		if err := o.runTurn(r, local, readDB); err != nil {
			o.fail(r, local, err)
			return
		}
		if r.status.Finished() && !r.gone {
			o.retire(r)
			return
		}
	}
}

// retire drops the runner of a finished instance once its last commit has landed (that commit
// released the lock; a runner that committed nothing releases it here).
func (o *orchestrations) retire(r *runner) {
	if r.lastCommit != nil {
		<-r.lastCommit.done
	}
	o.mu.Lock()
	err := r.commitErr
	var leftover []localResult
	if err == nil {
		delete(o.backoff, r.id)
		o.removeLocked(r)
		r.busy = false
		leftover, r.local = r.local, nil
		if r.lastCommit == nil {
			o.releaseAsync([]string{r.id})
		}
	}
	o.mu.Unlock()
	if err != nil {
		o.fail(r, nil, err)
		return
	}
	// Results that arrived after the execution ended: their tasks went with it.
	o.e.acts.forget(leftover)
}

// committing reports whether a commit of r is still in flight.
func (r *runner) committing() bool {
	if r.lastCommit == nil {
		return false
	}
	select {
	case <-r.lastCommit.done:
		return false
	default:
		return true
	}
}

// fail drops a runner after a failed turn or commit. Results handed over in memory go to the
// store instead. A lost lock means another node owns the instance now; any other error backs off
// and retries from the store, whose state the failed commit did not change.
func (o *orchestrations) fail(r *runner, local []localResult, err error) {
	if r.lastCommit != nil {
		<-r.lastCommit.done // every result of a pending commit is either recorded or orphaned
	}
	o.mu.Lock()
	o.removeLocked(r)
	r.busy = false
	local = append(local, r.local...)
	local = append(local, r.orphans...)
	r.local, r.orphans = nil, nil
	noWorker := errors.Is(err, ErrNoWorker)
	switch {
	case noWorker:
		// Not a failure: the instance waits for a worker, tried again at every poll.
		o.backoff[r.id] = &turnBackoff{until: o.e.clock.Now().Add(o.e.cfg.PollInterval), noWorker: true}
	case !errors.Is(err, store.ErrLeaseLost):
		b := o.backoff[r.id]
		if b == nil || b.noWorker {
			b = &turnBackoff{delays: backoff.Backoff{Base: 2 * time.Second, Cap: 64 * time.Second}}
			o.backoff[r.id] = b
		}
		b.until = o.e.clock.Now().Add(b.delays.Next())
	}
	o.mu.Unlock()
	if o.e.runCtx.Err() == nil {
		switch {
		case noWorker:
			o.e.log.Debug("orchestration waits for a worker", "instance_id", r.id, "orchestrator", r.name)
		case errors.Is(err, store.ErrLeaseLost):
			o.e.log.Info("instance lock lost; dropping it from the cache", "instance_id", r.id, "err", err)
		default:
			o.e.log.Error("orchestration turn failed; will retry", "instance_id", r.id, "err", err)
		}
	}
	for _, res := range local {
		o.e.acts.completeInStore(res)
	}
}

// removeLocked takes r out of the cache; its executor is closed.
func (o *orchestrations) removeLocked(r *runner) {
	if r.gone {
		return
	}
	r.gone = true
	delete(o.runners, r.id)
	if r.idleElem != nil {
		o.idle.Remove(r.idleElem)
		r.idleElem = nil
	}
	if r.exec != nil {
		r.exec.Close()
		r.exec = nil
	}
}

// evictLocked evicts least recently used idle runners while the cache is over its size, and
// releases their locks.
func (o *orchestrations) evictLocked() {
	var ids []string
	for len(o.runners) > o.e.cfg.CacheSize && o.idle.Len() > 0 {
		r := o.idle.Back().Value.(*runner)
		o.removeLocked(r)
		ids = append(ids, r.id)
		o.e.stats.evictions.Add(1)
	}
	o.releaseAsync(ids)
}

// releaseAsync releases the locks of evicted instances (o.mu held). Until the release is
// committed the instances are not adopted again: a new runner would lose its lock to it.
func (o *orchestrations) releaseAsync(ids []string) {
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		o.releasing[id] = true
	}
	o.turns.Add(1)
	go func() {
		defer o.turns.Done()
		if err := o.e.store.OrchestrationRelease(o.e.runCtx, o.e.cfg.NodeID, ids); err != nil && o.e.runCtx.Err() == nil {
			o.e.log.Warn("release evicted instances", "err", err)
		}
		o.mu.Lock()
		for _, id := range ids {
			delete(o.releasing, id)
		}
		o.mu.Unlock()
		o.wakePoll()
	}()
}

// janitorLoop evicts runners idle for longer than CacheIdle.
func (o *orchestrations) janitorLoop() {
	for {
		select {
		case <-o.e.stopping:
			return
		case <-o.e.clock.After(o.e.cfg.CacheIdle / 2):
		}
		o.evictIdle()
	}
}

func (o *orchestrations) evictIdle() {
	cutoff := o.e.clock.Now().Add(-o.e.cfg.CacheIdle)
	o.mu.Lock()
	var ids []string
	for o.idle.Len() > 0 {
		r := o.idle.Back().Value.(*runner)
		if r.lastUsed.After(cutoff) {
			break
		}
		o.removeLocked(r)
		ids = append(ids, r.id)
	}
	for id, b := range o.backoff {
		if b.until.Before(cutoff) {
			delete(o.backoff, id)
		}
	}
	o.releaseAsync(ids)
	o.mu.Unlock()
}

// pollLoop finds work the dispatcher was not told about: instances whose lock is free or
// expired (other nodes' work, a previous life's), due timers, and messages for instances held
// here that arrived through the store.
func (o *orchestrations) pollLoop() {
	for {
		if o.e.isStopping() {
			return
		}
		full := o.pollOnce(o.e.runCtx)
		if full {
			continue
		}
		wait := o.e.cfg.PollInterval
		now := o.e.clock.Now()
		if next, ok, err := o.e.store.OrchestrationNextVisible(o.e.runCtx, now); err == nil && ok && next.Sub(now) < wait {
			wait = max(next.Sub(now), time.Millisecond)
		}
		select {
		case <-o.e.stopping:
			return
		case <-o.wake:
		case <-o.e.clock.After(wait):
		}
	}
}

const pollBatch = 256

// pollOnce leases and adopts ready instances; it reports whether a batch was full (more may wait).
func (o *orchestrations) pollOnce(ctx context.Context) bool {
	now := o.e.clock.Now()
	owned, err := o.e.store.OrchestrationOwned(ctx, o.e.cfg.NodeID, now, pollBatch)
	if err != nil {
		o.logPollError(err)
		return false
	}
	for _, in := range owned {
		o.adopt(in)
	}
	leased, err := o.e.store.OrchestrationLease(ctx, &store.OrchestrationLeaseParams{
		Owner: o.e.cfg.NodeID, Now: now, LockExpiry: now.Add(o.e.cfg.LockDuration), Limit: pollBatch})
	if err != nil {
		o.logPollError(err)
		return false
	}
	for _, in := range leased {
		o.adopt(in)
	}
	return len(leased) == pollBatch
}

func (o *orchestrations) logPollError(err error) {
	if o.e.runCtx.Err() == nil {
		o.e.log.Error("poll orchestrations", "err", err)
	}
}

// drain waits until no turn is running or ctx ends.
func (o *orchestrations) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		o.turns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (o *orchestrations) wait() { o.turns.Wait() }

// closeAll drops every runner (at shutdown, after the turns ended).
func (o *orchestrations) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.runners {
		o.removeLocked(r)
	}
}
