package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// dfPrefix is the root of Durable Functions' management routes.
const dfPrefix = "/runtime/webhooks/durabletask"

// continuationHeader carries the paging token of listings, in requests and in answers.
const continuationHeader = "x-ms-continuation-token"

// RuntimeStatus is an instance's runtime status, as Durable Functions names it.
type RuntimeStatus string

// The runtime statuses. Canceled is Durable Functions' legacy status; orca does not produce it.
const (
	RuntimeStatusPending        RuntimeStatus = "Pending"
	RuntimeStatusRunning        RuntimeStatus = "Running"
	RuntimeStatusSuspended      RuntimeStatus = "Suspended"
	RuntimeStatusContinuedAsNew RuntimeStatus = "ContinuedAsNew"
	RuntimeStatusCompleted      RuntimeStatus = "Completed"
	RuntimeStatusFailed         RuntimeStatus = "Failed"
	RuntimeStatusTerminated     RuntimeStatus = "Terminated"
	RuntimeStatusCanceled       RuntimeStatus = "Canceled"
)

// RuntimeStatuses lists every runtime status, running ones first.
func RuntimeStatuses() []RuntimeStatus {
	return []RuntimeStatus{RuntimeStatusPending, RuntimeStatusRunning, RuntimeStatusSuspended, RuntimeStatusContinuedAsNew,
		RuntimeStatusCompleted, RuntimeStatusFailed, RuntimeStatusTerminated, RuntimeStatusCanceled}
}

// ParseRuntimeStatus returns the runtime status named s, ignoring case. The server's filters
// are case-sensitive and silently drop names they do not know, so callers should check names
// here first.
func ParseRuntimeStatus(s string) (RuntimeStatus, error) {
	for _, rs := range RuntimeStatuses() {
		if strings.EqualFold(s, string(rs)) {
			return rs, nil
		}
	}
	return "", fmt.Errorf("unknown runtime status %q", s)
}

// Finished reports whether the status is final: Completed, Failed, Terminated or Canceled.
func (s RuntimeStatus) Finished() bool {
	switch s {
	case RuntimeStatusCompleted, RuntimeStatusFailed, RuntimeStatusTerminated, RuntimeStatusCanceled:
		return true
	}
	return false
}

// CheckStatus is the answer of a start or a restart: the instance id and its management URLs
// (Durable Functions' check-status payload).
type CheckStatus struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// Status is an instance's status (Durable Functions' shape). Times have second precision.
type Status struct {
	Name          string          `json:"name"`
	InstanceID    string          `json:"instanceId"`
	RuntimeStatus RuntimeStatus   `json:"runtimeStatus"`
	Input         json.RawMessage `json:"input"`
	CustomStatus  json.RawMessage `json:"customStatus"`
	// Output is the result when Completed, the failure when Failed, the reason when Terminated.
	Output          json.RawMessage `json:"output"`
	CreatedTime     time.Time       `json:"createdTime"`
	LastUpdatedTime time.Time       `json:"lastUpdatedTime"`
	// HistoryEvents is set when the status was asked for with StatusOptions.ShowHistory.
	HistoryEvents []*HistoryEvent `json:"historyEvents,omitempty"`
}

// HistoryEvent is one history event as the server shows it: a JSON object with PascalCase keys
// (Durable Functions' shape). The common fields are decoded; Raw keeps the whole event, and is
// what the event marshals back to.
type HistoryEvent struct {
	// EventID is the event's sequence number among the orchestration's actions (TaskScheduled
	// and its TaskCompleted share one); -1 for events that have none or when absent.
	EventID int
	// EventType is the Durable Task name: ExecutionStarted, TaskScheduled, TaskCompleted, ...
	EventType string
	// Timestamp is when the event happened (zero when absent or unreadable).
	Timestamp time.Time
	// Name is the activity, sub-orchestration, timer or event name (Name or FunctionName).
	Name string
	// Raw is the event's JSON.
	Raw json.RawMessage
}

