package helm_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The value sets the tests render, each also linted.
var valueSets = map[string]string{
	"defaults": "",
	"keda-external": `
workQueue: jobs
scale:
  trigger: external
  pollingInterval: 10
  cooldownPeriod: 120
  minReplicaCount: 1
  maxReplicaCount: 20
  targetLengthOfQueue: 256
  activationQueueLength: 3
  inputContainer: uploads
  fallback: {failureThreshold: 3, replicas: 2}
worker:
  image: {registry: acr.example.io, repository: compute, tag: "1.2"}
  exec: python3 /app/run.py
  execMode: stream
  execTimeout: 2m
  concurrency: 8
  batch: 8
server:
  config:
    engine: {lockDuration: 30s}
    log: {level: debug}
`,
	// The seeds' mode: the queue on Azure Storage Queue, their own container reading it, KEDA's
	// azure-queue trigger with their Secret and their --set values.
	"azure-queue": `
image: {registry: acrfuncAksKedausscdemo.azurecr.io}
storage:
  enabled: true
  storageAccountName: safuncakskedausscdemo
  existingSecret: azure-connection-strings
  queuePrefix: demo-
scale:
  trigger: azure-queue
  targetLengthOfQueue: 5
server:
  keda: {enabled: false}
worker:
  image: {repository: compute, tag: latest}
  command: [python3, main.py]
`,
	"storage-inline": `
store: postgres://orca@db.internal:5432/orca?sslmode=require
server: {replicas: 2}
storage:
  enabled: true
  connectionString: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
`,
	"existing-secret": `
auth: {existingSecret: orca-keys}
`,
	"rbac-off": `
rbac:
  dashboard: {enabled: false}
serviceAccount: {create: false}
`,
	"rbac-scaler": `
rbac:
  dashboard: {enabled: true, nodes: false}
  scaler: {enabled: true}
scale: {enabled: false}
worker: {replicas: 4}
`,
	// No KEDA: orca's own scaler in the server sizes the worker Deployment.
	"orca-scaler": `
scale:
  autoscaler: orca
  pollingInterval: 2
  cooldownPeriod: 60
  minReplicaCount: 1
  maxReplicaCount: 8
  targetLengthOfQueue: 64
  activationQueueLength: 2
server:
  keda: {enabled: false}
  config:
    log: {level: debug}
    workers: {scaleUpPods: 2}
rbac:
  dashboard: {enabled: false}
`,
	"postgres-3": `
store: postgres://orca@db.internal:5432/orca?sslmode=require
blob: s3://orca-data?region=eu-west-1
server: {replicas: 3}
auth: {adminKey: admin-key-0123456789, workerKey: worker-key-0123456789, readerKey: reader-key-0123456789}
`,
}

// TestChartLints runs `helm lint --strict` on the chart with each value set: no errors and no
// warnings.
func TestChartLints(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir, "--namespace", namespace}, valuesFile(t, values)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

