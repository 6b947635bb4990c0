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

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/kubetest"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
	"github.com/orcahq/orca/internal/testenv"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// The seeds' second system on a real control plane (internal/kubetest): `helm install` of
// orca's chart — the server on the test PostgreSQL, the workers a Deployment on kwok's fake
// nodes — and a seed run of 1,000 items that takes the worker Deployment from 0 to
// N = min(ceil(queue/target), maxReplicaCount) and, after the run and the cooldown, back to 0;
// once with KEDA's real operator sizing it (the chart's ScaledObject), once with orca's own
// scaler (scale.autoscaler orca, for clusters without KEDA).
//
// Pods on kwok run no code: the chart's server pod and worker pods are scheduled and reported
// Running but never start orca. The orca that sizes the workers and that the run goes through
// is an `orca server` on this machine, outside the cluster, on the same PostgreSQL task hub and
// blob directory as the chart's server, and the items are computed by `orca worker` processes
// on this machine, started once the Deployment is at N (so the queue holds all 1,000 items
// while it is sized, and N is exact).
//
// target 300 and max 10: N = ceil(1000/300) = 4. Both scalers allow 1 → 4 in one step (the
// larger of +100% and +4 pods per 15 s), their 10 % tolerance cannot hold them below (at 1
// replica the ratio is 3.3), and their 5-minute scale-down window keeps them from shrinking
// while the workers drain the queue. The polling interval is the seeds' 5 s: a first replica
// sooner than that came through the push (orca's BlobCreated wake).
const (
	chartItems, chartTarget, chartMaxReplicas = 1000, 300, 10
	chartWant                                 = (chartItems + chartTarget - 1) / chartTarget
	chartNamespace, chartRelease              = "compute", "compute"
	chartWorkers                              = chartRelease + "-orca-worker"
	chartAdminKey, chartWorkerKey             = "admin-key-0123456789abcdef", "worker-key-0123456789abcdef"
	chartPollingInterval, chartCooldown       = 5, 5
)

// TestKEDAScalesTheChartsWorkers: KEDA's real operator and metrics API server (kubetest's
// WithKEDA) read orca's external scaler through the ScaledObject's external-push trigger
// (scale.scalerAddress points KEDA at the orca outside the cluster). The operator takes the
// Deployment from 0 to 1 through StreamIsActive, the HPA it made takes it to N through
// external.metrics.k8s.io, and after the run the operator takes it back to 0.
func TestKEDAScalesTheChartsWorkers(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	helm := helmBinary(t)
	c := kubetest.Start(t, kubetest.WithKEDA())
	s := newChartScaling(t, c, db)
	kedaAddr := freeAddr(t)
	s.startServer(t, "--keda-listen", kedaAddr, "--config", s.config(t, nil))
	s.install(t, helm, fmt.Sprintf(`
scale:
  trigger: external-push
  scalerAddress: %q
`, kedaAddr))

	// KEDA has taken the ScaledObject (its scalers, the push stream to orca among them, are
	// running) and made its HPA, and has scaled the Deployment to 0 (the chart leaves its
	// replicas to KEDA, so it is created with Kubernetes' default of 1),
	cs := c.Client()
	c.WaitFor(time.Minute, "KEDA's operator to take the ScaledObject and make its HPA", func(ctx context.Context) (bool, error) {
		_, err := cs.AutoscalingV2().HorizontalPodAutoscalers(chartNamespace).Get(ctx, "keda-hpa-"+chartWorkers, metav1.GetOptions{})
		return err == nil && s.replicas.last().replicas == 0, err
	})
	// and the ScaledObject is Ready with its metric's name in its status: KEDA ignores a push
	// that comes before the name (it waits for the next one, or a poll).
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	scaledObjects := dyn.Resource(schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}).Namespace(chartNamespace)
	c.WaitFor(time.Minute, "the ScaledObject Ready with its external metric", func(ctx context.Context) (bool, error) {
		so, err := scaledObjects.Get(ctx, chartWorkers, metav1.GetOptions{})
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
	s.run(t, "KEDA")
}

// TestOrcaScalesTheChartsWorkers: the chart with scale.autoscaler orca (no KEDA on this
// cluster): the orca outside the cluster runs with the chart's own configuration file (its
// ConfigMap: the worker Deployment as its pool, with the scale values) and the chart's
// ServiceAccount's rights (a token of it in place of the in-cluster one), so the chart's
// pool and its scaler Role are what size the Deployment through its scale subresource.
func TestOrcaScalesTheChartsWorkers(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	helm := helmBinary(t)
	c := kubetest.Start(t)
	s := newChartScaling(t, c, db)
	s.install(t, helm, `
scale:
  autoscaler: orca
server:
  keda: {enabled: false}
`)
	cm, err := c.Client().CoreV1().ConfigMaps(chartNamespace).Get(t.Context(), chartRelease+"-orca", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's configuration file: %v", err)
	}
	var chartConfig map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["orca.yaml"]), &chartConfig); err != nil {
		t.Fatalf("the chart's orca.yaml: %v\n%s", err, cm.Data["orca.yaml"])
	}
	pool, _ := chartConfig["workers"].(map[string]any)
	if pool["deployment"] != chartNamespace+"/"+chartWorkers {
		t.Fatalf("the chart's orca.yaml has no pool of its worker Deployment:\n%s", cm.Data["orca.yaml"])
	}
	pool["kubeconfig"] = c.ServiceAccountKubeconfig(chartNamespace, chartRelease+"-orca")
	s.startServer(t, "--config", s.config(t, chartConfig))

	// The chart leaves the replicas to orca, so the Deployment is created with Kubernetes'
	// default of 1; the server, with nothing queued, takes it to 0.
	c.WaitFor(time.Minute, "orca to scale the idle worker Deployment to 0", func(context.Context) (bool, error) {
		return s.replicas.last().replicas == 0, nil
	})
	s.run(t, "orca's scaler")
}

