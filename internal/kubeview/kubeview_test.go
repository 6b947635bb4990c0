//go:build unix

package kubeview_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/kubetest"
	"github.com/orcahq/orca/internal/kubeview"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// TestViewFollowsPodsAndNodes: a view made before its Deployment exists says so and finds it
// once it is created; it counts the pods by state and where they run, and follows nodes that
// join, are cordoned and leave.
func TestViewFollowsPodsAndNodes(t *testing.T) {
	c := kubetest.Start(t)
	cs := c.Client()
	v, err := kubeview.New(kubeview.Config{Cluster: c.RESTConfig(), Deployments: []string{"default/workers"}, Nodes: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Stop()
	state := func() dashboard.ClusterState { return v.State() }
	c.WaitFor(time.Minute, "the missing deployment reported", func(context.Context) (bool, error) {
		st := state()
		return len(st.Errors) == 1 && strings.Contains(st.Errors[0], "default/workers") && strings.Contains(st.Errors[0], "not found"), nil
	})
	if st := state(); !st.NodesWatched || len(st.Nodes) != 0 || len(st.Deployments) != 1 || st.Deployments[0] != (dashboard.DeploymentPods{Name: "default/workers"}) {
		t.Fatalf("before anything exists: %+v", st)
	}

	if _, err := cs.CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Create(t.Context(), kubetest.WorkerDeployment("workers", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(2*time.Minute, "3 running pods on a ready kwok-0", func(context.Context) (bool, error) {
		st := state()
		return len(st.Errors) == 0 && st.Deployments[0] == dashboard.DeploymentPods{Name: "default/workers", Running: 3} &&
			len(st.Nodes) == 1 && st.Nodes[0].Name == "kwok-0" && st.Nodes[0].Ready && st.Nodes[0].WorkerPods == 3, nil
	})

	// A node joins and is cordoned; then it leaves.
	if _, err := cs.CoreV1().Nodes().Create(t.Context(), kubetest.FakeNode("kwok-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(time.Minute, "kwok-1 ready", func(context.Context) (bool, error) {
		st := state()
		i := slices.IndexFunc(st.Nodes, func(n dashboard.Node) bool { return n.Name == "kwok-1" })
		return len(st.Nodes) == 2 && i == 1 && st.Nodes[i].Ready && st.Nodes[i].WorkerPods == 0, nil
	})
	if _, err := cs.CoreV1().Nodes().Patch(t.Context(), "kwok-1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(time.Minute, "kwok-1 cordoned", func(context.Context) (bool, error) {
		st := state()
		return len(st.Nodes) == 2 && st.Nodes[1].Unschedulable && !st.Nodes[0].Unschedulable, nil
	})
	if err := cs.CoreV1().Nodes().Delete(t.Context(), "kwok-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(time.Minute, "kwok-1 gone", func(context.Context) (bool, error) { return len(state().Nodes) == 1, nil })

	// Scaled to zero, the pods go (stopping first, as kwok deletes them).
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Patch(t.Context(), "workers", types.MergePatchType,
		[]byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(2*time.Minute, "no pods", func(context.Context) (bool, error) {
		st := state()
		return st.Deployments[0] == dashboard.DeploymentPods{Name: "default/workers"} && st.Nodes[0].WorkerPods == 0, nil
	})
}

// TestViewOfAClusterItCannotReach reports that it cannot, for the pods and for the nodes, and
// stops at once.
func TestViewOfAClusterItCannotReach(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// Port 1 on loopback: nothing listens there, so every request is refused at once.
	v, err := kubeview.New(kubeview.Config{Cluster: &rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second},
		Deployments: []string{"compute/workers"}, Nodes: true})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 30*time.Second, func() bool {
		st := v.State()
		return len(st.Errors) == 2 && strings.HasPrefix(st.Errors[0], "pods of deployment compute/workers: ") &&
			strings.HasPrefix(st.Errors[1], "nodes: ") && strings.Contains(st.Errors[1], "connection refused")
	}, "both errors reported")
	stopped := make(chan struct{})
	go func() { v.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("Stop did not return")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []kubeview.Config{
		{},
		{Cluster: &rest.Config{Host: "http://127.0.0.1:1"}},
		{Cluster: &rest.Config{Host: "http://127.0.0.1:1"}, Deployments: []string{"no-namespace"}},
	} {
		if v, err := kubeview.New(cfg); err == nil {
			v.Stop()
			t.Errorf("New(%+v) made a view", cfg)
		}
	}
}