// TestDefaults checks the default install: one server on SQLite with a volume, its probes,
// lame-duck shutdown and Service, the generated keys, a worker Deployment running `orca
// worker` against the Service, KEDA's ScaledObject with orca's external-push trigger, and the
// dashboard's read-only RBAC.
func TestDefaults(t *testing.T) {
	m := render(t, valueSets["defaults"])

	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	if srv.Spec.Replicas == nil || *srv.Spec.Replicas != 1 || srv.Spec.Strategy.Type != "Recreate" {
		t.Fatalf("server replicas %v strategy %q, want 1 and Recreate (SQLite)", srv.Spec.Replicas, srv.Spec.Strategy.Type)
	}
	pod := srv.Spec.Template.Spec
	c := pod.only(t)
	if c.Image != "orca:0.1.0" {
		t.Errorf("server image %q, want orca:<appVersion>", c.Image)
	}
	if want := []string{"server", "--listen", "0.0.0.0:7071", "--data", "/data", "--keda-listen", "0.0.0.0:9090"}; !slices.Equal(c.Args, want) {
		t.Errorf("server args %q, want %q", c.Args, want)
	}
	if c.Command != nil {
		t.Errorf("server command %q: the image's entrypoint is orca", c.Command)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != fullname {
		t.Errorf("server envFrom %+v, want the Secret %s", c.EnvFrom, fullname)
	}
	c.value(t, "ORCA_QUEUE", "input")
	c.value(t, "ORCA_DASHBOARD_DEPLOYMENTS", namespace+"/"+workers)
	c.value(t, "ORCA_DASHBOARD_NODES", "true")
	if c.port("http") != 7071 || c.port("keda") != 9090 {
		t.Errorf("server ports %+v", c.Ports)
	}
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz")
	checkProbe(t, "liveness", c.LivenessProbe, "/healthz")
	checkProbe(t, "startup", c.StartupProbe, "/healthz")
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 5 {
		t.Errorf("server preStop %+v, want a 5 s sleep", c.Lifecycle)
	}
	// orca server's graceful stop: 45 s for the engine, then 5 s for the API (cmd/orca,
	// internal/app), after the preStop wait.
	if pod.TerminationGracePeriodSeconds < 5+45+5 {
		t.Errorf("server terminationGracePeriodSeconds %d < preStop 5 + 45 + 5", pod.TerminationGracePeriodSeconds)
	}
	if !c.SecurityContext.RunAsNonRoot || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("server securityContext %+v", c.SecurityContext)
	}
	if pod.ServiceAccountName != fullname || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Errorf("server serviceAccount %q automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	if claim := volume(t, pod, "data").PersistentVolumeClaim; claim == nil || claim.ClaimName != fullname+"-data" {
		t.Errorf("the data volume is not the claim %s-data", fullname)
	}
	if !m.has("PersistentVolumeClaim/" + fullname + "-data") {
		t.Error("no PersistentVolumeClaim for SQLite")
	}
	if m.has("ConfigMap/" + fullname) {
		t.Error("a ConfigMap without server.config")
	}

	var svc service
	m.get(t, "Service/"+fullname, &svc)
	for k, v := range svc.Spec.Selector {
		if srv.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the server's pods lack", k, v)
		}
	}
	if srv.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "server" {
		t.Errorf("server selector %v", srv.Spec.Selector.MatchLabels)
	}
	ports := map[string]int{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name+"->"+p.TargetPort] = p.Port
	}
	if ports["http->http"] != 7071 || ports["keda->keda"] != 9090 || len(ports) != 2 {
		t.Errorf("Service ports %v, want http 7071 and keda 9090", ports)
	}

	var sec secret
	m.get(t, "Secret/"+fullname, &sec)
	if got := sec.keys(); !slices.Equal(got, []string{"ORCA_ADMIN_KEY", "ORCA_WORKER_KEY"}) {
		t.Errorf("Secret keys %v, want the generated admin and worker keys only", got)
	}
	admin, wk := sec.value(t, "ORCA_ADMIN_KEY"), sec.value(t, "ORCA_WORKER_KEY")
	if len(admin) < 32 || len(wk) < 32 || admin == wk {
		t.Errorf("generated keys %q %q: want two different keys of at least 32 characters", admin, wk)
	}

	w := checkWorker(t, m, "input")
	if want := []string{"/usr/local/bin/orca"}; !slices.Equal(w.Command, want) {
		t.Errorf("worker command %q, want %q", w.Command, want)
	}
	if w.Image != "orca:0.1.0" {
		t.Errorf("worker image %q, want the orca image", w.Image)
	}
	if want := []string{"worker", "--server", "http://" + fullname + "." + namespace + ".svc:7071", "--queue", "input",
		"--log-format", "json", "--log-level", "info"}; !slices.Equal(w.Args, want) {
		t.Errorf("worker args %q, want %q", w.Args, want)
	}

	so := checkScaledObject(t, m, "external-push", 5, 30, 0, 100)
	md := so.Spec.Triggers[0].Metadata
	checkMetadata(t, md, map[string]string{"scalerAddress": fullname + "." + namespace + ".svc:9090", "queueName": "input",
		"queueLength": "128", "activationQueueLength": "0", "apiKeyFromEnv": "ORCA_KEY"})
	if m.kinds("TriggerAuthentication") != 0 {
		t.Error("a TriggerAuthentication for an external trigger")
	}

	checkRole(t, m, "Role/"+fullname+"-dashboard", "", "pods", nil, "get", "list", "watch")
	checkRole(t, m, "Role/"+fullname+"-dashboard", "apps", "deployments", []string{workers}, "get")
	checkRole(t, m, "ClusterRole/"+namespace+"-"+fullname+"-nodes", "", "nodes", nil, "get", "list", "watch")
	checkBinding(t, m, "RoleBinding/"+fullname+"-dashboard", "Role", fullname+"-dashboard", fullname)
	checkBinding(t, m, "ClusterRoleBinding/"+namespace+"-"+fullname+"-nodes", "ClusterRole", namespace+"-"+fullname+"-nodes", fullname)
	if !m.has("ServiceAccount/"+fullname) || m.has("Role/"+fullname+"-scaler") {
		t.Errorf("ServiceAccount or scaler Role wrong: %v", m.keys())
	}
}

