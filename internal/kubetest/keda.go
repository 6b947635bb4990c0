//go:build unix

package kubetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/orcahq/orca/internal/testenv"
)

// KEDAVersion is the version of KEDA that scripts/tools/keda.sh builds by default (the one in
// orca's go.mod), and so where WithKEDA looks for it in its cache. Keep them in step.
const KEDAVersion = "v2.20.2"

// Where WithKEDA puts KEDA's objects: its namespace (KEDA's cluster object namespace) and the
// Service of its metrics API server, as KEDA's own manifests name them.
const (
	KEDANamespace      = "keda"
	kedaMetricsService = "keda-metrics-apiserver"
	kedaAPIService     = "v1beta1.external.metrics.k8s.io"
)

var (
	crdResource        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	apiServiceResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
)

// kedaBinaries are KEDA's programs and CRDs, as scripts/tools/keda.sh lays them out.
type kedaBinaries struct {
	operator, adapter, crds string
}

// findKEDA looks in ORCA_KEDA_BIN or else in scripts/tools/keda.sh's cache, and ends t as
// Missing when a file is not there.
func findKEDA(t testing.TB) kedaBinaries {
	t.Helper()
	dir, where := os.Getenv("ORCA_KEDA_BIN"), "ORCA_KEDA_BIN"
	if dir == "" {
		dir, where = filepath.Join(toolsCache(t), "keda-"+KEDAVersion), "the cache of scripts/tools/keda.sh"
	}
	find := func(name string) string {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			testenv.Missing(t, fmt.Sprintf("kubetest: KEDA's %s is not in %s (%s): run scripts/tools/keda.sh "+
				"(once; it builds KEDA %s from the Go module proxy) or set ORCA_KEDA_BIN; these tests did not run",
				name, where, dir, KEDAVersion))
		}
		return p
	}
	return kedaBinaries{operator: find("keda"), adapter: find("keda-adapter"), crds: find("crds.yaml")}
}

