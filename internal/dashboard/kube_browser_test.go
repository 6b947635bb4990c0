//go:build unix

package dashboard_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/kubetest"
	"github.com/orcahq/orca/internal/kubeview"
)

// TestDashboardShowsPodsAndNodes drives the page against a real Kubernetes API server
// (internal/kubetest): a worker Deployment's pods on kwok's fake nodes, counted running and
// pending, and the nodes, one of which joins and later leaves while the page is open.
func TestDashboardShowsPodsAndNodes(t *testing.T) {
	path := chromium(t)
	dir := artifactsDir(t)
	c := kubetest.Start(t)
	cs := c.Client()
	if _, err := cs.CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Create(t.Context(), kubetest.WorkerDeployment("workers", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	view, err := kubeview.New(kubeview.Config{Cluster: c.RESTConfig(), Deployments: []string{"default/workers"}, Nodes: true})
	if err != nil {
		t.Fatal(err)
	}
	a := apptest.Start(t, app.Config{Registry: registry(t), SampleInterval: 200 * time.Millisecond, Cluster: view})
	b := newBrowser(t, path)
	b.do(t, "open the page", chromedp.Navigate(a.BaseURL+"/"))

	lastOf := func(chart, key string) string {
		return `JSON.parse(document.querySelector('[data-chart=` + chart + `]').dataset.last || '{}').` + key
	}
	b.waitJS(t, "the pods chart", `!document.querySelector('[data-chart=pods]').hidden && `+lastOf("pods", "running")+` === 2`)
	b.waitJS(t, "the workers tile counts the pods", `document.querySelector('[data-tile=workers] .value').textContent === '2'`)
	b.waitJS(t, "the deployment's row", `document.querySelector('tr[data-deployment="default/workers"] td:nth-child(2)')?.textContent === '2'`)
	b.waitJS(t, "kwok-0 ready with its 2 pods", `(() => {
		const r = document.querySelector('tr[data-node="kwok-0"]');
		return r && r.cells[1].textContent.startsWith('Ready') && r.cells[2].textContent === '2';
	})()`)

	// A second node joins and the Deployment grows onto both: the pending pods show before
	// kwok runs them only if the page samples in between, so only the end state is asserted.
	if _, err := cs.CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitJS(t, "two nodes on the chart", lastOf("kube-nodes", "nodes")+` === 2 && `+lastOf("kube-nodes", "ready")+` === 2`)
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Patch(t.Context(), "workers", types.MergePatchType,
		[]byte(`{"spec":{"replicas":6}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	b.waitJS(t, "6 running pods", lastOf("pods", "running")+` === 6`)
	b.waitJS(t, "the pods on both nodes", `[...document.querySelectorAll('tr[data-node]')].map(r => +r.cells[2].textContent).reduce((a, b) => a + b, 0) === 6`)
	b.screenshot(t, dir, "kubernetes-1280-full", true)

	// The node leaves, as a node-pool autoscaler removes one. (Its pods are left to the
	// controller manager's garbage collection of orphaned pods, on its own schedule: not
	// asserted here.)
	if err := cs.CoreV1().Nodes().Delete(t.Context(), "kwok-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitJS(t, "one node left", lastOf("kube-nodes", "nodes")+` === 1 && document.querySelectorAll('tr[data-node]').length === 1`)
	// The series the charts draw still holds the span with two nodes: history, not just now.
	type sample struct {
		Kubernetes *dashboard.ClusterSample `json:"kubernetes"`
	}
	var series struct {
		Samples []sample `json:"samples"`
	}
	resp, err := http.Get(a.BaseURL + "/api/dashboard/series")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&series)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(series.Samples, func(s sample) bool {
		return s.Kubernetes != nil && s.Kubernetes.Nodes == 2
	}) {
		t.Error("the series lost the samples with two nodes")
	}
	b.waitJS(t, "the chart's history", `+document.querySelector('[data-chart=kube-nodes]').dataset.points > 3`)
	b.screenshot(t, dir, "kubernetes-node-left-1280", false)
	if errs := b.errors(nil); len(errs) > 0 {
		t.Errorf("the console has errors:\n%v", errs)
	}
}
