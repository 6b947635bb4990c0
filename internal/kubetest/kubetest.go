//go:build unix

// Package kubetest starts a real Kubernetes control plane on 127.0.0.1 for one test: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, and kwok, which plays the kubelet of
// fake nodes (FakeNode): the scheduler binds pods to them and kwok reports them Running, so
// Deployments, ReplicaSets, scaling and the scale subresource behave as in a cluster, with no
// container runtime. The programs are the ones scripts/tools/kube.sh builds from the Go module
// proxy; without them a test is Missing (testenv). Every part listens on 127.0.0.1 only, on free
// ports, with its files under t.TempDir(); t.Cleanup stops them all. WithKEDA adds KEDA's
// operator and metrics API server (scripts/tools/keda.sh). Only tests import it.
package kubetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/orcahq/orca/internal/testenv"
)

// The versions that scripts/tools/kube.sh builds by default, and so where Start looks for them
// in its cache. Keep them in step with the script.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.7.3"
	KwokVersion = "v0.8.0"
)

// kwok's conventions for the nodes it fakes (FakeNode): it manages the nodes that carry the
// annotation, and the taint keeps other pods off them.
const (
	FakeNodeAnnotation = "kwok.x-k8s.io/node"
	FakeNodeTaintKey   = "kwok.x-k8s.io/node"
	FakeNodeValue      = "fake"
	// FakeNodeLabel is the label FakeNode puts on its nodes ("type": "kwok"), for node selectors.
	FakeNodeLabel = "type"
)

// startTimeout bounds Start: on 2 busy cores the API server alone can take half a minute.
const startTimeout = 3 * time.Minute

// frontProxyClient is the user the API server's aggregation layer presents to APIServices.
const frontProxyClient = "front-proxy-client"

// stopTimeout is how long a part has to exit after SIGTERM before it is killed.
const stopTimeout = 10 * time.Second

// Cluster is a running control plane.
type Cluster struct {
	t      testing.TB
	config *rest.Config
	procs  []*process
	// For the parts started later (WithKEDA).
	pki    *pki
	apiURL string
	caPEM  []byte
	// Kubeconfig is the path of a kubeconfig file for the administrator of RESTConfig, for
	// programs (kubectl, helm) and for the parts of the cluster.
	Kubeconfig string
	// Dir holds the cluster's files; logs/<part>.log has each part's output.
	Dir string
}

// RESTConfig returns a new copy of the administrator's client configuration: a client certificate
// in the group system:masters, which RBAC lets do anything.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns a clientset for the administrator.
func (c *Cluster) Client() kubernetes.Interface {
	c.t.Helper()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		c.t.Fatalf("kubetest: clientset: %v", err)
	}
	return cs
}

// FakeNode returns a Node for kwok to manage: with kwok's annotation and taint, and the label
// FakeNodeLabel=kwok. Create it; kwok makes it Ready and the pods bound to it Running. A pod
// needs FakeNodeToleration to be scheduled there.
func FakeNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{FakeNodeAnnotation: FakeNodeValue},
			Labels: map[string]string{
				FakeNodeLabel:            "kwok",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
		Spec: corev1.NodeSpec{
			Taints: []corev1.Taint{{Key: FakeNodeTaintKey, Value: FakeNodeValue, Effect: corev1.TaintEffectNoSchedule}},
		},
	}
}

// FakeNodeToleration lets a pod onto a FakeNode.
var FakeNodeToleration = corev1.Toleration{
	Key: FakeNodeTaintKey, Operator: corev1.TolerationOpEqual, Value: FakeNodeValue, Effect: corev1.TaintEffectNoSchedule,
}

// binaries are the programs Start runs, and kwok's stages.
type binaries struct {
	etcd, apiserver, controllerManager, scheduler, kwok, kwokStages string
}

