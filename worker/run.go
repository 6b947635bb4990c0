package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/backoff"
)

// Run processes work items until ctx ends or, with MaxIdle, until the queue has been empty that
// long. Once ctx ends it leases no more and goes on with the items in hand for up to
// ShutdownGrace: the ones it leased ahead run too (giving them back would hand another worker a
// delivery it must wait for); what grace cuts short is given back. It returns nil on either; an
// error means the worker could not run at all.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	hand := cfg.Concurrency + MaxBatch // the most a worker ever holds (holdLimit)
	r := &run{cfg: cfg, log: cfg.Logger.With("queue", cfg.Queue), held: make(map[string]*item),
		lastWork: time.Now(), freed: make(chan struct{}, 1), ready: make(chan *item, hand), done: make(chan *item, hand)}

	// Items running outlive ctx by up to ShutdownGrace.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, cancelWork)
		context.AfterFunc(workCtx, func() { t.Stop() })
	})
	defer stop()

	var slots sync.WaitGroup
	for range cfg.Concurrency {
		slots.Add(1)
		go func() {
			defer slots.Done()
			r.slot(workCtx)
		}()
	}
	completed := make(chan struct{})
	go func() {
		defer close(completed)
		r.complete()
	}()
	renewCtx, stopRenewing := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(renewCtx)
	}()

	r.lease(ctx)
	if ctx.Err() != nil {
		r.log.Info("stopping: finishing the items in hand, giving back what the shutdown grace cuts short",
			"grace", cfg.ShutdownGrace)
	}
	close(r.ready)
	slots.Wait()
	close(r.done)
	<-completed
	stopRenewing()
	<-renewed
	return nil
}

// run is one Run's pipeline: lease → ready → slots → done → complete, with renew beside.
type run struct {
	cfg Config
	log *slog.Logger

	// calls is held for reading by completions and releases in flight and for writing by a
	// renewal, so that a renewal never races a completion over an item's pop receipt.
	calls sync.RWMutex

	mu       sync.Mutex
	held     map[string]*item // leased and not yet completed, released or lost
	lastWork time.Time        // when an item was last leased or finished

	inHand   int           // leased and not yet finished, at most holdLimit(); guarded by mu
	itemTime time.Duration // a moving average of an item's run (0: none measured yet); by mu
	freed    chan struct{} // signalled when an item finishes, for a leaser waiting for room

	ready chan *item // leased, waiting for a slot
	done  chan *item // finished or failed, waiting for its call
}

// item is a held work item. PopReceipt, renewed, cancel and lost are guarded by run.mu; result,
// err and shutdown are set by the one goroutine that has the item at a time.
type item struct {
	Leased
	renewed time.Time
	cancel  context.CancelFunc // the algorithm's, while it runs
	lost    bool

	result    json.RawMessage
	err       error
	shutdown  bool // given back unfinished on shutdown: not a failure
	unstarted bool // given back on shutdown before it began: the delivery does not count
}

// callTimeout bounds one batched call.
const callTimeout = 30 * time.Second

// leaseAhead is how long the items a worker holds beyond its slots may wait for one, once it
// knows how long items take: quick items are leased ahead in larger batches (fewer calls per
// item), slow ones no further than Batch, so that a worker does not sit on work an idle worker
// could start.
const leaseAhead = 500 * time.Millisecond

// holdLimit is how many items the worker may hold: its slots, and ahead of them Batch or what
// the slots finish in leaseAhead, whichever is more (at most MaxBatch). Callers hold mu.
func (r *run) holdLimit() int {
	ahead := r.cfg.Batch
	if r.itemTime > 0 {
		quick := int(min(time.Duration(r.cfg.Concurrency)*leaseAhead/r.itemTime, MaxBatch))
		ahead = max(ahead, quick)
	}
	return r.cfg.Concurrency + ahead
}

// room is how many items a lease may take now.
func (r *run) room() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return min(r.holdLimit()-r.inHand, MaxBatch)
}