// TestKEDAExternal checks that the ScaledObject carries the scale.* values and the worker the
// user's algorithm.
func TestKEDAExternal(t *testing.T) {
	m := render(t, valueSets["keda-external"])
	so := checkScaledObject(t, m, "external", 10, 120, 1, 20)
	checkMetadata(t, so.Spec.Triggers[0].Metadata, map[string]string{"scalerAddress": fullname + "." + namespace + ".svc:9090",
		"queueName": "jobs", "queueLength": "256", "activationQueueLength": "3", "inputContainer": "uploads", "apiKeyFromEnv": "ORCA_KEY"})
	if so.Spec.Fallback["replicas"] != 2 || so.Spec.Fallback["failureThreshold"] != 3 {
		t.Errorf("fallback %v", so.Spec.Fallback)
	}

	w := checkWorker(t, m, "jobs")
	if w.Image != "acr.example.io/compute:1.2" {
		t.Errorf("worker image %q", w.Image)
	}
	for f, want := range map[string]string{"exec": "python3 /app/run.py", "exec-mode": "stream", "exec-timeout": "2m",
		"concurrency": "8", "batch": "8"} {
		if got, _ := flag(w.Args, f); got != want {
			t.Errorf("worker --%s %q, want %q (args %q)", f, got, want, w.Args)
		}
	}

	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	c := srv.Spec.Template.Spec.only(t)
	c.value(t, "ORCA_QUEUE", "jobs")
	c.value(t, "ORCA_CONFIG", "/etc/orca/orca.yaml")
	if cm := volume(t, srv.Spec.Template.Spec, "config").ConfigMap; cm == nil || cm.Name != fullname {
		t.Errorf("no config volume from the ConfigMap")
	}
	f := configFile(t, m)
	if f.Engine.LockDuration.String() != "30s" || f.Log.Level != "debug" {
		t.Errorf("orca.yaml engine %+v log %+v", f.Engine, f.Log)
	}
}

