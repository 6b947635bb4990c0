package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/workers/kube"
)

func newServerCmd(logs *config.Flags) *cobra.Command {
	settings := &config.Flags{}
	settings.Include(logs)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run an orca server: engine, store, blobs, queue, events and the HTTP API, no workers",
		Long: `Run an orca node without its own workers; workers attach with 'orca worker --server URL'.
An API without keys is only served on a loopback address unless --insecure is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := settings.Resolve(cmd.Flags())
			if err != nil {
				return err
			}
			a, err := openNode(cmd, file)
			if err != nil {
				return err
			}
			// A Kubernetes Deployment declared as a pool is sized by this server (no KEDA needed).
			pools, err := a.Pools(cmd.Context(), file, nil, kube.Open)
			if err == nil && len(pools) > 0 {
				err = a.StartPools(cmd.Context(), pools)
			}
			if err != nil {
				_ = a.Stop(context.WithoutCancel(cmd.Context()))
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "orca server listening on %s (%s)\n", a.BaseURL, describe(file))
			if a.KEDAAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "KEDA external scaler on %s (queue %s)\n", a.KEDAAddr, a.WorkQueue())
			}
			return serveUntilDone(cmd, "orca server", a)
		},
	}
	settings.Node(cmd.Flags())
	return cmd
}
