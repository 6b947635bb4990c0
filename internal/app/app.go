// Package app assembles an orca node: the store, the engine, the blob store and work queue, the
// event router and dispatcher, the compute flow, the HTTP API and the dashboard's sampler.
// `orca dev`, `orca server`, the benchmarks and the end-to-end tests all run this one assembly;
// a node that only runs activities for a shared task hub (Config.ActivitiesOnly) is the store
// and the engine's activity dispatcher alone.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/compute/flow"
	"github.com/orcahq/orca/internal/api"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/blobopen"
	blobembedded "github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/dtgrpc"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/kedascaler"
	"github.com/orcahq/orca/internal/leader"
	"github.com/orcahq/orca/internal/metrics"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/storeopen"
	"github.com/orcahq/orca/internal/workitems"
)

// Config configures a node. Zero values take the documented defaults.
type Config struct {
	// DataDir holds the SQLite store and the large blobs (default ./.orca).
	DataDir string
	// StoreURL names the store (see storeopen): empty for SQLite in DataDir, postgres://… for
	// a PostgreSQL task hub that several servers share.
	StoreURL string
	// BlobURL names the blob store (see blobopen): empty for files under DataDir/blobs, which
	// a PostgreSQL store refuses (its servers need a blob store they all reach).
	BlobURL string
	// QueueURL names the work queue's service (see queueopen): empty for queues in the store,
	// azqueue://… for Azure Storage Queue, where the seeds' containers and KEDA read them.
	QueueURL string
	// Listen is the HTTP address (default 127.0.0.1:7071; port 0 picks one; "" with NoHTTP
	// serves nothing).
	Listen string
	NoHTTP bool
	// PublicBaseURL is the origin of the URLs the API hands out (default: from the request).
	PublicBaseURL string
	Logger        *slog.Logger
	// Registry holds the user's orchestrators and activities; the compute flow is added to it.
	Registry *orca.Registry
	// WorkQueue is the compute flow's queue (default "input").
	WorkQueue string
	// MaxDequeueCount moves a message to the poison queue after this many dequeues (default 5).
	MaxDequeueCount int
	// Synchronous is SQLite's durability setting (FULL, the default, or NORMAL).
	Synchronous string
	// Engine tunes the engine (Store, Registry, Logger, Clock and ObserveActivity are set by the
	// node).
	Engine engine.Config
	// Subscriptions are declared in the configuration: created or replaced at start.
	Subscriptions []events.Subscription
	// RetryDelays overrides the webhook backoff schedule (tests).
	RetryDelays []time.Duration
	// DeliveryPollInterval is how often the event dispatcher looks for due deliveries (default 1s).
	DeliveryPollInterval time.Duration
	// Keys are the API keys; nil or empty leaves the API open, which New refuses beyond a
	// loopback address (Listen or KEDAListen) unless Insecure.
	Keys     *auth.Keys
	Insecure bool
	// Pools replaces what the dashboard and /api/pools show (tests); by default they show the
	// pools of StartPools' scaler.
	Pools dashboard.Pools
	// Cluster, when set, is the Kubernetes cluster whose worker pods and nodes the dashboard
	// shows (kubeview.View, made by orca's CLI: app does not link a Kubernetes client). The node
	// owns it: Stop stops it if it has a Stop method.
	Cluster dashboard.Cluster
	// LeaderTTL is the singletons' lease (default leader.DefaultTTL): how long they can go
	// unrun after their node died.
	LeaderTTL time.Duration
	// SampleInterval is how often the dashboard samples the queue, the pools and the item
	// counters (default 1s); SampleWindow how much of that it keeps (default 30m).
	SampleInterval time.Duration
	SampleWindow   time.Duration
	// KEDAListen, when set, serves KEDA's External Scaler gRPC API there for the work queue
	// (internal/kedascaler), with TLS when KEDACertFile and KEDAKeyFile are set.
	KEDAListen                string
	KEDACertFile, KEDAKeyFile string
	// KEDATarget is a trigger's queueLength when it sets none: what one worker holds (the
	// caller knows the workers; required with KEDAListen).
	KEDATarget int64
	// GRPCListen, when set, serves the Durable Task gRPC protocol there (internal/dtgrpc): the
	// Durable Task SDKs' clients, and their workers, which run the orchestrators and activities
	// the Registry lacks. TLS when GRPCCertFile and GRPCKeyFile are set.
	GRPCListen                string
	GRPCCertFile, GRPCKeyFile string
	// KEDARecheck is how often the scaler's streams reread the queue between wakes (tests;
	// default 1s).
	KEDARecheck time.Duration
	// ActivitiesOnly assembles a node that runs the Registry's activities and nothing else on
	// a task hub other nodes run: the store (StoreURL, which must be one several processes
	// share) and the engine's activity dispatcher. No orchestrations, compute flow, blob store,
	// queues, event routing, singletons or HTTP: the fields for those are not used.
	ActivitiesOnly bool
}