// UnmarshalJSON decodes the common fields and keeps the event in Raw.
func (e *HistoryEvent) UnmarshalJSON(b []byte) error {
	var f struct {
		EventID      *int   `json:"EventId"`
		EventType    string `json:"EventType"`
		Timestamp    string `json:"Timestamp"`
		Name         string `json:"Name"`
		FunctionName string `json:"FunctionName"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("history event: %w", err)
	}
	*e = HistoryEvent{EventID: -1, EventType: f.EventType, Name: f.Name, Raw: bytes.Clone(b)}
	if f.EventID != nil {
		e.EventID = *f.EventID
	}
	if e.Name == "" {
		e.Name = f.FunctionName
	}
	if t, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
		e.Timestamp = t
	}
	return nil
}

// MarshalJSON returns Raw, or the decoded fields when Raw is empty.
func (e HistoryEvent) MarshalJSON() ([]byte, error) {
	if len(e.Raw) > 0 {
		return e.Raw, nil
	}
	f := map[string]any{"EventId": e.EventID, "EventType": e.EventType}
	if !e.Timestamp.IsZero() {
		f["Timestamp"] = e.Timestamp
	}
	if e.Name != "" {
		f["Name"] = e.Name
	}
	return json.Marshal(f)
}

func instancePath(id string) string { return dfPrefix + "/instances/" + url.PathEscape(id) }

// StartOptions are the options of StartOrchestrationWithOptions.
type StartOptions struct {
	// InstanceID is the new instance's id (empty: one is made up).
	InstanceID string
	// WaitTimeout, when positive, asks the server to hold the answer until the instance
	// finishes or WaitTimeout passes (Durable Functions' timeout). 0 answers at once.
	WaitTimeout time.Duration
	// PollingInterval is how often the server checks while it waits (DF's pollingInterval;
	// 0: one second, or WaitTimeout when shorter).
	PollingInterval time.Duration
}

// StartResult is the answer of a start or a restart.
type StartResult struct {
	// ID is the instance id. It is empty only after a restart under a new id that finished
	// within the wait: the server then answers with the output alone.
	ID string
	// RuntimeStatus is the final status when the instance finished within the wait, else empty.
	RuntimeStatus RuntimeStatus
	// Output is the instance's output when it finished within the wait.
	Output json.RawMessage
	// Status is the full status when the instance failed or was terminated within the wait.
	Status *Status
	// CheckStatus holds the management URLs when the instance had not finished (no wait, or
	// the wait timed out).
	CheckStatus *CheckStatus
}

// Finished reports whether the instance finished within the wait.
func (r *StartResult) Finished() bool { return r.RuntimeStatus != "" }

// StartOrchestration starts the orchestrator name with input (any JSON value; nil for none)
// under id (empty: the server picks one) and returns the instance id.
func (c *Client) StartOrchestration(ctx context.Context, name, id string, input any) (string, error) {
	r, err := c.StartOrchestrationWithOptions(ctx, name, input, StartOptions{InstanceID: id})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// StartOrchestrationWithOptions starts the orchestrator name with input (any JSON value; nil
// for none). With opts.WaitTimeout the server waits for the instance to finish; when no
// InstanceID is given the client then makes one up (32 hex digits, like DF's), since an
// instance that completes within the wait is answered with its output alone. The server
// answers 400 (IsBadRequest) for an unknown orchestrator, a bad id or bad input, and 409
// (IsConflict) when an instance with that id is running.
func (c *Client) StartOrchestrationWithOptions(ctx context.Context, name string, input any, opts StartOptions) (*StartResult, error) {
	id := opts.InstanceID
	if opts.WaitTimeout > 0 && id == "" {
		id = strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	path := dfPrefix + "/orchestrators/" + url.PathEscape(name)
	if id != "" {
		path += "/" + url.PathEscape(id)
	}
	r := request{method: http.MethodPost, path: path, query: waitQuery(url.Values{}, opts.WaitTimeout, opts.PollingInterval)}
	if input != nil {
		b, err := json.Marshal(input)
		if err != nil {
			return nil, fmt.Errorf("start %s: encode the input: %w", name, err)
		}
		r.body, r.contentType = bytes.NewReader(b), "application/json"
	}
	res, err := c.startAnswer(ctx, r, id)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return res, nil
}

// waitQuery adds DF's timeout and pollingInterval (seconds) when timeout is positive.
func waitQuery(q url.Values, timeout, interval time.Duration) url.Values {
	if timeout <= 0 {
		return q
	}
	if interval <= 0 {
		interval = time.Second
	}
	q.Set("timeout", seconds(timeout))
	q.Set("pollingInterval", seconds(min(interval, timeout)))
	return q
}

// startAnswer reads the answer of a start or a restart: 202 with the check-status payload, or,
// after a wait, 200 with the output (Completed) or with the status (Failed, Terminated).
func (c *Client) startAnswer(ctx context.Context, r request, id string) (*StartResult, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode == http.StatusAccepted {
		var cs CheckStatus
		if err := json.Unmarshal(body, &cs); err != nil {
			return nil, fmt.Errorf("decode the check-status payload: %w", err)
		}
		if cs.ID == "" {
			return nil, errors.New("the answer has no instance id")
		}
		return &StartResult{ID: cs.ID, CheckStatus: &cs}, nil
	}
	if st := asStatus(body, id); st != nil {
		return &StartResult{ID: st.InstanceID, RuntimeStatus: st.RuntimeStatus, Output: st.Output, Status: st}, nil
	}
	return &StartResult{ID: id, RuntimeStatus: RuntimeStatusCompleted, Output: json.RawMessage(bytes.TrimSpace(body))}, nil
}

// asStatus decodes body as the status of instance id (any id when empty), or returns nil when
// body is not one (then it is a completed instance's output).
func asStatus(body []byte, id string) *Status {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return nil
	}
	for _, k := range []string{"name", "instanceId", "runtimeStatus", "createdTime", "lastUpdatedTime"} {
		if _, ok := keys[k]; !ok {
			return nil
		}
	}
	var st Status
	if json.Unmarshal(body, &st) != nil || (id != "" && st.InstanceID != id) || !st.RuntimeStatus.Finished() {
		return nil
	}
	return &st
}

// StatusOptions are the options of StatusWithOptions.
type StatusOptions struct {
	// ShowHistory adds the history (HistoryEvents); ShowHistoryOutput adds the activities'
	// outputs to it.
	ShowHistory       bool
	ShowHistoryOutput bool
	// HideInput leaves the input out (it is shown by default).
	HideInput bool
}

// Status returns an instance's status, with its input. A 404 (IsNotFound) means there is no
// such instance.
func (c *Client) Status(ctx context.Context, id string) (*Status, error) {
	return c.StatusWithOptions(ctx, id, StatusOptions{})
}

// StatusWithOptions returns an instance's status, with its history when asked.
func (c *Client) StatusWithOptions(ctx context.Context, id string, opts StatusOptions) (*Status, error) {
	q := url.Values{}
	if opts.ShowHistory {
		q.Set("showHistory", "true")
	}
	if opts.ShowHistoryOutput {
		q.Set("showHistoryOutput", "true")
	}
	if opts.HideInput {
		q.Set("showInput", "false")
	}
	var out Status
	if err := c.doJSON(ctx, http.MethodGet, instancePath(id), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WaitForCompletion polls an instance's status every interval (0: one second) until it has
// finished or ctx ends, and returns the last status. onPoll, when not nil, sees every status
// read, the final one included.
func (c *Client) WaitForCompletion(ctx context.Context, id string, interval time.Duration, onPoll func(*Status)) (*Status, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		if onPoll != nil {
			onPoll(st)
		}
		if st.RuntimeStatus.Finished() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

// ListOptions filter and page a listing of instances. Zero fields do not filter.
type ListOptions struct {
	// RuntimeStatus keeps instances in one of these statuses.
	RuntimeStatus []RuntimeStatus
	// CreatedFrom and CreatedTo bound the creation time.
	CreatedFrom time.Time
	CreatedTo   time.Time
	// InstanceIDPrefix keeps instances whose id starts with it.
	InstanceIDPrefix string
	// ShowInput includes each instance's input.
	ShowInput bool
	// HideOutput leaves each instance's output out (beyond DF: showOutput=false).
	HideOutput bool
	// NewestFirst lists the newest instances first (beyond DF: newestFirst=true).
	NewestFirst bool
	// PageSize is the most instances per page (0: the server's default, 100).
	PageSize int
	// ContinuationToken continues a listing where a previous page ended.
	ContinuationToken string
}

// ListInstances returns one page of instances and the token of the next page, empty when this
// page is the last.
func (c *Client) ListInstances(ctx context.Context, opts ListOptions) ([]*Status, string, error) {
	q := url.Values{"showInput": {strconv.FormatBool(opts.ShowInput)}}
	if len(opts.RuntimeStatus) > 0 {
		q.Set("runtimeStatus", joinStatuses(opts.RuntimeStatus))
	}
	if !opts.CreatedFrom.IsZero() {
		q.Set("createdTimeFrom", opts.CreatedFrom.UTC().Format(time.RFC3339Nano))
	}
	if !opts.CreatedTo.IsZero() {
		q.Set("createdTimeTo", opts.CreatedTo.UTC().Format(time.RFC3339Nano))
	}
	if opts.InstanceIDPrefix != "" {
		q.Set("instanceIdPrefix", opts.InstanceIDPrefix)
	}
	if opts.HideOutput {
		q.Set("showOutput", "false")
	}
	if opts.NewestFirst {
		q.Set("newestFirst", "true")
	}
	if opts.PageSize > 0 {
		q.Set("top", strconv.Itoa(opts.PageSize))
	}
	var out []*Status
	next, err := c.page(ctx, dfPrefix+"/instances", q, opts.ContinuationToken, &out)
	if err != nil {
		return nil, "", fmt.Errorf("list instances: %w", err)
	}
	return out, next, nil
}

// WalkInstances yields every instance that opts selects, reading page after page; it stops
// at the first error, which it yields.
func (c *Client) WalkInstances(ctx context.Context, opts ListOptions) iter.Seq2[*Status, error] {
	return walk(opts.ContinuationToken, func(token string) ([]*Status, string, error) {
		o := opts
		o.ContinuationToken = token
		return c.ListInstances(ctx, o)
	})
}

// HistoryOptions filter and page an instance's history.
type HistoryOptions struct {
	// EventTypes keeps events of these types (ExecutionStarted, TaskScheduled, ...).
	EventTypes []string
	// PageSize is the most events per page (0: the server's default, 100).
	PageSize int
	// ContinuationToken continues where a previous page ended.
	ContinuationToken string
}

// History returns one page of an instance's raw history, oldest first, and the token of the
// next page, empty when this page is the last. Unlike the status's history it has every event.
func (c *Client) History(ctx context.Context, id string, opts HistoryOptions) ([]*HistoryEvent, string, error) {
	q := url.Values{}
	if len(opts.EventTypes) > 0 {
		q.Set("eventType", strings.Join(opts.EventTypes, ","))
	}
	if opts.PageSize > 0 {
		q.Set("top", strconv.Itoa(opts.PageSize))
	}
	var out []*HistoryEvent
	next, err := c.page(ctx, instancePath(id)+"/history", q, opts.ContinuationToken, &out)
	if err != nil {
		return nil, "", fmt.Errorf("history of %s: %w", id, err)
	}
	return out, next, nil
}

// WalkHistory yields every event of an instance's history that opts selects, page after page;
// it stops at the first error, which it yields.
func (c *Client) WalkHistory(ctx context.Context, id string, opts HistoryOptions) iter.Seq2[*HistoryEvent, error] {
	return walk(opts.ContinuationToken, func(token string) ([]*HistoryEvent, string, error) {
		o := opts
		o.ContinuationToken = token
		return c.History(ctx, id, o)
	})
}

// page GETs one page into out and returns the next page's token.
func (c *Client) page(ctx context.Context, path string, q url.Values, token string, out any) (string, error) {
	r := request{method: http.MethodGet, path: path, query: q}
	if token != "" {
		r.header = http.Header{http.CanonicalHeaderKey(continuationHeader): {token}}
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return "", fmt.Errorf("decode the page: %w", err)
	}
	return resp.Header.Get(continuationHeader), nil
}

// walk yields the items of page after page, from the page of token first, until a page comes
// with no next token. A token seen twice would loop for ever, so it ends the walk with an error.
func walk[T any](token string, page func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		seen := map[string]bool{}
		for {
			items, next, err := page(token)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if seen[next] {
				yield(zero, fmt.Errorf("the server sent continuation token %q twice", next))
				return
			}
			seen[next] = true
			token = next
		}
	}
}

// RaiseEvent sends the event name with data (any JSON value; nil sends null) to an instance.
// The server answers 404 (IsNotFound) for an unknown instance and 410 (IsGone) for a finished
// one.
func (c *Client) RaiseEvent(ctx context.Context, id, name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("raise %s on %s: encode the data: %w", name, id, err)
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: instancePath(id) + "/raiseEvent/" + url.PathEscape(name),
		body: bytes.NewReader(b), contentType: "application/json"})
	if err != nil {
		return fmt.Errorf("raise %s on %s: %w", name, id, err)
	}
	return drain(resp)
}

// Terminate ends a running instance with reason. The server answers 404 (IsNotFound) for an
// unknown instance and 410 (IsGone) for a finished one.
func (c *Client) Terminate(ctx context.Context, id, reason string) error {
	return c.operation(ctx, id, "terminate", reason)
}

// Suspend pauses a running instance: it keeps its events but runs no code until Resume. The
// server answers 404, 410 for a finished instance, and 409 (IsConflict) for a suspended one.
func (c *Client) Suspend(ctx context.Context, id, reason string) error {
	return c.operation(ctx, id, "suspend", reason)
}

// Resume continues a suspended instance. The server answers 404, 410 for a finished instance,
// and 409 (IsConflict) for one that is not suspended.
func (c *Client) Resume(ctx context.Context, id, reason string) error {
	return c.operation(ctx, id, "resume", reason)
}

// Rewind runs a failed instance again from its failure, replaying what succeeded. The server
// answers 404, 410 (IsGone) for a Completed or Terminated instance, and 412
// (IsPreconditionFailed) for one that has not failed.
func (c *Client) Rewind(ctx context.Context, id, reason string) error {
	return c.operation(ctx, id, "rewind", reason)
}

func (c *Client) operation(ctx context.Context, id, op, reason string) error {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: instancePath(id) + "/" + op, query: q})
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	return drain(resp)
}

// RestartOptions are the options of Restart.
type RestartOptions struct {
	// KeepInstanceID restarts under the same id; by default the restart gets a new id, as in
	// Durable Functions (restartWithNewInstanceId=true).
	KeepInstanceID bool
	// WaitTimeout and PollingInterval ask the server to wait for the new instance, as in
	// StartOptions.
	WaitTimeout     time.Duration
	PollingInterval time.Duration
}

// Restart starts an instance's orchestrator again with its original input. An unknown id is
// answered with 400 (IsBadRequest), as in Durable Functions.
func (c *Client) Restart(ctx context.Context, id string, opts RestartOptions) (*StartResult, error) {
	q := waitQuery(url.Values{"restartWithNewInstanceId": {strconv.FormatBool(!opts.KeepInstanceID)}},
		opts.WaitTimeout, opts.PollingInterval)
	want := ""
	if opts.KeepInstanceID {
		want = id
	}
	res, err := c.startAnswer(ctx, request{method: http.MethodPost, path: instancePath(id) + "/restart", query: q}, want)
	if err != nil {
		return nil, fmt.Errorf("restart %s: %w", id, err)
	}
	return res, nil
}

// purgeResult is the answer of a purge.
type purgeResult struct {
	InstancesDeleted int `json:"instancesDeleted"`
}

// Purge deletes a finished instance and its history. The server answers 404 (IsNotFound) for
// an unknown instance and 409 (IsConflict) for one that has not finished.
func (c *Client) Purge(ctx context.Context, id string) error {
	var out purgeResult
	if err := c.doJSON(ctx, http.MethodDelete, instancePath(id), nil, nil, &out); err != nil {
		return fmt.Errorf("purge %s: %w", id, err)
	}
	return nil
}

// PurgeOptions select the instances PurgeMany deletes.
type PurgeOptions struct {
	// CreatedFrom is required: the server refuses a purge without a start time.
	CreatedFrom time.Time
	// CreatedTo bounds the creation time (zero: now).
	CreatedTo time.Time
	// RuntimeStatus keeps instances in these statuses (empty: every finished instance).
	RuntimeStatus []RuntimeStatus
}

// PurgeMany deletes the finished instances that opts select and returns how many it deleted
// (0 when none matched: the server's 404 is not an error here).
func (c *Client) PurgeMany(ctx context.Context, opts PurgeOptions) (int, error) {
	if opts.CreatedFrom.IsZero() {
		return 0, errors.New("purge instances: CreatedFrom is required")
	}
	q := url.Values{"createdTimeFrom": {opts.CreatedFrom.UTC().Format(time.RFC3339Nano)}}
	if !opts.CreatedTo.IsZero() {
		q.Set("createdTimeTo", opts.CreatedTo.UTC().Format(time.RFC3339Nano))
	}
	if len(opts.RuntimeStatus) > 0 {
		q.Set("runtimeStatus", joinStatuses(opts.RuntimeStatus))
	}
	var out purgeResult
	err := c.doJSON(ctx, http.MethodDelete, dfPrefix+"/instances", q, nil, &out)
	if IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("purge instances: %w", err)
	}
	return out.InstancesDeleted, nil
}

// Summary counts the instances by runtime status.
type Summary struct {
	// Counts has one entry per status that has instances.
	Counts map[RuntimeStatus]int `json:"counts"`
	// Total is the number of instances.
	Total int `json:"total"`
}

// Summary returns the instance counts by status.
func (c *Client) Summary(ctx context.Context) (*Summary, error) {
	var out Summary
	if err := c.doJSON(ctx, http.MethodGet, "/api/runs/summary", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return &out, nil
}

func joinStatuses(ss []RuntimeStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func drain(resp *http.Response) error {
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// IsGone reports whether err is a 410 answer: the instance has finished, so it can no longer
// take events or be terminated, suspended or resumed.
func IsGone(err error) bool { return hasStatus(err, http.StatusGone) }

// IsBadRequest reports whether err is a 400 answer: a bad argument, an unknown orchestrator,
// or (restart) an unknown instance.
func IsBadRequest(err error) bool { return hasStatus(err, http.StatusBadRequest) }

// IsPreconditionFailed reports whether err is a 412 answer (a rewind of an instance that has
// not failed). IsConflict reports these too.
func IsPreconditionFailed(err error) bool { return hasStatus(err, http.StatusPreconditionFailed) }

// IsUnauthorized reports whether err is a 401 answer: no key, or a key the server does not know.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is a 403 answer: the key's scope does not allow the route.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// StatusCode returns the HTTP status of an error answer, or 0 when err is not one.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

func hasStatus(err error, code int) bool { return StatusCode(err) == code }
