// Package kedascaler serves KEDA's External Scaler gRPC API (externalscaler.proto, KEDA's own
// generated code), so that a ScaledObject's `external` or `external-push` trigger scales a
// worker Deployment on an orca queue with the rule of docs/scaling.md: the metric is the
// queue's length, visible + in flight, and the target the trigger's queueLength.
//
// StreamIsActive pushes "active" the moment work arrives — orca's BlobCreated wake for the
// queue's input container, before the message is even enqueued — so a Deployment at zero
// replicas starts without waiting for KEDA's polling interval: the seeds' "start a container
// on arrival" on Kubernetes.
//
// Trigger metadata (KEDA passes all of it, *FromEnv keys resolved):
//
//	queueName              the orca queue (required; one this node serves)
//	queueLength            the target: queue length per replica (default: what one orca
//	                       worker holds with the built-in algorithm, 128)
//	activationQueueLength  active when the length is above it (default 0)
//	inputContainer         the container whose BlobCreated events announce work (default
//	                       "input" for the compute flow's queue, none otherwise)
//	apiKeyFromEnv          when the node has keys: an environment variable of the scaled
//	                       Deployment's container holding a reader, worker or admin key (KEDA
//	                       resolves it; apiKey takes the key itself, and a gRPC
//	                       "authorization: Bearer" or "x-functions-key" header works too)
package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/queue"
)

// Config configures a Server.
type Config struct {
	// Queues reads the queues' lengths.
	Queues queue.Service
	// KnownQueues are the queues a trigger may name (the node's work queue and its pools').
	KnownQueues []string
	// WorkQueue is the compute flow's queue, whose input container defaults to InputContainer.
	WorkQueue      string
	InputContainer string
	// DefaultTarget is queueLength when a trigger does not set it.
	DefaultTarget int64
	// Keys, when not empty, are required (any scope: the metric is a read).
	Keys *auth.Keys
	// CertFile and KeyFile, when set, serve TLS.
	CertFile, KeyFile string
	// RecheckInterval is how often StreamIsActive reads the queue between wakes (default 1s).
	RecheckInterval time.Duration
	Logger          *slog.Logger
}

// Server is the external scaler.
type Server struct {
	externalscaler.UnimplementedExternalScalerServer
	cfg  Config
	log  *slog.Logger
	grpc *grpc.Server

	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{} // by input container
}