// lease takes items while ctx lasts and there is room, and hands them to the slots.
func (r *run) lease(ctx context.Context) {
	cfg := r.cfg
	delays := backoff.Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second}
	for {
		n := r.room()
		if n <= 0 {
			select {
			case <-r.freed:
				continue
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		wait := cfg.PollWait
		if cfg.MaxIdle > 0 {
			wait = min(wait, max(cfg.MaxIdle-r.idleFor(), time.Millisecond))
		}
		if cfg.OnPolling != nil {
			cfg.OnPolling()
			cfg.OnPolling = nil
		}
		got, err := cfg.Work.Lease(ctx, cfg.Queue, n, cfg.VisibilityTimeout, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			delay := delays.Next()
			r.log.Warn("lease failed; retrying", "err", err, "in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delays.Reset()
		now := time.Now()
		r.mu.Lock()
		r.inHand += len(got)
		for _, l := range got {
			r.held[l.ID] = &item{Leased: *l, renewed: now}
		}
		items := make([]*item, len(got))
		for i, l := range got {
			items[i] = r.held[l.ID]
		}
		if len(got) > 0 {
			r.lastWork = now
		}
		idle := len(r.held) == 0 && now.Sub(r.lastWork) >= cfg.MaxIdle
		r.mu.Unlock()
		if len(got) == 0 && cfg.MaxIdle > 0 && idle {
			r.log.Info("idle; exiting", "max_idle", cfg.MaxIdle)
			return
		}
		for _, it := range items {
			if it.Problem != "" {
				it.err = errors.New(it.Problem)
				r.finish(it, 0)
				continue
			}
			r.ready <- it
		}
	}
}

func (r *run) idleFor() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Since(r.lastWork)
}

// finish hands an item on to its call and frees its room; took, when the item ran, goes into
// the moving average of an item's run.
func (r *run) finish(it *item, took time.Duration) {
	r.mu.Lock()
	r.inHand--
	if took > 0 {
		took = max(took, time.Microsecond)
		if r.itemTime == 0 {
			r.itemTime = took
		} else {
			r.itemTime += (took - r.itemTime) / 8
		}
	}
	r.mu.Unlock()
	select {
	case r.freed <- struct{}{}:
	default:
	}
	r.done <- it
}

// slot runs items until the leaser stops and the items in hand are done; once the shutdown
// grace is over it gives back the ones it gets, unstarted.
func (r *run) slot(workCtx context.Context) {
	for it := range r.ready {
		if workCtx.Err() != nil {
			it.err, it.shutdown, it.unstarted = errors.New("worker shut down before the item began"), true, true
			r.finish(it, 0)
			continue
		}
		start := time.Now()
		r.compute(workCtx, it)
		r.finish(it, time.Since(start))
	}
}

// compute runs the algorithm on one item.
func (r *run) compute(ctx context.Context, it *item) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	lost := it.lost
	it.cancel = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		it.cancel = nil
		r.mu.Unlock()
	}()
	if lost {
		return
	}
	var in compute.Input
	if err := json.Unmarshal(it.Input, &in); err != nil {
		it.err = fmt.Errorf("input %s is not {input_id, instance_id, input_data}: %w", it.Item.PathToData, err)
		return
	}
	var res json.RawMessage
	var err error
	if a, ok := r.cfg.Algorithm.(ItemAlgorithm); ok {
		res, err = a.ComputeItem(ctx, it.Item, in.InputData)
	} else {
		res, err = r.cfg.Algorithm.Compute(ctx, in.InputData)
	}
	switch {
	case err != nil && ctx.Err() != nil && !r.isLost(it):
		it.err, it.shutdown = errors.New("worker shut down"), true
	case err != nil:
		it.err = err
	case !json.Valid(res):
		it.err = fmt.Errorf("the algorithm's result is not JSON: %.200q", res)
	default:
		it.result = res
	}
}

func (r *run) isLost(it *item) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return it.lost
}

// callsInFlight bounds the completion and release calls in flight at once.
const callsInFlight = 4

