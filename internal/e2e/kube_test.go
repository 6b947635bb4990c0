//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/kubetest"
)

// TestServerSizesAKubernetesDeployment: `orca server` with a workers section naming a Deployment
// (workers.deployment, a kubeconfig) sizes it on a real control plane: a run of 500 items takes
// it from 0 replicas up, and once an `orca worker` process (the stand-in for the pods, which
// run no code on kwok's fake nodes) has computed them, back to 0 after the cooldown. Its
// dashboard shows the Deployment's pods.
func TestServerSizesAKubernetesDeployment(t *testing.T) {
	c := kubetest.Start(t)
	cs := c.Client()
	ctx := t.Context()
	if _, err := cs.CoreV1().Nodes().Create(ctx, kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Create(ctx, kubetest.WorkerDeployment("orca-worker", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := func(ctx context.Context) int32 {
		d, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, "orca-worker", metav1.GetOptions{})
		if err != nil || d.Spec.Replicas == nil {
			return -1
		}
		return *d.Spec.Replicas
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "orca.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`workers:
  deployment: default/orca-worker
  kubeconfig: %s
  max: 3
  targetQueueLength: 100
  pollingInterval: 1s
  cooldown: 2s
  scaleDownStabilization: -1s
`, c.Kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	addr := freeAddr(t)
	startProcess(t, logs, "server", "--listen", addr, "--data", filepath.Join(dir, "data"), "--config", cfg, "--log-level", "warn")
	waitUp(t, "http://"+addr)
	id := startRun(t, newClient(t, "http://"+addr), "500")
	c.WaitFor(time.Minute, "the server to scale the deployment up", func(ctx context.Context) (bool, error) { return replicas(ctx) >= 1, nil })
	c.WaitFor(time.Minute, "the deployment at its maximum", func(ctx context.Context) (bool, error) { return replicas(ctx) == 3, nil })
	// The dashboard shows the pool's pods without being told (dashboard.kubernetes lists none).
	c.WaitFor(time.Minute, "the dashboard's 3 running pods", func(context.Context) (bool, error) {
		var series struct {
			Kubernetes *dashboard.ClusterState `json:"kubernetes"`
		}
		resp, err := http.Get("http://" + addr + "/api/dashboard/series")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&series); err != nil {
			return false, err
		}
		k := series.Kubernetes
		return k != nil && !k.NodesWatched && len(k.Deployments) == 1 &&
			k.Deployments[0] == dashboard.DeploymentPods{Name: "default/orca-worker", Running: 3}, nil
	})

	startProcess(t, logs, "worker", "--server", "http://"+addr, "--log-level", "warn")
	if st := waitRun(t, newClient(t, "http://"+addr), id, 2*time.Minute); st.RuntimeStatus != "Completed" {
		b, _ := os.ReadFile(logs.Name())
		t.Fatalf("run %s: %s\n%s", st.RuntimeStatus, st.Output, b)
	}
	c.WaitFor(time.Minute, "the deployment back to 0", func(ctx context.Context) (bool, error) { return replicas(ctx) == 0, nil })
}
