// Package kube is the scaler's provider for workers that run as a Kubernetes Deployment, for
// clusters without KEDA: orca's own scaler sizes the Deployment through its scale subresource
// with the same Policy as a local pool, and reads the workers' states from the Deployment's
// pods (a pod informer): pending or not yet ready pods are starting, ready ones ready, pods being
// deleted stopping. It needs get, update and patch on deployments/scale and get, list and watch
// on pods in the Deployment's namespace (the Helm chart's scaler Role).
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	appsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/orcahq/orca/internal/scaler"
)

// Config configures a Provider.
type Config struct {
	// Cluster is the cluster's connection (ConfigFor reads one).
	Cluster *rest.Config
	// Namespace and Deployment name the workers' Deployment (required).
	Namespace, Deployment string
	// Timeout bounds one scale request (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// ConfigFor reads the connection to the cluster kubeconfig names, or to the cluster orca runs in
// (in-cluster) when kubeconfig is empty.
func ConfigFor(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return cfg, nil
}

// Open is the provider of deployment ("NAMESPACE/NAME") on the cluster kubeconfig names (the one
// orca runs in when empty): app.Deployments.
func Open(ctx context.Context, deployment, kubeconfig string, log *slog.Logger) (scaler.Provider, error) {
	ns, name, ok := strings.Cut(deployment, "/")
	if !ok {
		return nil, fmt.Errorf("kube: deployment %q: want NAMESPACE/NAME", deployment)
	}
	cluster, err := ConfigFor(kubeconfig)
	if err != nil {
		return nil, err
	}
	return New(ctx, Config{Cluster: cluster, Namespace: ns, Deployment: name, Logger: log})
}

// Provider sizes a Deployment. It implements scaler.Provider.
type Provider struct {
	cfg         Config
	log         *slog.Logger
	deployments appsv1.DeploymentInterface
	pods        cache.SharedIndexInformer
	selector    labels.Selector
	stop        chan struct{}

	mu       sync.Mutex
	want     int
	pending  bool // a scale request is on its way
	failed   bool // the last request failed
	retrying bool // a retry of it is scheduled
	wake     chan struct{}
	done     chan struct{}
}

var _ scaler.Provider = (*Provider)(nil)

// New reads the Deployment's pod selector, starts watching its pods and returns the provider once
// the first list is in.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Cluster == nil || cfg.Namespace == "" || cfg.Deployment == "" {
		return nil, errors.New("kube: Cluster, Namespace and Deployment are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The typed clients of the two API groups used, not the whole clientset: it would add every
	// API group's client to orca's binary.
	apps, err := appsv1.NewForConfig(cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	core, err := typedcorev1.NewForConfig(cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	deployments := apps.Deployments(cfg.Namespace)
	d, err := deployments.Get(ctx, cfg.Deployment, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("kube: deployment %s/%s: %w", cfg.Namespace, cfg.Deployment, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("kube: deployment %s/%s's selector: %w", cfg.Namespace, cfg.Deployment, err)
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, deployments: deployments, selector: sel, stop: make(chan struct{}), want: -1,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.pods = PodInformer(core, cfg.Namespace, sel, nil)
	go p.pods.Run(p.stop)
	if !cache.WaitForCacheSync(ctx.Done(), p.pods.HasSynced) {
		close(p.stop)
		return nil, fmt.Errorf("kube: the pods of %s/%s did not list: %w", cfg.Namespace, cfg.Deployment, ctx.Err())
	}
	go p.scaleLoop()
	return p, nil
}

// Kind implements scaler.Provider.
func (p *Provider) Kind() string { return "kubernetes" }

// Scale implements scaler.Provider: it sets the Deployment's replicas, the latest request
// winning; the scaler asks again at its next poll when a request fails.
func (p *Provider) Scale(n int) {
	p.mu.Lock()
	p.want, p.pending = n, true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Provider) scaleLoop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		p.mu.Lock()
		n, pending := p.want, p.pending
		p.pending = false
		p.mu.Unlock()
		if !pending {
			continue
		}
		err := p.setReplicas(n)
		p.mu.Lock()
		p.failed = err != nil
		p.mu.Unlock()
		if err != nil {
			p.log.Warn("scale the workers' deployment; trying again in a second", "deployment",
				p.cfg.Namespace+"/"+p.cfg.Deployment, "replicas", n, "err", err)
			p.retryLater()
		}
	}
}

// retryLater asks for the latest count again after a second, unless a request is on its way
// or has succeeded meanwhile. One retry is scheduled at a time: the scaler's own requests
// while the API server refuses (forbidden, down) must not each start another.
func (p *Provider) retryLater() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retrying {
		return
	}
	p.retrying = true
	go func() {
		select {
		case <-p.stop:
		case <-time.After(time.Second):
			p.mu.Lock()
			p.retrying = false
			again, n := p.failed && !p.pending, p.want
			p.mu.Unlock()
			if again {
				p.Scale(n)
			}
		}
	}()
}

// setReplicas patches the scale subresource: a patch, not an update, so that the status the
// controllers keep writing to the Deployment never makes it conflict.
func (p *Provider) setReplicas(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n))
	_, err := p.deployments.Patch(ctx, p.cfg.Deployment, types.MergePatchType, patch, metav1.PatchOptions{}, "scale")
	return err
}

// Workers implements scaler.Provider: the Deployment's pods by state.
func (p *Provider) Workers() scaler.Workers {
	var w scaler.Workers
	for _, obj := range p.pods.GetStore().List() {
		pod, ok := obj.(*corev1.Pod)
		if !ok || !p.selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		switch StateOf(pod) {
		case Stopping:
			w.Stopping++
		case Ready:
			w.Ready++
		case Starting:
			w.Starting++
		}
	}
	return w
}

// A PodState is where a worker pod is in its life, as the scaler and the dashboard count it.
type PodState int

// The PodStates.
const (
	// Starting: pending (not scheduled, or its containers not started) or running but not ready.
	Starting PodState = iota
	// Ready: running and ready.
	Ready
	// Stopping: being deleted.
	Stopping
	// Ended: succeeded or failed, no longer a worker.
	Ended
)

// StateOf is pod's state.
func StateOf(pod *corev1.Pod) PodState {
	switch {
	case pod.DeletionTimestamp != nil:
		return Stopping
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return Ended
	case pod.Status.Phase == corev1.PodRunning && ready(pod):
		return Ready
	default:
		return Starting
	}
}

func ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodInformer is an informer of the pods in namespace that sel selects, not yet running. When
// observe is not nil, it is given each list and watch request's outcome (nil on success), so a
// caller can tell a cluster it cannot reach from one with no pods.
func PodInformer(core typedcorev1.CoreV1Interface, namespace string, sel labels.Selector, observe func(error)) cache.SharedIndexInformer {
	pods := core.Pods(namespace)
	return cache.NewSharedIndexInformer(&cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel.String()
			l, err := pods.List(context.Background(), o)
			return l, observed(observe, err)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel.String()
			w, err := pods.Watch(context.Background(), o)
			return w, observed(observe, err)
		},
	}, &corev1.Pod{}, 0, cache.Indexers{})
}

func observed(observe func(error), err error) error {
	if observe != nil {
		observe(err)
	}
	return err
}

// Stop implements scaler.Provider. The Deployment keeps its replicas: the workers belong to the
// cluster, and an orca that restarts finds them at work.
func (p *Provider) Stop(context.Context) {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}
