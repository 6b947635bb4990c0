package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "orca",
		Short: "orca is a durable orchestration engine with a compute plane",
		Long: `orca runs durable orchestrations: orchestrator functions replayed from an
event-sourced history, driving activities, timers and external events.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	logs := &config.Flags{}
	logs.Log(root.PersistentFlags())
	root.AddCommand(newVersionCmd(), newBenchCmd(), newDemoCmd(), newDevCmd(logs), newServerCmd(logs), newWorkerCmd(logs), newConfigCmd())
	addManagementCmds(root)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "orca "+version)
			return nil
		},
	}
}
