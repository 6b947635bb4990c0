package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
)

// checkStatus is Durable Functions' check-status payload; the field order is DF's.
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

const dfBase = "/runtime/webhooks/durabletask"

func (s *Server) checkStatusPayload(r *http.Request, id string) checkStatus {
	base := s.baseURL(r) + dfBase + "/instances/" + url.QueryEscape(id)
	common := "taskHub=" + url.QueryEscape(s.cfg.TaskHub) + "&connection=Storage"
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

// startOrchestration is the seeds' starter: POST|GET /api/orchestrators/{name}[/{id}] with the
// input as the JSON body or as ?inputCount=N. It answers 202 with the check-status payload once
// the instance exists.
func (s *Server) startOrchestration(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	input, err := s.starterInput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.cfg.Engine.StartInstance(r.Context(), engine.StartParams{Name: name, ID: r.PathValue("id"), Input: input})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	payload := s.checkStatusPayload(r, id)
	w.Header().Set("Location", payload.StatusQueryGetURI)
	w.Header().Set("Retry-After", "10")
	writeJSON(w, http.StatusAccepted, payload)
}

// starterInput reads the input: ?inputCount=N (passed on as the string "N", as the seeds do),
// else the JSON body; an empty body or the JSON string "" means no input.
func (s *Server) starterInput(r *http.Request) (json.RawMessage, error) {
	if v, ok := lookupQuery(r.URL.Query(), "inputCount"); ok {
		if _, err := compute.ParseInputCount(json.RawMessage(strconv.Quote(v))); err != nil {
			return nil, badRequest("InvalidInputCount", err.Error())
		}
		return json.RawMessage(strconv.Quote(strings.TrimSpace(v))), nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == `""` {
		return nil, nil
	}
	if !json.Valid(body) {
		return nil, badRequest("InvalidJSON", "the request body is not valid JSON")
	}
	return body, nil
}

// lookupQuery finds a query parameter by name, case-insensitively (as DF).
func lookupQuery(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// statusPayload is Durable Functions' instance status; the field order is DF's.
type statusPayload struct {
	Name            string          `json:"name"`
	InstanceID      string          `json:"instanceId"`
	RuntimeStatus   string          `json:"runtimeStatus"`
	Input           json.RawMessage `json:"input"`
	CustomStatus    json.RawMessage `json:"customStatus"`
	Output          json.RawMessage `json:"output"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
}

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

// getStatus is DF's GET instances/{id}: 202 with Location and Retry-After while the instance
// runs, 200 when it has finished, 404 with an empty body when there is none.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	in, err := s.cfg.Engine.Get(r.Context(), r.PathValue("id"), true)
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	showInput := true
	if v, ok := lookupQuery(r.URL.Query(), "showInput"); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			showInput = b
		}
	}
	status := http.StatusOK
	if !in.Status.Finished() {
		status = http.StatusAccepted
		w.Header().Set("Location", s.baseURL(r)+r.URL.RequestURI())
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, toStatus(in, showInput))
}
