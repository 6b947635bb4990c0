package dashboard

import "time"

// Cluster is the dashboard's read-only view of a Kubernetes cluster: the pods of the worker
// Deployments and the nodes (kubeview.View satisfies it). Its types are here, not in the package
// that reads them, so that programs without a cluster view do not link a Kubernetes client.
type Cluster interface {
	State() ClusterState
}

// ClusterState is the cluster at one moment.
type ClusterState struct {
	// Deployments are the watched worker Deployments' pods, in the configured order.
	Deployments []DeploymentPods `json:"deployments"`
	// NodesWatched says whether Nodes is read at all (it needs a ClusterRole).
	NodesWatched bool `json:"nodesWatched"`
	// Nodes are the cluster's nodes, by name.
	Nodes []Node `json:"nodes"`
	// Errors say what cannot be read now (e.g. "deployment compute/workers: not found"); the
	// counts are then the last ones read.
	Errors []string `json:"errors"`
}

// DeploymentPods counts a Deployment's pods by state, as orca's Kubernetes provider does:
// running is running and ready, pending is not yet scheduled, started or ready, stopping is
// being deleted.
type DeploymentPods struct {
	Name     string `json:"name"` // NAMESPACE/NAME
	Running  int    `json:"running"`
	Pending  int    `json:"pending"`
	Stopping int    `json:"stopping"`
}

// Node is a cluster node.
type Node struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	// Unschedulable: cordoned (kubectl cordon, or a node-pool autoscaler draining it).
	Unschedulable bool `json:"unschedulable"`
	// WorkerPods counts the watched Deployments' pods on the node.
	WorkerPods int       `json:"workerPods"`
	Created    time.Time `json:"created"`
}

// ClusterSample is the cluster's part of a Sample.
type ClusterSample struct {
	Deployments []DeploymentPods `json:"deployments"`
	Nodes       int              `json:"nodes"`
	NodesReady  int              `json:"nodesReady"`
}

func sampleOf(st ClusterState) *ClusterSample {
	out := &ClusterSample{Deployments: st.Deployments, Nodes: len(st.Nodes)}
	for _, n := range st.Nodes {
		if n.Ready {
			out.NodesReady++
		}
	}
	return out
}
