package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

// startNode starts a node over st.
func startNode(ctx context.Context, st runStore, opt Options, http bool) (*app.App, error) {
	cfg := app.Config{DataDir: st.Dir, StoreURL: st.URL, BlobURL: st.blobURL(), Synchronous: opt.Synchronous,
		Logger: opt.logger(), NoHTTP: !http}
	if http {
		cfg.Listen = "127.0.0.1:0"
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return nil, err
	}
	return a, nil
}

// runCompute starts a ComputeOrchestrator run of n items and waits for it; it returns the time
// from the start request to the completion.
func runCompute(ctx context.Context, eng *engine.Engine, n int) (time.Duration, error) {
	start := time.Now()
	id, err := eng.StartInstance(ctx, engine.StartParams{Name: compute.OrchestratorName, ID: "bench",
		Input: json.RawMessage(strconv.Quote(strconv.Itoa(n)))})
	if err != nil {
		return 0, err
	}
	in, err := eng.WaitForFinish(ctx, id)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	if in.Status != store.StatusCompleted {
		return 0, fmt.Errorf("run ended %s: %v", in.Status, in.Failure)
	}
	var out compute.RunOutput
	if err := json.Unmarshal(in.Output, &out); err != nil {
		return 0, err
	}
	if out.Total != n || out.Succeeded != n {
		return 0, fmt.Errorf("run output has %d of %d items succeeded", out.Succeeded, n)
	}
	return took, nil
}

// runComputeInProc runs the whole flow with workers as goroutines in the node.
func runComputeInProc(ctx context.Context, st runStore, n int, opt Options) (time.Duration, error) {
	a, err := startNode(ctx, st, opt, false)
	if err != nil {
		return 0, err
	}
	defer stopNode(ctx, a)
	pool := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
		Concurrency: 32, PollWait: time.Second})
	pool.Scale(runtime.NumCPU())
	defer pool.Stop(ctx)
	runtime.GC()
	return runCompute(ctx, a.Engine, n)
}

// runComputeExec runs the flow through `orca worker` processes that run a trivial executable
// (cat: the result is the input) for every item.
func runComputeExec(ctx context.Context, st runStore, n int, opt Options) (time.Duration, error) {
	a, pool, cleanup, err := nodeWithProcessPool(ctx, st, opt, "--exec", "cat", "--concurrency", "8")
	if err != nil {
		return 0, err
	}
	defer cleanup()
	pool.Scale(runtime.NumCPU())
	return runCompute(ctx, a.Engine, n)
}

// nodeWithProcessPool starts a node with its HTTP API and an empty pool of `orca worker`
// processes (this executable) run with workerFlags; cleanup stops both.
func nodeWithProcessPool(ctx context.Context, st runStore, opt Options, workerFlags ...string) (*app.App, *workers.ProcessPool, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	logs, err := os.Create(filepath.Join(st.Dir, "workers.log"))
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := startNode(ctx, st, opt, true)
	if err != nil {
		_ = logs.Close()
		return nil, nil, nil, err
	}
	argv := append([]string{self, "worker", "--server", a.BaseURL, "--log-level", "warn"}, workerFlags...)
	pool := workers.NewProcessPool(workers.ProcessConfig{Output: logs, Command: argv})
	return a, pool, func() {
		pool.Stop(context.WithoutCancel(ctx))
		stopNode(ctx, a)
		_ = logs.Close()
	}, nil
}

// runColdStart measures the seeds' cold start: a pool of `orca worker` processes scaled to zero
// (a poll interval far longer than the run, so only the BlobCreated wake can start a worker),
// a ComputeOrchestrator run of n items, timed from the start request to the first item
// processed (its completion routed back to the run).
func runColdStart(ctx context.Context, st runStore, n int, opt Options) (time.Duration, error) {
	a, pool, cleanup, err := nodeWithProcessPool(ctx, st, opt)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	err = a.StartPools(ctx, []scaler.Pool{{Name: "cold", Queue: a.WorkQueue(), Provider: pool,
		Policy: scaler.Policy{Max: runtime.NumCPU(), PollingInterval: time.Hour}}})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	id, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: compute.OrchestratorName, ID: "bench",
		Input: json.RawMessage(strconv.Itoa(n))})
	if err != nil {
		return 0, err
	}
	for a.Items.Completed.Load() == 0 {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	if _, err := a.Engine.WaitForFinish(ctx, id); err != nil {
		return 0, err
	}
	return took, nil
}

func stopNode(ctx context.Context, a *app.App) {
	if err := a.Stop(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "stop node:", err)
	}
}