// TestAzureQueue checks the seeds' mode: the work queue on their Azure Storage account (orca's
// azqueue:// and azblob:// with their connection string Secret), their own container as the
// worker, and KEDA's azure-queue trigger on the queue orca uses.
func TestAzureQueue(t *testing.T) {
	m := render(t, valueSets["azure-queue"])
	so := checkScaledObject(t, m, "azure-queue", 5, 30, 0, 100)
	tr := so.Spec.Triggers[0]
	checkMetadata(t, tr.Metadata, map[string]string{"queueName": "demo-input", "queueLength": "5",
		"activationQueueLength": "0", "accountName": "safuncakskedausscdemo", "cloud": "AzurePublicCloud"})
	if tr.AuthenticationRef == nil {
		t.Fatal("the azure-queue trigger has no authenticationRef")
	}
	var ta triggerAuthentication
	m.get(t, "TriggerAuthentication/"+tr.AuthenticationRef.Name, &ta)
	if len(ta.Spec.SecretTargetRef) != 1 || ta.Spec.SecretTargetRef[0].Parameter != "connection" ||
		ta.Spec.SecretTargetRef[0].Name != "azure-connection-strings" || ta.Spec.SecretTargetRef[0].Key != "storage-account-connection-string" {
		t.Errorf("TriggerAuthentication %+v, want connection from the seeds' Secret", ta.Spec)
	}

	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	c := srv.Spec.Template.Spec.only(t)
	c.value(t, "ORCA_QUEUE_URL", "azqueue://?encoding=text&prefix=demo-")
	c.value(t, "ORCA_BLOB", "azblob://")
	c.fromSecret(t, "AZURE_STORAGE_CONNECTION_STRING", "azure-connection-strings", "storage-account-connection-string")
	if c.Image != "acrfuncAksKedausscdemo.azurecr.io/orca:0.1.0" {
		t.Errorf("server image %q", c.Image)
	}
	if slices.Contains(c.Args, "--keda-listen") || c.port("keda") != 0 {
		t.Errorf("server serves KEDA's scaler with server.keda.enabled=false: %q", c.Args)
	}
	var svc service
	m.get(t, "Service/"+fullname, &svc)
	if len(svc.Spec.Ports) != 1 {
		t.Errorf("Service ports %+v, want http only", svc.Spec.Ports)
	}

	var wd deployment
	m.get(t, "Deployment/"+workers, &wd)
	w := wd.Spec.Template.Spec.only(t)
	if !slices.Equal(w.Command, []string{"python3", "main.py"}) || w.Args != nil || w.Image != "acrfuncAksKedausscdemo.azurecr.io/compute:latest" {
		t.Errorf("worker command %q args %q image %q, want the user's container", w.Command, w.Args, w.Image)
	}
	w.fromSecret(t, "AZURE_STORAGE_CONNECTION_STRING", "azure-connection-strings", "storage-account-connection-string")
	w.fromSecret(t, "ORCA_KEY", fullname, "ORCA_WORKER_KEY")
	w.value(t, "ORCA_SERVER", "http://"+fullname+"."+namespace+".svc:7071")
	if m.has("Secret/" + fullname + "-storage") {
		t.Error("a storage Secret besides storage.existingSecret")
	}
}

// TestStorageInline checks a connection string given as a value: it lands in a Secret of its
// own, which the server and KEDA read.
func TestStorageInline(t *testing.T) {
	m := render(t, valueSets["storage-inline"])
	var st secret
	m.get(t, "Secret/"+fullname+"-storage", &st)
	if v := st.value(t, "AZURE_STORAGE_CONNECTION_STRING"); !strings.HasPrefix(v, "DefaultEndpointsProtocol=https;AccountName=acct;") {
		t.Errorf("connection string %q", v)
	}
	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	c := srv.Spec.Template.Spec.only(t)
	c.fromSecret(t, "AZURE_STORAGE_CONNECTION_STRING", fullname+"-storage", "AZURE_STORAGE_CONNECTION_STRING")
	c.value(t, "ORCA_QUEUE_URL", "azqueue://?encoding=text")
	c.value(t, "ORCA_BLOB", "azblob://")
	if *srv.Spec.Replicas != 2 || srv.Spec.Strategy.Type == "Recreate" {
		t.Errorf("replicas %d strategy %q", *srv.Spec.Replicas, srv.Spec.Strategy.Type)
	}
}

// TestExistingSecret checks that the chart makes no Secret of its own and points the server
// and the workers at the given one.
func TestExistingSecret(t *testing.T) {
	m := render(t, valueSets["existing-secret"])
	if n := m.kinds("Secret"); n != 0 {
		t.Fatalf("%d Secrets rendered with auth.existingSecret: %v", n, m.keys())
	}
	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	c := srv.Spec.Template.Spec.only(t)
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "orca-keys" {
		t.Errorf("server envFrom %+v", c.EnvFrom)
	}
	var wd deployment
	m.get(t, "Deployment/"+workers, &wd)
	wd.Spec.Template.Spec.only(t).fromSecret(t, "ORCA_KEY", "orca-keys", "ORCA_WORKER_KEY")
}