// App is a running node.
type App struct {
	cfg    Config
	Store  store.Backend
	Engine *engine.Engine
	Blobs  blob.Store
	Queues queue.Service
	// Work is the batched data plane of orca's workers, on Queues and Blobs.
	Work       *workitems.Plane
	Router     *events.Router
	Dispatcher *events.Dispatcher
	API        *api.Server
	// Sampler records the time series the dashboard draws (nil with NoHTTP).
	Sampler *dashboard.Sampler
	// Flow is the compute flow; its Items count the items finished since the node started (for
	// metrics and charts).
	Flow *flow.Flow
	// Metrics is the node's Prometheus registry and instruments, served at /metrics.
	Metrics *metrics.Metrics
	// Addr is the address the API listens on, BaseURL its URL.
	Addr    string
	BaseURL string
	// KEDA is the external scaler KEDA reads (nil unless KEDAListen), listening on KEDAAddr.
	KEDA     *kedascaler.Server
	KEDAAddr string
	// DT serves the Durable Task protocol (nil unless GRPCListen), listening on GRPCAddr.
	DT       *dtgrpc.Server
	GRPCAddr string

	scaler atomic.Pointer[scaler.Scaler]
	// leading is the fence of this node's tenure as the task hub's leader, 0 when it is not.
	leading     atomic.Int64
	stopLeading context.CancelFunc
	leaderDone  chan struct{}
	stopWaking  context.CancelFunc
	wakeDone    chan struct{}
	clock       clock.Clock
	log         *slog.Logger
	stopped     bool
}

