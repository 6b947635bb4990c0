package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const sample = `
listen: 0.0.0.0:8080
data: /var/lib/orca
publicBaseURL: https://orca.example.com
log: {level: debug, format: json}
compute: {queue: work, maxDequeueCount: 3}
workers: {min: 1, max: 4, exec: "python3 algo.py", concurrency: 2, computeDelay: 50ms}
engine: {lockDuration: 1m, cacheSize: 500}
pools:
  - {name: gpu, queue: gpu-work, exec: "python3 gpu.py", max: 2, targetQueueLength: 1, cooldown: 1m}
subscriptions:
  - name: notify-app
    filter:
      subjectBeginsWith: /blobServices/default/containers/output/
      includedEventTypes: [Microsoft.Storage.BlobCreated]
    destination:
      endpointType: WebHook
      endpointUrl: ${HOOK_URL}/events
    retryPolicy: {maxDeliveryAttempts: 10}
  - name: done
    destination: {endpointType: Orchestration, eventName: Done, instanceIdPattern: '^/x/(?P<instance>[^/]+)$'}
`

func TestParseReadsEverySetting(t *testing.T) {
	f, err := Parse(strings.NewReader(sample), env(map[string]string{"HOOK_URL": "https://hooks.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if f.Listen != "0.0.0.0:8080" || f.Log.Format != "json" || f.Work.MaxDequeueCount != 3 || f.Workers.Max != 4 ||
		f.Workers.ComputeDelay != 50*time.Millisecond || f.Engine.LockDuration != time.Minute {
		t.Fatalf("parsed %+v", f)
	}
	if p := f.Pools[0]; p.Name != "gpu" || p.Queue != "gpu-work" || p.Exec != "python3 gpu.py" || p.Max != 2 ||
		p.TargetQueueLength != 1 || p.Cooldown != time.Minute {
		t.Fatalf("pools %+v", f.Pools)
	}
	if got := f.Subscriptions[0].Destination.EndpointURL; got != "https://hooks.example.com/events" {
		t.Fatalf("endpointUrl %q: ${HOOK_URL} not expanded", got)
	}
	if got := f.Subscriptions[1].Destination.InstanceIDPattern; got != `^/x/(?P<instance>[^/]+)$` {
		t.Fatalf("a $ that is not ${VAR} must stay: %q", got)
	}
	if f.Subscriptions[0].Filter.IncludedEventTypes[0] != "Microsoft.Storage.BlobCreated" {
		t.Fatalf("filter %+v", f.Subscriptions[0].Filter)
	}
}

func TestParseErrorsNameTheProblem(t *testing.T) {
	cases := map[string]string{
		"listen: [1":                "parse",
		"lisen: x":                  "field lisen not found",
		"endpoint: ${NOPE}":         "NOPE is not set",
		"engine: {lockDuration: x}": "line 1: cannot unmarshal",
	}
	for in, want := range cases {
		_, err := Parse(strings.NewReader(in), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	cases := map[string]string{
		"sync: SOMETIMES":             "sync",
		"store: mysql://db/orca":      "store",
		"store: postgres://u@db/orca": "blob",
		"{store: postgres://u@db/orca, blob: s3://b, sync: FULL}": "sync",
		"blob: gs://bucket":                                          "blob",
		"blob: s3://b?endpoint=http://x&nope=1":                      "blob",
		"blob: azblob://u:k@acct":                                    "blob",
		"queueURL: amqp://broker/input":                              "queueURL",
		"queueURL: azqueue://acct?prefix=Bad_":                       "queueURL",
		"queueURL: azqueue://u:k@acct":                               "queueURL",
		"publicBaseURL: orca.example.com":                            "publicBaseURL",
		"log: {level: loud}":                                         "log.level",
		"compute: {queue: Bad_Name}":                                 "compute.queue",
		"workers: {min: 5, max: 2}":                                  "workers.min",
		"workers: {exec: \"'unclosed\"}":                             "workers.exec",
		"engine: {lockDuration: 1s}":                                 "engine.lockDuration",
		"workers: {cooldown: -1s}":                                   "workers",
		"workers: {deployment: workers}":                             "workers.deployment",
		"workers: {deployment: Compute/workers}":                     "workers.deployment",
		"pools: [{name: gpu, queue: gpu, deployment: a/b/c}]":        "pools[0].deployment",
		"workers: {execMode: batch, exec: cat}":                      "workers.execMode",
		"dashboard: {kubernetes: {deployments: [compute/w, nope]}}":  "dashboard.kubernetes.deployments[1]",
		"workers: {batch: 1000}":                                     "workers.batch",
		"pools: [{name: Gpu, queue: gpu}]":                           "pools[0].name",
		"pools: [{name: default, queue: gpu}]":                       "pools[0].name",
		"pools: [{name: gpu, queue: g}]":                             "pools[0].queue",
		"pools: [{name: gpu, queue: gpu, min: 3, max: 2}]":           "pools[0].min",
		"pools: [{name: gpu, queue: gpu}, {name: gpu, queue: gpu2}]": "pools[1].name",
		"subscriptions: [{name: x}]":                                 "subscriptions[0]",
		"subscriptions: [{name: hook-1, destination: {endpointType: WebHook, endpointUrl: ftp://x}}]":                                                   "subscriptions[0]: destination.endpointUrl",
		"subscriptions: [{name: aaa, destination: {endpointType: Handler, handler: h}}, {name: aaa, destination: {endpointType: Handler, handler: h}}]": "subscriptions[1].name",
	}
	for in, want := range cases {
		f, err := Parse(strings.NewReader(in), env(nil))
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		err = f.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want it to start with %q", in, err, want)
		}
	}
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	f, err := Parse(strings.NewReader("listen: a:1\nworkers: {max: 2}"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.applyEnv(env(map[string]string{"ORCA_LISTEN": "b:2", "ORCA_MAX_WORKERS": "7",
		"ORCA_STORE": "postgres://u@db/orca", "ORCA_BLOB": "s3://bucket", "ORCA_QUEUE_URL": "azqueue://acct"})); err != nil {
		t.Fatal(err)
	}
	if f.Listen != "b:2" || f.Workers.Max != 7 || f.Store != "postgres://u@db/orca" || f.Blob != "s3://bucket" || f.QueueURL != "azqueue://acct" {
		t.Fatalf("%+v", f)
	}
	if err := f.applyEnv(env(map[string]string{"ORCA_MAX_WORKERS": "many"})); err == nil || !strings.Contains(err.Error(), "ORCA_MAX_WORKERS") {
		t.Fatalf("err = %v", err)
	}
}

// TestDashboardWatchesTheListedAndThePoolsDeployments: the listed Deployments, then the pools'
// (once each); the cluster is the listed kubeconfig's, else the first Deployment pool's; the
// environment replaces the list and sets nodes.
func TestDashboardWatchesTheListedAndThePoolsDeployments(t *testing.T) {
	f, err := Parse(strings.NewReader(`
dashboard: {kubernetes: {deployments: [keda/workers, compute/gpu]}}
workers: {deployment: compute/cpu, kubeconfig: /etc/kube/a}
pools: [{name: gpu, queue: gpu, deployment: compute/gpu, kubeconfig: /etc/kube/b}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Watched(), " "); got != "keda/workers compute/gpu compute/cpu" {
		t.Fatalf("Watched() = %s", got)
	}
	if got := f.ClusterKubeconfig(); got != "/etc/kube/a" {
		t.Fatalf("ClusterKubeconfig() = %q, want the workers section's", got)
	}
	f.Dashboard.Kubernetes.Kubeconfig = "/etc/kube/c"
	if got := f.ClusterKubeconfig(); got != "/etc/kube/c" {
		t.Fatalf("ClusterKubeconfig() = %q, want the dashboard's own", got)
	}
	if err := f.applyEnv(env(map[string]string{"ORCA_DASHBOARD_DEPLOYMENTS": " ns/a, ,ns/b", "ORCA_DASHBOARD_NODES": "true"})); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Dashboard.Kubernetes.Deployments, " "); got != "ns/a ns/b" || !f.Dashboard.Kubernetes.Nodes {
		t.Fatalf("from the environment: %q, nodes %v", got, f.Dashboard.Kubernetes.Nodes)
	}
	if err := f.applyEnv(env(map[string]string{"ORCA_DASHBOARD_NODES": "sure"})); err == nil || !strings.Contains(err.Error(), "ORCA_DASHBOARD_NODES") {
		t.Fatalf("err = %v", err)
	}
	if w := (&File{}).Watched(); len(w) != 0 {
		t.Fatal("an empty configuration watches something")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Parse(strings.NewReader(s), env(map[string]string{"HOOK_URL": "x"}))
		if err == nil {
			_ = cfg.Validate() // must not panic
		}
	})
}

func TestKeysFromFileAndEnvironment(t *testing.T) {
	in := "auth:\n  keys:\n    - {name: ops, scope: admin, key: ${OPS_KEY}}\n    - {name: dash, scope: reader, sha256: \"sha256:" +
		strings.Repeat("ab", 32) + "\"}\n"
	f, err := Parse(strings.NewReader(in), env(map[string]string{"OPS_KEY": "ops-key-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.applyEnv(env(map[string]string{"ORCA_WORKER_KEY": "worker-key-0123456789"})); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	keys, err := f.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := keys.Check("ops-key-0123456789"); !ok || k.Name != "ops" || k.Scope != "admin" {
		t.Fatalf("ops key: %+v %v", k, ok)
	}
	if k, ok := keys.Check("worker-key-0123456789"); !ok || k.Scope != "worker" {
		t.Fatalf("ORCA_WORKER_KEY: %+v %v", k, ok)
	}
	if _, ok := keys.Check("sha256:" + strings.Repeat("ab", 32)); ok {
		t.Fatal("a hash must not work as the key itself")
	}

	for in, want := range map[string]string{
		"auth: {keys: [{name: a, scope: root, key: aaaaaaaaaaaaaaaaaaaa}]}": "auth: keys[0].scope",
		"auth: {keys: [{name: a, scope: admin, key: short}]}":               "auth: keys[0].key",
		"auth: {keys: [{name: a, scope: admin}]}":                           "auth: keys[0]: give exactly one",
	} {
		f, err := Parse(strings.NewReader(in), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want %q", in, err, want)
		}
	}
}