// TestRBACOff checks that without the dashboard's RBAC and the ServiceAccount nothing of
// either is rendered and the server gets no token.
func TestRBACOff(t *testing.T) {
	m := render(t, valueSets["rbac-off"])
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		if n := m.kinds(kind); n != 0 {
			t.Errorf("%d %s rendered: %v", n, kind, m.keys())
		}
	}
	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	pod := srv.Spec.Template.Spec
	for _, name := range []string{"ORCA_DASHBOARD_DEPLOYMENTS", "ORCA_DASHBOARD_NODES"} {
		if _, ok := pod.Containers[0].env(name); ok {
			t.Errorf("%s without the RBAC to read the cluster", name)
		}
	}
	if pod.ServiceAccountName != "default" || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("server serviceAccount %q automount %v, want default without a token", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
}

// TestRBACScaler checks the Kubernetes provider's Role: the worker Deployment's scale
// subresource only; and, without KEDA, a fixed worker count.
func TestRBACScaler(t *testing.T) {
	m := render(t, valueSets["rbac-scaler"])
	checkRole(t, m, "Role/"+fullname+"-scaler", "apps", "deployments/scale", []string{workers}, "get", "update", "patch")
	checkBinding(t, m, "RoleBinding/"+fullname+"-scaler", "Role", fullname+"-scaler", fullname)
	if m.kinds("ClusterRole") != 0 || !m.has("Role/"+fullname+"-dashboard") {
		t.Errorf("rbac.dashboard.nodes=false: %v", m.keys())
	}
	if m.kinds("ScaledObject") != 0 {
		t.Error("a ScaledObject with scale.enabled=false")
	}
	var wd deployment
	m.get(t, "Deployment/"+workers, &wd)
	if wd.Spec.Replicas == nil || *wd.Spec.Replicas != 4 {
		t.Errorf("worker replicas %v, want worker.replicas 4 without KEDA", wd.Spec.Replicas)
	}
}

// TestOrcaAutoscaler checks scale.autoscaler orca, for clusters without KEDA: no ScaledObject,
// the server's configuration names the worker Deployment as its pool with the scale values
// (server.config's own workers keys kept), and the scaler Role lets it scale the Deployment and
// read its pods even with the dashboard's Role off.
func TestOrcaAutoscaler(t *testing.T) {
	m := render(t, valueSets["orca-scaler"])
	if m.kinds("ScaledObject") != 0 || m.has("Role/"+fullname+"-dashboard") {
		t.Errorf("scale.autoscaler orca: %v, want no ScaledObject (and no dashboard Role: it is off)", m.keys())
	}
	checkRole(t, m, "Role/"+fullname+"-scaler", "apps", "deployments/scale", []string{workers}, "get", "update", "patch")
	var r role
	m.get(t, "Role/"+fullname+"-scaler", &r)
	if !slices.ContainsFunc(r.Rules, func(rule policyRule) bool {
		return slices.Equal(rule.APIGroups, []string{""}) && slices.Equal(rule.Resources, []string{"pods"}) &&
			slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) && len(rule.ResourceNames) == 0
	}) {
		t.Errorf("the scaler Role cannot read the worker pods: %+v", r.Rules)
	}
	checkBinding(t, m, "RoleBinding/"+fullname+"-scaler", "Role", fullname+"-scaler", fullname)
	var wd deployment
	m.get(t, "Deployment/"+workers, &wd)
	if wd.Spec.Replicas != nil {
		t.Errorf("worker replicas %d: orca's scaler owns the count, an upgrade must not reset it", *wd.Spec.Replicas)
	}
	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	if a := srv.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
		t.Errorf("server automountServiceAccountToken %v: the scaler needs the token", a)
	}
	f := serverSettings(t, m)
	w := f.Workers
	if w.Deployment != namespace+"/"+workers || w.Kubeconfig != "" || w.Min != 1 || w.Max != 8 || w.TargetQueueLength != 64 ||
		w.ActivationQueueLength != 2 || w.PollingInterval != 2*time.Second || w.Cooldown != time.Minute || w.ScaleUpPods != 2 {
		t.Errorf("server workers %+v, want the worker Deployment in-cluster with the scale values and server.config's scaleUpPods", w)
	}
	if f := configFile(t, m); f.Log.Level != "debug" {
		t.Errorf("server.config's log.level is not in orca.yaml: %q", f.Log.Level)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("orca refuses the chart's pool: %v", err)
	}

	// A cooldownPeriod of 0 (scale to zero as soon as the queue is idle) is not orca's default.
	if f := configFile(t, render(t, "scale: {autoscaler: orca, cooldownPeriod: 0}")); f.Workers.Cooldown != time.Millisecond {
		t.Errorf("cooldownPeriod 0: orca's cooldown %v, want 1ms", f.Workers.Cooldown)
	}
}

