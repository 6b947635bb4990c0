package dtgrpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sdkVersion is the @microsoft/durabletask-js version testdata/js/package-lock.json pins.
const sdkVersion = "0.4.0"

// jsSDK returns the path of node and the directory holding the installed SDK. Without them the
// test skips, loudly; with REQUIRE_INTEGRATION=1 (CI) it fails.
func jsSDK(t *testing.T) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs("testdata/js")
	if err != nil {
		t.Fatal(err)
	}
	unavailable := func(why string) {
		testenv.Missing(t, why+": the Durable Task JS SDK tests did not run "+
			"(scripts/tools/durabletask-js.sh installs the SDK; scripts/install-test-deps.sh runs it)")
	}
	node, err = exec.LookPath("node")
	if err != nil {
		unavailable("no node on PATH")
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules/@microsoft/durabletask-js/package.json"))
	if err != nil {
		unavailable("@microsoft/durabletask-js is not installed in " + dir)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Version != sdkVersion {
		unavailable(fmt.Sprintf("@microsoft/durabletask-js %s is installed, not %s", pkg.Version, sdkVersion))
	}
	return node, dir
}

// smokeServer serves Hello and StartInstance; every other RPC answers UNIMPLEMENTED.
type smokeServer struct {
	dtpb.UnimplementedTaskHubSidecarServiceServer
	mu     sync.Mutex
	starts []*dtpb.CreateInstanceRequest
}

const smokeInstanceID = "orca-smoke-instance-1"

func (s *smokeServer) Hello(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *smokeServer) StartInstance(_ context.Context, req *dtpb.CreateInstanceRequest) (*dtpb.CreateInstanceResponse, error) {
	s.mu.Lock()
	s.starts = append(s.starts, req)
	s.mu.Unlock()
	return &dtpb.CreateInstanceResponse{InstanceId: smokeInstanceID}, nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestJSClientStartsInstance proves the wire contract with the real SDK: a gRPC server built on
// dtpb, on loopback, and @microsoft/durabletask-js 0.4.0's TaskHubGrpcClient calling
// scheduleNewOrchestration against it (testdata/js/smoke.js). The SDK must reach
// /TaskHubSidecarService/StartInstance, its request must decode into the fields it set, and the
// id the server answers must be what the SDK returns.
func TestJSClientStartsInstance(t *testing.T) {
	node, dir := jsSDK(t)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	impl := &smokeServer{}
	dtpb.RegisterTaskHubSidecarServiceServer(srv, impl)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "smoke.js", lis.Addr().String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node smoke.js: %v\n%s", err, out)
	}
	var got string
	for _, line := range strings.Split(string(out), "\n") {
		if id, ok := strings.CutPrefix(line, "instance-id: "); ok {
			got = id
		}
	}
	if got != smokeInstanceID {
		t.Fatalf("scheduleNewOrchestration returned %q, want %q; output:\n%s", got, smokeInstanceID, out)
	}

	impl.mu.Lock()
	defer impl.mu.Unlock()
	if len(impl.starts) != 1 {
		t.Fatalf("StartInstance was called %d times, want 1", len(impl.starts))
	}
	req := impl.starts[0]
	if req.GetName() != "smoke-orchestrator" {
		t.Errorf("name %q, want smoke-orchestrator", req.GetName())
	}
	if req.GetInput() == nil || req.GetInput().GetValue() != `{"n":1}` {
		t.Errorf("input %v, want the JSON {\"n\":1} in a StringValue", req.GetInput())
	}
	if !uuidPattern.MatchString(req.GetInstanceId()) {
		t.Errorf("instanceId %q: the SDK should send a random UUID when the caller gives none", req.GetInstanceId())
	}
	// With no start time the SDK still sends a timestamp: the Unix epoch.
	if ts := req.GetScheduledStartTimestamp(); ts == nil || ts.GetSeconds() != 0 || ts.GetNanos() != 0 {
		t.Errorf("scheduledStartTimestamp %v, want the Unix epoch", ts)
	}
	if req.GetVersion() != nil {
		t.Errorf("version %v, want unset", req.GetVersion())
	}
}
