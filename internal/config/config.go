package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/blob/blobopen"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/store/storeopen"
	"github.com/orcahq/orca/worker"
)

// File is orca's configuration file (YAML). Every field is optional; ${VAR} is replaced by the
// environment variable VAR before parsing. Settings are applied in this order, later winning:
// defaults, the file, ORCA_* environment variables, command-line flags.
type File struct {
	// Listen is the HTTP address (default 127.0.0.1:7071).
	Listen string `yaml:"listen"`
	// Data is the data directory of the embedded store and blobs (default ./.orca).
	Data string `yaml:"data"`
	// Store is the store's URL: empty for SQLite in Data, postgres://… for a task hub that
	// several servers share (see docs/deployment.md).
	Store string `yaml:"store"`
	// Blob is the blob store's URL: empty for files under Data, file:///DIR, s3://BUCKET…,
	// azblob://ACCOUNT….
	Blob string `yaml:"blob"`
	// QueueURL is the work queue service's URL: empty for queues in the store,
	// azqueue://ACCOUNT… or azqueue://… for Azure Storage Queue (see docs/queue-azure.md).
	QueueURL string `yaml:"queueURL"`
	// PublicBaseURL is the origin of the URLs the API hands out, for servers behind a proxy.
	PublicBaseURL string `yaml:"publicBaseURL"`
	// Sync is SQLite's synchronous setting: FULL (default) or NORMAL.
	Sync string  `yaml:"sync"`
	Log  Log     `yaml:"log"`
	Work Compute `yaml:"compute"`
	// Workers is orca dev's local worker pool.
	Workers Workers `yaml:"workers"`
	Engine  Engine  `yaml:"engine"`
	// Auth declares the API keys; without keys the API is open (loopback only, unless insecure).
	Auth Auth `yaml:"auth"`
	// Insecure allows an API without keys on a non-loopback address.
	Insecure bool `yaml:"insecure"`
	// KEDA serves KEDA's External Scaler gRPC API (off unless KEDA.Listen is set).
	KEDA KEDA `yaml:"keda"`
	// GRPC serves the Durable Task protocol, for orchestrators and activities written with the
	// Durable Task SDKs (docs/sdks.md).
	GRPC GRPC `yaml:"grpc"`
	// Pools are further worker pools, each on a queue of its own, run by orca dev.
	Pools []Pool `yaml:"pools"`
	// Subscriptions are created or replaced at start.
	Subscriptions []events.Subscription `yaml:"subscriptions"`
	// Dashboard configures what the dashboard shows beyond the node's own state.
	Dashboard Dashboard `yaml:"dashboard"`
}

// Dashboard configures the dashboard.
type Dashboard struct {
	// Kubernetes shows worker pods and nodes from a Kubernetes API server.
	Kubernetes DashboardKubernetes `yaml:"kubernetes"`
}

// DashboardKubernetes is the dashboard's read-only view of a cluster (docs/kubernetes.md). It is
// on when Deployments is not empty, Nodes is true, or a pool is a Deployment.
type DashboardKubernetes struct {
	// Deployments are worker Deployments, each "NAMESPACE/NAME", whose pods the page shows
	// running and pending (e.g. the one KEDA scales). A pool's workers.deployment is shown
	// without being listed.
	Deployments []string `yaml:"deployments"`
	// Nodes shows the cluster's nodes: count, ready, worker pods on each. It needs get, list
	// and watch on nodes (a ClusterRole; the Helm chart's rbac.dashboard.nodes).
	Nodes bool `yaml:"nodes"`
	// Kubeconfig is the cluster's kubeconfig file (default: the first Deployment pool's
	// kubeconfig, else in-cluster).
	Kubeconfig string `yaml:"kubeconfig"`
}

// Watched are the Deployments the dashboard shows: the listed ones, then the pools'.
func (f *File) Watched() []string {
	out := append([]string{}, f.Dashboard.Kubernetes.Deployments...)
	for _, w := range append([]Workers{f.Workers}, poolWorkers(f.Pools)...) {
		if w.Deployment != "" && !slices.Contains(out, w.Deployment) {
			out = append(out, w.Deployment)
		}
	}
	return out
}

// ClusterKubeconfig is the kubeconfig of the dashboard's cluster ("": in-cluster).
func (f *File) ClusterKubeconfig() string {
	if k := f.Dashboard.Kubernetes.Kubeconfig; k != "" {
		return k
	}
	for _, w := range append([]Workers{f.Workers}, poolWorkers(f.Pools)...) {
		if w.Deployment != "" {
			return w.Kubeconfig
		}
	}
	return ""
}

