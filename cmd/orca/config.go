package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// loadConfig reads --config (or $ORCA_CONFIG) and the ORCA_* environment, and validates them.
func loadConfig(path string) (*config.File, error) {
	if path == "" {
		path = os.Getenv("ORCA_CONFIG")
	}
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return f, nil
}

// pick returns the flag's value when it was set on the command line, else the configured
// value when there is one, else the flag's default.
func pick[T comparable](flags *pflag.FlagSet, name string, flagValue, configured T) T {
	var zero T
	if flags.Changed(name) || configured == zero {
		return flagValue
	}
	return configured
}
