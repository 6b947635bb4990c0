package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
)

// endpointServer is an Event Grid webhook subscriber: it answers the validation handshake and
// reports the ids of the events it receives.
type endpointServer struct {
	srv *http.Server
	ln  net.Listener
}

func startEndpoint(t *testing.T, addr string, got func(ids []string)) *endpointServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var evs []struct {
			ID        string          `json:"id"`
			EventType string          `json:"eventType"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &evs); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Header.Get("aeg-event-type") == "SubscriptionValidation" && len(evs) == 1 {
			var d struct {
				ValidationCode string `json:"validationCode"`
			}
			_ = json.Unmarshal(evs[0].Data, &d)
			_ = json.NewEncoder(w).Encode(map[string]string{"validationResponse": d.ValidationCode})
			return
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		got(ids)
	})
	s := &endpointServer{srv: &http.Server{Handler: h}, ln: ln}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

func (s *endpointServer) close() { _ = s.srv.Close() }
