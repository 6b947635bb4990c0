package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/workers"
)

func newDevCmd(logs *logFlags) *cobra.Command {
	var (
		f          workerFlags
		n          nodeFlags
		minWorkers int
		maxWorkers int
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
			file, err := n.load(cmd, logs)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			f.queue = pick(fl, "queue", f.queue, file.Work.Queue)
			f.exec = pick(fl, "exec", f.exec, file.Workers.Exec)
			f.concurrency = pick(fl, "concurrency", f.concurrency, file.Workers.Concurrency)
			f.computeDelay = pick(fl, "compute-delay", f.computeDelay, file.Workers.ComputeDelay)
			minWorkers = pick(fl, "min-workers", minWorkers, file.Workers.Min)
			maxWorkers = pick(fl, "max-workers", maxWorkers, file.Workers.Max)
			if _, err := f.algorithm(); err != nil {
				return err
			}
			if minWorkers < 0 || maxWorkers < 0 {
				return fmt.Errorf("--min-workers and --max-workers must not be negative")
			}
			// With keys, the node's own workers get a key of their own, passed in the environment.
			var env []string
			if len(file.Auth.Keys) > 0 {
				var b [24]byte
				_, _ = rand.Read(b[:])
				workerKey := hex.EncodeToString(b[:])
				file.Auth.Keys = append(file.Auth.Keys, auth.KeySpec{Name: "orca-dev-workers", Scope: auth.ScopeWorker, Key: workerKey})
				env = append(env, "ORCA_KEY="+workerKey)
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
			size := max(minWorkers, maxWorkers)
			argv := append([]string{self, "worker", "--server", a.BaseURL, "--log-level", logs.level, "--log-format", logs.format}, f.args()...)
			pool := workers.NewProcessPool(workers.ProcessConfig{Command: argv, Env: env, Logger: log.With("component", "workers"),
				Output: cmd.ErrOrStderr()})
			pool.Resize(size)
			printDevBanner(cmd, a.BaseURL, n.data, size, f.exec)
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "orca dev: shutting down (again to exit at once)")
			stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			a.API.Drain()
			pool.Stop(stopCtx)
			return a.Stop(stopCtx)
		},
	}
	f.register(cmd)
	n.register(cmd)
	cmd.Flags().IntVar(&minWorkers, "min-workers", 0, "fewest worker processes (the pool has a fixed size for now: the larger of the two)")
	cmd.Flags().IntVar(&maxWorkers, "max-workers", runtime.NumCPU(), "most worker processes")
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
  OpenAPI    %s/api/openapi.json
  health     %s/healthz
  dashboard  %s/
  workers    %d local processes running %s

Start a run as the seeds do:
  curl --request POST --url "%s/api/orchestrators/ComputeOrchestrator?inputCount=1000" --header "Content-Length: 0"
Then poll the statusQueryGetUri it returns, or: orca wait ID. Ctrl-C stops; running again resumes unfinished runs.
`, data, base, base, base, base, workers, algo, base)
}