// TestPostgresReplicas checks three servers on PostgreSQL: no SQLite volume or Recreate, and
// the store and blob URLs and the keys in the Secret.
func TestPostgresReplicas(t *testing.T) {
	m := render(t, valueSets["postgres-3"])
	var srv deployment
	m.get(t, "Deployment/"+fullname, &srv)
	if *srv.Spec.Replicas != 3 || srv.Spec.Strategy.Type == "Recreate" {
		t.Errorf("replicas %d strategy %q, want 3 rolling", *srv.Spec.Replicas, srv.Spec.Strategy.Type)
	}
	if v := volume(t, srv.Spec.Template.Spec, "data"); v.EmptyDir == nil {
		t.Errorf("the data volume of a PostgreSQL server is not an emptyDir: %+v", v)
	}
	if m.kinds("PersistentVolumeClaim") != 0 {
		t.Error("a PersistentVolumeClaim on PostgreSQL")
	}
	var sec secret
	m.get(t, "Secret/"+fullname, &sec)
	for k, want := range map[string]string{"ORCA_STORE": "postgres://orca@db.internal:5432/orca?sslmode=require",
		"ORCA_BLOB": "s3://orca-data?region=eu-west-1", "ORCA_ADMIN_KEY": "admin-key-0123456789",
		"ORCA_WORKER_KEY": "worker-key-0123456789", "ORCA_READER_KEY": "reader-key-0123456789"} {
		if got := sec.value(t, k); got != want {
			t.Errorf("Secret %s = %q, want %q", k, got, want)
		}
	}
}

// TestRefusedValues checks that values orca cannot run fail at template time with a message
// naming the fix: wrong types, names and enums through values.schema.json, combinations
// through the templates' checks.
func TestRefusedValues(t *testing.T) {
	for _, c := range []struct{ values, want string }{
		{"server: {replicas: 2}", "server.replicas > 1 needs store: postgres://"},
		{"store: postgres://db/orca", "needs a blob store every server reaches"},
		{"scale: {trigger: azure-queue}", "scale.trigger azure-queue needs storage.enabled"},
		// values.schema.json
		{"scale: {trigger: cpu}", "at '/scale/trigger': value must be one of"},
		{"scale: {autoscaler: hpa}", "at '/scale/autoscaler': value must be one of"},
		{"scale: {pollingIntervall: 5}", "additional properties 'pollingIntervall' not allowed"},
		{`scale: {pollingInterval: "5s"}`, "at '/scale/pollingInterval': got string, want integer"},
		{"worker: {execTimeout: ten minutes}", "at '/worker/execTimeout'"},
		{"storage: {encoding: utf8}", "at '/storage/encoding'"},
		{"store: mysql://db", "at '/store'"},
		{"server: {keda: {enabled: false}}", "needs server.keda.enabled"},
		{"storage: {enabled: true}", "storage.enabled needs storage.connectionString or storage.existingSecret"},
		{"worker: {execMode: stream}", "stream needs worker.exec"},
		{"scale: {minReplicaCount: 5, maxReplicaCount: 2}", "minReplicaCount is more than"},
		{"scale: {targetLengthOfQueue: 0}", "at '/scale/targetLengthOfQueue': minimum: got 0, want 1"},
		{"auth: {workerKey: short}", "auth.workerKey: orca refuses keys shorter than 16 characters"},
	} {
		_, err := renderErr(t, c.values)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("values %q: error %v, want one saying %q", c.values, err, c.want)
		}
	}
	// The preStop sleep action needs Kubernetes 1.30.
	if _, err := runHelm(t, "template", release, chartDir, "--kube-version", "1.29.0"); err == nil ||
		!strings.Contains(err.Error(), "kubeVersion") {
		t.Errorf("Kubernetes 1.29: %v, want the chart's kubeVersion refused", err)
	}
}

