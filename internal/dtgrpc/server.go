package dtgrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
)

// DefaultListen is the address the SDKs connect to when given none.
const DefaultListen = "127.0.0.1:4001"

// MaxMessageBytes bounds one message in either direction: a turn carries the whole history.
const MaxMessageBytes = 64 << 20

// Config configures a Server.
type Config struct {
	// Keys, when not empty, are required in the calls' metadata (authorization: Bearer KEY or
	// x-functions-key): a reader key reads instances, a worker key also runs work items, an
	// admin key also starts and controls instances.
	Keys *auth.Keys
	// CertFile and KeyFile serve TLS when both are set.
	CertFile, KeyFile string
	// AnswerTimeout is how long a work item waits for its worker's answer before it goes back
	// to the engine (default 5m).
	AnswerTimeout time.Duration
	Logger        *slog.Logger
}

// Server serves TaskHubSidecarService on an engine. Its Remote (the connected workers) must be
// the engine's Config.Remote; Attach gives the server the engine once it is built.
type Server struct {
	dtpb.UnimplementedTaskHubSidecarServiceServer
	cfg     Config
	log     *slog.Logger
	grpc    *grpc.Server
	workers *workers
	eng     *engine.Engine
}

// New builds a Server; Attach gives it its engine, Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 5 * time.Minute
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("dtgrpc: a TLS certificate and its key go together (--grpc-tls-cert, --grpc-tls-key)")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, workers: newWorkers(cfg.Logger, cfg.AnswerTimeout)}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		// A worker whose connection died silently is found out, and its work items go elsewhere.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.UnaryInterceptor(s.authorizeUnary), grpc.StreamInterceptor(s.authorizeStream),
	}
	if cfg.CertFile != "" {
		creds, err := credentials.NewServerTLSFromFile(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("dtgrpc: TLS: %w", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	s.grpc = grpc.NewServer(opts...)
	dtpb.RegisterTaskHubSidecarServiceServer(s.grpc, s)
	return s, nil
}

// Remote is the engine's view of the connected workers (engine.Config.Remote).
func (s *Server) Remote() engine.Remote { return s.workers }

// Unserved counts the work items (turns and activity tasks) that found no worker connected;
// each waits and is tried again.
func (s *Server) Unserved() int64 { return s.workers.unserved.Load() }

// Attach gives the server its engine; a worker connecting wakes the engine's dispatchers.
func (s *Server) Attach(e *engine.Engine) {
	s.eng = e
	s.workers.connected = e.WakeUp
}

// Serve listens on addr and serves until Stop; it returns the address it listens on.
func (s *Server) Serve(addr string) (string, error) {
	if s.eng == nil {
		return "", errors.New("dtgrpc: Serve before Attach")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("dtgrpc: listen: %w", err)
	}
	go func() {
		if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("Durable Task gRPC server stopped", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Stop ends the streams and the calls in flight and stops serving.
func (s *Server) Stop() { s.grpc.Stop() }

// scopes is the key scope each method needs; methods not listed need an admin key.
var scopes = map[string]auth.Scope{
	"Hello": auth.ScopeReader, "GetInstance": auth.ScopeReader, "WaitForInstanceStart": auth.ScopeReader,
	"WaitForInstanceCompletion": auth.ScopeReader, "QueryInstances": auth.ScopeReader, "ListInstanceIds": auth.ScopeReader,
	"StreamInstanceHistory": auth.ScopeReader,
	"GetWorkItems":          auth.ScopeWorker, "CompleteActivityTask": auth.ScopeWorker, "CompleteOrchestratorTask": auth.ScopeWorker,
	"AbandonTaskActivityWorkItem": auth.ScopeWorker, "AbandonTaskOrchestratorWorkItem": auth.ScopeWorker,
}

func (s *Server) authorizeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) authorizeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// authorize checks the call's key against the scope its method needs.
func (s *Server) authorize(ctx context.Context, fullMethod string) error {
	if s.cfg.Keys.Empty() {
		return nil
	}
	method := fullMethod[strings.LastIndex(fullMethod, "/")+1:]
	need, ok := scopes[method]
	if !ok {
		need = auth.ScopeAdmin
	}
	var presented []string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		presented = auth.FromMetadata(md.Get)
	}
	if len(presented) == 0 {
		return status.Error(codes.Unauthenticated, "this orca requires an API key: send it as metadata (authorization: Bearer KEY)")
	}
	for _, p := range presented {
		if k, ok := s.cfg.Keys.Check(p); ok {
			if !k.Scope.Allows(need) {
				return status.Errorf(codes.PermissionDenied, "%s needs a key of scope %s; this one is %s", method, need, k.Scope)
			}
			return nil
		}
	}
	return status.Error(codes.PermissionDenied, "the API key is not one of this orca's")
}

// grpcError maps the engine's and the store's errors to gRPC statuses.
func grpcError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrInstanceExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrWrongStatus):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, engine.ErrInvalidArgument), errors.Is(err, store.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// Hello implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) Hello(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
