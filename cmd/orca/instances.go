package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
)

// waitFlags are the flags of `orca wait` and `orca start --wait`.
type waitFlags struct {
	timeout  time.Duration
	interval time.Duration
}

func (f *waitFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "give up after this long and exit with 3 (0: wait for ever)")
	cmd.Flags().DurationVar(&f.interval, "interval", time.Second, "time between status checks")
}

const waitExitCodes = `Exit status: 0 when the instance completed, 1 when it failed or was terminated, 2 for a usage
error or a server that cannot be reached (or any other error), 3 when --timeout passed first.`

func newStartCmd() *cobra.Command {
	var (
		f     serverFlags
		wf    waitFlags
		input string
		id    string
		wait  bool
	)
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Start an orchestration",
		Long: `Start the orchestrator NAME and print the new instance's id (with --output json, the check-status
payload: the id and the management URLs). With --wait, then wait for it as 'orca wait' does and
print its final status.

` + waitExitCodes,
		Example: `  orca start ComputeOrchestrator --input '{"inputCount": 1000}'
  orca start Approval --id order-42 --input @order.json --wait --timeout 10m`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			in, err := readJSONArg(cmd, "--input", input)
			if err != nil {
				return err
			}
			var arg any
			if in != nil {
				arg = in
			}
			ctx := cmd.Context()
			res, err := s.c.StartOrchestrationWithOptions(ctx, args[0], arg, client.StartOptions{InstanceID: id})
			if err != nil {
				if client.IsBadRequest(err) {
					return fmt.Errorf("cannot start %s: %s", args[0], serverMessage(err))
				}
				return s.explain(ctx, "start", id, err)
			}
			if wait {
				return s.wait(cmd, res.ID, wf)
			}
			if s.json {
				return printJSON(s.out, res.CheckStatus)
			}
			_, err = fmt.Fprintln(s.out, res.ID)
			return err
		}),
	}
	f.register(cmd)
	wf.register(cmd)
	cmd.Flags().StringVar(&input, "input", "", "input: JSON, or @file, or @- for standard input (default: none)")
	cmd.Flags().StringVar(&id, "id", "", "instance id (default: a new one)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the instance to finish")
	return cmd
}

// serverMessage is the server's own words in an error answer.
func serverMessage(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		if ae.Detail != "" {
			return ae.Detail
		}
		return ae.Message
	}
	return err.Error()
}