func checkProbe(t *testing.T, what string, p *probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != "http" {
		t.Errorf("%s probe %+v, want GET %s on the http port", what, p, path)
	}
}

func volume(t *testing.T, p podSpec, name string) volumeSpec {
	t.Helper()
	for _, v := range p.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return volumeSpec{}
}

// checkWorker checks the worker Deployment common to every `orca worker` set-up and returns
// its container: `orca worker --server <the Service> --queue queue`, the worker key as
// ORCA_KEY, no replica count (KEDA's), no Kubernetes token.
func checkWorker(t *testing.T, m manifest, queue string) container {
	t.Helper()
	var wd deployment
	m.get(t, "Deployment/"+workers, &wd)
	if wd.Spec.Replicas != nil {
		t.Errorf("worker replicas %d set: KEDA owns the count", *wd.Spec.Replicas)
	}
	if wd.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "worker" {
		t.Errorf("worker selector %v", wd.Spec.Selector.MatchLabels)
	}
	pod := wd.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("worker pods get a Kubernetes token")
	}
	if pod.TerminationGracePeriodSeconds <= 30 {
		t.Errorf("worker terminationGracePeriodSeconds %d: orca worker finishes its items for up to 30 s", pod.TerminationGracePeriodSeconds)
	}
	w := pod.only(t)
	if w.Name != "worker" || len(w.Args) == 0 || w.Args[0] != "worker" {
		t.Fatalf("worker container %q args %q", w.Name, w.Args)
	}
	if got, _ := flag(w.Args, "server"); got != "http://"+fullname+"."+namespace+".svc:7071" {
		t.Errorf("worker --server %q, want the Service's http port", got)
	}
	if got, _ := flag(w.Args, "queue"); got != queue {
		t.Errorf("worker --queue %q, want %q", got, queue)
	}
	w.fromSecret(t, "ORCA_KEY", fullname, "ORCA_WORKER_KEY")
	return w
}

// checkScaledObject checks the ScaledObject's target and scale.* fields and returns it.
func checkScaledObject(t *testing.T, m manifest, trigger string, polling, cooldown, lo, hi int) scaledObject {
	t.Helper()
	var so scaledObject
	m.get(t, "ScaledObject/"+workers, &so)
	var o object
	m.get(t, "ScaledObject/"+workers, &o)
	if o.APIVersion != "keda.sh/v1alpha1" {
		t.Errorf("ScaledObject apiVersion %q", o.APIVersion)
	}
	ref := so.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != workers || ref.EnvSourceContainerName != "worker" {
		t.Errorf("scaleTargetRef %+v, want the worker Deployment's container worker", ref)
	}
	s := so.Spec
	if s.PollingInterval != polling || s.CooldownPeriod != cooldown || s.MinReplicaCount != lo || s.MaxReplicaCount != hi {
		t.Errorf("polling %d cooldown %d min %d max %d, want %d %d %d %d", s.PollingInterval, s.CooldownPeriod,
			s.MinReplicaCount, s.MaxReplicaCount, polling, cooldown, lo, hi)
	}
	if len(s.Triggers) != 1 || s.Triggers[0].Type != trigger {
		t.Fatalf("triggers %+v, want one %s", s.Triggers, trigger)
	}
	if strings.HasPrefix(trigger, "external") {
		// KEDA resolves apiKeyFromEnv from the scale target's container: it must be there.
		var wd deployment
		m.get(t, "Deployment/"+workers, &wd)
		name, _ := s.Triggers[0].Metadata["apiKeyFromEnv"].(string)
		if _, ok := wd.Spec.Template.Spec.only(t).env(name); !ok {
			t.Errorf("apiKeyFromEnv %q is not a variable of the worker container", name)
		}
	}
	return so
}

