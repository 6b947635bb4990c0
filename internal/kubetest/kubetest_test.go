//go:build unix

package kubetest_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/orcahq/orca/internal/kubetest"
)

// TestCluster is the smoke test of the control plane: a Deployment of 3 replicas on a kwok node
// gets 3 Running pods (the scheduler binds them, kwok runs them), and scaling it to 0 through
// the scale subresource removes them (the ReplicaSet controller deletes them, kwok lets them go).
func TestCluster(t *testing.T) {
	began := time.Now()
	c := kubetest.Start(t)
	t.Logf("cluster started in %s", time.Since(began).Round(time.Millisecond))
	cs := c.Client()
	ctx := t.Context()
	const ns = metav1.NamespaceDefault

	node, err := cs.CoreV1().Nodes().Create(ctx, kubetest.FakeNode("kwok-0"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	c.WaitFor(time.Minute, "node kwok-0 Ready", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})

	labels := map[string]string{"app": "smoke"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{kubetest.FakeNodeLabel: "kwok"},
					Tolerations:  []corev1.Toleration{kubetest.FakeNodeToleration},
					Containers:   []corev1.Container{{Name: "app", Image: "registry.invalid/smoke:1"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	pods := func(ctx context.Context) ([]corev1.Pod, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=smoke"})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	running := time.Now()
	c.WaitFor(2*time.Minute, "3 Running pods on kwok-0 and a Deployment that counts 3 ready", func(ctx context.Context) (bool, error) {
		ps, err := pods(ctx)
		if err != nil {
			return false, err
		}
		n := 0
		for _, p := range ps {
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == node.Name && p.DeletionTimestamp == nil {
				n++
			}
		}
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "smoke", metav1.GetOptions{})
		return err == nil && n == 3 && d.Status.ReadyReplicas == 3, err
	})
	t.Logf("3 pods Running %s after the Deployment was created", time.Since(running).Round(time.Millisecond))

	scale, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if scale.Spec.Replicas != 3 || scale.Status.Replicas != 3 {
		t.Errorf("scale: spec.replicas %d, status.replicas %d, want 3 and 3", scale.Spec.Replicas, scale.Status.Replicas)
	}
	scale = &autoscalingv1.Scale{ObjectMeta: scale.ObjectMeta, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "smoke", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale to 0: %v", err)
	}
	gone := time.Now()
	c.WaitFor(2*time.Minute, "no pods left", func(ctx context.Context) (bool, error) {
		ps, err := pods(ctx)
		return err == nil && len(ps) == 0, err
	})
	t.Logf("pods gone %s after the scale to 0", time.Since(gone).Round(time.Millisecond))
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment: %v", err)
	}
	if *d.Spec.Replicas != 0 {
		t.Errorf("deployment spec.replicas %d after the scale, want 0", *d.Spec.Replicas)
	}
	t.Logf("smoke test took %s in all", time.Since(began).Round(time.Millisecond))
}

// TestKEDA starts KEDA's operator and metrics API server on a control plane: the API server
// lists KEDA's external metrics (the aggregator reaches the metrics server on 127.0.0.1) and the
// operator takes a ScaledObject, making its HPA. The scaling itself is internal/e2e's
// TestKEDAScalesTheChartsWorkers.
func TestKEDA(t *testing.T) {
	began := time.Now()
	c := kubetest.Start(t, kubetest.WithKEDA())
	t.Logf("control plane and KEDA started in %s", time.Since(began).Round(time.Millisecond))
	cs := c.Client()
	ctx := t.Context()
	res, err := cs.Discovery().ServerResourcesForGroupVersion("external.metrics.k8s.io/v1beta1")
	if err != nil {
		t.Fatalf("discover external.metrics.k8s.io: %v", err)
	}
	t.Logf("external.metrics.k8s.io/v1beta1 serves %d resources", len(res.APIResources))

	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "scaled"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "scaled"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "scaled"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/scaled:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(metav1.NamespaceDefault).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	so := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": "scaled", "namespace": metav1.NamespaceDefault},
		"spec": map[string]any{
			"scaleTargetRef":  map[string]any{"name": "scaled"},
			"minReplicaCount": int64(0), "maxReplicaCount": int64(2),
			// A cron trigger outside its window: inactive, needs nothing outside the cluster.
			"triggers": []any{map[string]any{"type": "cron", "metadata": map[string]any{
				"timezone": "UTC", "start": "0 0 1 1 *", "end": "1 0 1 1 *", "desiredReplicas": "1"}}},
		},
	}}
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}
	if _, err := dyn.Resource(gvr).Namespace(metav1.NamespaceDefault).Create(ctx, so, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(time.Minute, "KEDA's HPA for the ScaledObject", func(ctx context.Context) (bool, error) {
		_, err := cs.AutoscalingV2().HorizontalPodAutoscalers(metav1.NamespaceDefault).Get(ctx, "keda-hpa-scaled", metav1.GetOptions{})
		return err == nil, err
	})
}
