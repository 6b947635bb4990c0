package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/internal/workers/kube"
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

// Pools are the worker pools a configuration declares, its workers section first (the compute
// flow's pool, config.DefaultPool, on its work queue). A pool with a Deployment is that
// Kubernetes Deployment, sized through its scale subresource (package kube); any other runs
// local `orca worker` processes as lw says, or is left out when lw is nil (orca server runs no
// local workers). Call it after Start: local workers need the API's address.
func (a *App) Pools(ctx context.Context, f *config.File, lw *LocalWorkers) ([]scaler.Pool, error) {
	declared := append([]config.Pool{{Name: config.DefaultPool, Queue: a.WorkQueue(), Workers: f.Workers}}, f.Pools...)
	pools := make([]scaler.Pool, 0, len(declared))
	clusters := map[string]*rest.Config{} // by kubeconfig
	for _, p := range declared {
		if p.Workers.Deployment == "" && lw == nil {
			continue
		}
		policy := PoolPolicy(p.Workers)
		if err := policy.WithDefaults().Validate(); err != nil {
			return nil, fmt.Errorf("pool %s: %w", p.Name, err)
		}
		var provider scaler.Provider
		if d := p.Workers.Deployment; d != "" {
			c, ok := clusters[p.Workers.Kubeconfig]
			if !ok {
				var err error
				if c, err = kube.ConfigFor(p.Workers.Kubeconfig); err != nil {
					return nil, fmt.Errorf("pool %s: %w", p.Name, err)
				}
				clusters[p.Workers.Kubeconfig] = c
			}
			ns, name, _ := strings.Cut(d, "/")
			kp, err := kube.New(ctx, kube.Config{Cluster: c, Namespace: ns, Deployment: name,
				Logger: a.log.With("component", "workers", "pool", p.Name)})
			if err != nil {
				return nil, fmt.Errorf("pool %s: %w", p.Name, err)
			}
			provider = kp
		} else {
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
