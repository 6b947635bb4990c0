package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/workers"
)

func newDevCmd(logs *logFlags) *cobra.Command {
	var (
		f          workerFlags
		configPath string
		data       string
		listen     string
		minWorkers int
		maxWorkers int
		sync       string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: engine, store, blobs, queue, events, API and workers",
		Long: `Run the whole system on one machine with no cloud account: the engine on SQLite under --data,
blobs and the work queue in the same store, the event router, the HTTP API on --listen, and a
pool of local 'orca worker' processes. Start a run with the seeds' curl line (printed at start).
Restarted on the same --data, it resumes every unfinished run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			data = pick(fl, "data", data, file.Data)
			listen = pick(fl, "listen", listen, file.Listen)
			sync = pick(fl, "sync", sync, file.Sync)
			f.queue = pick(fl, "queue", f.queue, file.Work.Queue)
			f.exec = pick(fl, "exec", f.exec, file.Workers.Exec)
			f.concurrency = pick(fl, "concurrency", f.concurrency, file.Workers.Concurrency)
			f.computeDelay = pick(fl, "compute-delay", f.computeDelay, file.Workers.ComputeDelay)
			minWorkers = pick(fl, "min-workers", minWorkers, file.Workers.Min)
			maxWorkers = pick(fl, "max-workers", maxWorkers, file.Workers.Max)
			logs.level = pick(fl, "log-level", logs.level, file.Log.Level)
			logs.format = pick(fl, "log-format", logs.format, file.Log.Format)
			log, err := logs.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if _, err := f.algorithm(); err != nil {
				return err
			}
			size := max(minWorkers, maxWorkers)
			if size < 0 {
				return fmt.Errorf("--max-workers must not be negative")
			}
			ctx := cmd.Context()
			a, err := app.New(ctx, app.Config{DataDir: data, Listen: listen, Logger: log, WorkQueue: f.queue, Synchronous: sync,
				PublicBaseURL: file.PublicBaseURL, MaxDequeueCount: file.Work.MaxDequeueCount, Subscriptions: file.Subscriptions,
				Engine: engineConfig(file)})
			if err != nil {
				return err
			}
			if err := a.Start(ctx); err != nil {
				_ = a.Stop(context.Background())
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			argv := append([]string{self, "worker", "--server", a.BaseURL, "--log-level", logs.level, "--log-format", logs.format}, f.args()...)
			pool := workers.NewProcessPool(workers.ProcessConfig{Command: argv, Logger: log.With("component", "workers"),
				Output: cmd.ErrOrStderr()})
			pool.Resize(size)
			printDevBanner(cmd, a.BaseURL, data, size, f.exec)
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "orca dev: shutting down (again to exit at once)")
			stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			a.API.Drain()
			pool.Stop(stopCtx)
			return a.Stop(stopCtx)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML; default $ORCA_CONFIG)")
	cmd.Flags().StringVar(&data, "data", ".orca", "data directory (store and blobs)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7071", "HTTP address (the Functions host's local port)")
	cmd.Flags().IntVar(&minWorkers, "min-workers", 0, "fewest worker processes (the pool has a fixed size for now: the larger of the two)")
	cmd.Flags().IntVar(&maxWorkers, "max-workers", runtime.NumCPU(), "most worker processes")
	cmd.Flags().StringVar(&sync, "sync", "", "SQLite synchronous setting: FULL (default) or NORMAL")
	return cmd
}

func printDevBanner(cmd *cobra.Command, base, data string, workers int, exec string) {
	out := cmd.OutOrStdout()
	algo := "the built-in demo algorithm (sum of input_data)"
	if exec != "" {
		algo = strconv.Quote(exec)
	}
	fmt.Fprintf(out, `orca dev is running (data in %s)
  API        %s  (Durable Functions routes under /runtime/webhooks/durabletask)
  health     %s/healthz
  dashboard  %s/  (comes with the dashboard issue)
  workers    %d local processes running %s

Start a run as the seeds do:
  curl --request POST --url "%s/api/orchestrators/ComputeOrchestrator?inputCount=1000" --header "Content-Length: 0"
Then poll the statusQueryGetUri it returns. Ctrl-C stops; running again resumes unfinished runs.
`, data, base, base, base, workers, algo, base)
}

// engineConfig is the engine tuning of the configuration file.
func engineConfig(f *config.File) engine.Config {
	return engine.Config{LockDuration: f.Engine.LockDuration, CacheSize: f.Engine.CacheSize,
		ActivityConcurrency: f.Engine.ActivityConcurrency, ShutdownGrace: f.Engine.ShutdownGrace}
}
