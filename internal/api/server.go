// Package api is orca's HTTP API: the Durable Functions-compatible management routes under
// /runtime/webhooks/durabletask, the seeds' starter route /api/orchestrators/{name}, the data
// plane workers use (/api/queues, /api/blobs), event ingestion and subscriptions (/api/events,
// /api/subscriptions), the worker pools (/api/pools), the monitoring page (/, /ui/,
// /api/dashboard/series), /healthz and /readyz, and Prometheus' /metrics.
package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/orcahq/orca/internal/workitems"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/queue"
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	Engine *engine.Engine
	Blobs  blob.Store
	Queues queue.Service
	Router *events.Router
	Logger *slog.Logger
	// PublicBaseURL, when set, is the origin of the management URLs the API returns (what
	// clients behind a proxy must use); otherwise X-Forwarded-Proto/Host, else the request's host.
	PublicBaseURL string
	// TaskHub is echoed in management URLs (default "orca").
	TaskHub string
	// MaxBodyBytes bounds request bodies other than blob puts (default 4 MiB).
	MaxBodyBytes int64
	// MaxBlobBytes bounds blob puts (default 256 MiB).
	MaxBlobBytes int64
	// MaxPollWait caps a dequeue's long-poll wait (default 60s).
	MaxPollWait time.Duration
	// Keys are the API keys; none means the API is open.
	Keys *auth.Keys
	// WorkerPolled, if set, is told the id of a worker that polls a queue (client.WorkerIDHeader),
	// so the pool that started it counts it as ready.
	WorkerPolled func(workerID string)
	// Metrics, when set, serves GET /metrics (reader scope).
	Metrics http.Handler
	// Instrument, when set, wraps each route's handler (behind its key check) to measure it;
	// route is the route's mux pattern.
	Instrument func(route string, h http.Handler) http.Handler
	// Dashboard samples what the monitoring page draws; nil serves no page.
	Dashboard *dashboard.Sampler
	// Pools are the scaler's worker pools (*scaler.Scaler); nil: none.
	Pools dashboard.Pools
	// Work, when set, serves the batched data plane of orca's workers under /api/work.
	Work *workitems.Plane
}

// Server serves the API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	http    *http.Server
	ready   atomic.Bool
	stopped chan struct{}
}

// New returns a server; Handler serves it, Start listens.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("api: Engine is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TaskHub == "" {
		cfg.TaskHub = "orca"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.MaxBlobBytes <= 0 {
		cfg.MaxBlobBytes = 256 << 20
	}
	if cfg.MaxPollWait <= 0 {
		cfg.MaxPollWait = 60 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), stopped: make(chan struct{})}
	s.routes()
	s.ready.Store(true)
	return s, nil
}

// routes registers the route table (routes.go), each route behind its key check.
func (s *Server) routes() {
	for _, rt := range s.table() {
		var h http.Handler = s.guard(rt)
		if s.cfg.Instrument != nil {
			h = s.cfg.Instrument(rt.muxPattern(), h)
		}
		s.mux.Handle(rt.muxPattern(), h)
	}
}

type ctxKey int

// codeKey carries a key that came as the code= query parameter: management URLs echo it.
const codeKey ctxKey = 0

// guard checks the request's key against the route's scope. With no keys configured the API is
// open. A key may come as x-functions-key, Authorization: Bearer, or code=.
func (s *Server) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.scope == auth.ScopeNone || s.cfg.Keys.Empty() {
			rt.handler(w, r)
			return
		}
		presented, found, err := auth.FromRequest(r)
		var key auth.Key
		valid := false
		if err == nil && found {
			key, valid = s.cfg.Keys.Check(presented.Key)
		}
		switch {
		case err != nil:
			s.denied(w, r, http.StatusBadRequest, "TwoKeys", "the request carries different keys in different places")
		case !found:
			s.denied(w, r, http.StatusUnauthorized, "Unauthorized", "this route needs a key (x-functions-key, Authorization: Bearer, or code=)")
		case !valid:
			s.denied(w, r, http.StatusUnauthorized, "Unauthorized", "the key is not valid")
		case !key.Scope.Allows(rt.scope):
			s.denied(w, r, http.StatusForbidden, "Forbidden", "a "+string(key.Scope)+" key cannot use this route (needs "+string(rt.scope)+")")
		default:
			if presented.InQuery {
				r = r.WithContext(context.WithValue(r.Context(), codeKey, presented.Key))
			}
			rt.handler(w, r)
		}
	}
}

// denied answers an authentication failure: an empty body on the DF routes (as the Functions
// host), orca's error shape elsewhere. The key is never logged.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="orca"`)
	}
	if strings.HasPrefix(r.URL.Path, dfPrefix+"/") {
		w.WriteHeader(status)
		return
	}
	s.writeError(w, r, &apiError{status, code, msg})
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		s.mux.ServeHTTP(w, plusAsSpace(r))
	})
}

// plusAsSpace reads a + in a DF route's path as a space. DF escapes instance ids in the URLs it
// hands out as a query string would (a space becomes +) and decodes them back the same way, so
// an id with a space must round-trip through its own statusQueryGetUri; a literal + arrives as
// %2B.
func plusAsSpace(r *http.Request) *http.Request {
	raw := r.URL.EscapedPath()
	if !strings.HasPrefix(raw, dfPrefix+"/") || !strings.Contains(raw, "+") {
		return r
	}
	raw = strings.ReplaceAll(raw, "+", "%20")
	path, err := url.PathUnescape(raw)
	if err != nil {
		return r
	}
	r2 := new(http.Request) // as http.StripPrefix does: a shallow copy with its own URL
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path, r2.URL.RawPath = path, raw
	return r2
}

// Start listens on addr ("127.0.0.1:7071"; port 0 picks one) and serves until Stop. It returns
// the address it listens on.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		defer close(s.stopped)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server failed", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Drain makes /readyz fail so load balancers stop sending work (the first stage of shutdown).
func (s *Server) Drain() { s.ready.Store(false) }

// Stop stops accepting requests and waits for the ones in flight, until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.Drain()
	if s.http == nil {
		return nil
	}
	err := s.http.Shutdown(ctx)
	<-s.stopped
	return err
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// baseURL is the origin management URLs are built on: the configured public base URL, else the
// forwarded proto and host, else the request's own.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicBaseURL != "" {
		return strings.TrimRight(s.cfg.PublicBaseURL, "/")
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		proto = p
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
		host = h
	}
	return proto + "://" + host
}

func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// validHost accepts host[:port] without anything that could break out of a URL.
func validHost(h string) bool {
	return len(h) <= 255 && !strings.ContainsAny(h, "/\\?#@ \t\r\n\"<>")
}
