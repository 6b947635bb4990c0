package main

import (
	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/store/storeopen"
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
	return app.Open(cmd.Context(), cfg)
}
