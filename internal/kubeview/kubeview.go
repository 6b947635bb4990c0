// Package kubeview is the dashboard's read-only view of a Kubernetes cluster: the pods of the
// worker Deployments (running, pending, stopping; one pod informer per Deployment, on its
// selector) and the nodes (a node informer: ready, cordoned, worker pods on each). It needs get,
// list and watch on pods and deployments in the Deployments' namespaces, and on nodes (a
// ClusterRole) when nodes are watched: the Helm chart's dashboard Role and ClusterRole.
//
// It never blocks orca's start and never fails it: a Deployment that does not exist yet is
// looked up again with a backoff, an API server that cannot be reached is retried by the
// informers, and what cannot be read is reported in the state's Errors.
package kubeview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	typedappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/orcahq/orca/internal/backoff"
	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/workers/kube"
)

// Config configures a View.
type Config struct {
	// Cluster is the cluster's connection (kube.ConfigFor reads one).
	Cluster *rest.Config
	// Deployments are the worker Deployments, each "NAMESPACE/NAME".
	Deployments []string
	// Nodes watches the cluster's nodes.
	Nodes  bool
	Logger *slog.Logger
}

// View watches the cluster. It implements dashboard.Cluster.
type View struct {
	log     *slog.Logger
	apps    typedappsv1.AppsV1Interface
	core    typedcorev1.CoreV1Interface
	targets []*target
	nodes   *source // nil: nodes are not watched
	stop    chan struct{}
	wg      sync.WaitGroup
}

var _ dashboard.Cluster = (*View)(nil)

// target is one Deployment whose pods are watched.
type target struct {
	namespace, name string
	src             source
}

// source is an informer and what its last request to the API server said.
type source struct {
	what string // e.g. "pods of compute/workers"

	mu       sync.Mutex
	informer cache.SharedIndexInformer // nil until it can be made
	err      error
}

func (s *source) observe(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *source) state() (cache.SharedIndexInformer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.informer, s.err
}

// New checks cfg and starts watching; the first counts arrive as the informers list.
func New(cfg Config) (*View, error) {
	if cfg.Cluster == nil {
		return nil, errors.New("kubeview: Cluster is required")
	}
	if len(cfg.Deployments) == 0 && !cfg.Nodes {
		return nil, errors.New("kubeview: nothing to watch: give Deployments or Nodes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &View{log: cfg.Logger, stop: make(chan struct{})}
	var err error
	if v.apps, err = typedappsv1.NewForConfig(cfg.Cluster); err != nil {
		return nil, fmt.Errorf("kubeview: %w", err)
	}
	if v.core, err = typedcorev1.NewForConfig(cfg.Cluster); err != nil {
		return nil, fmt.Errorf("kubeview: %w", err)
	}
	seen := map[string]bool{}
	for _, d := range cfg.Deployments {
		ns, name, ok := strings.Cut(d, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("kubeview: deployment %q: want NAMESPACE/NAME", d)
		}
		if !seen[d] {
			seen[d] = true
			v.targets = append(v.targets, &target{namespace: ns, name: name, src: source{what: "pods of deployment " + d}})
		}
	}
	for _, t := range v.targets {
		v.wg.Go(func() { v.watchDeployment(t) })
	}
	if cfg.Nodes {
		v.nodes = &source{what: "nodes"}
		nodes := v.core.Nodes()
		inf := cache.NewSharedIndexInformer(&cache.ListWatch{
			ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
				l, err := nodes.List(context.Background(), o)
				v.nodes.observe(err)
				return l, err
			},
			WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
				w, err := nodes.Watch(context.Background(), o)
				v.nodes.observe(err)
				return w, err
			},
		}, &corev1.Node{}, 0, cache.Indexers{})
		v.nodes.informer = inf
		v.wg.Go(func() { inf.Run(v.stop) })
	}
	return v, nil
}

// watchDeployment reads t's Deployment until it exists, then watches the pods its selector
// selects. (A selector changed later is not followed: Kubernetes makes it immutable in apps/v1.)
func (v *View) watchDeployment(t *target) {
	b := backoff.Backoff{Base: 500 * time.Millisecond, Cap: 30 * time.Second}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := v.apps.Deployments(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
		cancel()
		if err == nil {
			sel, serr := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if serr == nil {
				inf := kube.PodInformer(v.core, t.namespace, sel, t.src.observe)
				t.src.mu.Lock()
				t.src.informer, t.src.err = inf, nil
				t.src.mu.Unlock()
				inf.Run(v.stop)
				return
			}
			err = fmt.Errorf("its selector: %w", serr)
		}
		if _, prev := t.src.state(); prev == nil || prev.Error() != err.Error() {
			v.log.Warn("dashboard: cannot read a worker deployment; trying again", "deployment", t.namespace+"/"+t.name, "err", err)
		}
		t.src.observe(err)
		select {
		case <-v.stop:
			return
		case <-time.After(b.Next()):
		}
	}
}

// State implements dashboard.Cluster.
func (v *View) State() dashboard.ClusterState {
	st := dashboard.ClusterState{Deployments: []dashboard.DeploymentPods{}, Nodes: []dashboard.Node{}, Errors: []string{},
		NodesWatched: v.nodes != nil}
	perNode := map[string]int{}
	for _, t := range v.targets {
		dp := dashboard.DeploymentPods{Name: t.namespace + "/" + t.name}
		inf, err := t.src.state()
		if err != nil {
			st.Errors = append(st.Errors, t.src.what+": "+err.Error())
		}
		if inf != nil {
			for _, obj := range inf.GetStore().List() {
				pod, ok := obj.(*corev1.Pod)
				if !ok {
					continue
				}
				switch kube.StateOf(pod) {
				case kube.Ready:
					dp.Running++
				case kube.Starting:
					dp.Pending++
				case kube.Stopping:
					dp.Stopping++
				case kube.Ended:
					continue
				}
				if pod.Spec.NodeName != "" {
					perNode[pod.Spec.NodeName]++
				}
			}
		}
		st.Deployments = append(st.Deployments, dp)
	}
	if v.nodes == nil {
		return st
	}
	inf, err := v.nodes.state()
	if err != nil {
		st.Errors = append(st.Errors, v.nodes.what+": "+err.Error())
	}
	for _, obj := range inf.GetStore().List() {
		n, ok := obj.(*corev1.Node)
		if !ok {
			continue
		}
		st.Nodes = append(st.Nodes, dashboard.Node{Name: n.Name, Ready: nodeReady(n), Unschedulable: n.Spec.Unschedulable,
			WorkerPods: perNode[n.Name], Created: n.CreationTimestamp.UTC()})
	}
	slices.SortFunc(st.Nodes, func(a, b dashboard.Node) int { return strings.Compare(a.Name, b.Name) })
	return st
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Stop ends the watches and waits for them.
func (v *View) Stop() {
	select {
	case <-v.stop:
	default:
		close(v.stop)
	}
	v.wg.Wait()
}