// checkMetadata checks a trigger's metadata: exactly these keys, every value a string.
func checkMetadata(t *testing.T, md map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range md {
		s, ok := v.(string)
		if !ok {
			t.Errorf("metadata %s is %T %v: KEDA takes strings only", k, v, v)
			continue
		}
		if w, ok := want[k]; !ok || s != w {
			t.Errorf("metadata %s = %q, want %q (expected: %v)", k, s, w, ok)
		}
	}
	for k := range want {
		if _, ok := md[k]; !ok {
			t.Errorf("metadata has no %s", k)
		}
	}
}

// checkRole checks that a Role or ClusterRole has exactly one rule: verbs on resource.
func checkRole(t *testing.T, m manifest, key, group, resource string, names []string, verbs ...string) {
	t.Helper()
	var r role
	m.get(t, key, &r)
	for _, rule := range r.Rules {
		if slices.Equal(rule.APIGroups, []string{group}) && slices.Equal(rule.Resources, []string{resource}) {
			if !slices.Equal(rule.Verbs, verbs) || !slices.Equal(rule.ResourceNames, names) {
				t.Errorf("%s: %s verbs %v names %v, want %v %v", key, resource, rule.Verbs, rule.ResourceNames, verbs, names)
			}
			continue
		}
		// Anything else must be read-only.
		for _, v := range rule.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("%s: rule %+v writes", key, rule)
			}
		}
	}
	if !slices.ContainsFunc(r.Rules, func(rule policyRule) bool {
		return slices.Equal(rule.Resources, []string{resource})
	}) {
		t.Errorf("%s has no rule on %s: %+v", key, resource, r.Rules)
	}
}

func checkBinding(t *testing.T, m manifest, key, kind, name, sa string) {
	t.Helper()
	var b roleBinding
	m.get(t, key, &b)
	if b.RoleRef.Kind != kind || b.RoleRef.Name != name || len(b.Subjects) != 1 ||
		b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != sa || b.Subjects[0].Namespace != namespace {
		t.Errorf("%s: %+v, want %s %s bound to ServiceAccount %s/%s", key, b, kind, name, namespace, sa)
	}
}

// TestNotes checks what `helm install` prints afterwards (rendered with a client-side dry run,
// no cluster): how to read the admin key from the Secret in use, reach the Service and start a
// run through the seeds' starter with it.
func TestNotes(t *testing.T) {
	for _, c := range []struct{ set, secret, store string }{
		{"defaults", fullname, "SQLite on a PersistentVolumeClaim"},
		{"existing-secret", "orca-keys", "from Secret orca-keys"},
		{"postgres-3", fullname, "PostgreSQL"},
	} {
		args := append([]string{"install", release, chartDir, "--dry-run=client", "--namespace", namespace}, valuesFile(t, valueSets[c.set])...)
		out, err := runHelm(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		_, notes, ok := strings.Cut(out, "\nNOTES:\n")
		if !ok {
			t.Fatalf("%s: no NOTES in:\n%s", c.set, out)
		}
		for _, want := range []string{
			"store: " + c.store,
			"kubectl get secret --namespace " + namespace + " " + c.secret + " -o jsonpath='{.data.ORCA_ADMIN_KEY}'",
			"kubectl port-forward --namespace " + namespace + " service/" + fullname + " 7071:7071",
			`curl --request POST --url "http://127.0.0.1:7071/api/orchestrators/ComputeOrchestrator?inputCount=1000"`,
			`--header "x-functions-key: $ORCA_ADMIN_KEY"`,
		} {
			if !strings.Contains(notes, want) {
				t.Errorf("%s: NOTES lack %q:\n%s", c.set, want, notes)
			}
		}
	}
}