func newStatusCmd() *cobra.Command {
	var (
		f    serverFlags
		hist bool
	)
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show an instance's status",
		Long: `Show an instance's name, runtime status, times, custom status and output (trimmed); with
--output json, the whole status as the server returns it. --history adds the history.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			st, err := s.c.StatusWithOptions(cmd.Context(), args[0], client.StatusOptions{ShowHistory: hist, ShowHistoryOutput: hist})
			if err != nil {
				return s.explain(cmd.Context(), "status", args[0], err)
			}
			if s.json {
				return printJSON(s.out, st)
			}
			if err := printStatus(s.out, st); err != nil || !hist {
				return err
			}
			fmt.Fprintln(s.out)
			return printHistory(s.out, st.HistoryEvents)
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&hist, "history", false, "include the history")
	return cmd
}

func newWaitCmd() *cobra.Command {
	var (
		f  serverFlags
		wf waitFlags
	)
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for an instance to finish",
		Long: `Wait for an instance to finish, then print its final status. While it runs, show a progress bar
when its custom status has completed and total fields (as the compute flow's does), else a
spinner with its status; on a terminal the line is redrawn in place, otherwise a line is
written each time it changes. Progress goes to standard error.

` + waitExitCodes,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			return s.wait(cmd, args[0], wf)
		}),
	}
	f.register(cmd)
	wf.register(cmd)
	return cmd
}

// wait polls the instance until it finishes and prints its final status; the error carries
// the exit code (see waitExitCodes).
func (s *session) wait(cmd *cobra.Command, id string, wf waitFlags) error {
	parent := cmd.Context()
	ctx := parent
	if wf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, wf.timeout)
		defer cancel()
	}
	view := newProgressView(s.errOut)
	var last *client.Status
	st, err := s.c.WaitForCompletion(ctx, id, wf.interval, func(st *client.Status) {
		last = st
		view.update(st)
	})
	view.done()
	if err != nil {
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			state := "running"
			if last != nil {
				state = string(last.RuntimeStatus)
			}
			return &exitError{code: exitTimeout, err: fmt.Errorf("instance %s is still %s after %s", id, state, wf.timeout)}
		}
		err = s.explain(parent, "wait for", id, err)
		if exitCode(err) == exitFailed {
			err = &exitError{code: exitUsage, err: err}
		}
		return err
	}
	if s.json {
		err = printJSON(s.out, st)
	} else {
		err = printStatus(s.out, st)
	}
	if err != nil {
		return err
	}
	if st.RuntimeStatus == client.RuntimeStatusCompleted {
		return nil
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("instance %s %s", id, strings.ToLower(string(st.RuntimeStatus)))}
}

func newListCmd() *cobra.Command {
	var (
		f        serverFlags
		statuses []string
		since    string
		prefix   string
		limit    int
		input    bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List instances",
		Long: `List instances, filtered by --status (repeated or comma-separated), --since (created at or after:
an RFC 3339 time, a date, or a duration ago such as 24h) and --prefix (of the instance id).
Every page is read; --limit is the page size, the number of instances asked for per request.`,
		Example: `  orca list --status Running,Pending
  orca list --status Failed --since 24h --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: f.run(func(cmd *cobra.Command, s *session, _ []string) error {
			opts := client.ListOptions{InstanceIDPrefix: prefix, PageSize: limit, ShowInput: input}
			var err error
			if opts.RuntimeStatus, err = parseStatuses(statuses); err != nil {
				return err
			}
			if since != "" {
				if opts.CreatedFrom, err = parseSince("--since", since, time.Now()); err != nil {
					return err
				}
			}
			if limit < 0 {
				return usageError(errors.New("--limit must not be negative"))
			}
			list := []*client.Status{}
			for st, err := range s.c.WalkInstances(cmd.Context(), opts) {
				if err != nil {
					return s.explain(cmd.Context(), "list", "", err)
				}
				list = append(list, st)
			}
			if s.json {
				return printJSON(s.out, list)
			}
			return printInstances(s.out, list)
		}),
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "runtime status to keep (repeat or comma-separate)")
	cmd.Flags().StringVar(&since, "since", "", "created at or after: RFC 3339, a date, or a duration ago (24h)")
	cmd.Flags().StringVar(&prefix, "prefix", "", "instance id prefix")
	cmd.Flags().IntVar(&limit, "limit", 100, "page size: instances per request (all pages are read)")
	cmd.Flags().BoolVar(&input, "show-input", false, "include each instance's input (JSON output)")
	_ = cmd.RegisterFlagCompletionFunc("status", completeStatuses)
	return cmd
}

func newHistoryCmd() *cobra.Command {
	var (
		f     serverFlags
		types []string
		limit int
	)
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show an instance's history",
		Long: `Show an instance's raw history, every event, oldest first (with --output json, the events as the
server returns them). --type keeps some event types (repeated or comma-separated). Every page
is read; --limit is the page size, the number of events asked for per request.`,
		Example:           `  orca history order-42 --type TaskScheduled,TaskCompleted,TaskFailed`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			opts := client.HistoryOptions{PageSize: limit}
			var err error
			if opts.EventTypes, err = parseEventTypes(types); err != nil {
				return err
			}
			if limit < 0 {
				return usageError(errors.New("--limit must not be negative"))
			}
			events := []*client.HistoryEvent{}
			for e, err := range s.c.WalkHistory(cmd.Context(), args[0], opts) {
				if err != nil {
					return s.explain(cmd.Context(), "read the history of", args[0], err)
				}
				events = append(events, e)
			}
			if s.json {
				return printJSON(s.out, events)
			}
			return printHistory(s.out, events)
		}),
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&types, "type", nil, "event type to keep (repeat or comma-separate)")
	cmd.Flags().IntVar(&limit, "limit", 100, "page size: events per request (all pages are read)")
	_ = cmd.RegisterFlagCompletionFunc("type", completeEventTypes)
	return cmd
}