// startKEDA runs KEDA on c as its Helm chart would in a cluster, but with its two programs on
// this machine: KEDA's CRDs, the namespace keda, the operator (which runs ScaledObjects: it
// creates their HPAs, scales a target from 0 to 1 and back, and asks external scalers) and its
// metrics API server (keda-adapter), which serves external.metrics.k8s.io — the HPA's metrics —
// through the API server's aggregation layer. That APIService's Service is an ExternalName of
// 127.0.0.1 (no Service network here); the two programs authenticate each other with a
// certificate from the cluster's CA, and act on the cluster as administrators. It returns when
// the operator is ready and the API server serves external.metrics.k8s.io; t.Cleanup stops both,
// and a failed test logs the end of their logs with the other parts'.
func (c *Cluster) startKEDA(bins kedaBinaries) {
	c.t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	if err := c.applyCRDs(ctx, dyn, bins.crds); err != nil {
		c.t.Fatalf("kubetest: KEDA's CRDs: %v", err)
	}

	dir := filepath.Join(c.Dir, "keda")
	certs, caDirs := filepath.Join(dir, "certs"), filepath.Join(dir, "ca")
	for _, d := range []string{dir, certs, caDirs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			c.t.Fatalf("kubetest: %v", err)
		}
	}
	// Both programs read ca.crt, tls.crt and tls.key in their --cert-dir: the metrics server
	// serves the aggregator with them and is the operator's gRPC client; the operator serves
	// that gRPC API.
	certFile, keyFile, err := c.pki.peerCert("keda", kedaMetricsService+"."+KEDANamespace+".svc",
		"keda-operator."+KEDANamespace+".svc")
	if err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	for to, from := range map[string]string{"ca.crt": c.pki.CAFile, "tls.crt": certFile, "tls.key": keyFile} {
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(certs, to), b, 0o600)
		}
		if err != nil {
			c.t.Fatalf("kubetest: %v", err)
		}
	}

	ports := c.freePorts(5)
	opMetrics, opProbe, opGRPC, adapterPort, adapterMetrics := ports[0], ports[1], ports[2], ports[3], ports[4]
	if err := c.kedaObjects(ctx, dyn, adapterPort); err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	env := []string{"WATCH_NAMESPACE=", "POD_NAMESPACE=" + KEDANamespace, "KEDA_CLUSTER_OBJECT_NAMESPACE=" + KEDANamespace}
	logging := []string{"--zap-log-level=info", "--zap-encoder=console", "--zap-time-encoding=rfc3339nano"}
	_, opKubeconfig := c.clientConfig(c.pki, "keda-operator")
	op := c.startEnv("keda-operator", bins.operator, env, append([]string{
		"--kubeconfig=" + opKubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address=" + local(opMetrics),
		"--health-probe-bind-address=" + local(opProbe),
		"--metrics-service-bind-address=" + local(opGRPC),
		"--cert-dir=" + certs, "--ca-dir=" + caDirs,
		// Its certificates are the ones above; nothing for it to make or patch.
		"--enable-cert-rotation=false", "--enable-webhook-patching=false", "--enable-apiservice-patching=false",
	}, logging...)...)
	_, adKubeconfig := c.clientConfig(c.pki, "keda-adapter")
	adapter := c.startEnv("keda-adapter", bins.adapter, env, append([]string{
		"--kubeconfig=" + adKubeconfig, "--lister-kubeconfig=" + adKubeconfig,
		"--authentication-kubeconfig=" + adKubeconfig, "--authorization-kubeconfig=" + adKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(adapterPort),
		"--port=" + strconv.Itoa(adapterMetrics),
		"--cert-dir=" + certs,
		"--client-ca-file=" + filepath.Join(certs, "ca.crt"),
		"--tls-cert-file=" + filepath.Join(certs, "tls.crt"), "--tls-private-key-file=" + filepath.Join(certs, "tls.key"),
		"--metrics-service-address=" + local(opGRPC),
	}, logging...)...)

	plain := &http.Client{Timeout: 5 * time.Second}
	c.waitReady(ctx, op, func() error { return get(ctx, plain, "http://"+local(opProbe)+"/readyz", "ok") })
	admin, err := rest.HTTPClientFor(c.RESTConfig())
	if err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	admin.Timeout = 5 * time.Second
	// Through the aggregator: the APIService is available and the metrics server answers.
	c.waitReady(ctx, adapter, func() error {
		return get(ctx, admin, c.apiURL+"/apis/external.metrics.k8s.io/v1beta1", `"external.metrics.k8s.io/v1beta1"`)
	})
	c.t.Logf("kubetest: KEDA %s ready in %s (operator, metrics API server at %s)", KEDAVersion,
		time.Since(began).Round(time.Millisecond), local(adapterPort))
}

// applyCRDs creates the CustomResourceDefinitions in the YAML file at path and waits until the
// API server serves each (Established): the operator's informers fail on a kind not yet served.
func (c *Cluster) applyCRDs(ctx context.Context, dyn dynamic.Interface, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var names []string
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if _, err := dyn.Resource(crdResource).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, name := range names {
		for {
			crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("get %s: %w", name, err)
			}
			if hasCondition(crd, "Established") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not established: %w", name, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// hasCondition reports whether obj's status has the condition typ with status True.
func hasCondition(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, cond := range conds {
		m, _ := cond.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// kedaObjects creates KEDA's namespace, and the APIService of external.metrics.k8s.io with its
// Service: an ExternalName of 127.0.0.1, with the metrics server's port. The aggregator checks the
// server's certificate against caBundle for the name <service>.<namespace>.svc.
func (c *Cluster) kedaObjects(ctx context.Context, dyn dynamic.Interface, port int) error {
	cs := c.Client()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: KEDANamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", KEDANamespace, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: kedaMetricsService, Namespace: KEDANamespace},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "127.0.0.1",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(port)}},
		},
	}
	if _, err := cs.CoreV1().Services(KEDANamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %s: %w", kedaMetricsService, err)
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": kedaAPIService},
		"spec": map[string]any{
			"service":              map[string]any{"name": kedaMetricsService, "namespace": KEDANamespace, "port": int64(port)},
			"group":                "external.metrics.k8s.io",
			"version":              "v1beta1",
			"caBundle":             base64.StdEncoding.EncodeToString(c.caPEM),
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
		},
	}}
	if _, err := dyn.Resource(apiServiceResource).Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create APIService %s: %w", kedaAPIService, err)
	}
	return nil
}
