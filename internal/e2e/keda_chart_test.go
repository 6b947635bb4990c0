//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/kubetest"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
	"github.com/orcahq/orca/internal/testenv"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// TestKEDAScalesTheChartsWorkers is the seeds' second system on a real control plane
// (internal/kubetest) with KEDA's real operator and metrics API server (kubetest's WithKEDA):
// `helm install` of orca's chart — the server on the test PostgreSQL, the workers a Deployment
// on kwok's fake nodes, the ScaledObject's external-push trigger pointed at orca's scaler — and a
// seed run of 1,000 items. KEDA's operator takes the worker Deployment from 0 to 1 through
// StreamIsActive, the HPA it made takes it to N = min(ceil(queue/target), maxReplicaCount)
// through external.metrics.k8s.io, and after the run the operator takes it back to 0 once the
// cooldown has passed.
//
// Pods on kwok run no code: the chart's server pod and worker pods are scheduled and reported
// Running but never start orca. The orca the trigger asks and that the run goes through is an
// `orca server` on this machine, outside the cluster, on the same PostgreSQL task hub and blob
// directory as the chart's server (scale.scalerAddress points KEDA at it), and the items are
// computed by `orca worker` processes on this machine, started once the Deployment is at N (so
// the queue holds all 1,000 items while the HPA sizes it, and N is exact).
func TestKEDAScalesTheChartsWorkers(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	helm := helmBinary(t)
	c := kubetest.Start(t, kubetest.WithKEDA())
	cs := c.Client()
	ctx := t.Context()
	if _, err := cs.CoreV1().Nodes().Create(ctx, kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// target 300 and max 10: N = ceil(1000/300) = 4. The HPA's scale-up policy (the larger of
	// +100% and +4 pods per 15 s, no stabilization window) allows 1 → 4 in one step; its 10 %
	// tolerance cannot hold it below (at 1 replica the ratio is 3.3), and its 5-minute
	// scale-down window keeps it from shrinking while the workers drain the queue. The polling
	// interval is the seeds' 5 s: a first replica sooner than that came through the push.
	const (
		items, target, maxReplicas = 1000, 300, 10
		want                       = (items + target - 1) / target
		ns, release                = "compute", "compute"
		deployment                 = release + "-orca-worker"
		adminKey, workerKey        = "admin-key-0123456789abcdef", "worker-key-0123456789abcdef"
		pollingInterval, cooldown  = 5, 5
	)
	dir := t.TempDir()
	blobs := "file://" + filepath.Join(dir, "blobs")
	logs, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("orca's processes:\n%s", tailLines(string(b), 40))
		}
	})
	cfg := filepath.Join(dir, "orca.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("auth:\n  keys:\n    - {name: admin, scope: admin, key: %q}\n"+
		"    - {name: workers, scope: worker, key: %q}\n", adminKey, workerKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, kedaAddr := freeAddr(t), freeAddr(t)
	startProcess(t, logs, "server", "--listen", addr, "--store", db, "--blob", blobs, "--keda-listen", kedaAddr,
		"--config", cfg, "--log-level", "warn")
	base := "http://" + addr
	api, err := client.New(base, client.WithKey(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	waitUpWith(t, api, base)

	kwok := fmt.Sprintf(`
  nodeSelector: {%s: kwok}
  tolerations: [{key: %q, operator: Equal, value: %q, effect: NoSchedule}]`,
		kubetest.FakeNodeLabel, kubetest.FakeNodeToleration.Key, kubetest.FakeNodeToleration.Value)
	values := fmt.Sprintf(`store: %q
blob: %q
auth: {adminKey: %q, workerKey: %q}
server:
  persistence: {enabled: false}%s
worker:%s
scale:
  trigger: external-push
  scalerAddress: %q
  pollingInterval: %d
  cooldownPeriod: %d
  maxReplicaCount: %d
  targetLengthOfQueue: %d
`, db, blobs, adminKey, workerKey, kwok, kwok, kedaAddr, pollingInterval, cooldown, maxReplicas, target)
	valuesPath := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(valuesPath, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	install := exec.Command(helm, "install", release, repoFile(t, "deploy/helm/orca"), "--namespace", ns, "--create-namespace",
		"--kubeconfig", c.Kubeconfig, "--values", valuesPath)
	install.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "helm", "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(dir, "helm", "data"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}

	// The Deployment's replicas as an informer sees them, with the time of each change.
	var mu sync.Mutex
	var seen []observation
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", deployment).String()
		}))
	record := func(obj any) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || d.Spec.Replicas == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || seen[len(seen)-1].replicas != *d.Spec.Replicas || seen[len(seen)-1].ready != d.Status.ReadyReplicas {
			seen = append(seen, observation{time.Now(), *d.Spec.Replicas, d.Status.ReadyReplicas})
		}
	}
	if _, err := factory.Apps().V1().Deployments().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	// firstAfter is the time of the first observation since t0 with more than 0 replicas.
	firstAfter := func(t0 time.Time) time.Time {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range seen {
			if o.replicas > 0 && !o.at.Before(t0) {
				return o.at
			}
		}
		return time.Time{}
	}
	last := func() observation {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return observation{replicas: -1}
		}
		return seen[len(seen)-1]
	}

	// KEDA has taken the ScaledObject (its scalers, the push stream to orca among them, are
	// running) and made its HPA, and has scaled the Deployment to 0 (the chart leaves its
	// replicas to KEDA, so it is created with Kubernetes' default of 1),
	c.WaitFor(time.Minute, "KEDA's operator to take the ScaledObject and make its HPA", func(ctx context.Context) (bool, error) {
		_, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "keda-hpa-"+deployment, metav1.GetOptions{})
		return err == nil && last().replicas == 0, err
	})
	// and the ScaledObject is Ready with its metric's name in its status: KEDA ignores a push
	// that comes before the name (it waits for the next one, or a poll).
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	scaledObjects := dyn.Resource(schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}).Namespace(ns)
	c.WaitFor(time.Minute, "the ScaledObject Ready with its external metric", func(ctx context.Context) (bool, error) {
		so, err := scaledObjects.Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		names, _, _ := unstructured.NestedStringSlice(so.Object, "status", "externalMetricNames")
		conds, _, _ := unstructured.NestedSlice(so.Object, "status", "conditions")
		for _, cond := range conds {
			if m, _ := cond.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
				return len(names) > 0, nil
			}
		}
		return false, nil
	})

	started := time.Now()
	id := startRun(t, api, fmt.Sprint(items))
	c.WaitFor(time.Minute, "a first worker replica", func(context.Context) (bool, error) { return !firstAfter(started).IsZero(), nil })
	first := firstAfter(started).Sub(started)
	c.WaitFor(2*time.Minute, fmt.Sprintf("%d ready worker replicas", want), func(context.Context) (bool, error) {
		o := last()
		if o.replicas > want {
			return false, fmt.Errorf("%d replicas, more than ceil(%d/%d) = %d", o.replicas, items, target, want)
		}
		return o.replicas == want && o.ready == want, nil
	})
	atN := time.Since(started)
	t.Logf("first replica %v after the start request (KEDA's polling interval: %d s); %d replicas, all Ready on kwok, after %v",
		first.Round(time.Millisecond), pollingInterval, want, atN.Round(time.Millisecond))
	// The bound: 1 s, through the push (BlobCreated → StreamIsActive → KEDA's operator
	// scales to 1), 5 s sooner than a poll. Measured: 70 to 120 ms on 2 cores busy with other
	// builds (load 2), so the bound holds with a wide margin.
	if first >= time.Second {
		t.Errorf("first replica %v after the start request, want under 1 s (through StreamIsActive; KEDA polls every %d s)", first, pollingInterval)
	}

	for range 2 {
		startProcess(t, logs, "worker", "--server", base, "--key", workerKey, "--log-level", "warn")
	}
	st := waitRun(t, api, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("run %s: %.500s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), items, "2")
	done := time.Now()
	c.WaitFor(time.Minute, "the worker Deployment back to 0", func(context.Context) (bool, error) { return last().replicas == 0, nil })
	t.Logf("run completed %v after the start request; the Deployment at 0 %v later (cooldown %d s, polling %d s)",
		done.Sub(started).Round(time.Millisecond), time.Since(done).Round(time.Millisecond), cooldown, pollingInterval)
	mu.Lock()
	defer mu.Unlock()
	var path []string
	for _, o := range seen {
		path = append(path, fmt.Sprintf("%d(%d ready)@%v", o.replicas, o.ready, o.at.Sub(started).Round(10*time.Millisecond)))
	}
	t.Logf("the Deployment's replicas: %s", strings.Join(path, " → "))
	for _, o := range seen {
		if o.replicas > want {
			t.Errorf("the Deployment went to %d replicas, more than %d", o.replicas, want)
		}
	}
}

// observation is the worker Deployment's replicas (spec) and ready replicas at a moment.
type observation struct {
	at              time.Time
	replicas, ready int32
}

// waitUpWith waits until the server at base answers c (which holds a key).
func waitUpWith(t *testing.T, c *client.Client, base string) {
	t.Helper()
	wait.For(t, 30*time.Second, func() bool { _, err := c.Queues(context.Background()); return err == nil },
		"server "+base+" to come up")
}

// helmBinary is the helm of scripts/tools/helm.sh (or $ORCA_HELM); without it, t is Missing.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORCA_HELM"); p != "" {
		return p
	}
	out, err := exec.Command("bash", repoFile(t, "scripts/tools/helm.sh")).Output()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("helm: scripts/tools/helm.sh failed (%v), so the chart was not installed", err))
	}
	return strings.TrimSpace(string(out))
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
