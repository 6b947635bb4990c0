package helm_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/orcahq/orca/internal/config"
)

const (
	chartDir  = "orca"
	release   = "compute" // the seeds' release name
	namespace = "compute"
	fullname  = "compute-orca"
	workers   = "compute-orca-worker"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
	skipOnce sync.Once
)

// helmBinary returns helm: $ORCA_HELM, else the one scripts/tools/helm.sh builds from the Go
// module proxy (once; cached across runs). When it cannot be had (no network on a first
// build) the test skips loudly, and fails under REQUIRE_INTEGRATION=1 (CI, where
// scripts/install-test-deps.sh builds it first).
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("ORCA_HELM"); p != "" {
			helmPath = p
			return
		}
		// The first build takes minutes: its progress goes to the terminal too.
		var stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "tools", "helm.sh"))
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("scripts/tools/helm.sh: %v: %s", err, strings.TrimSpace(lastLine(stderr.String())))
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		msg := "helm could not be built from the Go module proxy, so the chart was not checked (" + helmErr.Error() + ")"
		if os.Getenv("REQUIRE_INTEGRATION") == "1" {
			t.Fatal(msg + "; REQUIRE_INTEGRATION=1 makes this a failure")
		}
		skipOnce.Do(func() { fmt.Fprintln(os.Stderr, "\n*** SKIP: "+msg+" ***") })
		t.Skip(msg)
	}
	return helmPath
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// runHelm runs helm with args and returns its stdout, or its error with stderr.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	// helm keeps its caches and configuration under these; none of the user's may leak in, and
	// no cluster of theirs is reachable (KUBECONFIG names no file).
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// valuesFile writes a values file and returns the flags that pass it ("" passes none).
func valuesFile(t *testing.T, values string) []string {
	t.Helper()
	if values == "" {
		return nil
	}
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--values", p}
}

// manifest is a rendered chart: its documents by "Kind/name".
type manifest map[string]map[string]any

// render runs helm template with the values and parses what it prints.
func render(t *testing.T, values string) manifest {
	t.Helper()
	out, err := renderErr(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderErr(t *testing.T, values string) (manifest, error) {
	t.Helper()
	args := append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", "1.30.0"},
		valuesFile(t, values)...)
	out, err := runHelm(t, args...)
	if err != nil {
		return nil, err
	}
	m := manifest{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the rendered chart is not YAML: %v\n%s", err, out)
		}
		if doc == nil {
			continue
		}
		var o object
		convert(t, doc, &o)
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("a document without apiVersion, kind or name: %v", doc)
		}
		if len(o.Metadata.Name) > 63 {
			t.Errorf("%s/%s: the name is longer than 63 characters", o.Kind, o.Metadata.Name)
		}
		if o.Metadata.Labels["app.kubernetes.io/instance"] != release || o.Metadata.Labels["app.kubernetes.io/name"] != "orca" {
			t.Errorf("%s/%s: labels %v lack the release's", o.Kind, o.Metadata.Name, o.Metadata.Labels)
		}
		key := o.Kind + "/" + o.Metadata.Name
		if _, dup := m[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		m[key] = doc
	}
	return m, nil
}

// get decodes the document key into v, failing when there is none.
func (m manifest) get(t *testing.T, key string, v any) {
	t.Helper()
	doc, ok := m[key]
	if !ok {
		t.Fatalf("no %s among %v", key, m.keys())
	}
	convert(t, doc, v)
}

func (m manifest) has(key string) bool { _, ok := m[key]; return ok }

func (m manifest) keys() []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// kinds counts the documents of a kind.
func (m manifest) kinds(kind string) int {
	n := 0
	for key := range m {
		if strings.HasPrefix(key, kind+"/") {
			n++
		}
	}
	return n
}

func convert(t *testing.T, in, out any) {
	t.Helper()
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %T: %v\n%s", out, err, b)
	}
}

