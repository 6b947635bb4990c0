package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		scenario string
		n        int
		dir      string
		sync     string
		verbose  bool
		profile  string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a benchmark scenario on a fresh store and print one BENCH line",
		Long: "Run a benchmark scenario on a fresh store in a temporary directory and print\n" +
			"BENCH scenario=<name> n=<N> seconds=<wall> items_per_sec=<rate> peak_rss_mb=<MiB>\n\nScenarios:\n" + scenarioList(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt := bench.Options{Dir: dir, Synchronous: sync}
			if verbose {
				opt.Log = cmd.ErrOrStderr()
			}
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			res, err := bench.Run(cmd.Context(), scenario, n, opt)
			if err != nil {
				return err
			}
			cmd.Println(res.Line())
			return nil
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "fanout", "scenario to run ("+strings.Join(bench.Names(), ", ")+")")
	cmd.Flags().IntVar(&n, "n", 10_000, "number of items")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the store (default: a fresh temporary directory)")
	cmd.Flags().StringVar(&sync, "sync", "", "SQLite synchronous setting: FULL (default) or NORMAL")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the engine to stderr")
	return cmd
}

func scenarioList() string {
	var b strings.Builder
	for _, name := range bench.Names() {
		fmt.Fprintf(&b, "  %-14s %s\n", name, bench.Scenarios[name].Description)
	}
	return b.String()
}
