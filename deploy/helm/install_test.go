//go:build unix

package helm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/orcahq/orca/internal/kubetest"
)

// TestChartInstallsOnAControlPlane: `helm install` of the chart on a real kube-apiserver
// (internal/kubetest) — defaults, KEDA's external trigger, the scaler's Role, and orca's own
// scaler in place of KEDA — is accepted
// object by object, the ScaledObject against KEDA's own CRD (installed from the KEDA module orca
// builds its scaler API with) and the RBAC against the API server's rules; then uninstalls. The
// pods run nowhere (kwok runs none, and none is asked to): this checks what the API server
// accepts, not a running system.
func TestChartInstallsOnAControlPlane(t *testing.T) {
	helmBinary(t)
	c := kubetest.Start(t)
	crds := kedaCRDs(t)
	kube := []string{"--kubeconfig", c.Kubeconfig}
	if out, err := runHelm(t, append([]string{"install", "keda-crds", crds, "--namespace", "default"}, kube...)...); err != nil {
		t.Fatalf("install KEDA's CRDs: %v\n%s", err, out)
	}
	for i, values := range []string{valueSets["defaults"], valueSets["keda-external"], valueSets["rbac-scaler"], valueSets["orca-scaler"]} {
		ns := []string{"compute-1", "compute-2", "compute-3", "compute-4"}[i]
		args := append([]string{"install", release, chartDir, "--namespace", ns, "--create-namespace"}, kube...)
		if out, err := runHelm(t, append(args, valuesFile(t, values)...)...); err != nil {
			t.Fatalf("helm install (%s): %v\n%s", ns, err, out)
		}
		ds, err := c.Client().AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil || len(ds.Items) != 2 {
			t.Fatalf("%s: %d deployments (%v), want the server's and the workers'", ns, len(ds.Items), err)
		}
		if out, err := runHelm(t, append([]string{"uninstall", release, "--namespace", ns}, kube...)...); err != nil {
			t.Fatalf("helm uninstall (%s): %v\n%s", ns, err, out)
		}
	}
}

// kedaCRDs writes a chart holding KEDA's CRDs, from the KEDA module in orca's go.mod, and returns
// its directory.
func kedaCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kedacore/keda/v2").Output()
	if err != nil {
		t.Fatalf("find the KEDA module: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "bases")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: keda-crds\nversion: 0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "crds", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
