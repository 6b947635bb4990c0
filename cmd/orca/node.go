package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/store/storeopen"
	"github.com/orcahq/orca/internal/workers"
)

// nodeFlags are the flags of the commands that run a node (dev, server).
type nodeFlags struct {
	configPath string
	data       string
	store      string
	blob       string
	queueURL   string
	listen     string
	sync       string
	insecure   bool
	// KEDA's external scaler
	kedaListen, kedaCert, kedaKey string
}

func (n *nodeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.configPath, "config", "", "configuration file (YAML; default $ORCA_CONFIG)")
	cmd.Flags().StringVar(&n.data, "data", ".orca", "data directory (SQLite store and blob files, unless --store/--blob say otherwise)")
	cmd.Flags().StringVar(&n.store, "store", "", "store URL: postgres://USER@HOST:PORT/DB for servers sharing a task hub (default: SQLite in --data)")
	cmd.Flags().StringVar(&n.blob, "blob", "", "blob store URL: s3://BUCKET?endpoint=…, azblob://ACCOUNT, file:///DIR (default: files in --data)")
	cmd.Flags().StringVar(&n.queueURL, "queue-url", "", "work queue service URL: azqueue://ACCOUNT or azqueue:// for Azure Storage Queue (default: queues in the store)")
	cmd.Flags().StringVar(&n.listen, "listen", "127.0.0.1:7071", "HTTP address (the Functions host's local port)")
	cmd.Flags().StringVar(&n.sync, "sync", "", "SQLite synchronous setting: FULL (default) or NORMAL")
	cmd.Flags().BoolVar(&n.insecure, "insecure", false, "allow listening on a non-loopback address without API keys")
	cmd.Flags().StringVar(&n.kedaListen, "keda-listen", "", "serve KEDA's External Scaler gRPC API on this address (e.g. 0.0.0.0:9090; default: off)")
	cmd.Flags().StringVar(&n.kedaCert, "keda-tls-cert", "", "TLS certificate file for --keda-listen")
	cmd.Flags().StringVar(&n.kedaKey, "keda-tls-key", "", "TLS key file for --keda-listen")
}

// load reads the configuration and lets the command line override it.
func (n *nodeFlags) load(cmd *cobra.Command, logs *logFlags) (*config.File, error) {
	file, err := loadConfig(n.configPath)
	if err != nil {
		return nil, err
	}
	fl := cmd.Flags()
	n.data = pick(fl, "data", n.data, file.Data)
	n.store = pick(fl, "store", n.store, file.Store)
	n.blob = pick(fl, "blob", n.blob, file.Blob)
	n.queueURL = pick(fl, "queue-url", n.queueURL, file.QueueURL)
	n.listen = pick(fl, "listen", n.listen, file.Listen)
	n.sync = pick(fl, "sync", n.sync, file.Sync)
	logs.level = pick(fl, "log-level", logs.level, file.Log.Level)
	logs.format = pick(fl, "log-format", logs.format, file.Log.Format)
	return file, nil
}

// describe says where the node keeps its state, for banners.
func (n *nodeFlags) describe() string {
	if n.store == "" && n.blob == "" && n.queueURL == "" {
		return "data in " + n.data
	}
	blobs := "blob files in " + n.data
	if n.blob != "" {
		blobs = "blobs at " + n.blob // blob URLs never carry credentials (blobopen refuses them)
	}
	return "store: " + storeopen.Describe(n.store, n.data) + ", " + blobs + ", queues " + queueopen.Describe(n.queueURL)
}

// openNode starts a node from the configuration; it refuses to serve an open API beyond
// loopback unless --insecure.
func (n *nodeFlags) openNode(cmd *cobra.Command, logs *logFlags, file *config.File, cfg app.Config) (*app.App, error) {
	keys, err := file.Keys()
	if err != nil {
		return nil, err
	}
	log, err := logs.logger(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	cfg.DataDir, cfg.StoreURL, cfg.BlobURL, cfg.QueueURL = n.data, n.store, n.blob, n.queueURL
	cfg.Listen, cfg.Synchronous, cfg.Logger, cfg.Keys, cfg.Insecure = n.listen, n.sync, log, keys, n.insecure
	cfg.PublicBaseURL, cfg.MaxDequeueCount, cfg.Subscriptions = file.PublicBaseURL, file.Work.MaxDequeueCount, file.Subscriptions
	cfg.Engine = engineConfig(file)
	cfg.KEDAListen, cfg.KEDACertFile, cfg.KEDAKeyFile = n.kedaListen, n.kedaCert, n.kedaKey
	cfg.KEDATarget = int64(workers.Capacity(workers.DefaultConcurrency(false), 0)) // one built-in worker's capacity
	if cfg.WorkQueue == "" {
		cfg.WorkQueue = file.Work.Queue
	}
	ctx := cmd.Context()
	a, err := app.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return nil, err
	}
	if keys.Empty() {
		log.Warn("the API is open: no keys are configured", "listen", a.Addr)
	}
	return a, nil
}

// engineConfig is the engine tuning of the configuration file.
func engineConfig(f *config.File) engine.Config {
	return engine.Config{LockDuration: f.Engine.LockDuration, CacheSize: f.Engine.CacheSize,
		ActivityConcurrency: f.Engine.ActivityConcurrency, ShutdownGrace: f.Engine.ShutdownGrace}
}
