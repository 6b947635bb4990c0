package helm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/config"
)

// Secrets the value sets name but the chart does not make, with stand-in contents.
var externalSecrets = map[string]map[string]string{
	"orca-keys": {"ORCA_ADMIN_KEY": "admin-from-existing-secret", "ORCA_WORKER_KEY": "worker-from-existing-secret"},
	"azure-connection-strings": {"storage-account-connection-string": "DefaultEndpointsProtocol=https;AccountName=safuncakskedausscdemo;" +
		"AccountKey=a2V5;EndpointSuffix=core.windows.net"},
}

// podEnv is the environment a container of the rendered chart would start with: its env and
// envFrom, with Secret references read from the rendered Secrets or externalSecrets.
func podEnv(t *testing.T, m manifest, c container) map[string]string {
	t.Helper()
	secretData := func(name string) map[string]string {
		if s, ok := externalSecrets[name]; ok {
			return s
		}
		var sec secret
		m.get(t, "Secret/"+name, &sec)
		out := map[string]string{}
		for k := range sec.Data {
			out[k] = sec.value(t, k)
		}
		return out
	}
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			t.Fatalf("%s: envFrom %+v: only Secrets are expected", c.Name, from)
		}
		for k, v := range secretData(from.SecretRef.Name) {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secretData(ref.Name)[ref.Key]
			if !ok {
				t.Fatalf("%s: %s names key %s, which Secret %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = v
		default:
			t.Fatalf("%s: %s: an unexpected valueFrom", c.Name, e.Name)
		}
	}
	return env
}

// setEnv makes env the process's orca and Azure environment for the rest of the test.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ORCA_") || strings.HasPrefix(k, "AZURE_STORAGE_") {
			t.Setenv(k, "") // restored when the test ends
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// serverSettings resolves the server container's args, environment and configuration file
// as `orca server` does (internal/config's Flags: defaults, file, ORCA_*, flags; then
// Validate), and returns the settings.
func serverSettings(t *testing.T, m manifest) *config.File {
	t.Helper()
	var d deployment
	m.get(t, "Deployment/"+fullname, &d)
	c := d.Spec.Template.Spec.only(t)
	env := podEnv(t, m, c)
	if p, ok := env["ORCA_CONFIG"]; ok {
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		m.get(t, "ConfigMap/"+fullname, &cm)
		local := filepath.Join(t.TempDir(), filepath.Base(p))
		if err := os.WriteFile(local, []byte(cm.Data[filepath.Base(p)]), 0o600); err != nil {
			t.Fatal(err)
		}
		env["ORCA_CONFIG"] = local
	}
	setEnv(t, env)
	if len(c.Args) == 0 || c.Args[0] != "server" {
		t.Fatalf("server args %q", c.Args)
	}
	fl := &config.Flags{}
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	fl.Log(fs)
	fl.Node(fs)
	if err := fs.Parse(c.Args[1:]); err != nil {
		t.Fatalf("orca server refuses the chart's args %q: %v", c.Args, err)
	}
	f, err := fl.Resolve(fs)
	if err != nil {
		t.Fatalf("orca server refuses the chart's settings: %v", err)
	}
	return f
}

// workerSettings resolves the worker container's args as `orca worker` does and returns the
// settings with its --server and --key.
func workerSettings(t *testing.T, m manifest) (f *config.File, server, key string) {
	t.Helper()
	var d deployment
	m.get(t, "Deployment/"+workers, &d)
	c := d.Spec.Template.Spec.only(t)
	if !slices.Equal(c.Command, []string{"/usr/local/bin/orca"}) || len(c.Args) == 0 || c.Args[0] != "worker" {
		t.Fatalf("worker command %q args %q: not orca worker", c.Command, c.Args)
	}
	setEnv(t, podEnv(t, m, c))
	fl := &config.Flags{}
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	fl.Log(fs)
	fl.Workers(fs)
	// cmd/orca's own flags of `orca worker`.
	fs.StringVar(&server, "server", "http://127.0.0.1:7071", "")
	fs.StringVar(&key, "key", "", "")
	fs.Duration("max-idle", 0, "")
	if err := fs.Parse(c.Args[1:]); err != nil {
		t.Fatalf("orca worker refuses the chart's args %q: %v", c.Args, err)
	}
	f, err := fl.Resolve(fs)
	if err != nil {
		t.Fatalf("orca worker refuses the chart's settings: %v", err)
	}
	if key == "" {
		key = config.ClientFromEnv().Key
	}
	return f, server, key
}

