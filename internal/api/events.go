package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/store"
)

// maxIngestEvents bounds the events of one ingestion request.
const maxIngestEvents = 5000

// ingestEvents accepts events from outside (a real Event Grid subscription, S3 notifications
// relayed as CloudEvents, scripts): an Event Grid schema array or object, or CloudEvents in
// structured or batch mode. Each event is routed once per event id; the answer counts the
// duplicates. Event Grid's subscription-validation event is answered with its code.
func (s *Server) ingestEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, err := parseEvents(r.Header.Get("Content-Type"), body)
	if err != nil {
		s.writeError(w, r, badRequest("InvalidEvents", err.Error()))
		return
	}
	for _, ev := range evs {
		if ev.EventType == events.TypeSubscriptionValidation {
			var data struct {
				ValidationCode string `json:"validationCode"`
			}
			if err := json.Unmarshal(ev.Data, &data); err != nil || data.ValidationCode == "" {
				s.writeError(w, r, badRequest("InvalidEvents", "the validation event has no data.validationCode"))
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"validationResponse": data.ValidationCode})
			return
		}
	}
	accepted, duplicates := 0, 0
	for _, ev := range evs {
		if ev.EventTime.IsZero() {
			ev.EventTime = time.Now().UTC()
		}
		dup, err := s.cfg.Router.Publish(r.Context(), ev)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if dup {
			duplicates++
		} else {
			accepted++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": accepted, "duplicates": duplicates})
}

// parseEvents reads an ingestion body by its content type.
func parseEvents(contentType string, body []byte) ([]*events.Event, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	body = bytes.TrimSpace(body)
	var evs []*events.Event
	switch mt {
	case "application/cloudevents+json":
		var ce events.CloudEvent
		if err := json.Unmarshal(body, &ce); err != nil {
			return nil, errors.New("the body is not a CloudEvent: " + err.Error())
		}
		evs = append(evs, events.FromCloudEvent(&ce))
	case "application/cloudevents-batch+json":
		var ces []*events.CloudEvent
		if err := json.Unmarshal(body, &ces); err != nil {
			return nil, errors.New("the body is not a CloudEvents batch: " + err.Error())
		}
		for i, ce := range ces {
			if ce == nil {
				return nil, errors.New("event " + strconv.Itoa(i) + " is null")
			}
			evs = append(evs, events.FromCloudEvent(ce))
		}
	default:
		if len(body) > 0 && body[0] == '{' {
			body = append(append([]byte{'['}, body...), ']')
		}
		if err := json.Unmarshal(body, &evs); err != nil {
			return nil, errors.New("the body is not an array of Event Grid events: " + err.Error())
		}
	}
	if len(evs) == 0 || len(evs) > maxIngestEvents {
		return nil, errors.New("send 1 to " + strconv.Itoa(maxIngestEvents) + " events")
	}
	for i, ev := range evs {
		if ev == nil {
			return nil, errors.New("event " + strconv.Itoa(i) + " is null")
		}
		if ev.EventType == events.TypeSubscriptionValidation {
			continue
		}
		if err := ev.Validate(); err != nil {
			return nil, errors.New("event " + strconv.Itoa(i) + ": " + err.Error())
		}
	}
	return evs, nil
}

// eventsAbuseProtection answers the CloudEvents webhook validation request.
func (s *Server) eventsAbuseProtection(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("WebHook-Request-Origin")
	if origin == "" {
		origin = "*"
	}
	w.Header().Set("WebHook-Allowed-Origin", origin)
	w.Header().Set("WebHook-Allowed-Rate", "*")
	w.Header().Set("Allow", "POST, OPTIONS")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) listSubscriptions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": s.cfg.Router.List()})
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.cfg.Router.Get(r.PathValue("name"))
	if !ok {
		s.writeError(w, r, &apiError{http.StatusNotFound, "NotFound", "no subscription named " + strconv.Quote(r.PathValue("name"))})
		return
	}
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) putSubscription(w http.ResponseWriter, r *http.Request) {
	var sub events.Subscription
	if err := s.decodeBody(w, r, &sub); err != nil {
		s.writeError(w, r, err)
		return
	}
	if sub.Name != "" && sub.Name != r.PathValue("name") {
		s.writeError(w, r, badRequest("InvalidArgument", "the body's name differs from the path's"))
		return
	}
	sub.Name = r.PathValue("name")
	sub.State, sub.Builtin = "", false
	stored, err := s.cfg.Router.Put(r.Context(), sub, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, stored)
}

func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Router.Delete(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deadLetter is a dead-lettered delivery on the wire.
type deadLetter struct {
	Subscription string          `json:"subscription"`
	EventID      string          `json:"eventId"`
	Event        json.RawMessage `json:"event"`
	Attempts     int             `json:"deliveryAttempts"`
	Reason       string          `json:"deadLetterReason"`
	Time         time.Time       `json:"deadLetterTime"`
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			s.writeError(w, r, badRequest("InvalidArgument", "limit must be 1 to 1000"))
			return
		}
	}
	st, ok := s.cfg.Engine.Store().(store.ComputeBackend)
	if !ok {
		s.writeError(w, r, errors.New("the store keeps no dead letters"))
		return
	}
	dls, err := st.DeadLetterList(r.Context(), r.URL.Query().Get("subscription"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]deadLetter, len(dls))
	for i, d := range dls {
		out[i] = deadLetter{Subscription: d.Subscription, EventID: d.EventID, Event: d.Event, Attempts: d.Attempts,
			Reason: d.Reason, Time: d.At}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deadLetters": out})
}
