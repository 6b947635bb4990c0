package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// apiError is an error with its HTTP status and stable code. Every error answer of orca's own
// routes is made from one: {"error": {"code": ..., "message": ...}}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, msg string) *apiError { return &apiError{http.StatusBadRequest, code, msg} }

// classify maps an error from the layers below onto status and code. This is the one place that
// decides what an error looks like to a client.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{http.StatusRequestEntityTooLarge, "RequestTooLarge", err.Error()}
	case errors.Is(err, store.ErrInstanceExists):
		return &apiError{http.StatusConflict, "InstanceExists", err.Error()}
	case errors.Is(err, store.ErrWrongStatus):
		return &apiError{http.StatusGone, "WrongStatus", err.Error()}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, blob.ErrNotFound), errors.Is(err, queue.ErrNotFound):
		return &apiError{http.StatusNotFound, "NotFound", err.Error()}
	case errors.Is(err, queue.ErrPopReceiptMismatch):
		return &apiError{http.StatusBadRequest, "PopReceiptMismatch", err.Error()}
	case errors.Is(err, blob.ErrInvalidName), errors.Is(err, queue.ErrInvalidName):
		return &apiError{http.StatusBadRequest, "InvalidName", err.Error()}
	case errors.Is(err, blob.ErrTooLarge), errors.Is(err, queue.ErrTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, "TooLarge", err.Error()}
	case errors.Is(err, engine.ErrInvalidArgument), errors.Is(err, queue.ErrInvalid), errors.Is(err, store.ErrInvalid),
		errors.Is(err, events.ErrInvalidSubscription):
		return &apiError{http.StatusBadRequest, "InvalidArgument", err.Error()}
	case errors.Is(err, events.ErrNotLoaded):
		return &apiError{http.StatusServiceUnavailable, "NotReady", "the server is starting; retry"}
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		return &apiError{http.StatusServiceUnavailable, "ShuttingDown", "the server is shutting down"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusGatewayTimeout, "Timeout", err.Error()}
	}
	return &apiError{http.StatusInternalServerError, "Internal", "internal error"}
}

// writeError answers with err in orca's error shape and logs server-side failures (not a
// request given up by its client or cut short by shutdown: nothing failed).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	if ae.status >= 500 && !errors.Is(err, context.Canceled) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, ae.status, map[string]any{"error": map[string]string{"code": ae.code, "message": ae.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
