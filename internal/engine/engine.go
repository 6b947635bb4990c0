// Package engine runs orchestrations and activities on a store: the task hub's dispatchers.
//
// The orchestration side keeps a runner per instance this node holds the lock of. A runner owns a
// cached replay.Executor, so a turn costs O(new events); it collects the instance's new messages
// (from the store's inbox, and results of activities that ran on this node, handed over in memory)
// and commits each turn as one store transaction. The activity side leases the tasks of the
// activities its registry has functions for, runs them with a bounded concurrency, renews their
// leases and hands results back to the runner of their instance, or completes them in the store
// when no local runner holds the instance. Tasks of activities declared remote wait in the store
// for a node that has them, such as an activities-only one (Config.ActivitiesOnly).
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Store    store.Backend
	Registry *orca.Registry
	Logger   *slog.Logger
	Clock    clock.Clock
	// NodeID names this node in locks and leases (default: host-pid-random).
	NodeID string
	// LockDuration is how long an instance lock or a task lease lasts without renewal (default
	// 30s); renewal happens every third of it. A crashed node's work moves on after this long.
	LockDuration time.Duration
	// CacheSize bounds the orchestrations kept in memory between turns (default 10,000). Past it
	// the least recently used idle one is evicted and replayed from history when it runs again.
	CacheSize int
	// CacheIdle evicts cached orchestrations idle this long (default 5m; 0 keeps the default).
	CacheIdle time.Duration
	// TurnConcurrency bounds the orchestration turns running at once (default 256).
	TurnConcurrency int
	// MaxTurnMessages bounds the inbox messages one turn consumes (default 10,000).
	MaxTurnMessages int
	// ActivityConcurrency bounds the activities running at once (default 64).
	ActivityConcurrency int
	// ActivityPrefetch bounds the tasks leased ahead of the workers (default 1,024; 10,000 with
	// a Remote).
	ActivityPrefetch int
	// PollInterval is how often the dispatchers look for work nobody told them about: work of
	// crashed nodes, expired leases (default 1s).
	PollInterval time.Duration
	// ShutdownGrace is how long Stop lets in-flight work finish (default 10s).
	ShutdownGrace time.Duration
	// ActivitiesOnly runs the activity dispatcher alone: the node takes tasks of the registry's
	// activities from a store other nodes share and runs no orchestration (the registry's
	// orchestrators are not used; StartInstance and the other calls write to the store for the
	// nodes that run orchestrations). It follows the store's task wake-ups, having no turn of
	// its own to hand results to.
	ActivitiesOnly bool
	// Remote, when set, runs the orchestrators and activities the registry does not have, on
	// workers in other processes (see Remote).
	Remote Remote
	// ObserveActivity, when set, is told of every activity execution on this node: the
	// activity's name, whether it failed and how long its function ran (wall time). It runs on
	// the activity's worker and must be fast.
	ObserveActivity func(name string, failed bool, d time.Duration)
}

