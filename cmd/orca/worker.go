package main

import (
	"errors"
	"fmt"
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
	execMode     string
	execTimeout  time.Duration
	concurrency  int
	batch        int
	maxIdle      time.Duration
	computeDelay time.Duration
	visibility   time.Duration
}

// The --exec modes.
const (
	execPerItem = "per-item"
	execStream  = "stream"
)

func (f *workerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.queue, "queue", compute.DefaultQueue, "work queue")
	fl.StringVar(&f.exec, "exec", "", `algorithm: an executable and its arguments ("python3 algo.py"), run as --exec-mode says (default: the built-in demo algorithm, the sum of input_data)`)
	fl.StringVar(&f.execMode, "exec-mode", execPerItem, `how --exec runs: "per-item" (a process per item: input_data JSON on stdin, result JSON on stdout) or "stream" (a long-lived process per slot: a JSON line per item on stdin, a JSON result line on stdout; docs/compute.md)`)
	fl.DurationVar(&f.execTimeout, "exec-timeout", 10*time.Minute, "time limit of one item under --exec")
	fl.IntVar(&f.concurrency, "concurrency", 0, "items processed at once (0: 64 for the built-in algorithm, 2 per CPU under --exec)")
	fl.IntVar(&f.batch, "batch", 0, "most items one lease takes (0: as many as --concurrency; at most 256)")
	fl.DurationVar(&f.computeDelay, "compute-delay", 0, "time the built-in algorithm takes per item")
	fl.DurationVar(&f.visibility, "visibility-timeout", 30*time.Second, "lease on a message, renewed while the item is in hand")
}

// slots is the concurrency the flags ask for, the default filled in.
func (f *workerFlags) slots() int {
	if f.concurrency > 0 {
		return f.concurrency
	}
	return workers.DefaultConcurrency(f.exec != "")
}

// capacity is how many items one worker holds at most.
func (f *workerFlags) capacity() int { return workers.Capacity(f.slots(), f.batch) }

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
	switch f.execMode {
	case execPerItem, "":
		return &worker.Exec{Command: argv, Timeout: f.execTimeout}, nil
	case execStream:
		return &worker.Stream{Command: argv, Timeout: f.execTimeout}, nil
	}
	return nil, fmt.Errorf("--exec-mode %q: want %q or %q", f.execMode, execPerItem, execStream)
}

// check reports what is wrong with the flags.
func (f *workerFlags) check() error {
	if f.concurrency < 0 || f.batch < 0 || f.batch > worker.MaxBatch {
		return fmt.Errorf("--concurrency must be ≥ 0 and --batch 0 to %d", worker.MaxBatch)
	}
	if f.exec == "" && f.execMode == execStream {
		return errors.New("--exec-mode stream needs --exec: the built-in algorithm runs in the worker")
	}
	_, err := f.algorithm()
	return err
}

// args renders the flags back for a child `orca worker`.
func (f *workerFlags) args() []string {
	a := []string{"--queue", f.queue, "--concurrency", itoa(f.concurrency), "--batch", itoa(f.batch),
		"--visibility-timeout", f.visibility.String()}
	if f.exec != "" {
		a = append(a, "--exec", f.exec, "--exec-mode", f.execMode, "--exec-timeout", f.execTimeout.String())
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
		Long: `Run the compute container loop: lease work items from the queue a batch at a time with their
input blobs, run the algorithm on --concurrency of them at once, and complete them in batches
(each item's output blob written, its message and input blob deleted). On SIGTERM the worker
stops taking messages and finishes the items in hand for up to 30s, giving back what that cuts
short; with --max-idle it exits after that long without a message.`,
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
			if err := f.check(); err != nil {
				return err
			}
			alg, _ := f.algorithm()
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
			log.Info("worker started", "server", server, "queue", f.queue, "concurrency", f.slots(), "batch", f.capacity()-f.slots())
			return worker.Run(cmd.Context(), worker.Config{Source: client.WorkerSource{C: c}, Algorithm: alg, Queue: f.queue,
				Concurrency: f.slots(), Batch: f.batch, MaxIdle: f.maxIdle, VisibilityTimeout: f.visibility, Logger: log})
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