func poolWorkers(pools []Pool) []Workers {
	out := make([]Workers, len(pools))
	for i, p := range pools {
		out[i] = p.Workers
	}
	return out
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Compute configures the compute flow.
type Compute struct {
	// Queue is the work queue (default input).
	Queue string `yaml:"queue"`
	// MaxDequeueCount moves a message to the poison queue after this many dequeues (default 5).
	MaxDequeueCount int `yaml:"maxDequeueCount"`
}

// KEDA configures the KEDA external scaler's gRPC endpoint.
type KEDA struct {
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; with both set the endpoint serves TLS.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
}

// GRPC configures the Durable Task gRPC endpoint.
type GRPC struct {
	// Listen is its address (orca dev and orca server: 127.0.0.1:4001, the SDKs' default; "off"
	// serves none).
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; with both set the endpoint serves TLS.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
}

// Workers configures orca dev's local worker pool, and an `orca worker`.
type Workers struct {
	Min  int    `yaml:"min"`
	Max  int    `yaml:"max"`
	Exec string `yaml:"exec"`
	// ExecMode is how Exec runs: ExecPerItem (the default) or ExecStream.
	ExecMode string `yaml:"execMode"`
	// ExecTimeout is the time limit of one item under Exec (default 10m).
	ExecTimeout  time.Duration `yaml:"execTimeout"`
	Concurrency  int           `yaml:"concurrency"`
	Batch        int           `yaml:"batch"`
	ComputeDelay time.Duration `yaml:"computeDelay"`
	// VisibilityTimeout is a worker's lease on a message, renewed while the item is in hand
	// (default 30s).
	VisibilityTimeout time.Duration `yaml:"visibilityTimeout"`
	// Deployment, "NAMESPACE/NAME", makes the pool a Kubernetes Deployment that orca's scaler
	// sizes (for clusters without KEDA; docs/kubernetes.md): its pods run the workers, so Exec
	// and the other process settings do not apply. orca server and orca dev both run such pools.
	Deployment string `yaml:"deployment"`
	// Kubeconfig is the kubeconfig file of the Deployment's cluster (default: in-cluster).
	Kubeconfig string `yaml:"kubeconfig"`
	// The scaler's policy (KEDA's ScaledObject fields; 0: the defaults).
	TargetQueueLength     int64         `yaml:"targetQueueLength"`
	ActivationQueueLength int64         `yaml:"activationQueueLength"`
	PollingInterval       time.Duration `yaml:"pollingInterval"`
	Cooldown              time.Duration `yaml:"cooldown"`
	ScaleUpPeriod         time.Duration `yaml:"scaleUpPeriod"`
	// ScaleUpPods and ScaleUpPercent: growth per scaleUpPeriod is at most max(+pods, +percent%).
	ScaleUpPods    int `yaml:"scaleUpPods"`
	ScaleUpPercent int `yaml:"scaleUpPercent"`
	// ScaleDownStabilization: a negative value turns the window off.
	ScaleDownStabilization time.Duration `yaml:"scaleDownStabilization"`
}

// The Exec modes.
const (
	// ExecPerItem runs a process per item: input_data JSON on stdin, the result JSON on stdout.
	ExecPerItem = "per-item"
	// ExecStream runs a long-lived process per slot: a JSON line per item on stdin, a JSON
	// result line on stdout.
	ExecStream = "stream"
)

// Pool is a further worker pool: a name, its queue, and the settings of the workers section.
type Pool struct {
	Name    string `yaml:"name"`
	Queue   string `yaml:"queue"`
	Workers `yaml:",inline"`
}

// Engine tunes the engine (0: the engine's defaults).
type Engine struct {
	LockDuration        time.Duration `yaml:"lockDuration"`
	CacheSize           int           `yaml:"cacheSize"`
	ActivityConcurrency int           `yaml:"activityConcurrency"`
	ShutdownGrace       time.Duration `yaml:"shutdownGrace"`
}

// Auth declares API keys: the key itself (best from ${VAR}) or its "sha256:..." hash.
type Auth struct {
	Keys []auth.KeySpec `yaml:"keys"`
}

// Error says which setting is wrong.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} references; an unset variable is an error.
func expand(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// Parse reads a configuration file, expanding ${VAR} with lookup; unknown fields are errors.
func Parse(r io.Reader, lookup func(string) (string, bool)) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data, err = expand(data, lookup)
	if err != nil {
		return nil, err
	}
	f := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return f, nil
}

// Load reads the file at path ("" loads nothing) and applies the ORCA_* environment.
func Load(path string) (*File, error) {
	f := &File{}
	if path != "" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		if f, err = Parse(fh, os.LookupEnv); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := f.applyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	return f, nil
}

// applyEnv applies the ORCA_* environment variables.
func (f *File) applyEnv(lookup func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	num := func(name string, dst *int) error {
		if v, ok := lookup(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return &Error{Field: name, Msg: fmt.Sprintf("%q is not a whole number", v)}
			}
			*dst = n
		}
		return nil
	}
	str("ORCA_LISTEN", &f.Listen)
	str("ORCA_DATA", &f.Data)
	str("ORCA_STORE", &f.Store)
	str("ORCA_BLOB", &f.Blob)
	str("ORCA_QUEUE_URL", &f.QueueURL)
	str("ORCA_PUBLIC_BASE_URL", &f.PublicBaseURL)
	str("ORCA_SYNC", &f.Sync)
	str("ORCA_LOG_LEVEL", &f.Log.Level)
	str("ORCA_LOG_FORMAT", &f.Log.Format)
	str("ORCA_QUEUE", &f.Work.Queue)
	str("ORCA_GRPC_LISTEN", &f.GRPC.Listen)
	str("ORCA_EXEC", &f.Workers.Exec)
	if v, ok := lookup("ORCA_DASHBOARD_DEPLOYMENTS"); ok {
		f.Dashboard.Kubernetes.Deployments = nil
		for d := range strings.SplitSeq(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				f.Dashboard.Kubernetes.Deployments = append(f.Dashboard.Kubernetes.Deployments, d)
			}
		}
	}
	if v, ok := lookup("ORCA_DASHBOARD_NODES"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &Error{Field: "ORCA_DASHBOARD_NODES", Msg: fmt.Sprintf("%q: use true or false", v)}
		}
		f.Dashboard.Kubernetes.Nodes = b
	}
	for _, scope := range []auth.Scope{auth.ScopeAdmin, auth.ScopeWorker, auth.ScopeReader} {
		name := "ORCA_" + strings.ToUpper(string(scope)) + "_KEY"
		if v, ok := lookup(name); ok && v != "" {
			f.Auth.Keys = append(f.Auth.Keys, auth.KeySpec{Name: strings.ToLower(name), Scope: scope, Key: v})
		}
	}
	if err := num("ORCA_MAX_DEQUEUE_COUNT", &f.Work.MaxDequeueCount); err != nil {
		return err
	}
	if err := num("ORCA_MIN_WORKERS", &f.Workers.Min); err != nil {
		return err
	}
	return num("ORCA_MAX_WORKERS", &f.Workers.Max)
}