func (c *Config) setDefaults() error {
	if c.Store == nil || c.Registry == nil {
		return errors.New("engine: Store and Registry are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		c.NodeID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	setDefault(&c.LockDuration, 30*time.Second)
	setDefault(&c.CacheSize, 10_000)
	setDefault(&c.CacheIdle, 5*time.Minute)
	setDefault(&c.TurnConcurrency, 256)
	setDefault(&c.MaxTurnMessages, 10_000)
	setDefault(&c.ActivityConcurrency, 64)
	if c.Remote != nil {
		// A Remote's tasks hold no worker while its workers run them, and the SDKs' workers take
		// all they are sent: a fan-out's results then arrive together and take few turns, each of
		// which the SDK replays whole (1,024 at a time took 22 turns for 10,000 and ran at 0.4×).
		setDefault(&c.ActivityPrefetch, 10_000)
	}
	setDefault(&c.ActivityPrefetch, 1024)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.ShutdownGrace, 10*time.Second)
	if c.ActivityPrefetch < c.ActivityConcurrency {
		c.ActivityPrefetch = c.ActivityConcurrency
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Engine is a task hub's orchestration and activity dispatchers on one node.
type Engine struct {
	cfg   Config
	store store.Backend
	log   *slog.Logger
	clock clock.Clock

	orch  *orchestrations
	acts  *activities
	stats stats

	watchMu  sync.Mutex
	watchers map[string][]*watcher

	runCtx    context.Context // cancelled at the end of Stop: hard stop of activities
	cancelRun context.CancelFunc
	stopping  chan struct{} // closed at the start of Stop: no new work
	wg        sync.WaitGroup
	startOnce sync.Once
	stopOnce  sync.Once
	started   bool
}

// New returns an engine; Start runs it.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, store: cfg.Store, log: cfg.Logger, clock: cfg.Clock,
		watchers: map[string][]*watcher{}, stopping: make(chan struct{})}
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	e.orch = newOrchestrations(e)
	e.acts = newActivities(e)
	return e, nil
}

// stats are the engine's counters.
type stats struct {
	turns, replays, evictions, activities atomic.Int64
}

// Stats is a snapshot of the engine's counters since it was created.
type Stats struct {
	// Turns counts committed orchestration turns.
	Turns int64
	// Replays counts cache misses: executors rebuilt from the stored history.
	Replays int64
	// Evictions counts runners dropped from the cache to bound it.
	Evictions int64
	// Activities counts activity executions on this node.
	Activities int64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{Turns: e.stats.turns.Load(), Replays: e.stats.replays.Load(),
		Evictions: e.stats.evictions.Load(), Activities: e.stats.activities.Load()}
}

// Store returns the engine's store.
func (e *Engine) Store() store.Backend { return e.store }

// Notify tells the engine that an instance has new messages in the store (written by someone
// other than the engine: event handlers, other processes).
func (e *Engine) Notify(instanceID string) { e.orch.notify(instanceID) }

// wakeLoop takes the store's wake-ups — writes of every process sharing it — to the
// orchestration dispatcher, so that an instance another node started, raised an event to or
// completed a task of is taken here at once rather than at the next poll. Each is a hint the
// dispatcher coalesces: an instance cached here is scheduled; any other wakes the claim loop.
//
// Task wake-ups are not followed: the node whose turn scheduled the tasks runs them and hands
// their results to the turn in memory, while a node woken to take them must send every result
// back through the store. Following them made a 10,000-task fan-out on two servers 4–5× slower
// (2.0–2.9k vs 11–14k items/s, orca bench --scenario fanout --servers 2 on PostgreSQL). Other
// nodes take tasks their owner leaves (it died, or it is full) at their next poll. An
// activities-only node follows only them: every task it runs is one another node scheduled.
func (e *Engine) wakeLoop(ch <-chan store.Wakeup, unsubscribe func()) {
	defer unsubscribe()
	for {
		select {
		case <-e.stopping:
			return
		case w := <-ch:
			switch {
			case e.cfg.ActivitiesOnly:
				if w.Kind == store.WakeTasks || w.Kind == store.WakeAll {
					e.acts.pollSoon()
				}
			case w.Kind == store.WakeInbox:
				e.orch.notify(w.Key)
			case w.Kind == store.WakeAll: // wake-ups may have been missed
				e.orch.wakePoll()
			}
		}
	}
}

// WakeUp makes the dispatchers look for work at once: work that waited for something outside
// the store (a Remote's worker connecting) may be ready now.
func (e *Engine) WakeUp() {
	e.orch.retryWaiting()
	e.acts.pollSoon()
}

// NodeID returns the node's lock owner name.
func (e *Engine) NodeID() string { return e.cfg.NodeID }

// Start releases leases this node held in an earlier life and starts the dispatchers.
func (e *Engine) Start(ctx context.Context) error {
	var err error
	e.startOnce.Do(func() {
		if err = e.store.OrchestrationRelease(ctx, e.cfg.NodeID, nil); err != nil {
			err = fmt.Errorf("start engine: %w", err)
			return
		}
		if err = e.store.TaskAbandon(ctx, e.cfg.NodeID, nil); err != nil {
			err = fmt.Errorf("start engine: %w", err)
			return
		}
		e.started = true
		if !e.cfg.ActivitiesOnly {
			e.orch.start()
		}
		e.acts.start()
		e.goLoop(e.renewLoop)
		if w, ok := e.store.(store.Waker); ok && e.store.Supports(store.FeatureWakeups) {
			ch, unsubscribe := w.Subscribe()
			e.goLoop(func() { e.wakeLoop(ch, unsubscribe) })
		}
		e.log.Info("engine started", "node", e.cfg.NodeID, "activities_only", e.cfg.ActivitiesOnly)
	})
	return err
}

func (e *Engine) goLoop(fn func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
}

// Stop shuts down in two stages: it stops taking work and lets in-flight activities and turns
// finish for up to ShutdownGrace, then cancels what is left and releases every lock and lease so
// other nodes (or the next start) take the work at once. The context bounds the whole of it.
func (e *Engine) Stop(ctx context.Context) {
	e.stopOnce.Do(func() {
		close(e.stopping)
		if !e.started {
			e.cancelRun()
			return
		}
		grace, cancel := context.WithTimeout(ctx, e.cfg.ShutdownGrace)
		e.acts.drain(grace)
		e.orch.drain(grace)
		cancel()
		e.cancelRun()
		e.acts.wait()
		e.orch.wait()
		e.wg.Wait()
		e.orch.closeAll()
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.store.TaskAbandon(release, e.cfg.NodeID, nil); err != nil {
			e.log.Warn("abandon task leases at shutdown", "err", err)
		}
		if err := e.store.OrchestrationRelease(release, e.cfg.NodeID, nil); err != nil {
			e.log.Warn("release instance locks at shutdown", "err", err)
		}
		e.log.Info("engine stopped", "node", e.cfg.NodeID)
	})
}

func (e *Engine) isStopping() bool {
	select {
	case <-e.stopping:
		return true
	default:
		return false
	}
}

// renewLoop extends this node's instance locks and task leases every third of LockDuration.
func (e *Engine) renewLoop() {
	every := e.cfg.LockDuration / 3
	for {
		select {
		case <-e.runCtx.Done():
			return
		case <-e.clock.After(every):
		}
		e.renewOnce(e.runCtx)
	}
}

func (e *Engine) renewOnce(ctx context.Context) {
	expiry := e.clock.Now().Add(e.cfg.LockDuration)
	if e.cfg.ActivitiesOnly {
		e.acts.renew(ctx, expiry) // it holds no instance locks
		return
	}
	if err := e.store.OrchestrationRenew(ctx, e.cfg.NodeID, expiry); err != nil && ctx.Err() == nil {
		e.log.Warn("renew instance locks", "err", err)
	}
	e.acts.renew(ctx, expiry)
}

// watcher waits for a commit of an instance that leaves it in a status wake accepts.
type watcher struct {
	wake func(store.Status) bool
	ch   chan struct{}
}

// notifyCommitted wakes the callers waiting for an instance to reach status.
func (e *Engine) notifyCommitted(id string, status store.Status) {
	e.watchMu.Lock()
	ws := e.watchers[id]
	keep := ws[:0]
	var woken []*watcher
	for _, w := range ws {
		if w.wake(status) {
			woken = append(woken, w)
		} else {
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		delete(e.watchers, id)
	} else {
		e.watchers[id] = keep
	}
	e.watchMu.Unlock()
	for _, w := range woken {
		close(w.ch)
	}
}

// watch returns a channel closed when this node commits the instance in a status wake accepts,
// and a function that unregisters it.
func (e *Engine) watch(id string, wake func(store.Status) bool) (<-chan struct{}, func()) {
	w := &watcher{wake: wake, ch: make(chan struct{})}
	e.watchMu.Lock()
	e.watchers[id] = append(e.watchers[id], w)
	e.watchMu.Unlock()
	return w.ch, func() {
		e.watchMu.Lock()
		defer e.watchMu.Unlock()
		ws := e.watchers[id]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(e.watchers, id)
		} else {
			e.watchers[id] = ws
		}
	}
}

// ErrInvalidArgument marks a request the engine rejects as malformed (bad id, unknown
// orchestrator, bad JSON); the message says what is wrong.
var ErrInvalidArgument = errors.New("invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidArgument)
}

// MaxInstanceIDLength is the longest instance id (Durable Functions' limit).
const MaxInstanceIDLength = 256

// ValidateInstanceID checks an instance id against Durable Functions' rules: not empty, at most
// 256 characters, no '/', '\', '#', '?' or control characters, not starting with '@'.
func ValidateInstanceID(id string) error {
	switch {
	case id == "":
		return invalid("instance id is empty")
	case len([]rune(id)) > MaxInstanceIDLength:
		return invalid("instance id is longer than %d characters", MaxInstanceIDLength)
	case strings.HasPrefix(id, "@"):
		return invalid("instance id %q starts with '@'", id)
	case strings.ContainsAny(id, `/\#?`):
		return invalid("instance id %q contains one of / \\ # ?", id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return invalid("instance id %q contains a control character", id)
	}
	return nil
}

// ValidateName checks an orchestrator, activity or event name.
func ValidateName(kind, name string) error {
	switch {
	case name == "":
		return invalid("%s name is empty", kind)
	case len(name) > orca.MaxNameLength:
		return invalid("%s name is longer than %d bytes", kind, orca.MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return invalid("%s name %q contains a control character", kind, name)
	}
	return nil
}

// newID returns a random id in Durable Functions' format: 32 lowercase hex digits.
func newID() string {
	u := uuid.New()
	return hex.EncodeToString(u[:])
}

// StartParams starts an orchestration.
type StartParams struct {
	Name string
	// ID is the instance id; empty generates one.
	ID string
	// Input is the input as JSON (empty for none).
	Input json.RawMessage
	// StartAt, when in the future, schedules the start: the instance is Pending until then, and
	// what is sent to it meanwhile waits for its start (store.InstanceCreateParams.StartAt).
	StartAt time.Time
}

// StartInstance creates an instance and schedules its first turn. It returns once the instance
// row exists (guarantee 2, docs/guarantees.md): events raised to it from then on are kept. Starting an id that
// is Pending, Running, Suspended or ContinuedAsNew fails with a *store.StatusError wrapping
// store.ErrInstanceExists; a finished one is replaced.
func (e *Engine) StartInstance(ctx context.Context, p StartParams) (string, error) {
	if _, ok := e.cfg.Registry.Orchestrator(p.Name); !ok && e.cfg.Remote == nil {
		return "", invalid("no orchestrator named %q is registered", p.Name)
	}
	if p.ID == "" {
		p.ID = newID()
	}
	if err := ValidateInstanceID(p.ID); err != nil {
		return "", err
	}
	if len(p.Input) > 0 && !json.Valid(p.Input) {
		return "", invalid("input is not valid JSON")
	}
	now := e.clock.Now()
	started := history.NewExecutionStarted(now, history.ExecutionStartedAttrs{
		Name: p.Name, ExecutionID: newID(), Input: p.Input})
	cp := &store.InstanceCreateParams{ID: p.ID, Name: p.Name, Started: started, CreatedAt: now}
	scheduled := p.StartAt.After(now)
	if scheduled {
		cp.StartAt = p.StartAt
	}
	local := e.started && !e.isStopping() && !e.cfg.ActivitiesOnly && !scheduled
	if local {
		cp.Owner, cp.LockExpiry = e.cfg.NodeID, now.Add(e.cfg.LockDuration)
	}
	if err := e.store.InstanceCreate(ctx, cp); err != nil {
		return "", fmt.Errorf("start %s: %w", p.Name, err)
	}
	if local {
		e.orch.adopt(&store.Instance{ID: p.ID, Name: p.Name, ExecutionID: started.ExecutionStarted.ExecutionID,
			Status: store.StatusPending})
	}
	return p.ID, nil
}

// RaiseEvent puts an external event in an instance's inbox. It fails with store.ErrNotFound for
// an unknown instance and a *store.StatusError wrapping store.ErrWrongStatus for a finished one.
func (e *Engine) RaiseEvent(ctx context.Context, id, name string, data json.RawMessage) error {
	if err := ValidateName("event", name); err != nil {
		return err
	}
	if len(data) > 0 && !json.Valid(data) {
		return invalid("event data is not valid JSON")
	}
	return e.send(ctx, id, history.NewEventRaised(e.clock.Now(), name, data), unfinished)
}

var unfinished = []store.Status{store.StatusPending, store.StatusRunning, store.StatusSuspended, store.StatusContinuedAsNew}

// Terminate ends an unfinished instance; its output becomes reason.
func (e *Engine) Terminate(ctx context.Context, id, reason string) error {
	return e.send(ctx, id, history.NewExecutionTerminated(e.clock.Now(), reason), unfinished)
}

// Suspend pauses an instance: events it receives wait until Resume.
func (e *Engine) Suspend(ctx context.Context, id, reason string) error {
	return e.send(ctx, id, history.NewExecutionSuspended(e.clock.Now(), reason),
		[]store.Status{store.StatusPending, store.StatusRunning, store.StatusContinuedAsNew})
}

// Resume resumes a suspended instance.
func (e *Engine) Resume(ctx context.Context, id, reason string) error {
	return e.send(ctx, id, history.NewExecutionResumed(e.clock.Now(), reason), []store.Status{store.StatusSuspended})
}

// Rewind makes a Failed instance run again from before its failure: failed activities and
// sub-orchestrations are retried, everything that succeeded is kept.
func (e *Engine) Rewind(ctx context.Context, id, reason string) error {
	return e.send(ctx, id, history.NewExecutionRewound(e.clock.Now(), reason), []store.Status{store.StatusFailed})
}

func (e *Engine) send(ctx context.Context, id string, ev *history.Event, require []store.Status) error {
	err := e.store.MessageSend(ctx, &store.MessageSendParams{InstanceID: id, RequireStatus: require, Now: e.clock.Now(),
		Messages: []*store.Message{{InstanceID: id, Event: ev}}})
	if err != nil {
		return fmt.Errorf("%s %s: %w", ev.Type, id, err)
	}
	e.orch.notify(id)
	return nil
}

// Restart starts the orchestrator of an existing instance again with the same input, under a new
// id (newID) or the same one (which must be finished).
func (e *Engine) Restart(ctx context.Context, id string, newInstanceID bool) (string, error) {
	in, err := e.store.InstanceGet(ctx, id, true)
	if err != nil {
		return "", fmt.Errorf("restart %s: %w", id, err)
	}
	p := StartParams{Name: in.Name, Input: in.Input, ID: id}
	if newInstanceID {
		p.ID = ""
	}
	return e.StartInstance(ctx, p)
}

// Get returns an instance.
func (e *Engine) Get(ctx context.Context, id string, withPayloads bool) (*store.Instance, error) {
	return e.store.InstanceGet(ctx, id, withPayloads)
}

// List lists instances.
func (e *Engine) List(ctx context.Context, p *store.InstanceListParams) (*store.InstancePage, error) {
	return e.store.InstanceList(ctx, p)
}

// History returns a page of an instance's history.
func (e *Engine) History(ctx context.Context, p *store.HistoryReadParams) ([]store.HistoryRecord, error) {
	return e.store.HistoryRead(ctx, p)
}

// Purge deletes a finished instance and its history.
func (e *Engine) Purge(ctx context.Context, id string) error {
	return e.store.InstancePurge(ctx, id)
}

// PurgeBatchSize is how many instances one purge transaction deletes.
const PurgeBatchSize = 500

// PurgeMany deletes every finished instance matching the filter, PurgeBatchSize per
// transaction, and returns how many it deleted. If ctx ends midway, what was deleted stays
// deleted and the count so far is returned with the error.
func (e *Engine) PurgeMany(ctx context.Context, p store.InstancePurgeParams) (int, error) {
	p.Limit = PurgeBatchSize
	total := 0
	for {
		n, err := e.store.InstancePurgeBatch(ctx, &p)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// WaitFor waits until an instance satisfies done or ctx ends. It is woken by this node's commits
// and polls every 250ms for changes made elsewhere.
func (e *Engine) WaitFor(ctx context.Context, id string, withPayloads bool, done func(*store.Instance) bool) (*store.Instance, error) {
	return e.waitFor(ctx, id, withPayloads, func(store.Status) bool { return true }, done)
}

// waitFor is WaitFor, woken only by commits that leave the instance in a status wake accepts.
func (e *Engine) waitFor(ctx context.Context, id string, withPayloads bool, wake func(store.Status) bool,
	done func(*store.Instance) bool) (*store.Instance, error) {
	poll := 250 * time.Millisecond
	for {
		ch, unwatch := e.watch(id, wake)
		in, err := e.store.InstanceGet(ctx, id, withPayloads)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			unwatch()
			return nil, err
		}
		if err == nil && done(in) {
			unwatch()
			return in, nil
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-time.After(poll):
		}
		unwatch()
		if ctx.Err() != nil {
			return in, ctx.Err()
		}
	}
}

// WaitForFinish waits until an instance is Completed, Failed or Terminated.
func (e *Engine) WaitForFinish(ctx context.Context, id string) (*store.Instance, error) {
	finished := func(s store.Status) bool { return s.Finished() }
	return e.waitFor(ctx, id, true, finished, func(in *store.Instance) bool { return finished(in.Status) })
}
