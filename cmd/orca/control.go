package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
)

// controlOp is an operation on one instance that takes a reason.
type controlOp struct {
	name  string // the verb and the route's operation
	done  string // its participle, for messages
	short string
	long  string
	call  func(c *client.Client, ctx context.Context, id, reason string) error
}

var (
	opTerminate = controlOp{name: "terminate", done: "terminated", short: "Terminate a running instance",
		long: "Terminate a running instance: it ends as Terminated with the reason as its output.",
		call: (*client.Client).Terminate}
	opSuspend = controlOp{name: "suspend", done: "suspended", short: "Suspend a running instance",
		long: "Suspend a running instance: it keeps receiving events but runs no code until resumed.",
		call: (*client.Client).Suspend}
	opResume = controlOp{name: "resume", done: "resumed", short: "Resume a suspended instance",
		long: "Resume a suspended instance.", call: (*client.Client).Resume}
	opRewind = controlOp{name: "rewind", done: "rewound", short: "Rewind a failed instance",
		long: "Rewind a failed instance: run it again from its failure, keeping the work that succeeded.",
		call: (*client.Client).Rewind}
	opRestart = controlOp{name: "restart", done: "restarted"}

	controlOps = []controlOp{opTerminate, opSuspend, opResume, opRewind, opRestart}
)

// opResult is the JSON output of an operation that has no answer body.
type opResult struct {
	InstanceID string `json:"instanceId"`
	Operation  string `json:"operation"`
	Event      string `json:"event,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Accepted   bool   `json:"accepted"`
}

func (s *session) printAccepted(r opResult) error {
	r.Accepted = true
	if s.json {
		return printJSON(s.out, r)
	}
	what := r.Operation
	if r.Event != "" {
		what = "event " + r.Event
	}
	_, err := fmt.Fprintf(s.out, "instance %s: %s accepted\n", r.InstanceID, what)
	return err
}

func newControlCmd(op controlOp) *cobra.Command {
	var (
		f      serverFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:               op.name + " ID",
		Short:             op.short,
		Long:              op.long + " The server takes the request and acts on it shortly after.",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			if err := op.call(s.c, cmd.Context(), args[0], reason); err != nil {
				return s.explain(cmd.Context(), op.name, args[0], err)
			}
			return s.printAccepted(opResult{InstanceID: args[0], Operation: op.name, Reason: reason})
		}),
	}
	f.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "reason, recorded in the history")
	return cmd
}

func newRaiseCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "raise ID EVENT [DATA]",
		Short: "Raise an external event on an instance",
		Long: `Send the event EVENT to an instance, with DATA: JSON, @file, or @- for standard input (none:
null). An instance that waits for EVENT receives DATA; events that come early are kept.`,
		Example:           `  orca raise order-42 Approval '{"approvedBy": "ana"}'`,
		Args:              usageArgs(cobra.RangeArgs(2, 3)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			var data any
			if len(args) == 3 {
				raw, err := readJSONArg(cmd, "DATA", args[2])
				if err != nil {
					return err
				}
				if raw != nil {
					data = raw
				}
			}
			id, event := args[0], args[1]
			if err := s.c.RaiseEvent(cmd.Context(), id, event, data); err != nil {
				if client.IsBadRequest(err) {
					return fmt.Errorf("the server refused event %s for instance %s: %s", event, id, serverMessage(err))
				}
				return s.explain(cmd.Context(), "raise", id, err)
			}
			return s.printAccepted(opResult{InstanceID: id, Operation: "raiseEvent", Event: event})
		}),
	}
	f.register(cmd)
	return cmd
}

func newRestartCmd() *cobra.Command {
	var (
		f     serverFlags
		newID bool
	)
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Start an instance's orchestration again with its input",
		Long: `Start an instance's orchestrator again with the instance's original input, under a new id (the
default, as in Durable Functions) or, with --new-id=false, under the same id (which must have
finished). Prints the id (with --output json, the check-status payload).`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			res, err := s.c.Restart(cmd.Context(), args[0], client.RestartOptions{KeepInstanceID: !newID})
			if err != nil {
				return s.explain(cmd.Context(), opRestart.name, args[0], err)
			}
			if s.json {
				return printJSON(s.out, res.CheckStatus)
			}
			_, err = fmt.Fprintln(s.out, res.ID)
			return err
		}),
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&newID, "new-id", true, "restart under a new instance id")
	return cmd
}

func newPurgeCmd() *cobra.Command {
	var (
		f        serverFlags
		statuses []string
		since    string
		until    string
	)
	cmd := &cobra.Command{
		Use:   "purge [ID]",
		Short: "Delete finished instances and their history",
		Long: `Delete a finished instance and its history, or, without ID, every finished instance created
since --since (and before --until), optionally only those with --status. --since is required
for a purge of many, so that a forgotten filter cannot delete everything.`,
		Example: `  orca purge order-42
  orca purge --status Completed,Terminated --since 720h`,
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: f.completeInstanceIDs,
		RunE: f.run(func(cmd *cobra.Command, s *session, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				if len(statuses) > 0 || since != "" || until != "" {
					return usageError(errors.New("purge takes an instance id or --status/--since/--until filters, not both"))
				}
				if err := s.c.Purge(ctx, args[0]); err != nil {
					return s.explain(ctx, "purge", args[0], err)
				}
				return s.printPurged(1, "instance "+args[0])
			}
			if since == "" {
				return usageError(errors.New("refusing to purge without --since: a purge of many instances needs a creation " +
					"time to start from (e.g. --since 720h, or --since 2026-01-02), so that it cannot delete every instance by mistake"))
			}
			opts := client.PurgeOptions{}
			now := time.Now()
			var err error
			if opts.CreatedFrom, err = parseSince("--since", since, now); err != nil {
				return err
			}
			if until != "" {
				if opts.CreatedTo, err = parseSince("--until", until, now); err != nil {
					return err
				}
			}
			if opts.RuntimeStatus, err = parseStatuses(statuses); err != nil {
				return err
			}
			n, err := s.c.PurgeMany(ctx, opts)
			if err != nil {
				return s.explain(ctx, "purge", "", err)
			}
			return s.printPurged(n, itoa(n)+" instances")
		}),
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "runtime status to purge (repeat or comma-separate; default: every finished one)")
	cmd.Flags().StringVar(&since, "since", "", "created at or after: RFC 3339, a date, or a duration ago (24h); required without ID")
	cmd.Flags().StringVar(&until, "until", "", "created before: RFC 3339, a date, or a duration ago (default: now)")
	_ = cmd.RegisterFlagCompletionFunc("status", completeStatuses)
	return cmd
}

func (s *session) printPurged(n int, what string) error {
	if s.json {
		return printJSON(s.out, map[string]int{"instancesDeleted": n})
	}
	_, err := fmt.Fprintf(s.out, "purged %s\n", what)
	return err
}