// findBinaries looks in the directories of ORCA_KUBE_BIN (a list like PATH) or else in
// scripts/tools/kube.sh's cache, and ends t as Missing when one is not there.
func findBinaries(t testing.TB) binaries {
	t.Helper()
	dirs := filepath.SplitList(os.Getenv("ORCA_KUBE_BIN"))
	where := "ORCA_KUBE_BIN"
	if len(dirs) == 0 {
		cache := toolsCache(t)
		dirs = []string{
			filepath.Join(cache, "kube-"+KubeVersion),
			filepath.Join(cache, "etcd-"+EtcdVersion),
			filepath.Join(cache, "kwok-"+KwokVersion),
		}
		where = "the cache of scripts/tools/kube.sh"
	}
	find := func(name string, executable bool) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && (!executable || fi.Mode()&0o111 != 0) {
				return p
			}
		}
		testenv.Missing(t, fmt.Sprintf("kubetest: %s is not in %s (%s): run scripts/tools/kube.sh "+
			"(once; it builds Kubernetes %s from the Go module proxy) or set ORCA_KUBE_BIN; these tests did not run",
			name, where, strings.Join(dirs, string(filepath.ListSeparator)), KubeVersion))
		return ""
	}
	return binaries{
		etcd:              find("etcd", true),
		apiserver:         find("kube-apiserver", true),
		controllerManager: find("kube-controller-manager", true),
		scheduler:         find("kube-scheduler", true),
		kwok:              find("kwok", true),
		kwokStages:        find("stages.yaml", false),
	}
}

// toolsCache is the directory the scripts in scripts/tools build into: ORCA_TOOLS_CACHE, else
// ~/.cache/orca-tools. Without a home directory, t is Missing.
func toolsCache(t testing.TB) string {
	t.Helper()
	if cache := os.Getenv("ORCA_TOOLS_CACHE"); cache != "" {
		return cache
	}
	home, err := os.UserHomeDir()
	if err != nil {
		testenv.Missing(t, "kubetest: no ORCA_TOOLS_CACHE and no home directory to find the programs of scripts/tools in")
	}
	return filepath.Join(home, ".cache", "orca-tools")
}

// An Option adds to what Start starts.
type Option func(*options)

type options struct {
	keda bool
}

// WithKEDA runs KEDA's operator and its metrics API server on the cluster (see startKEDA), from
// scripts/tools/keda.sh's cache or ORCA_KEDA_BIN.
func WithKEDA() Option { return func(o *options) { o.keda = true } }

