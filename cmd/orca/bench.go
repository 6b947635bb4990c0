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
		storeURL string
		servers  int
		sync     string
		verbose  bool
		profile  string
		sdkDir   string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a benchmark scenario on a fresh store and print one BENCH line",
		Long: "Run a benchmark scenario on a fresh store in a temporary directory and print\n" +
			"BENCH scenario=<name> n=<N> servers=<k> seconds=<wall> items_per_sec=<rate> peak_rss_mb=<MiB>\n\n" +
			"With --store postgres://…, the run creates a database of its own on that server (named\n" +
			bench.DatabasePrefix + "<random>, through a connection to the URL's database, which is left\n" +
			"alone), drops it afterwards, and suffixes the scenario's name with -postgres. PostgreSQL runs:\n" +
			strings.Join(bench.PostgresNames(), ", ") + "; with --servers > 1 (engines in this process, each\n" +
			"with its own connection pool): " + strings.Join(bench.MultiServerNames(), ", ") + ".\n\nScenarios:\n" + scenarioList(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt := bench.Options{Dir: dir, StoreURL: storeURL, Servers: servers, Synchronous: sync, SDKDir: sdkDir}
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
			fmt.Fprintln(cmd.OutOrStdout(), res.Line())
			return nil
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "fanout", "scenario to run ("+strings.Join(bench.Names(), ", ")+")")
	cmd.Flags().IntVar(&n, "n", 10_000, "number of items")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the store and blob files (default: a fresh temporary directory)")
	cmd.Flags().StringVar(&storeURL, "store", "", "PostgreSQL server to run on, in a fresh database (postgres://…; default: SQLite)")
	cmd.Flags().IntVar(&servers, "servers", 1, "orca servers sharing the store (more than 1 needs --store)")
	cmd.Flags().StringVar(&sdkDir, "sdk-dir", bench.DefaultSDKDir, "the Durable Task JS SDK and the sdk-* scenarios' worker script (scripts/tools/durabletask-js.sh installs it)")
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