// New opens the store under DataDir and assembles the node; Start runs it.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.ActivitiesOnly {
		return newActivitiesOnly(ctx, cfg)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".orca"
	}
	if cfg.Listen == "" && !cfg.NoHTTP {
		cfg.Listen = "127.0.0.1:7071"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = orca.NewRegistry()
	}
	if cfg.WorkQueue == "" {
		cfg.WorkQueue = compute.DefaultQueue
	}
	if err := queue.ValidateName(cfg.WorkQueue); err != nil {
		return nil, fmt.Errorf("work queue: %w", err)
	}
	if err := checkExposure(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	a := &App{cfg: cfg, log: cfg.Logger, Metrics: metrics.New()}
	kind, _, parseErr := storeopen.Parse(cfg.StoreURL, cfg.DataDir) // Open reports a bad URL
	if parseErr == nil && kind == storeopen.Postgres && cfg.BlobURL == "" {
		return nil, errors.New("a PostgreSQL store needs a blob store every server reaches: give a blob URL " +
			"(s3://BUCKET, azblob://ACCOUNT, or file:///DIR on a directory all servers share)")
	}
	if remote := cfg.Registry.RemoteActivityNames(); parseErr == nil && kind == storeopen.SQLite && len(remote) > 0 {
		return nil, fmt.Errorf("the registry declares activities other hosts run (%s), but a SQLite store belongs "+
			"to this process and no other host can take their tasks: register their functions here, or share a "+
			"PostgreSQL task hub with the hosts that have them", strings.Join(remote, ", "))
	}
	st, _, err := storeopen.Open(ctx, cfg.StoreURL, storeopen.Options{DataDir: cfg.DataDir, Synchronous: cfg.Synchronous,
		ObserveCommit: a.Metrics.ObserveCommit, Logger: cfg.Logger.With("component", "store")})
	if err != nil {
		return nil, err
	}
	a.Store = st
	if err := a.assemble(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	return a, nil
}

// newActivitiesOnly assembles an activities-only node (Config.ActivitiesOnly).
func newActivitiesOnly(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil || len(cfg.Registry.ActivityNames()) == 0 {
		return nil, errors.New("an activities-only node needs a registry with activities: it runs nothing else")
	}
	// Checked before opening: a SQLite database is locked by the process that runs its task hub.
	kind, _, err := storeopen.Parse(cfg.StoreURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if kind != storeopen.Postgres {
		return nil, errors.New("an activities-only node needs a store the task hub's other processes share " +
			"(postgres://…): a SQLite store belongs to the one process that runs its orchestrations")
	}
	a := &App{cfg: cfg, log: cfg.Logger, Metrics: metrics.New(), clock: cfg.Engine.Clock}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	st, _, err := storeopen.Open(ctx, cfg.StoreURL, storeopen.Options{Synchronous: cfg.Synchronous,
		Logger: cfg.Logger.With("component", "store")})
	if err != nil {
		return nil, err
	}
	a.Store = st
	ecfg := cfg.Engine
	ecfg.Store, ecfg.Registry, ecfg.Clock, ecfg.ObserveActivity = st, cfg.Registry, a.clock, a.Metrics.ObserveActivity
	ecfg.ActivitiesOnly = true
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger.With("component", "engine")
	}
	if a.Engine, err = engine.New(ecfg); err != nil {
		_ = st.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) assemble(ctx context.Context) error {
	cfg := a.cfg
	clk := cfg.Engine.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	a.clock = clk
	var eng *engine.Engine
	a.Router = events.NewRouter(events.RouterConfig{Store: a.Store, Clock: clk, Logger: cfg.Logger.With("component", "events"),
		BlobURL: a.blobURL, Notify: func(id string) {
			if eng != nil {
				eng.Notify(id)
			}
		}, Observe: a.Metrics.ObserveDelivery})
	var blobs blob.Store
	var err error
	if cfg.BlobURL == "" {
		blobs, err = blobembedded.New(blobembedded.Config{Store: a.Store, Dir: filepath.Join(cfg.DataDir, "blobs"), Events: a.Router})
	} else {
		blobs, err = blobopen.Open(ctx, cfg.BlobURL, blobopen.Deps{Store: a.Store, Events: a.Router,
			Shared: a.Store.Supports(store.FeatureMultiProcess)})
	}
	if err != nil {
		return err
	}
	a.Blobs = blobs
	a.Queues, err = queueopen.Open(ctx, cfg.QueueURL, queueopen.Deps{Store: a.Store, MaxDequeueCount: cfg.MaxDequeueCount,
		Poison: a.Router, Clock: clk, Logger: cfg.Logger.With("component", "queue"), ObserveDelete: a.Metrics.ObserveItem})
	if err != nil {
		return err
	}
	if err := queueopen.CheckQueue(a.Queues, cfg.WorkQueue); err != nil {
		return fmt.Errorf("work queue: %w", err)
	}

	a.Work = workitems.New(workitems.Config{Queues: a.Queues, Blobs: a.Blobs, Logger: cfg.Logger.With("component", "work")})
	a.Flow, err = flow.Install(flow.Config{Registry: cfg.Registry, Router: a.Router, Blobs: a.Blobs, Queues: a.Queues,
		WorkQueue: cfg.WorkQueue, Clock: clk, Logger: cfg.Logger, Wake: func(container string) {
			if s := a.scaler.Load(); s != nil {
				s.Wake(container)
			}
			if a.KEDA != nil {
				a.KEDA.Wake(container)
			}
		}})
	if err != nil {
		return err
	}
	if cfg.KEDAListen != "" {
		a.KEDA, err = kedascaler.New(kedascaler.Config{Queues: a.Queues, KnownQueues: []string{cfg.WorkQueue},
			WorkQueue: cfg.WorkQueue, InputContainer: compute.InputContainer,
			DefaultTarget: cfg.KEDATarget, Keys: cfg.Keys,
			CertFile: cfg.KEDACertFile, KeyFile: cfg.KEDAKeyFile, RecheckInterval: cfg.KEDARecheck,
			Logger: cfg.Logger.With("component", "keda")})
		if err != nil {
			return err
		}
	}

	ecfg := cfg.Engine
	ecfg.Store, ecfg.Registry, ecfg.Clock, ecfg.ObserveActivity = a.Store, cfg.Registry, clk, a.Metrics.ObserveActivity
	if cfg.GRPCListen != "" {
		a.DT, err = dtgrpc.New(dtgrpc.Config{Keys: cfg.Keys, CertFile: cfg.GRPCCertFile, KeyFile: cfg.GRPCKeyFile,
			Logger: cfg.Logger.With("component", "dtgrpc")})
		if err != nil {
			return err
		}
		ecfg.Remote = a.DT.Remote()
	}
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger.With("component", "engine")
	}
	eng, err = engine.New(ecfg)
	if err != nil {
		return err
	}
	a.Engine = eng
	if a.DT != nil {
		a.DT.Attach(eng)
	}
	a.Dispatcher = events.NewDispatcher(events.DispatcherConfig{Store: a.Store, Router: a.Router, Clock: clk,
		Logger: cfg.Logger.With("component", "delivery"), Owner: eng.NodeID(), RetryDelays: cfg.RetryDelays,
		PollInterval: cfg.DeliveryPollInterval, Observe: a.Metrics.ObserveDelivery})
	a.Router.OnDeliveries(a.Dispatcher.Wake)
	a.Router.SetValidator(a.Dispatcher.Validate)

	err = a.Metrics.Watch(metrics.Sources{Queues: a.Queues, AlwaysQueues: []string{cfg.WorkQueue}, Instances: a.Store, Engine: eng,
		ItemsCompleted: a.Flow.Items.Completed.Load, ItemsFailed: a.Flow.Items.Failed.Load,
		Leading: func() bool { _, leading := a.Leading(); return leading }})
	if err != nil {
		return err
	}
	if !cfg.NoHTTP {
		var pools dashboard.Pools = scalerView{a}
		if cfg.Pools != nil {
			pools = cfg.Pools
		}
		a.Sampler, err = dashboard.NewSampler(dashboard.Config{Queues: a.Queues, WorkQueue: cfg.WorkQueue, Pools: pools, Cluster: cfg.Cluster,
			Items:    func() (uint64, uint64) { return a.Flow.Items.Completed.Load(), a.Flow.Items.Failed.Load() },
			Interval: cfg.SampleInterval, Window: cfg.SampleWindow, Clock: clk, Logger: cfg.Logger.With("component", "dashboard")})
		if err != nil {
			return err
		}
		apiLog := cfg.Logger.With("component", "api")
		a.API, err = api.New(api.Config{Engine: eng, Blobs: a.Blobs, Queues: a.Queues, Router: a.Router,
			Logger: apiLog, PublicBaseURL: cfg.PublicBaseURL, Keys: cfg.Keys, WorkerPolled: a.workerPolled,
			Metrics: a.Metrics.Handler(apiLog), Instrument: a.Metrics.InstrumentRoute,
			Dashboard: a.Sampler, Pools: pools, Work: a.Work})
		if err != nil {
			return err
		}
	}
	return nil
}

// blobURL is BlobCreated's data.url: the blob on this node's API.
func (a *App) blobURL(container, name string) string {
	base := a.cfg.PublicBaseURL
	if base == "" {
		base = a.BaseURL
	}
	return base + "/api/blobs/" + url.PathEscape(container) + "/" + name
}

// roleSingletons is the lease of the singletons: the work one node of a task hub does at a time.
const roleSingletons = "singletons"

// poisonSweeper is a queue whose poison reports a sweeper retries (the embedded queue: its moves
// and reports share a transaction, and a failed report is left for the sweeper). The Azure
// queue reports before it deletes and needs none.
type poisonSweeper interface {
	Sweep(ctx context.Context, fence *store.LeaderFence)
}

// queueWaker is a queue whose long polls a store wake-up can end (the embedded queue).
type queueWaker interface {
	WakeQueue(queue string)
	WakeAll()
}

// startLeader competes for the task hub's singletons with the other servers of the store and
// runs them while this node leads: the queue's poison sweeper, its reports fenced.
func (a *App) startLeader(ctx context.Context) {
	sweeper, ok := a.Queues.(poisonSweeper)
	if !ok {
		return
	}
	ctx, a.stopLeading = context.WithCancel(ctx)
	a.leaderDone = make(chan struct{})
	go func() {
		defer close(a.leaderDone)
		leader.Run(ctx, leader.Config{Store: a.Store, Role: roleSingletons, Holder: a.Engine.NodeID(), TTL: a.cfg.LeaderTTL,
			Logger: a.log.With("component", "leader"), OnChange: func(leading bool, fence int64) {
				if !leading {
					fence = 0
				}
				a.leading.Store(fence)
			}},
			func(ctx context.Context, fence store.LeaderFence) { sweeper.Sweep(ctx, &fence) })
	}()
}

func (a *App) stopLeader() {
	if a.stopLeading != nil {
		a.stopLeading()
		<-a.leaderDone
	}
}

// Leading reports whether this node runs the task hub's singletons now, and under which fence.
func (a *App) Leading() (fence int64, leading bool) {
	f := a.leading.Load()
	return f, f != 0
}

// Start declares the subscriptions, starts the engine, the dispatcher, the competition for the
// singletons (the queue's poison sweeper) and the HTTP API; an activities-only node starts its
// engine.
func (a *App) Start(ctx context.Context) error {
	if a.cfg.ActivitiesOnly {
		return a.Engine.Start(ctx)
	}
	// The subscriptions are in place before the API takes a request: a blob put or an ingested
	// event routed before would match none of them (the router refuses to route until then).
	if err := a.Router.Load(ctx); err != nil {
		return err
	}
	if err := a.Flow.DeclareSubscriptions(ctx); err != nil {
		return err
	}
	if !a.cfg.NoHTTP {
		addr, err := a.API.Start(a.cfg.Listen)
		if err != nil {
			return err
		}
		a.Addr, a.BaseURL = addr, "http://"+addr
		if a.cfg.Keys.Empty() {
			a.log.Warn("the API is open: no keys are configured", "listen", a.Addr)
		}
	}
	if err := a.Flow.CreateContainers(ctx); err != nil {
		return err
	}
	if err := a.Engine.Start(ctx); err != nil {
		return err
	}
	if a.KEDA != nil {
		addr, err := a.KEDA.Serve(a.cfg.KEDAListen)
		if err != nil {
			return err
		}
		a.KEDAAddr = addr
	}
	if a.DT != nil {
		addr, err := a.DT.Serve(a.cfg.GRPCListen)
		if err != nil {
			return fmt.Errorf("%w (another orca on this machine? --grpc-listen picks another address, \"off\" none)", err)
		}
		a.GRPCAddr = addr
	}
	if err := a.Dispatcher.Start(ctx); err != nil {
		return err
	}
	a.startLeader(ctx)
	a.startWakeups(ctx)
	if a.Sampler != nil {
		if err := a.Sampler.Start(ctx); err != nil {
			return err
		}
	}
	// Configured subscriptions whose endpoint is not up yet wait for validation instead of
	// failing the start.
	for _, s := range a.cfg.Subscriptions {
		stored, err := a.Router.Put(ctx, s, true)
		if err != nil {
			return fmt.Errorf("declare subscription %s: %w", s.Name, err)
		}
		if stored.State != events.StateActive {
			a.log.Warn("subscription awaits its endpoint's validation; deliveries wait for it", "subscription", s.Name)
		}
	}
	return nil
}

// StartPools runs worker pools sized by a scaler from now on (after Start: the providers'
// workers talk to the API). The first pool's wake container is the compute flow's input when
// it serves the work queue and names none.
func (a *App) StartPools(ctx context.Context, pools []scaler.Pool) error {
	if a.scaler.Load() != nil {
		return errors.New("app: pools already started")
	}
	for i := range pools {
		if pools[i].InputContainer == "" && pools[i].Queue == a.cfg.WorkQueue {
			pools[i].InputContainer = compute.InputContainer
		}
	}
	s, err := scaler.New(scaler.Config{Pools: pools, Queues: a.Queues, Clock: a.clock, Logger: a.log.With("component", "scaler")})
	if err != nil {
		return err
	}
	if err := a.Metrics.Watch(metrics.Sources{Pools: s}); err != nil {
		return err
	}
	a.scaler.Store(s)
	s.Start(ctx)
	return nil
}

// Scaler returns the pools' scaler, nil before StartPools.
func (a *App) Scaler() *scaler.Scaler { return a.scaler.Load() }

// scalerView shows the pools of the scaler StartPools starts (none before) to the dashboard and
// the API, which are built before it.
type scalerView struct{ a *App }

func (v scalerView) Pools() []scaler.PoolStatus {
	if s := v.a.scaler.Load(); s != nil {
		return s.Pools()
	}
	return nil
}

func (v scalerView) Decisions(pool string, limit int, changesOnly bool) ([]scaler.Decision, bool) {
	if s := v.a.scaler.Load(); s != nil {
		return s.Decisions(pool, limit, changesOnly)
	}
	return nil, false
}

// readyMarker is a provider that learns from the API when one of its workers polls.
type readyMarker interface{ MarkReady(workerID string) }

func (a *App) workerPolled(workerID string) {
	s := a.scaler.Load()
	if s == nil {
		return
	}
	for _, p := range s.Providers() {
		if m, ok := p.(readyMarker); ok {
			m.MarkReady(workerID)
		}
	}
}

// Stop shuts the node down: the API stops taking requests, the engine finishes in-flight work
// within its grace period, then everything is closed.
func (a *App) Stop(ctx context.Context) error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	var errs []error
	if a.API != nil {
		a.API.Drain()
	}
	// Workers finish the items in hand through the API, so they stop before it does.
	if s := a.scaler.Load(); s != nil {
		s.Stop(ctx)
	}
	if a.KEDA != nil {
		a.KEDA.Stop()
	}
	if a.DT != nil {
		a.DT.Stop() // its workers' turns and activities go back to the engine
	}
	a.Engine.Stop(ctx)
	a.stopWakeups()
	if a.Dispatcher != nil {
		a.Dispatcher.Stop()
	}
	a.stopLeader()
	if a.Sampler != nil {
		a.Sampler.Stop()
	}
	if c, ok := a.cfg.Cluster.(interface{ Stop() }); ok {
		c.Stop()
	}
	if a.API != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		errs = append(errs, a.API.Stop(stopCtx))
		cancel()
	}
	errs = append(errs, a.Store.Close())
	return errors.Join(errs...)
}

