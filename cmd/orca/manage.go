package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/config"
	"github.com/orcahq/orca/internal/history"
)

// defaultServer is the server the management verbs talk to without --server or $ORCA_SERVER.
const defaultServer = "http://127.0.0.1:7071"

// Exit codes of the management verbs. `orca wait` (and `orca start --wait`) also report how the
// instance ended: exitOK when it completed, exitFailed when it failed or was terminated.
const (
	exitOK      = 0
	exitFailed  = 1 // the instance failed or was terminated; any other error of the other verbs
	exitUsage   = 2 // bad arguments, or the server could not be reached
	exitTimeout = 3 // orca wait --timeout passed before the instance finished
)

// exitError is an error that ends the process with code; main turns it into the exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process exit status for the error a command returned.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// usageArgs wraps a positional-argument check so that its errors exit with exitUsage.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// addManagementCmds adds the verbs that manage instances on a running server.
func addManagementCmds(root *cobra.Command) {
	root.AddGroup(&cobra.Group{ID: "manage", Title: "Instances and pools (against a running server):"})
	for _, c := range []*cobra.Command{newStartCmd(), newStatusCmd(), newWaitCmd(), newListCmd(), newHistoryCmd(),
		newRaiseCmd(), newControlCmd(opTerminate), newControlCmd(opSuspend), newControlCmd(opResume),
		newControlCmd(opRewind), newRestartCmd(), newPurgeCmd(), newPoolsCmd()} {
		c.GroupID = "manage"
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
		root.AddCommand(c)
	}
}