// complete sends finished items back a batch at a time until done is closed: a call takes
// whatever has finished by the time a call may go, up to MaxBatch, so batches grow with load.
func (r *run) complete() {
	calls := make(chan struct{}, callsInFlight)
	var wg sync.WaitGroup
	for it := range r.done {
		calls <- struct{}{}
		batch := []*item{it}
	drain:
		for len(batch) < MaxBatch {
			select {
			case it, ok := <-r.done:
				if !ok {
					break drain
				}
				batch = append(batch, it)
			default:
				break drain
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-calls }()
			r.send(batch)
		}()
	}
	wg.Wait()
}

// send completes a batch's finished items and gives back its failed ones.
func (r *run) send(batch []*item) {
	var ok, failed []*item
	for _, it := range batch {
		switch {
		case r.isLost(it):
			r.log.Warn("lease lost while the item was in hand; it runs again elsewhere", "input_id", it.Item.InputID,
				"instance_id", it.Item.InstanceID)
			r.forget(it, fmt.Errorf("message %s: %w", it.ID, ErrLeaseLost))
		case it.err != nil:
			failed = append(failed, it)
		default:
			ok = append(ok, it)
		}
	}
	if len(ok) > 0 {
		r.completeBatch(ok)
	}
	if len(failed) > 0 {
		r.release(failed)
	}
}

// completeBatch completes items, retrying a call that fails as a whole until the items' leases
// would have run out; an item the server could not complete is given back.
func (r *run) completeBatch(items []*item) {
	var failed []*item
	r.retry("complete", items, func(ctx context.Context, attempt int) error {
		cs := make([]Completion, len(items))
		r.mu.Lock()
		for i, it := range items {
			cs[i] = Completion{ID: it.ID, PopReceipt: it.PopReceipt, Item: it.Item, Result: it.result}
		}
		r.mu.Unlock()
		res, err := r.cfg.Work.Complete(ctx, r.cfg.Queue, cs)
		if err == nil && len(res) != len(items) {
			err = fmt.Errorf("%d outcomes for %d items", len(res), len(items))
		}
		if err != nil {
			return err
		}
		for i, it := range items {
			switch err := res[i].Err; {
			case err == nil, attempt > 0 && errors.Is(err, ErrNotFound):
				// Not found on a call sent again: the call before did it, its answer was lost.
				r.forget(it, nil)
			case errors.Is(err, ErrLeaseLost), errors.Is(err, ErrNotFound):
				r.log.Warn("completion refused: the item's lease was lost; it runs again elsewhere", "input_id", it.Item.InputID,
					"instance_id", it.Item.InstanceID, "err", err)
				r.forget(it, err)
			default:
				it.err = fmt.Errorf("complete: %w", err)
				failed = append(failed, it)
			}
		}
		return nil
	})
	if len(failed) > 0 {
		r.release(failed)
	}
}

// release gives items back: a failed one after a backoff that grows with its dequeue count,
// recording why; one cut short by shutdown at once.
func (r *run) release(items []*item) {
	r.retry("give back", items, func(ctx context.Context, _ int) error {
		rs := make([]Release, len(items))
		r.mu.Lock()
		for i, it := range items {
			rs[i] = Release{ID: it.ID, PopReceipt: it.PopReceipt, Visibility: retryDelay(it), Reason: reason(it.err),
				Unstarted: it.unstarted}
		}
		r.mu.Unlock()
		res, err := r.cfg.Work.Release(ctx, r.cfg.Queue, rs)
		if err == nil && len(res) != len(items) {
			err = fmt.Errorf("%d outcomes for %d items", len(res), len(items))
		}
		if err != nil {
			return err
		}
		for i, it := range items {
			if err := res[i].Err; err != nil {
				r.log.Warn("give back refused; the item returns after its visibility timeout", "message_id", it.ID, "err", err)
			}
			if it.shutdown {
				r.forget(it, nil)
				continue
			}
			r.log.Warn("item failed", "input_id", it.Item.InputID, "instance_id", it.Item.InstanceID,
				"dequeue_count", it.DequeueCount, "err", it.err)
			r.forget(it, it.err)
		}
		return nil
	})
}

