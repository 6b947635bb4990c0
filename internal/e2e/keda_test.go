package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/orcahq/orca/internal/testutil/wait"
)

// TestServerServesKEDAsScaler runs `orca server --keda-listen` as a process and reads its work
// queue's metric with KEDA's generated client, as KEDA's operator would; and `orca server`
// refuses to serve the scaler off loopback without API keys.
func TestServerServesKEDAsScaler(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	addr, kedaAddr := freeAddr(t), freeAddr(t)
	startProcess(t, out, "server", "--listen", addr, "--data", filepath.Join(dir, "data"), "--keda-listen", kedaAddr)
	waitUp(t, "http://"+addr)
	if b, _ := os.ReadFile(out.Name()); !strings.Contains(string(b), "KEDA external scaler on "+kedaAddr+" (queue input)") {
		t.Fatalf("the server did not say where the scaler listens:\n%s", b)
	}
	c := newClient(t, "http://"+addr)
	if _, err := c.StartOrchestration(context.Background(), "ComputeOrchestrator", "", 40); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(kedaAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keda := externalscaler.NewExternalScalerClient(conn)
	ref := &externalscaler.ScaledObjectRef{Name: "workers", Namespace: "default",
		ScalerMetadata: map[string]string{"scalerAddress": kedaAddr, "queueName": "input", "queueLength": "16"}}
	wait.For(t, 20*time.Second, func() bool {
		m, err := keda.GetMetrics(context.Background(), &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
		return err == nil && m.MetricValues[0].MetricValueFloat == 40
	}, "KEDA's metric to be the 40 items the run enqueued")
	if a, err := keda.IsActive(context.Background(), ref); err != nil || !a.Result {
		t.Fatalf("IsActive %v (%v), want true", a, err)
	}
	// Without queueLength the target is what one worker holds with the built-in algorithm.
	ref.ScalerMetadata = map[string]string{"queueName": "input"}
	if s, err := keda.GetMetricSpec(context.Background(), ref); err != nil || s.MetricSpecs[0].TargetSizeFloat != 128 {
		t.Fatalf("default target %v (%v), want 128", s, err)
	}

	refused := exec.Command(orcaBin, "server", "--listen", freeAddr(t), "--data", filepath.Join(dir, "data2"), "--keda-listen", "0.0.0.0:0")
	b, err := refused.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "refusing to serve KEDA's scaler API on 0.0.0.0:0 without API keys") {
		t.Fatalf("orca server --keda-listen 0.0.0.0:0 without keys: %v\n%s", err, b)
	}
}
