// Package bench runs orca's benchmark scenarios on a fresh store and reports one line per run:
//
//	BENCH scenario=<name>[-postgres] n=<N> servers=<k> seconds=<wall> items_per_sec=<rate> peak_rss_mb=<MiB>
//
// Each scenario measures the whole path a user's work takes, with the durability a user gets by
// default (SQLite, synchronous=FULL), from the first start request to the last completion.
// Some scenarios also run on PostgreSQL (Options.StoreURL), each run in a database of its own,
// created for it and dropped afterwards, and the engine scenarios with several servers sharing
// that database (Options.Servers).
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/metrics"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/storeopen"
)

// Scenario is a benchmark. Engine scenarios run N items on started engines (one per server)
// over a fresh store and are timed from the first start request to the last completion; node
// scenarios set up a whole node (blobs, queue, events, workers) and time themselves the same
// way.
type Scenario struct {
	Name        string
	Description string
	Engine      func(ctx context.Context, engs []*engine.Engine, n int) error
	Node        func(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error)
	// Postgres says the scenario runs on PostgreSQL too; MultiServer that it runs with several
	// servers sharing the store (PostgreSQL only).
	Postgres    bool
	MultiServer bool
}

// Scenarios lists the scenarios by name.
var Scenarios = map[string]Scenario{
	"fanout": {Name: "fanout", Description: "one orchestration, N parallel trivial activities, fan-in", Engine: runFanOut,
		Postgres: true, MultiServer: true},
	"sequence": {Name: "sequence", Description: "one orchestration, N activities one after another", Engine: runSequence},
	"many": {Name: "many", Description: "N orchestrations of one activity each, started concurrently", Engine: runMany,
		Postgres: true, MultiServer: true},
	"compute-inproc": {Name: "compute-inproc", Description: "the seeds' flow: ComputeOrchestrator with N items, in-process workers",
		Node: runComputeInProc, Postgres: true},
	"compute-dev": {Name: "compute-dev", Description: "what `make run` does: orca dev's autoscaled pool of `orca worker` processes with the built-in algorithm, " +
		"the run started through the seeds' HTTP starter and polled until Completed", Node: runComputeDev, Postgres: true},
	"compute-exec": {Name: "compute-exec", Description: "the seeds' flow with N items through `orca worker --exec` processes running a trivial executable per item",
		Node: runComputeExec},
	"compute-exec-stream": {Name: "compute-exec-stream", Description: "the seeds' flow with N items through `orca worker --exec-mode stream` processes, " +
		"each running a trivial executable once per slot", Node: runComputeExecStream},
	"sdk-fanout": {Name: "sdk-fanout", Description: "fanout written with the Durable Task JS SDK: its worker in a Node.js process, on orca's Durable Task gRPC server",
		Node: runSDK("fanout"), Postgres: true},
	"sdk-sequence": {Name: "sdk-sequence", Description: "sequence written with the Durable Task JS SDK, as sdk-fanout",
		Node: runSDK("sequence"), Postgres: true},
	"cold-start": {Name: "cold-start", Description: "from zero `orca worker` processes: seconds from the start request to the first item processed",
		Node: runColdStart},
}