// New builds a Server; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Queues == nil {
		return nil, errors.New("kedascaler: Queues is required")
	}
	if cfg.DefaultTarget <= 0 {
		return nil, errors.New("kedascaler: DefaultTarget must be positive")
	}
	if cfg.RecheckInterval <= 0 {
		cfg.RecheckInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("kedascaler: a TLS certificate and its key go together (--keda-tls-cert, --keda-tls-key)")
	}
	var opts []grpc.ServerOption
	if cfg.CertFile != "" {
		creds, err := credentials.NewServerTLSFromFile(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kedascaler: TLS: %w", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	s := &Server{cfg: cfg, log: cfg.Logger, grpc: grpc.NewServer(opts...), watchers: map[string]map[chan struct{}]struct{}{}}
	externalscaler.RegisterExternalScalerServer(s.grpc, s)
	return s, nil
}

// Serve listens on addr and serves until Stop; it returns the address it listens on.
func (s *Server) Serve(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("kedascaler: listen: %w", err)
	}
	go func() {
		if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("KEDA external scaler stopped", "error", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Stop ends the streams and stops serving.
func (s *Server) Stop() {
	s.grpc.Stop()
}

// Wake tells the streams watching container that work is arriving (a blob was created in it).
func (s *Server) Wake(container string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers[container] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Server) watch(container string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	if container == "" {
		return ch, func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchers[container] == nil {
		s.watchers[container] = map[chan struct{}]struct{}{}
	}
	s.watchers[container][ch] = struct{}{}
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.watchers[container], ch)
	}
}

// trigger is a ScaledObject trigger's metadata, checked.
type trigger struct {
	queue      string
	target     int64
	activation int64
	container  string
}

// metricName names a queue's metric (KEDA prefixes it with the trigger's index).
func metricName(q string) string { return "orca-queue-" + q }

func (s *Server) parse(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*trigger, error) {
	if ref == nil {
		return nil, status.Error(codes.InvalidArgument, "no ScaledObjectRef")
	}
	md := ref.GetScalerMetadata()
	// KEDA resolves apiKeyFromEnv from the scale target's environment and passes the value
	// under that same key; TriggerAuthentication parameters never reach an external scaler.
	if err := s.authorize(ctx, md["apiKey"], md["apiKeyFromEnv"]); err != nil {
		return nil, err
	}
	t := &trigger{queue: strings.TrimSpace(md["queueName"]), target: s.cfg.DefaultTarget}
	if t.queue == "" {
		return nil, status.Errorf(codes.InvalidArgument, "trigger of %s/%s: metadata queueName is required (one of %s)",
			ref.GetNamespace(), ref.GetName(), strings.Join(s.cfg.KnownQueues, ", "))
	}
	if !slices.Contains(s.cfg.KnownQueues, t.queue) {
		return nil, status.Errorf(codes.NotFound, "trigger of %s/%s: queue %q is not one this orca serves (%s)",
			ref.GetNamespace(), ref.GetName(), t.queue, strings.Join(s.cfg.KnownQueues, ", "))
	}
	var err error
	if t.target, err = count(md, "queueLength", s.cfg.DefaultTarget, 1); err != nil {
		return nil, err
	}
	if t.activation, err = count(md, "activationQueueLength", 0, 0); err != nil {
		return nil, err
	}
	t.container = md["inputContainer"]
	if _, set := md["inputContainer"]; !set && t.queue == s.cfg.WorkQueue {
		t.container = s.cfg.InputContainer
	}
	return t, nil
}

// count reads a whole-number metadata value of at least lowest.
func count(md map[string]string, key string, def, lowest int64) (int64, error) {
	v, ok := md[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lowest {
		return 0, status.Errorf(codes.InvalidArgument, "metadata %s %q: must be a whole number of at least %d", key, v, lowest)
	}
	return n, nil
}

func (s *Server) authorize(ctx context.Context, fromMetadata ...string) error {
	if s.cfg.Keys.Empty() {
		return nil
	}
	presented := fromMetadata
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		presented = append(presented, auth.FromMetadata(md.Get)...)
	}
	given := false
	for _, p := range presented {
		if p == "" {
			continue
		}
		given = true
		if _, ok := s.cfg.Keys.Check(p); ok {
			return nil
		}
	}
	if !given {
		return status.Error(codes.Unauthenticated, "this orca requires an API key: set the trigger's apiKeyFromEnv to an environment variable of the scaled container that holds one")
	}
	return status.Error(codes.PermissionDenied, "the API key is not one of this orca's")
}

func (s *Server) length(ctx context.Context, t *trigger) (int64, error) {
	st, err := s.cfg.Queues.Stats(ctx, t.queue)
	if err != nil {
		return 0, status.Errorf(codes.Unavailable, "read queue %s: %v", t.queue, err)
	}
	return int64(st.Length()), nil
}

// IsActive reports whether the queue's length is above the activation length.
func (s *Server) IsActive(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	t, err := s.parse(ctx, ref)
	if err != nil {
		return nil, err
	}
	n, err := s.length(ctx, t)
	if err != nil {
		return nil, err
	}
	return &externalscaler.IsActiveResponse{Result: n > t.activation}, nil
}

// GetMetricSpec names the queue's metric and its target.
func (s *Server) GetMetricSpec(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	t, err := s.parse(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{
		{MetricName: metricName(t.queue), TargetSize: t.target, TargetSizeFloat: float64(t.target)}}}, nil
}

// GetMetrics reports the queue's length, visible + in flight.
func (s *Server) GetMetrics(ctx context.Context, req *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	t, err := s.parse(ctx, req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	n, err := s.length(ctx, t)
	if err != nil {
		return nil, err
	}
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{
		{MetricName: metricName(t.queue), MetricValue: n, MetricValueFloat: float64(n)}}}, nil
}

// wakeHold is how long a wake counts as activity: the input blob is durable before its message
// is enqueued, so for a moment the queue may still read empty.
const wakeHold = 5 * time.Second

// StreamIsActive sends the trigger's activity when it changes (and once at the start): at once
// on a BlobCreated wake of the input container, otherwise as the queue's length is rechecked.
func (s *Server) StreamIsActive(ref *externalscaler.ScaledObjectRef, stream grpc.ServerStreamingServer[externalscaler.IsActiveResponse]) error {
	ctx := stream.Context()
	t, err := s.parse(ctx, ref)
	if err != nil {
		return err
	}
	woken, stop := s.watch(t.container)
	defer stop()
	ticker := time.NewTicker(s.cfg.RecheckInterval)
	defer ticker.Stop()
	var heldUntil time.Time
	last, sent := false, false
	for {
		active := time.Now().Before(heldUntil)
		if !active {
			n, err := s.length(ctx, t)
			if err != nil {
				s.log.Warn("KEDA stream: read the queue", "queue", t.queue, "error", err)
				active = last // an unreadable length changes nothing
			} else {
				active = n > t.activation
			}
		}
		if !sent || active != last {
			if err := stream.Send(&externalscaler.IsActiveResponse{Result: active}); err != nil {
				return err
			}
			last, sent = active, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-woken:
			heldUntil = time.Now().Add(wakeHold)
		case <-ticker.C:
		}
	}
}
