// Package bench runs orca's benchmark scenarios on a fresh store and reports one line per run:
//
//	BENCH scenario=<name> n=<N> seconds=<wall> items_per_sec=<rate> peak_rss_mb=<MiB>
//
// Each scenario measures the whole path a user's work takes, with the durability a user gets by
// default (SQLite, synchronous=FULL), from the first start request to the last completion.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/orcahq/orca/internal/store/sqlite"
)

// Scenario is a benchmark. Engine scenarios run N items on a started engine over a fresh store
// and are timed from the first start request to the last completion; node scenarios set up a
// whole node (blobs, queue, events, workers) and time themselves the same way.
type Scenario struct {
	Name        string
	Description string
	Engine      func(ctx context.Context, eng *engine.Engine, n int) error
	Node        func(ctx context.Context, dir string, n int, opt Options) (time.Duration, error)
}

// Scenarios lists the scenarios by name.
var Scenarios = map[string]Scenario{
	"fanout":   {Name: "fanout", Description: "one orchestration, N parallel trivial activities, fan-in", Engine: runFanOut},
	"sequence": {Name: "sequence", Description: "one orchestration, N activities one after another", Engine: runSequence},
	"many":     {Name: "many", Description: "N orchestrations of one activity each, started concurrently", Engine: runMany},
	"compute-inproc": {Name: "compute-inproc", Description: "the seeds' flow: ComputeOrchestrator with N items, in-process workers",
		Node: runComputeInProc},
	"compute-exec": {Name: "compute-exec", Description: "the seeds' flow with N items through `orca worker --exec` processes running a trivial executable",
		Node: runComputeExec},
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

// Result is one measured run.
type Result struct {
	Scenario  string
	N         int
	Seconds   float64
	PeakRSSMB float64
}

// ItemsPerSec is N divided by the wall time.
func (r Result) ItemsPerSec() float64 { return float64(r.N) / r.Seconds }

// Line formats the result as the BENCH line.
func (r Result) Line() string {
	return fmt.Sprintf("BENCH scenario=%s n=%d seconds=%.3f items_per_sec=%.0f peak_rss_mb=%.1f",
		r.Scenario, r.N, r.Seconds, r.ItemsPerSec(), r.PeakRSSMB)
}

// Options tune a run.
type Options struct {
	// Dir holds the store; empty uses a fresh temporary directory, removed afterwards.
	Dir string
	// Log receives the engine's logs (default: discarded).
	Log io.Writer
	// Synchronous overrides the store's durability ("FULL" by default).
	Synchronous string
}

// Run runs one scenario on a fresh store.
func Run(ctx context.Context, name string, n int, opt Options) (Result, error) {
	sc, ok := Scenarios[name]
	if !ok {
		return Result{}, fmt.Errorf("unknown scenario %q (scenarios: %s)", name, strings.Join(Names(), ", "))
	}
	if n <= 0 {
		return Result{}, errors.New("n must be positive")
	}
	dir := opt.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "orca-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if sc.Node != nil {
		d, err := sc.Node(ctx, dir, n, opt)
		if err != nil {
			return Result{}, fmt.Errorf("scenario %s: %w", name, err)
		}
		return Result{Scenario: name, N: n, Seconds: d.Seconds(), PeakRSSMB: peakRSSMB()}, nil
	}
	// Instrumented as a node is, so that the figures include the metrics' cost.
	m := metrics.New()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "orca.db"), Synchronous: opt.Synchronous,
		ObserveCommit: m.ObserveCommit})
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	eng, err := engine.New(engine.Config{Store: st, Registry: registry(), Logger: opt.logger(), ObserveActivity: m.ObserveActivity})
	if err != nil {
		return Result{}, err
	}
	if err := eng.Start(ctx); err != nil {
		return Result{}, err
	}
	defer eng.Stop(context.WithoutCancel(ctx))
	runtime.GC()
	start := time.Now()
	if err := sc.Engine(ctx, eng, n); err != nil {
		return Result{}, fmt.Errorf("scenario %s: %w", name, err)
	}
	return Result{Scenario: name, N: n, Seconds: time.Since(start).Seconds(), PeakRSSMB: peakRSSMB()}, nil
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

func runFanOut(ctx context.Context, eng *engine.Engine, n int) error {
	if err := start(ctx, eng, "FanOut", "fanout", n); err != nil {
		return err
	}
	return expect(ctx, eng, "fanout", strconv.Itoa(n*(n-1)/2))
}

func runSequence(ctx context.Context, eng *engine.Engine, n int) error {
	if err := start(ctx, eng, "Sequence", "sequence", n); err != nil {
		return err
	}
	return expect(ctx, eng, "sequence", strconv.Itoa(n*(n-1)/2))
}

func runMany(ctx context.Context, eng *engine.Engine, n int) error {
	const starters = 64
	var wg sync.WaitGroup
	errs := make(chan error, starters)
	for w := 0; w < starters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += starters {
				if err := start(ctx, eng, "One", fmt.Sprintf("many-%d", i), 0); err != nil {
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
		if err := expect(ctx, eng, fmt.Sprintf("many-%d", i), "1"); err != nil {
			return err
		}
	}
	return nil
}

// peakRSSMB reads the process's peak resident set size (VmHWM) from /proc; 0 where unavailable.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
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
