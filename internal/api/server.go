// Package api is orca's HTTP API: the Durable Functions-compatible management routes under
// /runtime/webhooks/durabletask, the seeds' starter route /api/orchestrators/{name}, the data
// plane workers use (/api/queues, /api/blobs), event ingestion and subscriptions (/api/events,
// /api/subscriptions), and /healthz and /readyz.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orcahq/orca/internal/blob"
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

// routes registers every route; see the package comment.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)

	// The seeds' starter and Durable Functions' management API.
	m.HandleFunc("POST /api/orchestrators/{name}", s.startOrchestration)
	m.HandleFunc("GET /api/orchestrators/{name}", s.startOrchestration)
	m.HandleFunc("POST /api/orchestrators/{name}/{id}", s.startOrchestration)
	m.HandleFunc("GET /runtime/webhooks/durabletask/instances/{id}", s.getStatus)

	// Data plane.
	if s.cfg.Queues != nil {
		m.HandleFunc("GET /api/queues", s.listQueues)
		m.HandleFunc("GET /api/queues/{queue}", s.queueStats)
		m.HandleFunc("POST /api/queues/{queue}/messages", s.enqueue)
		m.HandleFunc("GET /api/queues/{queue}/messages", s.dequeue)
		m.HandleFunc("DELETE /api/queues/{queue}/messages/{id}", s.deleteMessage)
		m.HandleFunc("PUT /api/queues/{queue}/messages/{id}", s.updateMessage)
	}
	if s.cfg.Blobs != nil {
		m.HandleFunc("GET /api/blobs/{container}", s.listBlobs)
		m.HandleFunc("PUT /api/blobs/{container}/{name...}", s.putBlob)
		m.HandleFunc("GET /api/blobs/{container}/{name...}", s.getBlob)
		m.HandleFunc("HEAD /api/blobs/{container}/{name...}", s.getBlob)
		m.HandleFunc("DELETE /api/blobs/{container}/{name...}", s.deleteBlob)
	}
	if s.cfg.Router != nil {
		m.HandleFunc("POST /api/events", s.ingestEvents)
		m.HandleFunc("OPTIONS /api/events", s.eventsAbuseProtection)
		m.HandleFunc("GET /api/subscriptions", s.listSubscriptions)
		m.HandleFunc("GET /api/subscriptions/{name}", s.getSubscription)
		m.HandleFunc("PUT /api/subscriptions/{name}", s.putSubscription)
		m.HandleFunc("DELETE /api/subscriptions/{name}", s.deleteSubscription)
		m.HandleFunc("GET /api/deadletters", s.listDeadLetters)
	}
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
		s.mux.ServeHTTP(w, r)
	})
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
