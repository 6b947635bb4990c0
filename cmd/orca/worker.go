package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

// algorithm returns the algorithm a worker's settings select.
func algorithm(w config.Workers) (worker.Algorithm, error) {
	if w.Exec == "" {
		return worker.Demo(w.ComputeDelay), nil
	}
	argv, err := config.SplitCommand(w.Exec)
	if err != nil {
		return nil, errors.New("--exec: " + err.Error())
	}
	if w.ExecMode == config.ExecStream {
		return &worker.Stream{Command: argv, Timeout: w.ExecTimeout}, nil
	}
	return &worker.Exec{Command: argv, Timeout: w.ExecTimeout}, nil
}

func newWorkerCmd(logs *config.Flags) *cobra.Command {
	settings := &config.Flags{}
	settings.Include(logs)
	var (
		server  string
		key     string
		maxIdle time.Duration
		profile string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a compute worker against an orca server",
		Long: `Run the compute container loop: lease work items from the queue a batch at a time with their
input blobs, run the algorithm on --concurrency of them at once, and complete them in batches
(each item's output blob written, its message and input blob deleted). On SIGTERM the worker
stops taking messages and finishes the items in hand for up to 30s, giving back what that cuts
short; with --max-idle it exits after that long without a message.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := settings.Resolve(cmd.Flags())
			if err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), file.Log)
			if err != nil {
				return err
			}
			env := config.ClientFromEnv()
			if key == "" {
				key = env.Key
			}
			// A worker started by orca's own pool carries its id, so the pool sees it become ready.
			c, err := client.New(server, client.WithKey(key), client.WithUserAgent("orca-worker/"+version),
				client.WithWorkerID(env.WorkerID))
			if err != nil {
				return err
			}
			w := file.Workers
			alg, err := algorithm(w)
			if err != nil {
				return err
			}
			switch a := alg.(type) {
			case *worker.Exec:
				a.Logger = log
			case *worker.Stream:
				a.Logger = log
				defer func() { _ = a.Close() }()
			}
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			slots := workers.Slots(w.Concurrency, w.Exec != "")
			log.Info("worker started", "server", server, "queue", file.Work.Queue, "concurrency", slots,
				"batch", workers.Capacity(slots, w.Batch)-slots)
			return worker.Run(cmd.Context(), worker.Config{Source: client.WorkerSource{C: c}, Algorithm: alg, Queue: file.Work.Queue,
				Concurrency: slots, Batch: w.Batch, MaxIdle: maxIdle, VisibilityTimeout: w.VisibilityTimeout, Logger: log})
		},
	}
	settings.Workers(cmd.Flags())
	cmd.Flags().DurationVar(&maxIdle, "max-idle", 0, "exit after this long without a message (0: never)")
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:7071", "orca server URL")
	cmd.Flags().StringVar(&key, "key", "", "API key (default $ORCA_KEY)")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the worker to this file")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}
