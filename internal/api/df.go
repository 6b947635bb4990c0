package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
)

// This file is Durable Functions' HTTP management API (docs/api.md). Where DF's documentation
// and its implementation (HttpApiHandler of azure-functions-durable-extension) disagree, it
// answers as the implementation does, which is what DF's clients expect. Deviations, each a
// client error DF answers with 500: starting or restarting an id that is running and suspending
// or resuming an instance in the wrong state answer 409; purging an unfinished instance 409;
// rewinding one that did not fail 412 (as newer DF builds).

// checkStatus is DF's check-status payload; the field order is DF's.
type checkStatus struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// checkStatusPayload builds the management URLs of an instance. The id is escaped as DF does
// (space becomes +); a key that came as code= is echoed.
func (s *Server) checkStatusPayload(r *http.Request, id string) checkStatus {
	base := s.baseURL(r) + dfPrefix + "/instances/" + url.QueryEscape(id)
	common := "taskHub=" + url.QueryEscape(s.cfg.TaskHub) + "&connection=Storage"
	if code, ok := r.Context().Value(codeKey).(string); ok {
		common += "&code=" + url.QueryEscape(code)
	}
	return checkStatus{
		ID:                    id,
		StatusQueryGetURI:     base + "?" + common,
		SendEventPostURI:      base + "/raiseEvent/{eventName}?" + common,
		TerminatePostURI:      base + "/terminate?reason={text}&" + common,
		PurgeHistoryDeleteURI: base + "?" + common,
		RestartPostURI:        base + "/restart?" + common,
		SuspendPostURI:        base + "/suspend?reason={text}&" + common,
		ResumePostURI:         base + "/resume?reason={text}&" + common,
	}
}

func (s *Server) writeCheckStatus(w http.ResponseWriter, r *http.Request, id string) {
	payload := s.checkStatusPayload(r, id)
	w.Header().Set("Location", payload.StatusQueryGetURI)
	w.Header().Set("Retry-After", "10")
	writeJSON(w, http.StatusAccepted, payload)
}

// DF error answers.

// codeInvalidJSON marks a body that is not JSON; DF answers it with the text as Message.
const codeInvalidJSON = "InvalidJSON"

// dfArgumentError is DF's answer to an ArgumentException: a fixed Message, the detail in
// ExceptionMessage.
func dfArgumentError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"Message": "One or more of the arguments submitted is incorrect",
		"ExceptionMessage": msg, "ExceptionType": "System.ArgumentException", "StackTrace": nil})
}

// dfMessage is DF's CreateErrorResponse(status, msg): the text itself as Message.
func dfMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"Message": msg})
}

// dfError answers an error on a DF route: 400 in DF's argument-error shape, 404 with an empty
// body, 409/410 with DF's short shape, anything unexpected as DF's 500 (logged, details kept
// out of the answer).
func (s *Server) dfError(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	switch {
	case ae.status == http.StatusBadRequest && ae.code == codeInvalidJSON:
		dfMessage(w, ae.status, ae.message) // DF's CreateErrorResponse(400, "Invalid JSON content")
	case ae.status == http.StatusBadRequest:
		dfArgumentError(w, ae.message)
	case ae.status == http.StatusNotFound:
		w.WriteHeader(http.StatusNotFound)
	case ae.status == http.StatusRequestEntityTooLarge:
		dfMessage(w, ae.status, ae.message)
	case ae.status < 500:
		dfMessage(w, ae.status, ae.message)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, ae.status, map[string]any{"Message": "Something went wrong while processing your request",
			"ExceptionMessage": ae.message, "ExceptionType": "System.Exception", "StackTrace": nil})
	}
}

// Query parameters, read the way DF reads them: names case-insensitive, booleans as .NET's
// bool.TryParse (an unparsable value means the default).

