package main

import (
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

// workerFlags are the flags of `orca worker`, which `orca dev` passes through to its workers.
type workerFlags struct {
	queue        string
	exec         string
	execTimeout  time.Duration
	concurrency  int
	maxIdle      time.Duration
	computeDelay time.Duration
	visibility   time.Duration
}

func (f *workerFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.queue, "queue", compute.DefaultQueue, "work queue")
	cmd.Flags().StringVar(&f.exec, "exec", "", `algorithm: an executable and its arguments ("python3 algo.py"); input_data JSON on stdin, result JSON on stdout (default: the built-in demo algorithm, the sum of input_data)`)
	cmd.Flags().DurationVar(&f.execTimeout, "exec-timeout", 10*time.Minute, "time limit of one --exec run")
	cmd.Flags().IntVar(&f.concurrency, "concurrency", 1, "items processed at once")
	cmd.Flags().DurationVar(&f.computeDelay, "compute-delay", 0, "time the built-in algorithm takes per item")
	cmd.Flags().DurationVar(&f.visibility, "visibility-timeout", 30*time.Second, "lease on a message, renewed while the algorithm runs")
}

// algorithm returns the algorithm the flags select.
func (f *workerFlags) algorithm() (worker.Algorithm, error) {
	if f.exec == "" {
		return worker.Demo(f.computeDelay), nil
	}
	argv, err := config.SplitCommand(f.exec)
	if err != nil {
		return nil, errors.New("--exec: " + err.Error())
	}
	if len(argv) == 0 {
		return nil, errors.New("--exec: empty command")
	}
	return &worker.Exec{Command: argv, Timeout: f.execTimeout}, nil
}

// args renders the flags back for a child `orca worker`.
func (f *workerFlags) args() []string {
	a := []string{"--queue", f.queue, "--concurrency", itoa(f.concurrency), "--visibility-timeout", f.visibility.String()}
	if f.exec != "" {
		a = append(a, "--exec", f.exec, "--exec-timeout", f.execTimeout.String())
	} else {
		a = append(a, "--compute-delay", f.computeDelay.String())
	}
	return a
}

func newWorkerCmd(logs *logFlags) *cobra.Command {
	var (
		f       workerFlags
		server  string
		key     string
		profile string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a compute worker against an orca server",
		Long: `Run the compute container loop: take work items from the queue, read each item's input blob,
run the algorithm, write the output blob, delete the message and the input blob. On SIGTERM the
worker stops taking messages and finishes the ones in hand; with --max-idle it exits after that
long without a message.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if key == "" {
				key = envKey()
			}
			// A worker started by orca's own pool carries its id, so the pool sees it become ready.
			c, err := client.New(server, client.WithKey(key), client.WithUserAgent("orca-worker/"+version),
				client.WithWorkerID(os.Getenv(workers.WorkerIDEnv)))
			if err != nil {
				return err
			}
			alg, err := f.algorithm()
			if err != nil {
				return err
			}
			if e, ok := alg.(*worker.Exec); ok {
				e.Logger = log
			}
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			log.Info("worker started", "server", server, "queue", f.queue, "concurrency", f.concurrency)
			return worker.Run(cmd.Context(), worker.Config{Source: client.WorkerSource{C: c}, Algorithm: alg, Queue: f.queue,
				Concurrency: f.concurrency, MaxIdle: f.maxIdle, VisibilityTimeout: f.visibility, Logger: log})
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&f.maxIdle, "max-idle", 0, "exit after this long without a message (0: never)")
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:7071", "orca server URL")
	cmd.Flags().StringVar(&key, "key", "", "API key (default $ORCA_KEY)")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the worker to this file")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}