// chartScaling is one of those tests: the cluster, the orca outside it and the Deployment's
// replicas as they change.
type chartScaling struct {
	c        *kubetest.Cluster
	db, dir  string
	blobs    string
	logs     *os.File
	api      *client.Client
	base     string
	replicas *replicaLog
}

// newChartScaling makes kwok's node and starts watching the worker Deployment (before the
// chart creates it).
func newChartScaling(t *testing.T, c *kubetest.Cluster, db string) *chartScaling {
	t.Helper()
	if _, err := c.Client().CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logs, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("orca's processes:\n%s", tailLines(string(b), 40))
		}
		logs.Close()
	})
	return &chartScaling{c: c, db: db, dir: dir, blobs: "file://" + filepath.Join(dir, "blobs"), logs: logs,
		replicas: watchReplicas(t, c.Client(), chartNamespace, chartWorkers)}
}

// config writes orca's configuration file for the server outside the cluster: base (nil: none)
// with the tests' keys, and returns its path.
func (s *chartScaling) config(t *testing.T, base map[string]any) string {
	t.Helper()
	cfg := map[string]any{}
	for k, v := range base {
		cfg[k] = v
	}
	cfg["auth"] = map[string]any{"keys": []map[string]string{
		{"name": "admin", "scope": "admin", "key": chartAdminKey},
		{"name": "workers", "scope": "worker", "key": chartWorkerKey},
	}}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.dir, "orca.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer starts the orca server outside the cluster on the test's task hub, with args.
func (s *chartScaling) startServer(t *testing.T, args ...string) {
	t.Helper()
	addr := freeAddr(t)
	startProcess(t, s.logs, append([]string{"server", "--listen", addr, "--store", s.db, "--blob", s.blobs, "--log-level", "warn"}, args...)...)
	s.base = "http://" + addr
	api, err := client.New(s.base, client.WithKey(chartAdminKey))
	if err != nil {
		t.Fatal(err)
	}
	s.api = api
	waitUpWith(t, api, s.base)
}

// install runs `helm install` of the chart with the tests' values and extra (YAML, which helm
// merges over them).
func (s *chartScaling) install(t *testing.T, helm, extra string) {
	t.Helper()
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
  pollingInterval: %d
  cooldownPeriod: %d
  maxReplicaCount: %d
  targetLengthOfQueue: %d
`, s.db, s.blobs, chartAdminKey, chartWorkerKey, kwok, kwok, chartPollingInterval, chartCooldown, chartMaxReplicas, chartTarget)
	args := []string{"install", chartRelease, repoFile(t, "deploy/helm/orca"), "--namespace", chartNamespace, "--create-namespace",
		"--kubeconfig", s.c.Kubeconfig}
	for i, v := range []string{values, extra} {
		path := filepath.Join(s.dir, fmt.Sprintf("values-%d.yaml", i))
		if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", path)
	}
	install := exec.Command(helm, args...)
	install.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(s.dir, "helm", "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(s.dir, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(s.dir, "helm", "data"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
}

// run starts the seed run with the Deployment at 0 and checks what sizes it (by) takes it to
// 1 within a second, to N and, after the run, back to 0.
func (s *chartScaling) run(t *testing.T, by string) {
	t.Helper()
	started := time.Now()
	id := startRun(t, s.api, fmt.Sprint(chartItems))
	s.c.WaitFor(time.Minute, "a first worker replica", func(context.Context) (bool, error) { return !s.replicas.firstAfter(started).IsZero(), nil })
	first := s.replicas.firstAfter(started).Sub(started)
	s.c.WaitFor(2*time.Minute, fmt.Sprintf("%d ready worker replicas", chartWant), func(context.Context) (bool, error) {
		o := s.replicas.last()
		if o.replicas > chartWant {
			return false, fmt.Errorf("%d replicas, more than ceil(%d/%d) = %d", o.replicas, chartItems, chartTarget, chartWant)
		}
		return o.replicas == chartWant && o.ready == chartWant, nil
	})
	t.Logf("%s: first replica %v after the start request (polling interval %d s); %d replicas, all Ready on kwok, after %v",
		by, first.Round(time.Millisecond), chartPollingInterval, chartWant, time.Since(started).Round(time.Millisecond))
	// The bound: 1 s, through the push (BlobCreated → StreamIsActive → KEDA's
	// operator, or orca's own wake), 5 s sooner than a poll. Measured with KEDA: 65 to 120 ms
	// on 2 busy cores, so the bound holds with a wide margin.
	if first >= time.Second {
		t.Errorf("%s: first replica %v after the start request, want under 1 s (pushed; the polling interval is %d s)", by, first, chartPollingInterval)
	}

	for range 2 {
		startProcess(t, s.logs, "worker", "--server", s.base, "--key", chartWorkerKey, "--log-level", "warn")
	}
	st := waitRun(t, s.api, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("run %s: %.500s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), chartItems, "2")
	done := time.Now()
	s.c.WaitFor(time.Minute, "the worker Deployment back to 0", func(context.Context) (bool, error) { return s.replicas.last().replicas == 0, nil })
	t.Logf("%s: run completed %v after the start request; the Deployment at 0 %v later (cooldown %d s, polling %d s)",
		by, done.Sub(started).Round(time.Millisecond), time.Since(done).Round(time.Millisecond), chartCooldown, chartPollingInterval)
	t.Logf("%s: the Deployment's replicas: %s", by, s.replicas.path(started))
	if m := s.replicas.max(started); m > chartWant {
		t.Errorf("%s: the Deployment went to %d replicas, more than %d", by, m, chartWant)
	}
}

// replicaLog is a Deployment's replicas as an informer sees them, with the time of each change.
type replicaLog struct {
	mu   sync.Mutex
	seen []observation
}

// observation is the worker Deployment's replicas (spec) and ready replicas at a moment.
type observation struct {
	at              time.Time
	replicas, ready int32
}

// watchReplicas records the replicas of the Deployment namespace/name until the test ends.
func watchReplicas(t *testing.T, cs kubernetes.Interface, namespace, name string) *replicaLog {
	t.Helper()
	l := &replicaLog{}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	record := func(obj any) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || d.Spec.Replicas == nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.seen) == 0 || l.seen[len(l.seen)-1].replicas != *d.Spec.Replicas || l.seen[len(l.seen)-1].ready != d.Status.ReadyReplicas {
			l.seen = append(l.seen, observation{time.Now(), *d.Spec.Replicas, d.Status.ReadyReplicas})
		}
	}
	if _, err := factory.Apps().V1().Deployments().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return l
}

// firstAfter is the time of the first observation since t0 with more than 0 replicas.
func (l *replicaLog) firstAfter(t0 time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.seen {
		if o.replicas > 0 && !o.at.Before(t0) {
			return o.at
		}
	}
	return time.Time{}
}

// last is the latest observation (replicas -1 before the first).
func (l *replicaLog) last() observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return observation{replicas: -1}
	}
	return l.seen[len(l.seen)-1]
}

// max is the most replicas observed since t0.
func (l *replicaLog) max(t0 time.Time) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m int32
	for _, o := range l.seen {
		if !o.at.Before(t0) {
			m = max(m, o.replicas)
		}
	}
	return m
}

// path is the observations since t0, as "replicas(ready)@offset" steps.
func (l *replicaLog) path(t0 time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var steps []string
	for _, o := range l.seen {
		if !o.at.Before(t0) {
			steps = append(steps, fmt.Sprintf("%d(%d ready)@%v", o.replicas, o.ready, o.at.Sub(t0).Round(10*time.Millisecond)))
		}
	}
	return strings.Join(steps, " → ")
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