func queryValues(r *http.Request, name string) []string {
	var out []string
	for k, vs := range r.URL.Query() {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

func queryValue(r *http.Request, name string) (string, bool) {
	vs := queryValues(r, name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func queryBool(r *http.Request, name string, def bool) bool {
	v, ok := queryValue(r, name)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}

// queryReason reads reason=, also when it arrives unencoded: a raw query that does not parse
// (a lone %, say) still yields the text between reason= and the next &.
func queryReason(r *http.Request) string {
	if v, ok := queryValue(r, "reason"); ok {
		return v
	}
	raw := r.URL.RawQuery
	for _, part := range strings.Split(raw, "&") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(k, "reason") {
			if u, err := url.QueryUnescape(v); err == nil {
				return u
			}
			return strings.ReplaceAll(v, "+", " ")
		}
	}
	return ""
}

// dfStatusNumbers are the numeric values DF's runtimeStatus enum also accepts.
var dfStatusNumbers = map[string]string{"0": "Running", "1": "Completed", "2": "ContinuedAsNew", "3": "Failed",
	"4": "Canceled", "5": "Terminated", "6": "Pending", "7": "Suspended"}

// queryStatuses reads runtimeStatus: comma-separated, repeated, or both; names are
// case-sensitive (as .NET's Enum.TryParse) and numbers accepted. Unknown values are dropped;
// given reports whether the parameter was there at all. Canceled, which orca never produces,
// is kept as a status nothing has.
func queryStatuses(r *http.Request) (statuses []store.Status, given bool) {
	for _, v := range queryValues(r, "runtimeStatus") {
		given = true
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if n, ok := dfStatusNumbers[part]; ok {
				part = n
			}
			if st, ok := store.ParseStatus(part); ok || part == "Canceled" {
				if !ok {
					st = store.Status(part)
				}
				statuses = append(statuses, st)
			}
		}
	}
	return statuses, given
}

// parseTime reads a time as DateTime.TryParse would: RFC 3339 with or without fractions, or a
// date and time without a zone (UTC), or a date.
func parseTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// pageSize reads top: default 100, at most 1000; an unparsable or non-positive value means the
// default.
func pageSize(r *http.Request) int {
	v, ok := queryValue(r, "top")
	if !ok {
		return 100
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 100
	}
	return min(n, 1000)
}

// start is the seeds' starter and DF's start: the input is ?inputCount=N (the seeds') or the
// JSON body; with ?timeout=&pollingInterval= it waits for the instance.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	input, err := s.starterInput(w, r)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	waitFor, wait, err := waitParams(r)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	id, err := s.cfg.Engine.StartInstance(r.Context(), engine.StartParams{Name: r.PathValue("name"), ID: r.PathValue("id"), Input: input})
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	s.answerStarted(w, r, id, waitFor, wait)
}

// starterInput reads the input: ?inputCount=N (passed on as the string "N", as the seeds do),
// else the JSON body; an empty body or the JSON string "" means no input.
func (s *Server) starterInput(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	if v, ok := queryValue(r, "inputCount"); ok {
		if _, err := compute.ParseInputCount(json.RawMessage(strconv.Quote(v))); err != nil {
			return nil, badRequest("InvalidInputCount", err.Error())
		}
		return json.RawMessage(strconv.Quote(strings.TrimSpace(v))), nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == `""` {
		return nil, nil
	}
	if !json.Valid(body) {
		return nil, badRequest(codeInvalidJSON, "Invalid JSON content")
	}
	return body, nil
}

// maxWait bounds a start-and-wait.
const maxWait = 10 * time.Minute

// waitParams reads timeout= and pollingInterval= (seconds); both must be there to wait. The
// interval is checked as DF checks it but not used: the wait wakes on the status change itself.
func waitParams(r *http.Request) (timeout time.Duration, wait bool, err error) {
	tv, tok := queryValue(r, "timeout")
	pv, pok := queryValue(r, "pollingInterval")
	if !tok || !pok {
		return 0, false, nil
	}
	t, terr := strconv.ParseFloat(strings.TrimSpace(tv), 64)
	p, perr := strconv.ParseFloat(strings.TrimSpace(pv), 64)
	switch {
	case terr != nil || !(t >= 0 && t <= maxWait.Seconds()): // written so that NaN fails too
		return 0, false, badRequest("InvalidArgument", "timeout must be a number of seconds from 0 to "+strconv.Itoa(int(maxWait.Seconds())))
	case perr != nil || !(p > 0):
		return 0, false, badRequest("InvalidArgument", "pollingInterval must be a positive number of seconds")
	case p > t:
		return 0, false, badRequest("InvalidArgument", "pollingInterval must not be greater than timeout")
	}
	return time.Duration(t * float64(time.Second)), true, nil
}

// answerStarted answers a start or restart: the check-status payload at once, or, when the
// caller asked to wait, after waitAndAnswer.
func (s *Server) answerStarted(w http.ResponseWriter, r *http.Request, id string, timeout time.Duration, wait bool) {
	if wait {
		s.waitAndAnswer(w, r, id, timeout)
		return
	}
	s.writeCheckStatus(w, r, id)
}

// waitAndAnswer waits up to timeout for the instance: Completed answers 200 with the raw output,
// Failed or Terminated the status, still running the check-status payload.
func (s *Server) waitAndAnswer(w http.ResponseWriter, r *http.Request, id string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	in, err := s.cfg.Engine.WaitForFinish(ctx, id)
	switch {
	case err == nil && in.Status == store.StatusCompleted:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(jsonOrNull(in.Output))
	case err == nil:
		writeJSON(w, http.StatusOK, toStatus(in, true))
	case errors.Is(err, context.DeadlineExceeded):
		s.writeCheckStatus(w, r, id)
	default:
		s.dfError(w, r, err)
	}
}

// statusPayload is DF's instance status; the field order is DF's.
type statusPayload struct {
	Name            string          `json:"name"`
	InstanceID      string          `json:"instanceId"`
	RuntimeStatus   string          `json:"runtimeStatus"`
	Input           json.RawMessage `json:"input"`
	CustomStatus    json.RawMessage `json:"customStatus"`
	Output          json.RawMessage `json:"output"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
	HistoryEvents   []obj           `json:"historyEvents,omitempty"`
}

// dfTime is DF's status time: second precision, always Z.
func dfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func jsonOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func toStatus(in *store.Instance, showInput bool) statusPayload {
	p := statusPayload{Name: in.Name, InstanceID: in.ID, RuntimeStatus: string(in.Status),
		Input: json.RawMessage("null"), CustomStatus: jsonOrNull(in.CustomStatus), Output: jsonOrNull(in.Output),
		CreatedTime: dfTime(in.CreatedAt), LastUpdatedTime: dfTime(in.UpdatedAt)}
	if showInput {
		p.Input = jsonOrNull(in.Input)
	}
	if in.Status == store.StatusFailed && len(in.Output) == 0 && in.Failure != nil {
		out, _ := json.Marshal(in.Failure.String())
		p.Output = out
	}
	return p
}

// status is DF's GET instances/{id}: 202 with Location (the request URI) and Retry-After while
// the instance runs, 200 when it has finished (500 for Failed with
// returnInternalServerErrorOnFailure), 404 with an empty body when there is none.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	in, err := s.cfg.Engine.Get(r.Context(), r.PathValue("id"), true)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	showInput := queryBool(r, "showInput", true)
	p := toStatus(in, showInput)
	if queryBool(r, "showHistory", false) && in.Status != store.StatusPending {
		events, err := s.dfHistory(r.Context(), in.ID, showInput, queryBool(r, "showHistoryOutput", false))
		if err != nil {
			s.dfError(w, r, err)
			return
		}
		p.HistoryEvents = events
	}
	code := http.StatusOK
	switch {
	case !in.Status.Finished():
		code = http.StatusAccepted
		w.Header().Set("Location", s.baseURL(r)+r.URL.RequestURI())
		w.Header().Set("Retry-After", "5")
	case in.Status == store.StatusFailed && queryBool(r, "returnInternalServerErrorOnFailure", false):
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, p)
}

// list is DF's GET instances: a page of statuses in creation order and, always, an
// x-ms-continuation-token header that is empty on the last page. Beyond DF, newestFirst=true
// reverses the order and showOutput=false leaves the outputs out (a run's can be large).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	p := &store.InstanceListParams{Limit: pageSize(r), Token: r.Header.Get("x-ms-continuation-token")}
	p.Statuses, _ = queryStatuses(r)
	if v, ok := queryValue(r, "createdTimeFrom"); ok {
		p.CreatedFrom, _ = parseTime(v)
	}
	if v, ok := queryValue(r, "createdTimeTo"); ok {
		p.CreatedTo, _ = parseTime(v)
	}
	p.IDPrefix, _ = queryValue(r, "instanceIdPrefix")
	p.NewestFirst = queryBool(r, "newestFirst", false)
	showInput, showOutput := queryBool(r, "showInput", true), queryBool(r, "showOutput", true)
	p.WithPayloads = showInput || showOutput
	page, err := s.cfg.Engine.List(r.Context(), p)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	out := make([]statusPayload, len(page.Instances))
	for i, in := range page.Instances {
		if !showOutput {
			in.Output = nil // a failed instance still shows its failure
		}
		out[i] = toStatus(in, showInput)
	}
	w.Header().Set("x-ms-continuation-token", page.Token)
	writeJSON(w, http.StatusOK, out)
}

// purge is DF's DELETE instances/{id}.
func (s *Server) purge(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Purge(r.Context(), r.PathValue("id")); err != nil {
		if errors.Is(err, store.ErrWrongStatus) {
			dfMessage(w, http.StatusConflict, "only a Completed, Failed or Terminated instance can be purged: "+err.Error())
			return
		}
		s.dfError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"instancesDeleted": 1})
}

// purgeMany is DF's DELETE instances: createdTimeFrom is required. Unlike DF, a filter that
// parses to nothing is refused, never read as "everything".
func (s *Server) purgeMany(w http.ResponseWriter, r *http.Request) {
	fromText, ok := queryValue(r, "createdTimeFrom")
	if !ok || strings.TrimSpace(fromText) == "" {
		writeJSON(w, http.StatusBadRequest, "Please provide value for 'createdTimeFrom' parameter.")
		return
	}
	from, ok := parseTime(fromText)
	if !ok {
		dfArgumentError(w, "createdTimeFrom "+strconv.Quote(fromText)+" is not a date and time (RFC 3339)")
		return
	}
	p := store.InstancePurgeParams{CreatedFrom: from, CreatedTo: time.Now().UTC()}
	if v, ok := queryValue(r, "createdTimeTo"); ok {
		if p.CreatedTo, ok = parseTime(v); !ok {
			dfArgumentError(w, "createdTimeTo "+strconv.Quote(v)+" is not a date and time (RFC 3339)")
			return
		}
	}
	statuses, given := queryStatuses(r)
	if given && len(statuses) == 0 {
		dfArgumentError(w, "runtimeStatus names no known status; refusing to purge every status")
		return
	}
	for _, st := range statuses {
		if !st.Finished() {
			dfArgumentError(w, "runtimeStatus "+string(st)+": only Completed, Failed and Terminated instances can be purged")
			return
		}
	}
	p.Statuses = statuses
	n, err := s.cfg.Engine.PurgeMany(r.Context(), p)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	if n == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"instancesDeleted": n})
}

// operation dispatches the instance operations, whose names DF compares case-insensitively.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) {
	op := strings.ToLower(r.PathValue("op"))
	event := r.PathValue("event")
	switch {
	case op == "raiseevent" && event != "":
		s.raiseEvent(w, r, event)
	case event != "":
		s.dfNotFound(w, r)
	case op == "terminate", op == "suspend", op == "resume", op == "rewind":
		s.control(w, r, op)
	case op == "restart":
		s.restart(w, r)
	default:
		s.dfNotFound(w, r)
	}
}

// raiseEvent checks, in DF's order: 404 no instance, 410 finished, 400 not application/json,
// 400 invalid JSON; then 202. An empty body without a content type is a null event.
func (s *Server) raiseEvent(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	id := r.PathValue("id")
	in, err := s.cfg.Engine.Get(ctx, id, false)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	if in.Status.Finished() {
		dfMessage(w, http.StatusGone, "instance "+id+" has finished ("+string(in.Status)+")")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	body = bytes.TrimSpace(body)
	ct := r.Header.Get("Content-Type")
	if ct != "" || len(body) > 0 {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			dfMessage(w, http.StatusBadRequest, "Only application/json request content is supported")
			return
		}
	}
	if len(body) > 0 && !json.Valid(body) {
		dfMessage(w, http.StatusBadRequest, "Invalid JSON content")
		return
	}
	if err := s.cfg.Engine.RaiseEvent(ctx, id, name, body); err != nil {
		s.controlError(w, r, "raiseevent", err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// control is terminate, suspend, resume and rewind: 202 with an empty body.
func (s *Server) control(w http.ResponseWriter, r *http.Request, op string) {
	ctx, id, reason := r.Context(), r.PathValue("id"), queryReason(r)
	var err error
	switch op {
	case "terminate":
		err = s.cfg.Engine.Terminate(ctx, id, reason)
	case "suspend":
		err = s.cfg.Engine.Suspend(ctx, id, reason)
	case "resume":
		err = s.cfg.Engine.Resume(ctx, id, reason)
	case "rewind":
		err = s.cfg.Engine.Rewind(ctx, id, reason)
	}
	if err != nil {
		s.controlError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// controlError answers a refused operation: 410 for a finished instance, else 409 for a state
// that does not allow it (412 for rewind, as newer DF builds).
func (s *Server) controlError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var se *store.StatusError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrWrongStatus) {
		s.dfError(w, r, err)
		return
	}
	switch {
	case op == "rewind" && se.Status != store.StatusCompleted && se.Status != store.StatusTerminated:
		dfMessage(w, http.StatusPreconditionFailed, "only a Failed instance can be rewound; "+se.InstanceID+" is "+string(se.Status))
	case se.Status.Finished():
		dfMessage(w, http.StatusGone, "instance "+se.InstanceID+" has finished ("+string(se.Status)+")")
	default:
		dfMessage(w, http.StatusConflict, "instance "+se.InstanceID+" is "+string(se.Status)+": cannot "+op+" it")
	}
}

// restart starts the instance's orchestrator again with its input, under a new id
// (restartWithNewInstanceId, default true) or the same one.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	waitFor, wait, err := waitParams(r)
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	id, err := s.cfg.Engine.Restart(r.Context(), r.PathValue("id"), queryBool(r, "restartWithNewInstanceId", true))
	if errors.Is(err, store.ErrNotFound) {
		dfMessage(w, http.StatusBadRequest, "InstanceId does not match a valid orchestration instance.")
		return
	}
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	s.answerStarted(w, r, id, waitFor, wait)
}

// dfNotFound answers a route DF does not have: 404 with an empty body.
func (s *Server) dfNotFound(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

// summary counts instances by status, every status present.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	counts, err := s.cfg.Engine.Store().InstanceCounts(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]int{}
	total := 0
	for _, st := range store.Statuses {
		out[string(st)] = counts[st]
		total += counts[st]
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": out, "total": total})
}
