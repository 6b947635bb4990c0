package kubetest

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkerDeployment returns a Deployment of orca workers at replicas, its pods scheduled only on
// FakeNodes, where they run no code: kwok reports them Running and Ready. Create it in the
// namespace you want.
func WorkerDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{FakeNodeLabel: "kwok"},
					Tolerations:  []corev1.Toleration{FakeNodeToleration},
					Containers:   []corev1.Container{{Name: "worker", Image: "registry.invalid/orca:test", Args: []string{"worker"}}},
				},
			},
		},
	}
}