// Names returns the scenario names, sorted.
func Names() []string {
	names := make([]string, 0, len(Scenarios))
	for n := range Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// names returns the sorted names of the scenarios keep accepts.
func names(keep func(Scenario) bool) []string {
	var out []string
	for _, n := range Names() {
		if keep(Scenarios[n]) {
			out = append(out, n)
		}
	}
	return out
}

// PostgresNames returns the scenarios that run on PostgreSQL, sorted.
func PostgresNames() []string { return names(func(s Scenario) bool { return s.Postgres }) }

// MultiServerNames returns the scenarios that run with several servers, sorted.
func MultiServerNames() []string { return names(func(s Scenario) bool { return s.MultiServer }) }

// Result is one measured run.
type Result struct {
	// Scenario is the scenario's name, suffixed -postgres on PostgreSQL.
	Scenario string
	N        int
	// Servers is how many orca servers (engines or nodes) shared the store.
	Servers int
	Seconds float64
	// PeakRSSMB is the peak resident memory of orca and of its worker processes, summed (each
	// process's own peak: an upper bound of their peak together).
	PeakRSSMB float64
	// Database is the PostgreSQL database the run created and dropped ("" on SQLite).
	Database string
}

// ItemsPerSec is N divided by the wall time.
func (r Result) ItemsPerSec() float64 { return float64(r.N) / r.Seconds }

// Line formats the result as the BENCH line.
func (r Result) Line() string {
	return fmt.Sprintf("BENCH scenario=%s n=%d servers=%d seconds=%.3f items_per_sec=%.0f peak_rss_mb=%.1f",
		r.Scenario, r.N, r.Servers, r.Seconds, r.ItemsPerSec(), r.PeakRSSMB)
}

// Options tune a run.
type Options struct {
	// Dir holds the store (SQLite) and the blob files; empty uses a fresh temporary directory,
	// removed afterwards.
	Dir string
	// StoreURL names a PostgreSQL server (postgres://…): the run creates a database of its own
	// on it, through a connection to the URL's database, and drops it afterwards. Empty runs on
	// SQLite in Dir.
	StoreURL string
	// Servers is how many servers share the store (default 1; more needs PostgreSQL and a
	// scenario that supports it). They run in this process, each with its own engine and
	// connection pool.
	Servers int
	// Log receives the engine's logs (default: discarded).
	Log io.Writer
	// Synchronous overrides the store's durability ("FULL" by default; SQLite only).
	Synchronous string
	// SDKDir holds the Durable Task JS SDK and the sdk-* scenarios' worker (default
	// DefaultSDKDir).
	SDKDir string
}

// runStore is where one run keeps its state.
type runStore struct {
	// Dir holds the SQLite store (when URL is empty) and the blob files.
	Dir string
	// URL is the fresh PostgreSQL database's URL, "" for SQLite in Dir.
	URL string
}

// blobURL is the node's blob store: files under Dir (their index in the store) on PostgreSQL,
// which refuses the default; the default on SQLite.
func (s runStore) blobURL() string {
	if s.URL == "" {
		return ""
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.Dir, "blobs"))}).String()
}

// check validates a run's scenario and options before anything is created.
func check(name string, n int, opt Options) (Scenario, storeopen.Kind, error) {
	sc, ok := Scenarios[name]
	if !ok {
		return sc, "", fmt.Errorf("unknown scenario %q (scenarios: %s)", name, strings.Join(Names(), ", "))
	}
	if n <= 0 {
		return sc, "", errors.New("n must be positive")
	}
	kind, _, err := storeopen.Parse(opt.StoreURL, "")
	if err != nil {
		return sc, "", err
	}
	if opt.StoreURL != "" && kind != storeopen.Postgres {
		return sc, "", errors.New("bench runs on a fresh store: give a postgres:// URL, or none for SQLite in a temporary directory")
	}
	if kind == storeopen.Postgres {
		if !sc.Postgres {
			return sc, "", fmt.Errorf("scenario %s does not run on PostgreSQL (those that do: %s)", name,
				strings.Join(PostgresNames(), ", "))
		}
		if opt.Synchronous != "" {
			return sc, "", errors.New("the synchronous setting (--sync) is SQLite's; PostgreSQL's durability is its own configuration")
		}
	}
	if opt.Servers < 0 {
		return sc, "", errors.New("servers must be positive")
	}
	if opt.Servers > 1 {
		if kind != storeopen.Postgres {
			return sc, "", errors.New("several servers need a store they can share: give a postgres:// URL")
		}
		if !sc.MultiServer {
			return sc, "", fmt.Errorf("scenario %s runs with one server only (with several: %s)", name,
				strings.Join(MultiServerNames(), ", "))
		}
	}
	return sc, kind, nil
}