// Start starts a control plane for t and returns when every part is ready: the API server
// answers /readyz, the controller manager and the scheduler /healthz, kwok /healthz, and the
// namespace default has its service account (so pods can be created there at once); and with
// WithKEDA, KEDA is ready too. t.Cleanup stops it. When the programs are not built, t is Missing
// (before anything starts).
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bins := findBinaries(t)
	var keda kedaBinaries
	if o.keda {
		keda = findKEDA(t)
	}
	began := time.Now()
	dir := t.TempDir()
	c := &Cluster{t: t, Dir: dir}
	for _, d := range []string{"logs", "pki", "etcd", "kubeconfig", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatalf("kubetest: %v", err)
		}
	}
	// Registered before the parts, so it runs after they are stopped.
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
	})

	p, err := newPKI(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	c.pki, c.caPEM = p, caPEM
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ports := c.freePorts(6)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	etcdPeerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[2])
	c.apiURL = apiURL
	kcmPort, schedPort, kwokPort := ports[3], ports[4], ports[5]
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	// etcd. --unsafe-no-fsync: the data is thrown away with the test, and fsyncs on a busy
	// disk would slow every write.
	etcd := c.start("etcd", bins.etcd,
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+etcdPeerURL, "--initial-advertise-peer-urls="+etcdPeerURL,
		"--initial-cluster=kubetest="+etcdPeerURL,
		"--unsafe-no-fsync", "--log-level=warn")
	plain := &http.Client{Timeout: 5 * time.Second}
	c.waitReady(ctx, etcd, func() error { return get(ctx, plain, etcdURL+"/health", `"health":"true"`) })

	// The API server.
	admin, adminKubeconfig := c.clientConfig(p, "orca-admin")
	c.config, c.Kubeconfig = admin, adminKubeconfig
	// The aggregation layer's client, for APIServices (an external metrics server).
	if _, _, err := p.clientCert(frontProxyClient); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	api := c.start("kube-apiserver", bins.apiserver,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "pki"),
		"--tls-cert-file="+p.ServingCertFile, "--tls-private-key-file="+p.ServingKeyFile,
		"--client-ca-file="+p.CAFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.ServiceAccountKeyFile,
		"--service-account-signing-key-file="+p.ServiceAccountKeyFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		// The endpoints of the service "kubernetes" would be 127.0.0.1, which Endpoints refuse;
		// nothing in this cluster runs that would call it.
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file="+p.CAFile,
		"--requestheader-allowed-names="+frontProxyClient,
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+filepath.Join(dir, "pki", "client-"+frontProxyClient+".crt"),
		"--proxy-client-key-file="+filepath.Join(dir, "pki", "client-"+frontProxyClient+".key"),
		// No kube-proxy and no Service network: the aggregator does not route to an APIService's
		// endpoints (an EndpointSlice may not hold 127.0.0.1) but to its Service, which for a
		// program on this machine is an ExternalName Service of 127.0.0.1 (WithKEDA).
		"--enable-aggregator-routing=false",
		"--profiling=false")
	tlsAdmin, err := rest.TLSConfigFor(admin)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	adminHTTP := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsAdmin}}
	c.waitReady(ctx, api, func() error { return get(ctx, adminHTTP, apiURL+"/readyz", "ok") })

	// The controller manager and the scheduler serve /healthz with the serving certificate,
	// which anyone may read.
	servingHTTP := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, kcmKubeconfig := c.clientConfig(p, "kube-controller-manager")
	kcm := c.start("kube-controller-manager", bins.controllerManager,
		"--kubeconfig="+kcmKubeconfig,
		"--authentication-kubeconfig="+kcmKubeconfig, "--authorization-kubeconfig="+kcmKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--tls-cert-file="+p.ServingCertFile, "--tls-private-key-file="+p.ServingKeyFile,
		"--leader-elect=false",
		"--service-account-private-key-file="+p.ServiceAccountKeyFile,
		"--root-ca-file="+p.CAFile,
		"--cluster-signing-cert-file="+p.CAFile, "--cluster-signing-key-file="+p.CAKeyFile,
		"--profiling=false")
	_, schedKubeconfig := c.clientConfig(p, "kube-scheduler")
	sched := c.start("kube-scheduler", bins.scheduler,
		"--kubeconfig="+schedKubeconfig,
		"--authentication-kubeconfig="+schedKubeconfig, "--authorization-kubeconfig="+schedKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--tls-cert-file="+p.ServingCertFile, "--tls-private-key-file="+p.ServingKeyFile,
		"--leader-elect=false")
	// kwok, managing only the nodes with its annotation; HOME is the cluster's, so that no
	// ~/.kwok/kwok.yaml of the machine's adds to its configuration.
	_, kwokKubeconfig := c.clientConfig(p, "kwok")
	kwok := c.start("kwok", bins.kwok,
		"--kubeconfig="+kwokKubeconfig,
		"--config="+bins.kwokStages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"="+FakeNodeValue,
		"--node-ip=127.0.0.1", "--cidr=10.244.0.0/16",
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort))
	c.waitReady(ctx, kcm, func() error {
		return get(ctx, servingHTTP, "https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz", "ok")
	})
	c.waitReady(ctx, sched, func() error {
		return get(ctx, servingHTTP, "https://127.0.0.1:"+strconv.Itoa(schedPort)+"/healthz", "ok")
	})
	c.waitReady(ctx, kwok, func() error { return get(ctx, plain, "http://127.0.0.1:"+strconv.Itoa(kwokPort)+"/healthz", "") })
	// The controller manager's service-account controller makes it; the ServiceAccount
	// admission plugin refuses pods in a namespace that lacks it.
	cs := c.Client()
	c.waitReady(ctx, kcm, func() error {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	t.Logf("kubetest: Kubernetes %s control plane ready at %s in %s (files in %s)",
		KubeVersion, apiURL, time.Since(began).Round(time.Millisecond), dir)
	if o.keda {
		c.startKEDA(keda)
	}
	return c
}

// WaitFor polls cond every 100 ms until it returns true, failing the test when timeout passes
// first, when cond returns an error other than NotFound, or when a part of the cluster has
// exited.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		for _, p := range c.procs {
			if p.exited() {
				c.t.Fatalf("kubetest: %s exited (%v) while waiting for %s; its log:\n%s", p.name, p.err, what, tail(p.log, 40))
			}
		}
		ok, err := cond(ctx)
		switch {
		case ok:
			return
		case err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil:
			c.t.Fatalf("kubetest: waiting for %s: %v", what, err)
		case err != nil:
			last = err
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("kubetest: timed out after %v waiting for %s (last error: %v)", timeout, what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady polls check until it returns nil; it fails t with the log of p when p exits first or
// ctx ends.
func (c *Cluster) waitReady(ctx context.Context, p *process, check func() error) {
	c.t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if p.exited() {
			c.t.Fatalf("kubetest: %s exited (%v) before it was ready; its log:\n%s", p.name, p.err, tail(p.log, 40))
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("kubetest: %s not ready after %v: %v; its log:\n%s", p.name, startTimeout, err, tail(p.log, 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// get reports whether GET url answers 200 with a body that contains want.
func get(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// ServiceAccountKubeconfig returns the path of a kubeconfig file with a token of the
// ServiceAccount namespace/name (an hour's, from the TokenRequest API): a program outside the
// cluster given it has that account's rights, no more, as a pod of it would in-cluster.
func (c *Cluster) ServiceAccountKubeconfig(namespace, name string) string {
	c.t.Helper()
	expiry := int64(time.Hour / time.Second)
	tr, err := c.Client().CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("kubetest: a token for the service account %s/%s: %v", namespace, name, err)
	}
	user := "system:serviceaccount:" + namespace + ":" + name
	path := filepath.Join(c.Dir, "kubeconfig", "serviceaccount-"+namespace+"-"+name+".yaml")
	c.writeKubeconfig(path, user, fmt.Sprintf("    token: %s\n", tr.Status.Token))
	return path
}

// writeKubeconfig writes a kubeconfig file for the cluster with user's credentials (YAML lines
// under "user:").
func (c *Cluster) writeKubeconfig(path, user, credentials string) {
	c.t.Helper()
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %q
  user:
%scontexts:
- name: kubetest
  context:
    cluster: kubetest
    user: %q
current-context: kubetest
`, c.apiURL, base64.StdEncoding.EncodeToString(c.caPEM), user, credentials, user)
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
}

// clientConfig issues a client certificate for user and returns a rest.Config and the path of a
// kubeconfig file with it.
func (c *Cluster) clientConfig(p *pki, user string) (*rest.Config, string) {
	c.t.Helper()
	certPEM, keyPEM, err := p.clientCert(user, "system:masters")
	if err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	b64 := base64.StdEncoding.EncodeToString
	path := filepath.Join(c.Dir, "kubeconfig", user+".yaml")
	c.writeKubeconfig(path, user, fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n", b64(certPEM), b64(keyPEM)))
	return &rest.Config{
		Host:            c.apiURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM, CertData: certPEM, KeyData: keyPEM},
		UserAgent:       "orca-kubetest",
		// The defaults (5 and 10) throttle a test that polls.
		QPS: 100, Burst: 200,
	}, path
}

// freePorts returns n distinct ports on 127.0.0.1 that were free a moment ago.
func (c *Cluster) freePorts(n int) []int {
	c.t.Helper()
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.t.Fatalf("kubetest: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// process is one part of the cluster, in its own process group.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait, once done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs bin with args, its output in logs/<name>.log, and registers its stop with
// t.Cleanup.
func (c *Cluster) start(name, bin string, args ...string) *process {
	c.t.Helper()
	return c.startEnv(name, bin, nil, args...)
}

// startEnv is start with env added to the process's environment.
func (c *Cluster) startEnv(name, bin string, env []string, args ...string) *process {
	c.t.Helper()
	p := &process{name: name, log: filepath.Join(c.Dir, "logs", name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		c.t.Fatalf("kubetest: %v", err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = c.Dir
	p.cmd.Env = append(append(os.Environ(), "HOME="+filepath.Join(c.Dir, "home"), "KUBECONFIG="), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Its own process group, so that stopping it stops whatever it started too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("kubetest: start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	c.t.Cleanup(p.stop)
	return p
}

// stop sends the process group SIGTERM, and SIGKILL when it has not exited stopTimeout later.
func (p *process) stop() {
	if p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// dumpLogs logs the end of each part's log.
func (c *Cluster) dumpLogs() {
	for _, p := range c.procs {
		c.t.Logf("kubetest: the end of %s's log (%s):\n%s", p.name, p.log, tail(p.log, 25))
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
