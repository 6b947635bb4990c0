//go:build unix

package kube_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/kubetest"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/internal/workers/kube"
	"github.com/orcahq/orca/worker"
)

// workersDeployment creates the Deployment "workers" at zero replicas on kwok's fake nodes.
func workersDeployment(t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	if _, err := c.Client().AppsV1().Deployments(metav1.NamespaceDefault).Create(t.Context(), kubetest.WorkerDeployment("workers", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestProviderScalesTheDeployment: the provider sets the Deployment's replicas through its scale
// subresource and counts its pods by state as the cluster reports them: starting, then ready
// once kwok runs them, then stopping and gone when scaled to zero.
func TestProviderScalesTheDeployment(t *testing.T) {
	c := kubetest.Start(t)
	if _, err := c.Client().CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	workersDeployment(t, c)
	p, err := kube.New(t.Context(), kube.Config{Cluster: c.RESTConfig(), Namespace: metav1.NamespaceDefault, Deployment: "workers"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	if w := p.Workers(); w != (scaler.Workers{}) {
		t.Fatalf("before scaling: %+v", w)
	}
	p.Scale(3)
	c.WaitFor(2*time.Minute, "3 ready workers", func(context.Context) (bool, error) { return p.Workers() == scaler.Workers{Ready: 3}, nil })
	d, err := c.Client().AppsV1().Deployments(metav1.NamespaceDefault).Get(t.Context(), "workers", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("deployment replicas %v (%v), want 3", d.Spec.Replicas, err)
	}
	p.Scale(0)
	c.WaitFor(2*time.Minute, "no workers", func(context.Context) (bool, error) { return p.Workers() == scaler.Workers{}, nil })
	if _, err := kube.New(t.Context(), kube.Config{Cluster: c.RESTConfig(), Namespace: metav1.NamespaceDefault, Deployment: "missing"}); err == nil {
		t.Fatal("a provider for a deployment that does not exist was made")
	}
}

// TestProviderRetriesARefusedScale: while the API server refuses the scale (the service
// account may not patch deployments/scale), the provider retries the latest count once a
// second — one retry at a time however often the scaler asks, not a new chain per request —
// and the Deployment gets it once the right is granted; then the retries stop.
func TestProviderRetriesARefusedScale(t *testing.T) {
	c := kubetest.Start(t)
	workersDeployment(t, c)
	cs := c.Client()
	ctx, ns := t.Context(), metav1.NamespaceDefault
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scaler"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "scaler"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
	}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scaler"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "scaler"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "scaler", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cluster, err := kube.ConfigFor(c.ServiceAccountKubeconfig(ns, "scaler"))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	p, err := kube.New(ctx, kube.Config{Cluster: cluster, Namespace: ns, Deployment: "workers",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	refusals := func() int { return strings.Count(logs.String(), "is forbidden") }

	// The scaler asks five times in half a second (it asks at each poll while the count differs).
	for range 5 {
		p.Scale(2)
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	// At most the five requests and a retry a second: a chain per request would be 5 a second.
	if n := refusals(); n < 4 || n > 5+4 {
		t.Fatalf("%d refusals logged in 3.5 s, want the requests' and one retry a second (4 to 9):\n%s", n, logs.String())
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"patch"}})
	if _, err := cs.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, "the retried scale to reach the Deployment", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "workers", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 2, err
	})
	after := refusals()
	time.Sleep(2 * time.Second)
	if n := refusals(); n != after {
		t.Errorf("%d more refusals logged after the scale went through: the retries did not stop", n-after)
	}
}

// TestOrcasScalerSizesTheDeployment is the seeds' KEDA system with orca's own scaler in KEDA's
// place: a run of 1,000 items makes the scaler take the workers' Deployment from 0 to its
// maximum through the provider — the first replica at once, on the input's BlobCreated, not at
// the next poll — and back to 0 after the cooldown once the queue is empty. Pods on kwok run no
// code, so the items are computed by workers in this process, started once the Deployment has
// grown (the test's stand-in for the pods' containers).
func TestOrcasScalerSizesTheDeployment(t *testing.T) {
	c := kubetest.Start(t)
	cs := c.Client()
	ctx := t.Context()
	for _, n := range []string{"kwok-0", "kwok-1"} {
		if _, err := cs.CoreV1().Nodes().Create(ctx, kubetest.FakeNode(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	workersDeployment(t, c)
	a := apptest.Start(t, app.Config{})
	p, err := kube.New(ctx, kube.Config{Cluster: c.RESTConfig(), Namespace: metav1.NamespaceDefault, Deployment: "workers"})
	if err != nil {
		t.Fatal(err)
	}
	const maxReplicas = 4
	pool := scaler.Pool{Name: "default", Queue: a.WorkQueue(), Provider: p, Policy: scaler.Policy{Max: maxReplicas,
		TargetQueueLength: 100, PollingInterval: 5 * time.Second, Cooldown: 2 * time.Second, ScaleUpPods: maxReplicas,
		ScaleDownStabilization: -1}}
	if err := a.StartPools(ctx, []scaler.Pool{pool}); err != nil {
		t.Fatal(err)
	}
	replicas := func(ctx context.Context) int32 {
		d, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, "workers", metav1.GetOptions{})
		if err != nil || d.Spec.Replicas == nil {
			return -1
		}
		return *d.Spec.Replicas
	}
	started := time.Now()
	id, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: compute.OrchestratorName, ID: "kube-run", Input: json.RawMessage(`"1000"`)})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitFor(time.Minute, "the first replica", func(ctx context.Context) (bool, error) { return replicas(ctx) >= 1, nil })
	firstReplica := time.Since(started)
	t.Logf("first replica %s after the start request (the polling interval is 5s)", firstReplica.Round(time.Millisecond))
	if firstReplica >= pool.Policy.PollingInterval {
		t.Errorf("the first replica came after %s: the scaler waited for its poll instead of the input's BlobCreated", firstReplica)
	}
	c.WaitFor(time.Minute, "the maximum of replicas", func(ctx context.Context) (bool, error) { return replicas(ctx) == maxReplicas, nil })
	c.WaitFor(2*time.Minute, "the pods ready", func(context.Context) (bool, error) { return p.Workers().Ready == maxReplicas, nil })

	w := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue()})
	w.Scale(2)
	defer w.Stop(context.Background())
	in, err := a.Engine.WaitForFinish(ctx, id)
	if err != nil || in.Status != store.StatusCompleted {
		t.Fatalf("run %+v (%v)", in, err)
	}
	done := time.Now()
	c.WaitFor(time.Minute, "the deployment back to 0", func(ctx context.Context) (bool, error) { return replicas(ctx) == 0, nil })
	t.Logf("back to 0 replicas %s after the run completed (cooldown 2s, polls every 5s)", time.Since(done).Round(time.Millisecond))
	c.WaitFor(2*time.Minute, "the pods gone", func(context.Context) (bool, error) { return p.Workers() == scaler.Workers{}, nil })
}
