package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/app"
)

func newServerCmd(logs *logFlags) *cobra.Command {
	var n nodeFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run an orca server: engine, store, blobs, queue, events and the HTTP API, no workers",
		Long: `Run an orca node without its own workers; workers attach with 'orca worker --server URL'.
An API without keys is only served on a loopback address unless --insecure is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := n.load(cmd, logs)
			if err != nil {
				return err
			}
			a, err := n.openNode(cmd, logs, file, app.Config{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "orca server listening on %s (%s)\n", a.BaseURL, n.describe())
			if a.KEDAAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "KEDA external scaler on %s (queue %s)\n", a.KEDAAddr, a.WorkQueue())
			}
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "orca server: shutting down (again to exit at once)")
			stopCtx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			return a.Stop(stopCtx)
		},
	}
	n.register(cmd)
	return cmd
}
