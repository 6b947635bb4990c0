package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with orca's configuration file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file and name the first bad setting",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := config.Load(args[0])
			if err != nil {
				return err
			}
			if err := f.Validate(); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (%d subscriptions)\n", args[0], len(f.Subscriptions))
			return nil
		},
	})
	return cmd
}