// Run runs one scenario on a fresh store.
func Run(ctx context.Context, name string, n int, opt Options) (res Result, err error) {
	sc, kind, err := check(name, n, opt)
	if err != nil {
		return Result{}, err
	}
	if opt.Servers == 0 {
		opt.Servers = 1
	}
	res = Result{Scenario: name, N: n, Servers: opt.Servers}
	st := runStore{Dir: opt.Dir}
	if st.Dir == "" {
		tmp, err := os.MkdirTemp("", "orca-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(tmp)
		st.Dir = tmp
	}
	if kind == storeopen.Postgres {
		db, dbURL, drop, err := freshDatabase(ctx, opt.StoreURL)
		if err != nil {
			return Result{}, err
		}
		// Runs after everything the scenario opened on the database has been closed.
		defer func() {
			if derr := drop(); derr != nil && err == nil {
				res, err = Result{}, derr
			}
		}()
		st.URL = dbURL
		res.Scenario += "-postgres"
		res.Database = db
	}
	var nr nodeRun
	if sc.Node != nil {
		nr, err = sc.Node(ctx, st, n, opt)
	} else {
		nr.took, err = runEngines(ctx, sc, st, n, opt)
	}
	if err != nil {
		return Result{}, fmt.Errorf("scenario %s: %w", name, err)
	}
	res.Seconds, res.PeakRSSMB = nr.took.Seconds(), peakRSSMB("self")+nr.workersRSSMB
	return res, nil
}

// runEngines runs an engine scenario on opt.Servers engines, each with a store of its own
// (a connection pool on PostgreSQL), instrumented as a node is so that the figures include the
// metrics' cost.
func runEngines(ctx context.Context, sc Scenario, st runStore, n int, opt Options) (time.Duration, error) {
	engs := make([]*engine.Engine, 0, opt.Servers)
	for range opt.Servers {
		m := metrics.New()
		s, _, err := storeopen.Open(ctx, st.URL, storeopen.Options{DataDir: st.Dir, Synchronous: opt.Synchronous,
			ObserveCommit: m.ObserveCommit})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		eng, err := engine.New(engine.Config{Store: s, Registry: registry(), Logger: opt.logger(), ObserveActivity: m.ObserveActivity})
		if err != nil {
			return 0, err
		}
		if err := eng.Start(ctx); err != nil {
			return 0, err
		}
		defer eng.Stop(context.WithoutCancel(ctx))
		engs = append(engs, eng)
	}
	runtime.GC()
	start := time.Now()
	if err := sc.Engine(ctx, engs, n); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (o Options) logger() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func registry() *orca.Registry {
	r := orca.NewRegistry()
	_ = r.AddActivity("Noop", func(ctx orca.ActivityContext) (any, error) {
		var n int
		err := ctx.Input(&n)
		return n, err
	})
	_ = r.AddOrchestrator("FanOut", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		tasks := make([]orca.Task, n)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Noop", i)
		}
		if err := ctx.WhenAll(tasks...).Await(nil); err != nil {
			return nil, err
		}
		sum := 0
		for _, t := range tasks {
			v, err := orca.Await[int](t)
			if err != nil {
				return nil, err
			}
			sum += v
		}
		return sum, nil
	})
	_ = r.AddOrchestrator("Sequence", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		sum := 0
		for i := 0; i < n; i++ {
			v, err := orca.Await[int](ctx.CallActivity("Noop", i))
			if err != nil {
				return nil, err
			}
			sum += v
		}
		return sum, nil
	})
	_ = r.AddOrchestrator("One", func(ctx orca.OrchestrationContext) (any, error) {
		return orca.Await[int](ctx.CallActivity("Noop", 1))
	})
	return r
}

func start(ctx context.Context, eng *engine.Engine, name, id string, n int) error {
	_, err := eng.StartInstance(ctx, engine.StartParams{Name: name, ID: id, Input: []byte(strconv.Itoa(n))})
	return err
}

// expect waits for an instance and checks its output.
func expect(ctx context.Context, eng *engine.Engine, id, output string) error {
	in, err := eng.WaitForFinish(ctx, id)
	if err != nil {
		return err
	}
	if in.Status != store.StatusCompleted || string(in.Output) != output {
		return fmt.Errorf("instance %s ended %s with output %s (failure %v), want %s", id, in.Status, in.Output, in.Failure, output)
	}
	return nil
}

// runFanOut starts the orchestration on the first server; the activities run on every server
// that leases them.
func runFanOut(ctx context.Context, engs []*engine.Engine, n int) error {
	if err := start(ctx, engs[0], "FanOut", "fanout", n); err != nil {
		return err
	}
	return expect(ctx, engs[0], "fanout", strconv.Itoa(n*(n-1)/2))
}

func runSequence(ctx context.Context, engs []*engine.Engine, n int) error {
	if err := start(ctx, engs[0], "Sequence", "sequence", n); err != nil {
		return err
	}
	return expect(ctx, engs[0], "sequence", strconv.Itoa(n*(n-1)/2))
}

// runMany starts the orchestrations round-robin on the servers, as a load balancer in front of
// them would, and waits for each on the server that started it.
func runMany(ctx context.Context, engs []*engine.Engine, n int) error {
	const starters = 64
	var wg sync.WaitGroup
	errs := make(chan error, starters)
	for w := 0; w < starters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += starters {
				if err := start(ctx, engs[i%len(engs)], "One", fmt.Sprintf("many-%d", i), 0); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := expect(ctx, engs[i%len(engs)], fmt.Sprintf("many-%d", i), "1"); err != nil {
			return err
		}
	}
	return nil
}

// peakRSSMB reads a process's peak resident set size (VmHWM) from /proc ("self": this one's);
// 0 where unavailable.
func peakRSSMB(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