// serverFlags are the flags every management verb takes.
type serverFlags struct {
	server string
	key    string
	output string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	server := config.ClientFromEnv().Server
	if server == "" {
		server = defaultServer
	}
	cmd.Flags().StringVar(&f.server, "server", server, "orca server URL ($ORCA_SERVER sets the default)")
	cmd.Flags().StringVar(&f.key, "key", "", "API key (default $ORCA_KEY)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// session is one management verb's run: its client and where it writes.
type session struct {
	c      *client.Client
	server string
	json   bool
	out    io.Writer
	errOut io.Writer
}

// run is a verb's RunE on a session of the flags' server.
func (f *serverFlags) run(fn func(cmd *cobra.Command, s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := f.session(cmd)
		if err != nil {
			return err
		}
		return fn(cmd, s, args)
	}
}

func (f *serverFlags) session(cmd *cobra.Command) (*session, error) {
	if f.output != "table" && f.output != "json" {
		return nil, usageError(fmt.Errorf("--output %q: use table or json", f.output))
	}
	key := f.key
	if key == "" {
		key = config.ClientFromEnv().Key
	}
	c, err := client.New(f.server, client.WithKey(key), client.WithUserAgent("orca-cli/"+version))
	if err != nil {
		return nil, usageError(err)
	}
	return &session{c: c, server: f.server, json: f.output == "json", out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}, nil
}

// completeInstanceIDs completes an instance id argument from the server's instances (the first
// 50 whose id starts with what is typed); nothing when the server does not answer.
func (f *serverFlags) completeInstanceIDs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, err := f.session(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	page, _, err := s.c.ListInstances(ctx, client.ListOptions{InstanceIDPrefix: toComplete, PageSize: 50})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ids := make([]string, 0, len(page))
	for _, st := range page {
		ids = append(ids, st.InstanceID+"\t"+st.Name+" "+string(st.RuntimeStatus))
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func completeStatuses(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, s := range client.RuntimeStatuses() {
		out = append(out, string(s))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeEventTypes(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, t := range history.Types {
		out = append(out, string(t))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// parseStatuses checks --status values (comma-separated or repeated, any case): the server
// silently ignores names it does not know, which would widen a filter.
func parseStatuses(values []string) ([]client.RuntimeStatus, error) {
	var out []client.RuntimeStatus
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			s, err := client.ParseRuntimeStatus(part)
			if err != nil {
				return nil, usageError(fmt.Errorf("--status %q: use %s", part, joinStatuses(client.RuntimeStatuses())))
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func joinStatuses(ss []client.RuntimeStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// parseEventTypes checks --type values against the history event types (any case).
func parseEventTypes(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			found := ""
			for _, t := range history.Types {
				if strings.EqualFold(part, string(t)) {
					found = string(t)
				}
			}
			if found == "" {
				return nil, usageError(fmt.Errorf("--type %q is not a history event type (ExecutionStarted, TaskScheduled, TaskCompleted, EventRaised, ...)", part))
			}
			out = append(out, found)
		}
	}
	return out, nil
}

// parseSince reads a point in time: RFC 3339, a date (YYYY-MM-DD, UTC), or a Go duration
// meaning that long before now ("24h").
func parseSince(flag, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError(fmt.Errorf("%s %q: use an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (24h)", flag, v))
}

// readJSONArg reads a JSON value given inline, as @file, or as @- (standard input). An empty
// value is no value (nil).
func readJSONArg(cmd *cobra.Command, what, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if name == "-" {
			b, err = io.ReadAll(cmd.InOrStdin())
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usageError(fmt.Errorf("%s: %w", what, err))
		}
	}
	if !json.Valid(b) {
		return nil, usageError(fmt.Errorf("%s is not valid JSON (quote a string: '\"text\"'; read a file with @path)", what))
	}
	return json.RawMessage(b), nil
}

// explain turns a client error into a message for a person. op names what was tried on the
// instance id ("raise", "terminate", ...); the server's answer codes mean different things
// for each, and for some the instance's current status makes the message clearer.
func (s *session) explain(ctx context.Context, op, id string, err error) error {
	var ae *client.Error
	if !errors.As(err, &ae) {
		var ue *url.Error
		if errors.As(err, &ue) && !errors.Is(err, context.Canceled) {
			return &exitError{code: exitUsage, err: fmt.Errorf("cannot reach the orca server at %s: %w", s.server, ue.Err)}
		}
		return err
	}
	switch {
	case client.IsUnauthorized(err):
		return fmt.Errorf("the server at %s refused the key (401): pass --key or set $ORCA_KEY", s.server)
	case client.IsForbidden(err):
		return fmt.Errorf("the server at %s refused the request (403): the key's scope does not allow it", s.server)
	case client.IsNotFound(err) && id != "":
		return fmt.Errorf("instance %s not found", id)
	case client.IsBadRequest(err) && op == opRestart.name && client.IsNotFound(s.statusErr(ctx, id)):
		return fmt.Errorf("instance %s not found", id)
	case client.IsConflict(err), client.IsGone(err):
		return s.explainState(ctx, op, id, ae)
	}
	return err
}

// explainState explains a refusal due to the instance's state (409, 410 or 412), naming the
// state.
func (s *session) explainState(ctx context.Context, op, id string, ae *client.Error) error {
	state := "its state"
	if st, err := s.c.Status(ctx, id); err == nil {
		state = string(st.RuntimeStatus)
	}
	gone, precondition := client.IsGone(ae), client.IsPreconditionFailed(ae)
	switch {
	case op == "start" && !gone:
		return fmt.Errorf("instance %s is already running (%s); pick another --id or wait for it to finish", id, state)
	case op == "raise" && gone:
		return fmt.Errorf("instance %s has finished (%s); events can no longer be raised", id, state)
	case op == opRewind.name && gone:
		return fmt.Errorf("instance %s has finished (%s); only failed instances can be rewound", id, state)
	case op == opRewind.name && precondition:
		return fmt.Errorf("instance %s has not failed (%s); only failed instances can be rewound", id, state)
	case op == opSuspend.name && state == string(client.RuntimeStatusSuspended):
		return fmt.Errorf("instance %s is already suspended", id)
	case op == opResume.name && !gone:
		return fmt.Errorf("instance %s is not suspended (%s); only a suspended instance can be resumed", id, state)
	case op == "purge" && !gone:
		return fmt.Errorf("instance %s has not finished (%s); terminate it or wait for it before purging", id, state)
	case gone:
		return fmt.Errorf("instance %s has finished (%s); it can no longer be %s", id, state, pastTense(op))
	}
	return fmt.Errorf("cannot %s instance %s while it is %s: %w", op, id, state, ae)
}

func (s *session) statusErr(ctx context.Context, id string) error {
	_, err := s.c.Status(ctx, id)
	return err
}

// pastTense is the participle of an operation's verb, for messages.
func pastTense(op string) string {
	for _, o := range controlOps {
		if o.name == op {
			return o.done
		}
	}
	return "changed"
}
