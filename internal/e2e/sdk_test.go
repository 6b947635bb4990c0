package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/testenv"
)

// TestJSOrchestratorRunsTheSeedsFlow: the seeds' ComputeOrchestrator written with the Durable
// Task JS SDK (testdata seeds.js) runs on `orca server` through its Durable Task gRPC endpoint:
// its orchestrator, in a Node.js process, calls orca's own Compute activity for each of 1,000
// items, two `orca worker` processes compute them, and it completes with every item counted
// once. orca's DF API sees the same instance.
func TestJSOrchestratorRunsTheSeedsFlow(t *testing.T) {
	dir := repoFile(t, "internal/dtgrpc/testdata/js")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@microsoft", "durabletask-js"))
	}
	if err != nil {
		testenv.Missing(t, "the Durable Task JS SDK is not installed (scripts/tools/durabletask-js.sh): this test did not run: "+err.Error())
	}
	logs, err := os.Create(filepath.Join(t.TempDir(), "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	addr, grpcAddr := freeAddr(t), freeAddr(t)
	startProcess(t, logs, "server", "--listen", addr, "--data", t.TempDir(), "--grpc-listen", grpcAddr, "--log-level", "warn")
	waitUp(t, "http://"+addr)
	for range 2 {
		startProcess(t, logs, "worker", "--server", "http://"+addr, "--log-level", "warn")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 1000
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "seeds.js"), grpcAddr, "1000")
	cmd.Dir = dir
	cmd.Stderr = logs
	out, err := cmd.Output()
	if err != nil {
		b, _ := os.ReadFile(logs.Name())
		t.Fatalf("seeds.js: %v\n%s\n%s", err, out, b)
	}
	var res struct{ ID, Status, Output string }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("seeds.js printed %q: %v", out, err)
	}
	var got struct{ Total, Distinct, Sum int }
	if err := json.Unmarshal([]byte(res.Output), &got); err != nil || res.Status != "COMPLETED" ||
		got.Total != n || got.Distinct != n || got.Sum != 2*n {
		t.Fatalf("run %s %s: %s (%v)", res.ID, res.Status, res.Output, err)
	}
	st, err := newClient(t, "http://"+addr).Status(ctx, res.ID)
	if err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted || st.Name != "SeedsComputeOrchestrator" ||
		!strings.Contains(string(st.Output), `"distinct":1000`) {
		t.Fatalf("the DF API's view: %+v (%v)", st, err)
	}
}
