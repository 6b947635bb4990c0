package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/workers"
)

func newDevCmd(logs *logFlags) *cobra.Command {
	var (
		f       workerFlags
		n       nodeFlags
		pol     poolFlags
		demo    int
		demoKey string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: engine, store, blobs, queue, events, API and autoscaled workers",
		Long: `Run the whole system on one machine with no cloud account: the engine on SQLite under --data,
blobs and the work queue in the same store, the event router, the HTTP API on --listen, and a
pool of local 'orca worker' processes sized on the queue's length with KEDA's semantics (from
--min-workers, 0 by default, up to --max-workers; a new input starts the first worker at once).
Start a run with the seeds' curl line (printed at start). Restarted on the same --data, it
resumes every unfinished run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := n.load(cmd, logs)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			f.queue = pick(fl, "queue", f.queue, file.Work.Queue)
			f.exec = pick(fl, "exec", f.exec, file.Workers.Exec)
			f.execMode = pick(fl, "exec-mode", f.execMode, file.Workers.ExecMode)
			f.concurrency = pick(fl, "concurrency", f.concurrency, file.Workers.Concurrency)
			f.batch = pick(fl, "batch", f.batch, file.Workers.Batch)
			f.computeDelay = pick(fl, "compute-delay", f.computeDelay, file.Workers.ComputeDelay)
			policy := pol.policy(fl, file.Workers, f.capacity())
			if err := f.check(); err != nil {
				return err
			}
			if err := policy.WithDefaults().Validate(); err != nil {
				return fmt.Errorf("worker pool: %w", err)
			}
			// With keys, the node's own workers get a key of their own, passed in the environment.
			var env []string
			if len(file.Auth.Keys) > 0 {
				workerKey := randomKey()
				file.Auth.Keys = append(file.Auth.Keys, auth.KeySpec{Name: "orca-dev-workers", Scope: auth.ScopeWorker, Key: workerKey})
				env = append(env, "ORCA_KEY="+workerKey)
				if demo > 0 { // the demo run goes through the API like any client's
					demoKey = randomKey()
					file.Auth.Keys = append(file.Auth.Keys, auth.KeySpec{Name: "orca-dev-demo", Scope: auth.ScopeAdmin, Key: demoKey})
				}
			}
			a, err := n.openNode(cmd, logs, file, app.Config{WorkQueue: f.queue})
			if err != nil {
				return err
			}
			log, _ := logs.logger(cmd.ErrOrStderr())
			self, err := os.Executable()
			if err != nil {
				return err
			}
			// Each pool runs `orca worker` children with its own queue and algorithm.
			newPool := func(name string, wf workerFlags, policy scaler.Policy) scaler.Pool {
				argv := append([]string{self, "worker", "--server", a.BaseURL, "--log-level", logs.level, "--log-format", logs.format}, wf.args()...)
				return scaler.Pool{Name: name, Queue: wf.queue, Policy: policy, Provider: workers.NewProcessPool(workers.ProcessConfig{
					Name: name, Command: argv, Env: env, Logger: log.With("component", "workers", "pool", name), Output: cmd.ErrOrStderr()})}
			}
			pools := []scaler.Pool{newPool(config.DefaultPool, f, policy)}
			for _, p := range file.Pools {
				wf := f
				wf.queue, wf.exec, wf.execMode, wf.concurrency, wf.batch, wf.computeDelay = p.Queue, p.Exec, p.ExecMode, p.Concurrency, p.Batch, p.ComputeDelay
				if wf.execMode == "" {
					wf.execMode = execPerItem
				}
				if err := wf.check(); err != nil {
					return fmt.Errorf("pool %s: %w", p.Name, err)
				}
				pools = append(pools, newPool(p.Name, wf, poolPolicy(p.Workers, wf.capacity())))
			}
			if err := a.StartPools(cmd.Context(), pools); err != nil {
				return err
			}
			printDevBanner(cmd, a.BaseURL, n.describe(), policy.WithDefaults(), f.exec)
			if a.KEDAAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "KEDA external scaler on %s (queue %s)\n", a.KEDAAddr, a.WorkQueue())
			}
			if demo > 0 {
				if err := runDevDemo(cmd, a.BaseURL, demoKey, demo); err != nil && cmd.Context().Err() == nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "orca dev: demo run:", err)
				}
			}
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "orca dev: shutting down (again to exit at once)")
			stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			return a.Stop(stopCtx)
		},
	}
	f.register(cmd)
	n.register(cmd)
	pol.register(cmd)
	cmd.Flags().IntVar(&demo, "demo", 0, "start a ComputeOrchestrator run of this many items at once and show its progress (then keep serving)")
	return cmd
}

// runDevDemo starts a ComputeOrchestrator run of n items through the API, as the seeds' curl line
// does, shows its progress until it finishes and prints the outcome.
func runDevDemo(cmd *cobra.Command, base, key string, n int) error {
	c, err := client.New(base, client.WithKey(key), client.WithUserAgent("orca-dev-demo/"+version))
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	start := time.Now()
	id, err := c.StartOrchestration(ctx, compute.OrchestratorName, "", map[string]int{"inputCount": n})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "\nDemo run %s: %d items (watch it on the dashboard: %s/#/instance/%s)\n", id, n, base, url.PathEscape(id))
	view := newProgressView(out)
	st, err := c.WaitForCompletion(ctx, id, 250*time.Millisecond, view.update)
	view.done()
	if err != nil {
		return err
	}
	took := time.Since(start)
	p, _ := compute.ParseProgress(st.CustomStatus)
	fmt.Fprintf(out, "Demo run %s %s in %s (%.0f items/s; %d completed, %d failed). orca dev keeps serving; Ctrl-C stops.\n",
		id, st.RuntimeStatus, took.Round(time.Millisecond), float64(n)/took.Seconds(), p.Completed, p.Failed)
	return nil
}

// randomKey returns a fresh API key for orca dev's own clients.
func randomKey() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// poolFlags are a worker pool's scaling flags: KEDA's ScaledObject fields, the seeds' values
// as defaults where they make sense.
type poolFlags struct {
	min, max           int
	target, activation int64
	polling, cooldown  time.Duration
	scaleUpPeriod      time.Duration
	stabilization      time.Duration
}

func (p *poolFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&p.min, "min-workers", 0, "fewest workers (0: scale to zero when idle)")
	fl.IntVar(&p.max, "max-workers", runtime.NumCPU(), "most workers")
	fl.Int64Var(&p.target, "target-queue-length", 0, "queue length one worker is meant for (KEDA's queueLength; 0: what one worker holds, --concurrency plus --batch)")
	fl.Int64Var(&p.activation, "activation-queue-length", 0, "the pool is active while the queue holds more messages than this")
	fl.DurationVar(&p.polling, "polling-interval", scaler.DefaultPollingInterval, "how often the queue length is measured")
	fl.DurationVar(&p.cooldown, "cooldown", scaler.DefaultCooldown, "how long the pool must be inactive before it scales to zero")
	fl.DurationVar(&p.scaleUpPeriod, "scale-up-period", scaler.DefaultScaleUpPeriod, "the pool grows at most by max(4, 100%) per this period (the HPA's default)")
	fl.DurationVar(&p.stabilization, "scale-down-stabilization", scaler.DefaultScaleDownStabilization,
		"scaling in keeps the highest need of this window (the HPA's default; scaling to zero is the cooldown's)")
}

// poolPolicy is the scaling policy of a pool declared in the configuration file. A worker
// holds capacity items at once (its slots and a waiting batch), which is the target queue length
// unless one is set: a worker per capacity's worth of queued items.
func poolPolicy(w config.Workers, capacity int) scaler.Policy {
	if w.Max == 0 {
		w.Max = runtime.NumCPU()
	}
	if w.TargetQueueLength == 0 {
		w.TargetQueueLength = int64(capacity)
	}
	return scaler.Policy{Min: w.Min, Max: w.Max, TargetQueueLength: w.TargetQueueLength,
		ActivationQueueLength: w.ActivationQueueLength, PollingInterval: w.PollingInterval, Cooldown: w.Cooldown,
		ScaleUpPeriod: w.ScaleUpPeriod, ScaleUpPods: w.ScaleUpPods, ScaleUpPercent: w.ScaleUpPercent,
		ScaleDownStabilization: w.ScaleDownStabilization}
}

// policy merges the flags with the configuration file's workers section (a flag given wins).
func (p *poolFlags) policy(fl *pflag.FlagSet, w config.Workers, capacity int) scaler.Policy {
	w.Min = pick(fl, "min-workers", p.min, w.Min)
	w.Max = pick(fl, "max-workers", p.max, w.Max)
	if fl.Changed("target-queue-length") {
		w.TargetQueueLength = p.target
	}
	w.ActivationQueueLength = pick(fl, "activation-queue-length", p.activation, w.ActivationQueueLength)
	w.PollingInterval = pick(fl, "polling-interval", p.polling, w.PollingInterval)
	w.Cooldown = pick(fl, "cooldown", p.cooldown, w.Cooldown)
	w.ScaleUpPeriod = pick(fl, "scale-up-period", p.scaleUpPeriod, w.ScaleUpPeriod)
	// A negative value turns the window off; a zero one takes the default.
	w.ScaleDownStabilization = pick(fl, "scale-down-stabilization", p.stabilization, w.ScaleDownStabilization)
	return poolPolicy(w, capacity)
}

func printDevBanner(cmd *cobra.Command, base, where string, pol scaler.Policy, exec string) {
	out := cmd.OutOrStdout()
	algo := "the built-in demo algorithm (sum of input_data)"
	if exec != "" {
		algo = strconv.Quote(exec)
	}
	fmt.Fprintf(out, `orca dev is running (%s)
  API        %s  (Durable Functions routes under /runtime/webhooks/durabletask)
  OpenAPI    %s/api/openapi.json
  health     %s/healthz
  dashboard  %s/
  workers    %d to %d local processes running %s (one per %d queued items; idle %s → 0)

Start a run as the seeds do:
  curl --request POST --url "%s/api/orchestrators/ComputeOrchestrator?inputCount=1000" --header "Content-Length: 0"
Then poll the statusQueryGetUri it returns, or: orca wait ID. Ctrl-C stops; running again resumes unfinished runs.
`, where, base, base, base, base, pol.Min, pol.Max, algo, pol.TargetQueueLength, pol.Cooldown, base)
}
