package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/kubeview"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/store/storeopen"
	"github.com/orcahq/orca/internal/workers/kube"
)

// describe says where a node keeps its state, for banners.
func describe(f *config.File) string {
	if f.Store == "" && f.Blob == "" && f.QueueURL == "" {
		return "data in " + f.Data
	}
	blobs := "blob files in " + f.Data
	if f.Blob != "" {
		blobs = "blobs at " + f.Blob // blob URLs never carry credentials (blobopen refuses them)
	}
	return "store: " + storeopen.Describe(f.Store, f.Data) + ", " + blobs + ", queues " + queueopen.Describe(f.QueueURL)
}

// openNode starts the node a resolved configuration describes.
func openNode(cmd *cobra.Command, f *config.File) (*app.App, error) {
	log, err := newLogger(cmd.ErrOrStderr(), f.Log)
	if err != nil {
		return nil, err
	}
	cfg, err := app.ConfigFrom(f, log)
	if err != nil {
		return nil, err
	}
	view, err := clusterView(f, log)
	if err != nil {
		return nil, err
	}
	if view != nil {
		cfg.Cluster = view // the node stops it
	}
	a, err := app.Open(cmd.Context(), cfg)
	if err != nil && view != nil {
		view.Stop()
	}
	return a, err
}

// clusterView is the dashboard's view of the Kubernetes cluster the configuration names, or nil
// when it names none.
func clusterView(f *config.File, log *slog.Logger) (*kubeview.View, error) {
	watched := f.Watched()
	if len(watched) == 0 && !f.Dashboard.Kubernetes.Nodes {
		return nil, nil
	}
	cluster, err := kube.ConfigFor(f.ClusterKubeconfig())
	if err != nil {
		return nil, fmt.Errorf("dashboard.kubernetes: %w", err)
	}
	return kubeview.New(kubeview.Config{Cluster: cluster, Deployments: watched, Nodes: f.Dashboard.Kubernetes.Nodes,
		Logger: log.With("component", "dashboard")})
}
