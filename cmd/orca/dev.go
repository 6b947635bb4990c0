package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/workers/kube"
)

func newDevCmd(logs *config.Flags) *cobra.Command {
	settings := &config.Flags{}
	settings.Include(logs)
	var demo int
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
			file, err := settings.Resolve(cmd.Flags())
			if err != nil {
				return err
			}
			// With keys, the node's own workers get a key of their own, passed in the environment.
			var env []string
			var demoKey string
			if len(file.Auth.Keys) > 0 {
				workerKey := randomKey()
				file.Auth.Keys = append(file.Auth.Keys, auth.KeySpec{Name: "orca-dev-workers", Scope: auth.ScopeWorker, Key: workerKey})
				env = append(env, config.EnvKey+"="+workerKey)
				if demo > 0 { // the demo run goes through the API like any client's
					demoKey = randomKey()
					file.Auth.Keys = append(file.Auth.Keys, auth.KeySpec{Name: "orca-dev-demo", Scope: auth.ScopeAdmin, Key: demoKey})
				}
			}
			a, err := openNode(cmd, file)
			if err != nil {
				return err
			}
			log, _ := newLogger(cmd.ErrOrStderr(), file.Log)
			self, err := os.Executable()
			if err != nil {
				return err
			}
			pools, err := a.Pools(cmd.Context(), file, &app.LocalWorkers{
				Command: []string{self, "worker", "--log-level", file.Log.Level, "--log-format", file.Log.Format},
				Env:     env, Logger: log, Output: cmd.ErrOrStderr()}, kube.Open)
			if err == nil {
				err = a.StartPools(cmd.Context(), pools)
			}
			if err != nil {
				_ = a.Stop(context.WithoutCancel(cmd.Context()))
				return err
			}
			printDevBanner(cmd, a.BaseURL, describe(file), pools[0].Policy.WithDefaults(), file.Workers.Exec)
			if a.KEDAAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "KEDA external scaler on %s (queue %s)\n", a.KEDAAddr, a.WorkQueue())
			}
			if demo > 0 {
				if err := runDevDemo(cmd, a.BaseURL, demoKey, demo); err != nil && cmd.Context().Err() == nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "orca dev: demo run:", err)
				}
			}
			return serveUntilDone(cmd, "orca dev", a)
		},
	}
	settings.Node(cmd.Flags())
	settings.Workers(cmd.Flags())
	settings.Pool(cmd.Flags())
	cmd.Flags().IntVar(&demo, "demo", 0, "start a ComputeOrchestrator run of this many items at once and show its progress (then keep serving)")
	return cmd
}

// serveUntilDone keeps a node running until the command's context ends (the first SIGINT or
// SIGTERM), then stops it gracefully.
func serveUntilDone(cmd *cobra.Command, name string, a *app.App) error {
	<-cmd.Context().Done()
	fmt.Fprintln(cmd.ErrOrStderr(), name+": shutting down (again to exit at once)")
	stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	return a.Stop(stopCtx)
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
