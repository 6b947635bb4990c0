package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
)

func newPoolsCmd() *cobra.Command {
	var (
		f     serverFlags
		all   bool
		limit int
	)
	cmd := &cobra.Command{
		Use:   "pools [POOL]",
		Short: "Show the worker pools, or one pool's scaling decisions",
		Long: `Without an argument, list the server's worker pools: their queue, provider, size range, workers
starting/ready/stopping and the scaler's last decision. With a pool's name, show its recent
resizes (every decision with --all), oldest first, with the queue length each one saw and why.`,
		Example: `  orca pools
  orca pools default --all --limit 20`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			if limit < 0 {
				return usageError(errors.New("--limit must not be negative"))
			}
			if len(args) == 0 {
				pools, err := s.c.Pools(cmd.Context())
				if err != nil {
					return s.explain(cmd.Context(), "list pools", "", err)
				}
				if s.json {
					return printJSON(s.out, pools)
				}
				return printPools(s.out, pools)
			}
			ds, err := s.c.PoolDecisions(cmd.Context(), args[0], limit, !all)
			if client.IsNotFound(err) {
				return fmt.Errorf("no pool named %q (orca pools lists them)", args[0])
			}
			if err != nil {
				return s.explain(cmd.Context(), "read the decisions", "", err)
			}
			if s.json {
				return printJSON(s.out, ds)
			}
			return printDecisions(s.out, ds)
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "every decision, not only the resizes")
	cmd.Flags().IntVar(&limit, "limit", 0, "most decisions to show (0: the server's default, 100)")
	return cmd
}

func printPools(w io.Writer, pools []client.Pool) error {
	if len(pools) == 0 {
		_, err := fmt.Fprintln(w, "No worker pools (the server runs none; workers attach with orca worker).")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "POOL\tQUEUE\tPROVIDER\tMIN-MAX\tTARGET\tSTARTING\tREADY\tSTOPPING\tDESIRED\tQUEUE LENGTH\tACTIVE")
	for _, p := range pools {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d-%d\t%d\t%d\t%d\t%d\t%d\t%s\t%t\n", p.Name, p.Queue, p.Provider, p.Min, p.Max,
			p.TargetQueueLength, p.Workers.Starting, p.Workers.Ready, p.Workers.Stopping, p.Desired, metric(p.Metric), p.Active)
	}
	return tw.Flush()
}

func printDecisions(w io.Writer, ds []client.PoolDecision) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "No decisions yet.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TIME\tWORKERS\tQUEUE LENGTH\tACTIVE\tREASON")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%d → %d\t%s\t%t\t%s\n", formatTime(d.Time), d.Actual, d.Desired, metric(d.Metric), d.Active, d.Reason)
	}
	return tw.Flush()
}

// metric shows a decision's queue length; -1 marks one taken on an event.
func metric(m int64) string {
	if m < 0 {
		return "(event)"
	}
	return strconv.FormatInt(m, 10)
}