// retryDelay is how long a given-back item stays hidden.
func retryDelay(it *item) time.Duration {
	if it.shutdown || it.DequeueCount <= 0 {
		return 0
	}
	return min(time.Duration(1<<min(it.DequeueCount-1, 6))*time.Second, time.Minute)
}

// maxReason bounds a failure's reason as recorded on the message.
const maxReason = 4096

func reason(err error) string {
	s := err.Error()
	if len(s) > maxReason {
		s = "..." + s[len(s)-maxReason:]
	}
	return s
}

// retry makes a batched call, holding calls for reading, until it succeeds as a whole or the
// items' leases would have run out (then they are forgotten: they return after their lease).
func (r *run) retry(what string, items []*item, call func(ctx context.Context, attempt int) error) {
	start := time.Now()
	delays := backoff.Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		r.calls.RLock()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := call(ctx, attempt)
		cancel()
		r.calls.RUnlock()
		if err == nil {
			return
		}
		delay := delays.Next()
		if time.Since(start)+delay > r.cfg.VisibilityTimeout {
			r.log.Error(what+" failed; the items return after their lease", "items", len(items), "err", err)
			for _, it := range items {
				r.forget(it, fmt.Errorf("%s: %w", what, err))
			}
			return
		}
		r.log.Warn(what+" failed; retrying", "items", len(items), "err", err, "in", delay)
		time.Sleep(delay)
	}
}

// forget drops an item from the hand once its call is answered; err is its outcome for OnItem
// (an item given back unfinished on shutdown reports nothing).
func (r *run) forget(it *item, err error) {
	r.mu.Lock()
	delete(r.held, it.ID)
	r.lastWork = time.Now()
	r.mu.Unlock()
	if r.cfg.OnItem != nil && !it.shutdown {
		r.cfg.OnItem(it.Item, err)
	}
}

// renew extends the leases of the items in hand, a batch at a time, so that none runs out while
// it waits or runs; an item whose lease is lost has its algorithm cancelled (another worker has
// it now). It runs until ctx ends.
func (r *run) renew(ctx context.Context) {
	every := r.cfg.VisibilityTimeout / 3
	t := time.NewTicker(max(every/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.renewDue(ctx, every)
	}
}

// renewDue renews the items last renewed at least every ago.
func (r *run) renewDue(ctx context.Context, every time.Duration) {
	r.calls.Lock()
	defer r.calls.Unlock()
	now := time.Now()
	var due []*item
	r.mu.Lock()
	for _, it := range r.held {
		if !it.lost && now.Sub(it.renewed) >= every {
			due = append(due, it)
		}
	}
	r.mu.Unlock()
	for len(due) > 0 {
		chunk := due[:min(len(due), MaxBatch)]
		due = due[len(chunk):]
		hs := make([]Held, len(chunk))
		r.mu.Lock()
		for i, it := range chunk {
			hs[i] = Held{ID: it.ID, PopReceipt: it.PopReceipt}
		}
		r.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err := r.cfg.Work.Renew(cctx, r.cfg.Queue, hs, r.cfg.VisibilityTimeout)
		cancel()
		if err == nil && len(res) != len(chunk) {
			err = fmt.Errorf("%d outcomes for %d items", len(res), len(chunk))
		}
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("lease renewal failed; retrying", "items", len(chunk), "err", err)
			}
			continue
		}
		r.mu.Lock()
		for i, it := range chunk {
			switch err := res[i].Err; {
			case err == nil:
				it.PopReceipt, it.renewed = res[i].PopReceipt, now
			case errors.Is(err, ErrLeaseLost), errors.Is(err, ErrNotFound):
				it.lost = true
				if it.cancel != nil {
					it.cancel()
				}
				r.log.Warn("lease renewal refused; abandoning the item", "input_id", it.Item.InputID, "err", err)
			default:
				r.log.Warn("lease renewal failed; retrying", "message_id", it.ID, "err", err)
			}
		}
		r.mu.Unlock()
	}
}