// TestSettingsResolve feeds what the chart renders for the server and the workers through
// orca's own settings layer, as `orca server` and `orca worker` would read them in their
// pods: every flag known, the settings valid, and the server's store, blobs, queue, keys and
// KEDA listener the ones the values ask for; the workers' key one the server accepts.
func TestSettingsResolve(t *testing.T) {
	for _, c := range []struct {
		set                   string
		store, blob, queueURL string
		queue, keda           string
		keys                  int
		exec, execMode        string
	}{
		{set: "defaults", queue: "input", keda: "0.0.0.0:9090", keys: 2, execMode: "per-item"},
		{set: "keda-external", queue: "jobs", keda: "0.0.0.0:9090", keys: 2, exec: "python3 /app/run.py", execMode: "stream"},
		{set: "azure-queue", blob: "azblob://", queueURL: "azqueue://?encoding=text&prefix=demo-", queue: "input", keys: 2},
		{set: "storage-inline", store: "postgres://orca@db.internal:5432/orca?sslmode=require", blob: "azblob://",
			queueURL: "azqueue://?encoding=text", queue: "input", keda: "0.0.0.0:9090", keys: 2, execMode: "per-item"},
		{set: "existing-secret", queue: "input", keda: "0.0.0.0:9090", keys: 2, execMode: "per-item"},
		{set: "orca-scaler", queue: "input", keys: 2, execMode: "per-item"},
		{set: "postgres-3", store: "postgres://orca@db.internal:5432/orca?sslmode=require", blob: "s3://orca-data?region=eu-west-1",
			queue: "input", keda: "0.0.0.0:9090", keys: 3, execMode: "per-item"},
	} {
		t.Run(c.set, func(t *testing.T) {
			m := render(t, valueSets[c.set])
			f := serverSettings(t, m)
			if f.Store != c.store || f.Blob != c.blob || f.QueueURL != c.queueURL {
				t.Errorf("server store %q blob %q queueURL %q, want %q %q %q", f.Store, f.Blob, f.QueueURL, c.store, c.blob, c.queueURL)
			}
			if f.Listen != "0.0.0.0:7071" || f.Data != "/data" || f.KEDA.Listen != c.keda || f.Work.Queue != c.queue {
				t.Errorf("server listen %q data %q keda %q queue %q, want 0.0.0.0:7071 /data %q %q",
					f.Listen, f.Data, f.KEDA.Listen, f.Work.Queue, c.keda, c.queue)
			}
			if f.Log.Format != "json" {
				t.Errorf("server log format %q", f.Log.Format)
			}
			keys, err := f.Keys()
			if err != nil || len(f.Auth.Keys) != c.keys {
				t.Fatalf("server keys %d (%v), want %d", len(f.Auth.Keys), err, c.keys)
			}
			if c.set == "keda-external" && f.Engine.LockDuration != 30*time.Second {
				t.Errorf("server.config's engine.lockDuration did not reach the server: %v", f.Engine.LockDuration)
			}
			if c.execMode == "" {
				return // the user's own container
			}
			w, server, key := workerSettings(t, m)
			if server != "http://"+fullname+"."+namespace+".svc:7071" || w.Work.Queue != c.queue {
				t.Errorf("worker server %q queue %q", server, w.Work.Queue)
			}
			if w.Workers.Exec != c.exec || w.Workers.ExecMode != c.execMode {
				t.Errorf("worker exec %q mode %q, want %q %q", w.Workers.Exec, w.Workers.ExecMode, c.exec, c.execMode)
			}
			if k, ok := keys.Check(key); !ok || k.Scope != auth.ScopeWorker {
				t.Errorf("the workers' key is %+v to the server (known: %v), want a worker key", k, ok)
			}
		})
	}
}