// Validate checks every setting and names the first bad one.
func (f *File) Validate() error {
	if f.Sync != "" && f.Sync != "FULL" && f.Sync != "NORMAL" {
		return &Error{"sync", fmt.Sprintf("%q: use FULL or NORMAL", f.Sync)}
	}
	kind, _, err := storeopen.Parse(f.Store, f.Data)
	if err != nil {
		return &Error{"store", err.Error()}
	}
	if kind == storeopen.Postgres && f.Sync != "" {
		return &Error{"sync", "is SQLite's setting; a PostgreSQL store's durability is PostgreSQL's configuration"}
	}
	if f.Blob != "" {
		if err := blobopen.Check(f.Blob); err != nil {
			return &Error{"blob", err.Error()}
		}
	} else if kind == storeopen.Postgres {
		return &Error{"blob", "a PostgreSQL store needs a blob store every server reaches (s3://, azblob://, or file:/// on a shared directory)"}
	}
	if err := queueopen.Check(f.QueueURL); err != nil {
		return &Error{"queueURL", err.Error()}
	}
	if f.PublicBaseURL != "" && !strings.HasPrefix(f.PublicBaseURL, "http://") && !strings.HasPrefix(f.PublicBaseURL, "https://") {
		return &Error{"publicBaseURL", fmt.Sprintf("%q: must start with http:// or https://", f.PublicBaseURL)}
	}
	if f.Log.Level != "" && !oneOf(strings.ToLower(f.Log.Level), "debug", "info", "warn", "error") {
		return &Error{"log.level", fmt.Sprintf("%q: use debug, info, warn or error", f.Log.Level)}
	}
	if f.Log.Format != "" && !oneOf(f.Log.Format, "text", "json") {
		return &Error{"log.format", fmt.Sprintf("%q: use text or json", f.Log.Format)}
	}
	if f.Work.Queue != "" {
		if err := queue.ValidateName(f.Work.Queue); err != nil {
			return &Error{"compute.queue", err.Error()}
		}
	}
	if f.Work.MaxDequeueCount < 0 {
		return &Error{"compute.maxDequeueCount", "must not be negative"}
	}
	if err := f.Workers.validate("workers"); err != nil {
		return err
	}
	for i, d := range f.Dashboard.Kubernetes.Deployments {
		if !isDeployment(d) {
			return &Error{fmt.Sprintf("dashboard.kubernetes.deployments[%d]", i), fmt.Sprintf("%q: want NAMESPACE/NAME", d)}
		}
	}
	pools := map[string]bool{DefaultPool: true}
	for i, p := range f.Pools {
		field := fmt.Sprintf("pools[%d]", i)
		switch {
		case !poolName.MatchString(p.Name):
			return &Error{field + ".name", fmt.Sprintf("%q: 1-63 lowercase letters, digits and hyphens", p.Name)}
		case pools[p.Name]:
			return &Error{field + ".name", fmt.Sprintf("%q is taken (%q is the workers section's pool)", p.Name, DefaultPool)}
		}
		pools[p.Name] = true
		if err := queue.ValidateName(p.Queue); err != nil {
			return &Error{field + ".queue", err.Error()}
		}
		if err := p.validate(field); err != nil {
			return err
		}
	}
	if f.Engine.LockDuration < 0 || f.Engine.CacheSize < 0 || f.Engine.ActivityConcurrency < 0 || f.Engine.ShutdownGrace < 0 {
		return &Error{"engine", "values must not be negative"}
	}
	if f.Engine.LockDuration > 0 && f.Engine.LockDuration < 3*time.Second {
		return &Error{"engine.lockDuration", "must be at least 3s (renewals happen every third of it)"}
	}
	if _, err := f.Keys(); err != nil {
		return &Error{"auth", err.Error()}
	}
	names := map[string]bool{}
	for i := range f.Subscriptions {
		s := f.Subscriptions[i]
		field := fmt.Sprintf("subscriptions[%d]", i)
		if err := s.Normalize(); err != nil {
			return &Error{field, err.Error()}
		}
		if names[s.Name] {
			return &Error{field + ".name", fmt.Sprintf("%q is declared twice", s.Name)}
		}
		names[s.Name] = true
	}
	return nil
}

