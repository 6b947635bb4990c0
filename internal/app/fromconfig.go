package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/workers"
)

// ConfigFrom is the node a resolved configuration describes (what `orca server` and `orca dev`
// run), logging to log.
func ConfigFrom(f *config.File, log *slog.Logger) (Config, error) {
	keys, err := f.Keys()
	if err != nil {
		return Config{}, err
	}
	return Config{DataDir: f.Data, StoreURL: f.Store, BlobURL: f.Blob, QueueURL: f.QueueURL, Listen: f.Listen,
		Synchronous: f.Sync, Logger: log, Keys: keys, Insecure: f.Insecure, PublicBaseURL: f.PublicBaseURL,
		WorkQueue: f.Work.Queue, MaxDequeueCount: f.Work.MaxDequeueCount, Subscriptions: f.Subscriptions,
		Engine: engine.Config{LockDuration: f.Engine.LockDuration, CacheSize: f.Engine.CacheSize,
			ActivityConcurrency: f.Engine.ActivityConcurrency, ShutdownGrace: f.Engine.ShutdownGrace},
		KEDAListen: f.KEDA.Listen, KEDACertFile: f.KEDA.TLSCert, KEDAKeyFile: f.KEDA.TLSKey,
		GRPCListen: grpcListen(f.GRPC.Listen), GRPCCertFile: f.GRPC.TLSCert, GRPCKeyFile: f.GRPC.TLSKey,
		// A trigger without a queueLength gets what one built-in worker holds.
		KEDATarget: int64(workers.Capacity(workers.DefaultConcurrency(false), 0)),
	}, nil
}

// grpcListen is the Durable Task endpoint's address; "off" turns it off.
func grpcListen(listen string) string {
	if listen == "off" {
		return ""
	}
	return listen
}

// Open assembles a node and starts it; a node that fails to start is stopped again.
func Open(ctx context.Context, cfg Config) (*App, error) {
	a, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return a, nil
}

// LocalWorkers is how orca dev runs its pools' workers: `orca worker` processes on this machine,
// talking to this node's API.
type LocalWorkers struct {
	// Command is the orca executable and the flags every worker gets (its logging); each pool
	// adds --server and its own settings.
	Command []string
	// Env is added to each worker's environment (its API key).
	Env    []string
	Logger *slog.Logger
	// Output receives the workers' stdout and stderr.
	Output io.Writer
}

// Deployments makes the provider of a pool that is a Kubernetes Deployment ("NAMESPACE/NAME",
// on the cluster of kubeconfig, in-cluster when empty). orca's CLI passes package kube's Open;
// app does not import it, so that a program hosting orca (package host) does not link client-go.
type Deployments func(ctx context.Context, deployment, kubeconfig string, log *slog.Logger) (scaler.Provider, error)

// Pools are the worker pools a configuration declares, its workers section first (the compute
// flow's pool, config.DefaultPool, on its work queue). A pool with a Deployment is that
// Kubernetes Deployment, made by deployments; any other runs local `orca worker` processes as lw
// says, or is left out when lw is nil (orca server runs no local workers). Call it after Start:
// local workers need the API's address.
func (a *App) Pools(ctx context.Context, f *config.File, lw *LocalWorkers, deployments Deployments) ([]scaler.Pool, error) {
	declared := append([]config.Pool{{Name: config.DefaultPool, Queue: a.WorkQueue(), Workers: f.Workers}}, f.Pools...)
	pools := make([]scaler.Pool, 0, len(declared))
	for _, p := range declared {
		if p.Workers.Deployment == "" && lw == nil {
			continue
		}
		policy := PoolPolicy(p.Workers)
		if err := policy.WithDefaults().Validate(); err != nil {
			return nil, fmt.Errorf("pool %s: %w", p.Name, err)
		}
		var provider scaler.Provider
		switch {
		case p.Workers.Deployment != "" && deployments == nil:
			return nil, fmt.Errorf("pool %s: this program does not size Kubernetes Deployments", p.Name)
		case p.Workers.Deployment != "":
			var err error
			provider, err = deployments(ctx, p.Workers.Deployment, p.Workers.Kubeconfig, a.log.With("component", "workers", "pool", p.Name))
			if err != nil {
				return nil, fmt.Errorf("pool %s: %w", p.Name, err)
			}
		default:
			argv := append(append(append([]string{}, lw.Command...), "--server", a.BaseURL), p.Workers.Args(p.Queue)...)
			provider = workers.NewProcessPool(workers.ProcessConfig{Name: p.Name, Command: argv, Env: lw.Env,
				Logger: lw.Logger.With("component", "workers", "pool", p.Name), Output: lw.Output})
		}
		pools = append(pools, scaler.Pool{Name: p.Name, Queue: p.Queue, Policy: policy, Provider: provider})
	}
	return pools, nil
}

// PoolPolicy is the scaling policy of a pool's settings. A worker holds its slots and a waiting
// batch at once, which is the target queue length unless one is set: a worker per capacity's
// worth of queued items.
func PoolPolicy(w config.Workers) scaler.Policy {
	if w.Max == 0 {
		w.Max = runtime.NumCPU()
	}
	if w.TargetQueueLength == 0 {
		w.TargetQueueLength = int64(workers.Capacity(workers.Slots(w.Concurrency, w.Exec != ""), w.Batch))
	}
	return scaler.Policy{Min: w.Min, Max: w.Max, TargetQueueLength: w.TargetQueueLength,
		ActivationQueueLength: w.ActivationQueueLength, PollingInterval: w.PollingInterval, Cooldown: w.Cooldown,
		ScaleUpPeriod: w.ScaleUpPeriod, ScaleUpPods: w.ScaleUpPods, ScaleUpPercent: w.ScaleUpPercent,
		ScaleDownStabilization: w.ScaleDownStabilization}
}
