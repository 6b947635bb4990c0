package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/orcahq/orca/client"
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
	return app.Open(ctx, cfg)
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

// nodeRun is what a node scenario measured: the time, and the peak memory of the worker
// processes it ran (orca's own is read at the end).
type nodeRun struct {
	took         time.Duration
	workersRSSMB float64
}

// runComputeInProc runs the whole flow with workers as goroutines in the node.
func runComputeInProc(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	a, err := startNode(ctx, st, opt, false)
	if err != nil {
		return nodeRun{}, err
	}
	defer stopNode(ctx, a)
	pool := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
		Concurrency: 32, PollWait: time.Second})
	pool.Scale(runtime.NumCPU())
	defer pool.Stop(ctx)
	runtime.GC()
	took, err := runCompute(ctx, a.Engine, n)
	return nodeRun{took: took}, err
}

// runComputeDev runs what `make run` does: a node with orca dev's pool of `orca worker`
// processes — the built-in algorithm, the workers' default flags, the default scaling policy
// (from zero workers, a new input starting the first at once) — with the run started through
// the seeds' HTTP starter and polled over HTTP until it is Completed.
func runComputeDev(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	a, pool, cleanup, err := nodeWithProcessPool(ctx, st, opt)
	if err != nil {
		return nodeRun{}, err
	}
	defer cleanup()
	policy := scaler.Policy{Max: runtime.NumCPU(), TargetQueueLength: int64(workers.Capacity(workers.DefaultConcurrency(false), 0))}
	if err := a.StartPools(ctx, []scaler.Pool{{Name: "default", Queue: a.WorkQueue(), Provider: pool, Policy: policy}}); err != nil {
		return nodeRun{}, err
	}
	rss := watchRSS(pool)
	took, err := runComputeHTTP(ctx, a.BaseURL, n)
	return nodeRun{took: took, workersRSSMB: rss.stop()}, err
}

// runComputeExec runs the flow through `orca worker` processes that run a trivial executable
// (cat: the result is the input) for every item, with the workers' default concurrency.
func runComputeExec(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	return runExecWorkers(ctx, st, n, opt, "--exec", "cat")
}

// echoStream is a trivial long-lived algorithm in sh builtins (no process per line): for each
// item's line it answers input_data as the result. input_data is the line's last field, so the
// rest of the line after it is input_data and the object's closing brace.
const echoStream = `sh -c 'while IFS= read -r line; do printf "{\"result\":%s\n" "${line#*\"input_data\":}"; done'`

// runComputeExecStream runs the flow through `orca worker --exec-mode stream` processes, each
// slot's executable started once.
func runComputeExecStream(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	return runExecWorkers(ctx, st, n, opt, "--exec-mode", "stream", "--exec", echoStream)
}

// runExecWorkers runs the flow through NumCPU `orca worker` processes run with workerFlags.
func runExecWorkers(ctx context.Context, st runStore, n int, opt Options, workerFlags ...string) (nodeRun, error) {
	a, pool, cleanup, err := nodeWithProcessPool(ctx, st, opt, workerFlags...)
	if err != nil {
		return nodeRun{}, err
	}
	defer cleanup()
	pool.Scale(runtime.NumCPU())
	rss := watchRSS(pool)
	took, err := runCompute(ctx, a.Engine, n)
	return nodeRun{took: took, workersRSSMB: rss.stop()}, err
}

// runComputeHTTP starts a ComputeOrchestrator run of n items as the seeds' client does — POST
// /api/orchestrators/ComputeOrchestrator?inputCount=n — and polls its status over HTTP until it
// has finished; it returns the time from the start request to the poll that saw it Completed.
func runComputeHTTP(ctx context.Context, base string, n int) (time.Duration, error) {
	c, err := client.New(base, client.WithUserAgent("orca-bench"))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/orchestrators/"+compute.OrchestratorName+"?inputCount="+strconv.Itoa(n), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	var started struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&started)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil || started.ID == "" {
		return 0, fmt.Errorf("start the run: %s (%v)", resp.Status, err)
	}
	st, err := c.WaitForCompletion(ctx, started.ID, 50*time.Millisecond, nil)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	if st.RuntimeStatus != client.RuntimeStatusCompleted {
		return 0, fmt.Errorf("run ended %s: %s", st.RuntimeStatus, st.Output)
	}
	var out compute.RunOutput
	if err := json.Unmarshal(st.Output, &out); err != nil {
		return 0, err
	}
	if out.Total != n || out.Succeeded != n {
		return 0, fmt.Errorf("run output has %d of %d items succeeded", out.Succeeded, n)
	}
	return took, nil
}

// rssWatch follows the peak resident memory (VmHWM) of a pool's processes while they run.
type rssWatch struct {
	stopped chan struct{}
	done    chan float64
}

func watchRSS(pool *workers.ProcessPool) *rssWatch {
	w := &rssWatch{stopped: make(chan struct{}), done: make(chan float64, 1)}
	go func() {
		peak := map[int]float64{}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			for _, pid := range pool.PIDs() {
				peak[pid] = max(peak[pid], peakRSSMB(strconv.Itoa(pid)))
			}
			select {
			case <-w.stopped:
				sum := 0.0
				for _, mb := range peak {
					sum += mb
				}
				w.done <- sum
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the watch and returns the sum of the processes' peaks.
func (w *rssWatch) stop() float64 {
	close(w.stopped)
	return <-w.done
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
func runColdStart(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	took, err := coldStart(ctx, st, n, opt)
	return nodeRun{took: took}, err
}

func coldStart(ctx context.Context, st runStore, n int, opt Options) (time.Duration, error) {
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
	for a.Flow.Items.Completed.Load() == 0 {
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