// isDeployment reports whether s is "NAMESPACE/NAME" with two DNS labels.
func isDeployment(s string) bool {
	ns, name, ok := strings.Cut(s, "/")
	return ok && poolName.MatchString(ns) && poolName.MatchString(name)
}

// validate checks a pool's settings; field names the section in errors.
func (w Workers) validate(field string) error {
	if w.Min < 0 || w.Max < 0 || w.Concurrency < 0 || w.Batch < 0 || w.ComputeDelay < 0 || w.TargetQueueLength < 0 ||
		w.ActivationQueueLength < 0 || w.PollingInterval < 0 || w.Cooldown < 0 || w.ScaleUpPeriod < 0 ||
		w.ScaleUpPods < 0 || w.ScaleUpPercent < 0 || w.ExecTimeout < 0 || w.VisibilityTimeout < 0 {
		return &Error{field, "sizes, lengths and durations must not be negative (scaleDownStabilization may be: off)"}
	}
	if w.Deployment != "" && !isDeployment(w.Deployment) {
		return &Error{field + ".deployment", fmt.Sprintf("%q: want NAMESPACE/NAME", w.Deployment)}
	}
	if w.Batch > worker.MaxBatch {
		return &Error{field + ".batch", fmt.Sprintf("%d: at most %d (0: as many as concurrency)", w.Batch, worker.MaxBatch)}
	}
	switch {
	case w.ExecMode != "" && w.ExecMode != ExecPerItem && w.ExecMode != ExecStream:
		return &Error{field + ".execMode", fmt.Sprintf("%q: use %q or %q", w.ExecMode, ExecPerItem, ExecStream)}
	case w.ExecMode == ExecStream && w.Exec == "":
		return &Error{field + ".execMode", "stream needs exec: the built-in algorithm runs in the worker"}
	}
	if w.Max > 0 && w.Min > w.Max {
		return &Error{field + ".min", fmt.Sprintf("%d is more than %s.max %d", w.Min, field, w.Max)}
	}
	if w.Exec != "" {
		argv, err := SplitCommand(w.Exec)
		if err == nil && len(argv) == 0 {
			err = errors.New("empty command")
		}
		if err != nil {
			return &Error{field + ".exec", err.Error()}
		}
	}
	return nil
}

// DefaultPool names the pool of the workers section: the compute flow's.
const DefaultPool = "default"

var poolName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Keys builds the key set the file and environment declare.
func (f *File) Keys() (*auth.Keys, error) { return auth.NewKeys(f.Auth.Keys) }

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}
