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
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

// startNode starts a node over dir.
func startNode(ctx context.Context, dir string, opt Options, http bool) (*app.App, error) {
	cfg := app.Config{DataDir: dir, Synchronous: opt.Synchronous, Logger: opt.logger(), NoHTTP: !http}
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
func runComputeInProc(ctx context.Context, dir string, n int, opt Options) (time.Duration, error) {
	a, err := startNode(ctx, dir, opt, false)
	if err != nil {
		return 0, err
	}
	defer stopNode(ctx, a)
	pool := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
		Concurrency: 32, PollWait: time.Second})
	pool.Resize(runtime.NumCPU())
	defer pool.Stop()
	runtime.GC()
	return runCompute(ctx, a.Engine, n)
}

// runComputeExec runs the flow through `orca worker` processes that run a trivial executable
// (cat: the result is the input) for every item.
func runComputeExec(ctx context.Context, dir string, n int, opt Options) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	a, err := startNode(ctx, dir, opt, true)
	if err != nil {
		return 0, err
	}
	defer stopNode(ctx, a)
	logs, err := os.Create(filepath.Join(dir, "workers.log"))
	if err != nil {
		return 0, err
	}
	defer logs.Close()
	pool := workers.NewProcessPool(workers.ProcessConfig{Output: logs, Command: []string{self, "worker", "--server", a.BaseURL,
		"--exec", "cat", "--concurrency", "8", "--log-level", "warn"}})
	pool.Resize(runtime.NumCPU())
	defer pool.Stop(context.WithoutCancel(ctx))
	return runCompute(ctx, a.Engine, n)
}

func stopNode(ctx context.Context, a *app.App) {
	if err := a.Stop(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "stop node:", err)
	}
}