// The parts of the Kubernetes objects the tests read.
type (
	object struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name        string            `yaml:"name"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
	}
	deployment struct {
		Spec struct {
			Replicas *int `yaml:"replicas"`
			Strategy struct {
				Type string `yaml:"type"`
			} `yaml:"strategy"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		ServiceAccountName            string       `yaml:"serviceAccountName"`
		AutomountServiceAccountToken  *bool        `yaml:"automountServiceAccountToken"`
		TerminationGracePeriodSeconds int          `yaml:"terminationGracePeriodSeconds"`
		Containers                    []container  `yaml:"containers"`
		Volumes                       []volumeSpec `yaml:"volumes"`
	}
	volumeSpec struct {
		Name                  string    `yaml:"name"`
		EmptyDir              *struct{} `yaml:"emptyDir"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []envVar `yaml:"env"`
		EnvFrom []struct {
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		StartupProbe   *probe `yaml:"startupProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Lifecycle      *struct {
			PreStop *struct {
				Sleep *struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
		SecurityContext struct {
			RunAsNonRoot           bool `yaml:"runAsNonRoot"`
			ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
	}
	envVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *secretKeyRef `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	secretKeyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	secret struct {
		Data map[string]string `yaml:"data"`
	}
	scaledObject struct {
		Spec struct {
			ScaleTargetRef struct {
				APIVersion             string `yaml:"apiVersion"`
				Kind                   string `yaml:"kind"`
				Name                   string `yaml:"name"`
				EnvSourceContainerName string `yaml:"envSourceContainerName"`
			} `yaml:"scaleTargetRef"`
			PollingInterval int            `yaml:"pollingInterval"`
			CooldownPeriod  int            `yaml:"cooldownPeriod"`
			MinReplicaCount int            `yaml:"minReplicaCount"`
			MaxReplicaCount int            `yaml:"maxReplicaCount"`
			Fallback        map[string]any `yaml:"fallback"`
			Triggers        []struct {
				Type string `yaml:"type"`
				// any, not string: KEDA's CRD takes strings only, so a number left unquoted
				// by a template must show up here.
				Metadata          map[string]any `yaml:"metadata"`
				AuthenticationRef *struct {
					Name string `yaml:"name"`
				} `yaml:"authenticationRef"`
			} `yaml:"triggers"`
		} `yaml:"spec"`
	}
	triggerAuthentication struct {
		Spec struct {
			SecretTargetRef []struct {
				Parameter string `yaml:"parameter"`
				Name      string `yaml:"name"`
				Key       string `yaml:"key"`
			} `yaml:"secretTargetRef"`
		} `yaml:"spec"`
	}
	role struct {
		Rules []policyRule `yaml:"rules"`
	}
	policyRule struct {
		APIGroups     []string `yaml:"apiGroups"`
		Resources     []string `yaml:"resources"`
		ResourceNames []string `yaml:"resourceNames"`
		Verbs         []string `yaml:"verbs"`
	}
	roleBinding struct {
		RoleRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"roleRef"`
		Subjects []struct {
			Kind      string `yaml:"kind"`
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"subjects"`
	}
)

// only returns a pod's one container.
func (p podSpec) only(t *testing.T) container {
	t.Helper()
	if len(p.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Containers))
	}
	return p.Containers[0]
}

func (c container) env(name string) (envVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return envVar{}, false
}

// fromSecret checks that c's variable name comes from key of the Secret secretName.
func (c container) fromSecret(t *testing.T, name, secretName, key string) {
	t.Helper()
	e, ok := c.env(name)
	if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("%s: %s is not from a Secret: %+v", c.Name, name, e)
	}
	if got := *e.ValueFrom.SecretKeyRef; got != (secretKeyRef{Name: secretName, Key: key}) {
		t.Fatalf("%s: %s from %+v, want Secret %s key %s", c.Name, name, got, secretName, key)
	}
}

func (c container) value(t *testing.T, name, want string) {
	t.Helper()
	e, ok := c.env(name)
	if !ok || e.Value != want {
		t.Fatalf("%s: %s = %q (set: %v), want %q", c.Name, name, e.Value, ok, want)
	}
}

func (c container) port(name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// flag returns the value after --name in args, and whether it is there.
func flag(args []string, name string) (string, bool) {
	i := slices.Index(args, "--"+name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func (s secret) value(t *testing.T, key string) string {
	t.Helper()
	v, ok := s.Data[key]
	if !ok {
		t.Fatalf("the Secret has no %s (keys %v)", key, s.keys())
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return string(b)
}

func (s secret) keys() []string {
	var k []string
	for key := range s.Data {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// configFile parses the orca.yaml of the chart's ConfigMap with orca's own parser.
func configFile(t *testing.T, m manifest) *config.File {
	t.Helper()
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	m.get(t, "ConfigMap/"+fullname, &cm)
	f, err := config.Parse(strings.NewReader(cm.Data["orca.yaml"]), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("orca.yaml does not parse as orca's configuration: %v\n%s", err, cm.Data["orca.yaml"])
	}
	return f
}