// Source returns an in-process worker source on this node's queue and blobs.
func (a *App) Source() InProcSource {
	return InProcSource{Queues: a.Queues, Blobs: a.Blobs, Work: a.Work}
}

// WorkQueue returns the compute flow's queue.
func (a *App) WorkQueue() string { return a.cfg.WorkQueue }

// checkExposure refuses to serve without API keys where others can connect, unless Insecure.
func checkExposure(cfg Config) error {
	if cfg.GRPCListen != "" && !isLoopback(cfg.GRPCListen) && cfg.GRPCCertFile == "" && !cfg.Insecure {
		return fmt.Errorf("refusing to serve the Durable Task gRPC protocol on %s without TLS: its API keys would cross "+
			"the network in the clear; give --grpc-tls-cert and --grpc-tls-key (or allow it: --insecure)", cfg.GRPCListen)
	}
	if !cfg.Keys.Empty() || cfg.Insecure {
		return nil
	}
	const fix = "declare keys (auth.keys in the configuration, ORCA_ADMIN_KEY, or host.Options.AdminKey), " +
		"listen on a loopback address, or allow it (--insecure, host.Options.Insecure)"
	if !cfg.NoHTTP && !isLoopback(cfg.Listen) {
		return fmt.Errorf("refusing to listen on %s without API keys: anyone who can reach it could start, "+
			"terminate and purge runs and read every blob; %s", cfg.Listen, fix)
	}
	if cfg.GRPCListen != "" && !isLoopback(cfg.GRPCListen) {
		return fmt.Errorf("refusing to serve the Durable Task gRPC protocol on %s without API keys: anyone who can reach "+
			"it could start and terminate runs and take their work items; %s", cfg.GRPCListen, fix)
	}
	if cfg.KEDAListen != "" && !isLoopback(cfg.KEDAListen) {
		return fmt.Errorf("refusing to serve KEDA's scaler API on %s without API keys (it tells anyone the queue's "+
			"length); %s", cfg.KEDAListen, fix)
	}
	return nil
}

// isLoopback reports whether a listen address only accepts local connections: the one place an
// API without keys may listen.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
