package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// obj is a JSON object that keeps its keys in the order they were added (DF's history events
// list their fields in DTFx's order).
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// dtfTime is DTFx's history timestamp: full precision (.NET's 7 digits), Z.
func dtfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func rawJSON(b json.RawMessage) json.RawMessage { return jsonOrNull(b) }

// dtfFailure is DTFx's FailureDetails.
func dtfFailure(f *history.FailureDetails) any {
	if f == nil {
		return nil
	}
	var inner any
	if f.Inner != nil {
		inner = dtfFailure(f.Inner)
	}
	return obj{{"ErrorType", f.ErrorType}, {"ErrorMessage", f.ErrorMessage}, {"StackTrace", nilIfEmpty(f.StackTrace)},
		{"InnerFailure", inner}, {"IsNonRetriable", f.NonRetriable}}
}

// dtfFailureFields are a failed task's or sub-orchestration's Reason, Details and
// FailureDetails, in DTFx's order.
func dtfFailureFields(f *history.FailureDetails) obj {
	return obj{{"Reason", failureMessage(f)}, {"Details", nil}, {"FailureDetails", dtfFailure(f)}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// historyPageSize is how many events are read per query when a whole history is rendered.
const historyPageSize = 5000

// dfHistory renders an instance's history as DF's status does (showHistory): orchestrator
// turns dropped, a scheduled task or sub-orchestration with a result merged into its completion
// (FunctionName, ScheduledTime, Input), results only with showHistoryOutput, inputs only with
// showInput. Sub-orchestration completions also name the child's InstanceId (DF users asked for
// it). The history is read page by page.
func (s *Server) dfHistory(ctx context.Context, id string, showInput, showOutput bool) ([]obj, error) {
	var all []*history.Event
	for after := -1; ; {
		recs, err := s.cfg.Engine.History(ctx, &store.HistoryReadParams{InstanceID: id, After: after, Limit: historyPageSize})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			all = append(all, rec.Event)
		}
		after = recs[len(recs)-1].Seq
	}
	completed := map[int32]bool{}
	scheduled := map[int32]*history.Event{}
	for _, ev := range all {
		if id, ok := ev.TaskScheduledID(); ok && ev.Type != history.TimerFired {
			completed[id] = true
		}
		if ev.Type == history.TaskScheduled || ev.Type == history.SubOrchestrationInstanceCreated {
			scheduled[ev.EventID] = ev
		}
	}
	out := make([]obj, 0, len(all))
	for _, ev := range all {
		if o := dfEvent(ev, scheduled, completed, showInput, showOutput); o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// dfEvent is one event in DF's status shape; nil when DF leaves it out.
func dfEvent(ev *history.Event, scheduled map[int32]*history.Event, completed map[int32]bool, showInput, showOutput bool) obj {
	o := obj{{"EventType", string(ev.Type)}}
	input := func(b json.RawMessage) {
		if showInput {
			o = append(o, kv{"Input", rawJSON(b)})
		}
	}
	result := func(b json.RawMessage) {
		if showOutput {
			o = append(o, kv{"Result", rawJSON(b)})
		}
	}
	merge := func(id int32) {
		if s := scheduled[id]; s != nil {
			switch s.Type {
			case history.TaskScheduled:
				o = append(o, kv{"FunctionName", s.TaskScheduled.Name}, kv{"ScheduledTime", dtfTime(s.Timestamp)})
				input(s.TaskScheduled.Input)
			case history.SubOrchestrationInstanceCreated:
				o = append(o, kv{"FunctionName", s.SubOrchestrationInstanceCreated.Name},
					kv{"InstanceId", s.SubOrchestrationInstanceCreated.InstanceID}, kv{"ScheduledTime", dtfTime(s.Timestamp)})
				input(s.SubOrchestrationInstanceCreated.Input)
			}
		}
	}
	switch ev.Type {
	case history.OrchestratorStarted, history.OrchestratorCompleted:
		return nil
	case history.ExecutionStarted:
		a := ev.ExecutionStarted
		o = append(o, kv{"FunctionName", a.Name})
		input(a.Input)
		o = append(o, kv{"Generation", a.Generation})
	case history.ExecutionCompleted:
		a := ev.ExecutionCompleted
		o = append(o, kv{"OrchestrationStatus", a.Status})
		result(a.Result)
		o = append(o, kv{"FailureDetails", dtfFailure(a.Failure)})
	case history.ExecutionTerminated:
		input(mustJSON(ev.ExecutionTerminated.Reason))
	case history.ExecutionSuspended:
		o = append(o, kv{"Reason", ev.ExecutionSuspended.Reason})
	case history.ExecutionResumed:
		o = append(o, kv{"Reason", ev.ExecutionResumed.Reason})
	case history.ExecutionRewound:
		o = append(o, kv{"Reason", ev.ExecutionRewound.Reason})
	case history.ContinueAsNew:
		result(ev.ContinueAsNew.Input)
	case history.TaskScheduled:
		if completed[ev.EventID] {
			return nil
		}
		o = append(o, kv{"Name", ev.TaskScheduled.Name})
		input(ev.TaskScheduled.Input)
	case history.SubOrchestrationInstanceCreated:
		if completed[ev.EventID] {
			return nil
		}
		a := ev.SubOrchestrationInstanceCreated
		o = append(o, kv{"Name", a.Name}, kv{"InstanceId", a.InstanceID})
		input(a.Input)
	case history.TaskCompleted:
		merge(ev.TaskCompleted.TaskScheduledID)
		result(ev.TaskCompleted.Result)
	case history.TaskFailed:
		merge(ev.TaskFailed.TaskScheduledID)
		o = append(o, dtfFailureFields(ev.TaskFailed.Failure)...)
	case history.SubOrchestrationInstanceCompleted:
		merge(ev.SubOrchestrationInstanceCompleted.TaskScheduledID)
		result(ev.SubOrchestrationInstanceCompleted.Result)
	case history.SubOrchestrationInstanceFailed:
		merge(ev.SubOrchestrationInstanceFailed.TaskScheduledID)
		o = append(o, dtfFailureFields(ev.SubOrchestrationInstanceFailed.Failure)...)
	case history.TimerCreated:
		o = append(o, kv{"FireAt", dtfTime(ev.TimerCreated.FireAt)})
	case history.TimerFired:
		o = append(o, kv{"FireAt", dtfTime(ev.TimerFired.FireAt)})
	case history.EventRaised:
		o = append(o, kv{"Name", ev.EventRaised.Name})
		input(ev.EventRaised.Input)
	case history.EventSent:
		o = append(o, kv{"InstanceId", ev.EventSent.InstanceID}, kv{"Name", ev.EventSent.Name})
		input(ev.EventSent.Input)
	}
	return append(o, kv{"Timestamp", dtfTime(ev.Timestamp)})
}

func failureMessage(f *history.FailureDetails) string {
	if f == nil {
		return ""
	}
	return f.ErrorMessage
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// rawEvent is one event of the paged history (beyond DF): every event, with its position and
// DTFx's field names, ids and all.
func rawEvent(seq int, ev *history.Event) obj {
	o := obj{{"Sequence", seq}, {"EventId", ev.EventID}, {"EventType", string(ev.Type)}, {"Timestamp", dtfTime(ev.Timestamp)}}
	switch ev.Type {
	case history.ExecutionStarted:
		a := ev.ExecutionStarted
		o = append(o, kv{"Name", a.Name}, kv{"ExecutionId", a.ExecutionID}, kv{"Input", rawJSON(a.Input)}, kv{"Generation", a.Generation})
		if a.Parent != nil {
			o = append(o, kv{"ParentInstanceId", a.Parent.InstanceID}, kv{"ParentTaskScheduledId", a.Parent.TaskScheduledID})
		}
	case history.ExecutionCompleted:
		a := ev.ExecutionCompleted
		o = append(o, kv{"OrchestrationStatus", a.Status}, kv{"Result", rawJSON(a.Result)}, kv{"FailureDetails", dtfFailure(a.Failure)})
	case history.ExecutionTerminated:
		o = append(o, kv{"Input", mustJSON(ev.ExecutionTerminated.Reason)})
	case history.ExecutionSuspended:
		o = append(o, kv{"Reason", ev.ExecutionSuspended.Reason})
	case history.ExecutionResumed:
		o = append(o, kv{"Reason", ev.ExecutionResumed.Reason})
	case history.ExecutionRewound:
		o = append(o, kv{"Reason", ev.ExecutionRewound.Reason})
	case history.ContinueAsNew:
		o = append(o, kv{"Result", rawJSON(ev.ContinueAsNew.Input)})
	case history.TaskScheduled:
		o = append(o, kv{"Name", ev.TaskScheduled.Name}, kv{"Input", rawJSON(ev.TaskScheduled.Input)})
	case history.TaskCompleted:
		o = append(o, kv{"TaskScheduledId", ev.TaskCompleted.TaskScheduledID}, kv{"Result", rawJSON(ev.TaskCompleted.Result)})
	case history.TaskFailed:
		o = append(o, kv{"TaskScheduledId", ev.TaskFailed.TaskScheduledID}, kv{"Reason", failureMessage(ev.TaskFailed.Failure)},
			kv{"FailureDetails", dtfFailure(ev.TaskFailed.Failure)})
	case history.SubOrchestrationInstanceCreated:
		a := ev.SubOrchestrationInstanceCreated
		o = append(o, kv{"Name", a.Name}, kv{"InstanceId", a.InstanceID}, kv{"Input", rawJSON(a.Input)})
	case history.SubOrchestrationInstanceCompleted:
		o = append(o, kv{"TaskScheduledId", ev.SubOrchestrationInstanceCompleted.TaskScheduledID},
			kv{"Result", rawJSON(ev.SubOrchestrationInstanceCompleted.Result)})
	case history.SubOrchestrationInstanceFailed:
		o = append(o, kv{"TaskScheduledId", ev.SubOrchestrationInstanceFailed.TaskScheduledID},
			kv{"Reason", failureMessage(ev.SubOrchestrationInstanceFailed.Failure)},
			kv{"FailureDetails", dtfFailure(ev.SubOrchestrationInstanceFailed.Failure)})
	case history.TimerCreated:
		o = append(o, kv{"FireAt", dtfTime(ev.TimerCreated.FireAt)})
	case history.TimerFired:
		o = append(o, kv{"TimerId", ev.TimerFired.TimerID}, kv{"FireAt", dtfTime(ev.TimerFired.FireAt)})
	case history.EventRaised:
		o = append(o, kv{"Name", ev.EventRaised.Name}, kv{"Input", rawJSON(ev.EventRaised.Input)})
	case history.EventSent:
		o = append(o, kv{"InstanceId", ev.EventSent.InstanceID}, kv{"Name", ev.EventSent.Name}, kv{"Input", rawJSON(ev.EventSent.Input)})
	}
	return o
}

// history pages through an instance's history (beyond DF): top events (default 100, at most
// 1000) after the continuation token, optionally only some event types. The answer's
// x-ms-continuation-token header is empty on the last page; a page is never empty while it is set.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.cfg.Engine.Get(ctx, id, false); err != nil {
		s.dfError(w, r, err)
		return
	}
	after := -1
	if tok := r.Header.Get("x-ms-continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, cerr := strconv.Atoi(string(b))
		if err != nil || cerr != nil || n < 0 {
			dfArgumentError(w, "x-ms-continuation-token was not issued by this server")
			return
		}
		after = n
	}
	var types []history.Type
	for _, v := range queryValues(r, "eventType") {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if !history.Type(t).Valid() {
				dfArgumentError(w, "eventType "+strconv.Quote(t)+" is not a history event type")
				return
			}
			types = append(types, history.Type(t))
		}
	}
	limit := pageSize(r)
	recs, err := s.cfg.Engine.History(ctx, &store.HistoryReadParams{InstanceID: id, After: after, Limit: limit + 1, Types: types})
	if err != nil {
		s.dfError(w, r, err)
		return
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(recs[limit-1].Seq)))
	}
	out := make([]obj, len(recs))
	for i, rec := range recs {
		out[i] = rawEvent(rec.Seq, rec.Event)
	}
	w.Header().Set("x-ms-continuation-token", next)
	writeJSON(w, http.StatusOK, out)
}
