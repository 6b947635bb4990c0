// Package e2e runs the seeds' compute flow end to end on real processes: the orca binary built
// from this tree, `orca worker` processes running algorithms in other languages, processes killed
// with SIGKILL mid-run.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/testutil/wait"
	"github.com/orcahq/orca/internal/workers"
)

// orcaBin is the orca binary built from this tree for the test run.
var orcaBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every orca these tests start serves the Durable Task protocol on a port of its own, not
	// on the SDKs' default that only one of them could take.
	os.Setenv("ORCA_GRPC_LISTEN", "127.0.0.1:0")
	dir, err := os.MkdirTemp("", "orca-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	orcaBin = filepath.Join(dir, "orca")
	build := exec.Command("go", "build", "-o", orcaBin, "github.com/orcahq/orca/cmd/orca")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build orca:", err)
		return 2
	}
	return m.Run()
}

// repoFile is a path in the repository (tests run in their package directory).
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// realPython returns the Python interpreter's own path: version-manager shims on PATH (pyenv)
// cost a few hundred milliseconds per start, which would dominate a thousand runs.
func realPython(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3 is needed for the --exec example (.ci/run installs it): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// node starts an in-test orca node listening on a free port.
func node(t *testing.T, dir string, tweak func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{DataDir: dir}
	if tweak != nil {
		tweak(&cfg)
	}
	return apptest.Start(t, cfg)
}

// workerPool runs n `orca worker` processes against base with extra flags.
func workerPool(t *testing.T, base string, n int, flags ...string) *workers.ProcessPool {
	t.Helper()
	logs, err := os.Create(filepath.Join(t.TempDir(), "workers.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	argv := append([]string{orcaBin, "worker", "--server", base, "--log-level", "warn"}, flags...)
	p := workers.NewProcessPool(workers.ProcessConfig{Command: argv, Output: logs, StopGrace: 5 * time.Second})
	p.Scale(n)
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

// startRun starts a ComputeOrchestrator run through the seeds' starter route.
func startRun(t *testing.T, c *client.Client, input any) string {
	t.Helper()
	id, err := c.StartOrchestration(context.Background(), compute.OrchestratorName, "", input)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitRun polls the DF status route until the run has finished.
func waitRun(t *testing.T, c *client.Client, id string, limit time.Duration) *client.Status {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st, err := c.Status(context.Background(), id)
		if err == nil && (st.RuntimeStatus == "Completed" || st.RuntimeStatus == "Failed" || st.RuntimeStatus == "Terminated") {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished after %s (last: %+v, %v)", id, limit, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func decodeOutput(t *testing.T, st *client.Status) compute.RunOutput {
	t.Helper()
	var out compute.RunOutput
	if err := json.Unmarshal(st.Output, &out); err != nil {
		t.Fatalf("output %s: %v", st.Output, err)
	}
	return out
}

// checkEveryItemOnce checks that every item 0..n-1 has exactly one result equal to want.
func checkEveryItemOnce(t *testing.T, out compute.RunOutput, n int, want string) {
	t.Helper()
	checkResults(t, out, n, func(int) string { return want })
}

// checkResults checks that every item 0..n-1 has exactly one result, want(i).
func checkResults(t *testing.T, out compute.RunOutput, n int, want func(int) string) {
	t.Helper()
	if out.Total != n || out.Succeeded != n || out.Failed != 0 || len(out.Results) != n {
		t.Fatalf("output: total %d succeeded %d failed %d results %d, want %d of %d (failures %+v)",
			out.Total, out.Succeeded, out.Failed, len(out.Results), n, n, out.Failures)
	}
	seen := make([]bool, n)
	for _, r := range out.Results {
		if r.InputID < 0 || r.InputID >= n || seen[r.InputID] {
			t.Fatalf("result for item %d is out of range or repeated", r.InputID)
		}
		seen[r.InputID] = true
		if string(r.Result) != want(r.InputID) {
			t.Fatalf("item %d: result %s (blob %q), want %s", r.InputID, r.Result, r.ResultBlob, want(r.InputID))
		}
	}
}

func newClient(t *testing.T, base string) *client.Client {
	t.Helper()
	c, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestThousandItemsThroughPythonWorkers is the seeds' flow with 1,000 items and worker
// processes running a Python algorithm.
func TestThousandItemsThroughPythonWorkers(t *testing.T) {
	python := realPython(t)
	a := node(t, t.TempDir(), nil)
	workerPool(t, a.BaseURL, 2, "--exec", python+" "+repoFile(t, "examples/algorithms/sum.py"), "--concurrency", "4")
	c := newClient(t, a.BaseURL)
	id := startRun(t, c, "1000")
	st := waitRun(t, c, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), 1000, "2")
	// The flow cleans up after itself: inputs deleted, queue empty.
	left, err := c.ListBlobs(context.Background(), compute.InputContainer, id+"/", "", 10)
	if err != nil || len(left.Blobs) != 0 {
		t.Fatalf("input blobs left: %+v (%v)", left, err)
	}
	q, err := c.Queue(context.Background(), compute.DefaultQueue)
	if err != nil || q.ApproximateMessagesCount != 0 {
		t.Fatalf("queue: %+v (%v)", q, err)
	}
}

// TestKilledWorkerItemIsRedeliveredAndCountedOnce kills a worker with SIGKILL while it holds an
// item; the item comes back after its visibility timeout and is counted once.
func TestKilledWorkerItemIsRedeliveredAndCountedOnce(t *testing.T) {
	a := node(t, t.TempDir(), nil)
	c := newClient(t, a.BaseURL)
	// The first worker's algorithm takes long: it will be killed holding its item.
	slow := workerPool(t, a.BaseURL, 1, "--compute-delay", "30s", "--visibility-timeout", "2s")
	id := startRun(t, c, "3")
	wait.For(t, 30*time.Second, func() bool {
		q, err := c.Queue(context.Background(), compute.DefaultQueue)
		return err == nil && q.InFlight > 0
	}, "the worker to take an item")
	pids := slow.PIDs()
	if len(pids) != 1 {
		t.Fatalf("worker pids %v", pids)
	}
	slow.Scale(0)
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	workerPool(t, a.BaseURL, 2, "--visibility-timeout", "2s")
	st := waitRun(t, c, id, time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), 3, "2")
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDev runs `orca dev` as a child process.
func startDev(t *testing.T, dir, addr string, logs *os.File, flags ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{"dev", "--data", dir, "--listen", addr, "--log-level", "warn"}, flags...)
	cmd := exec.Command(orcaBin, argv...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, "http://"+addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Queues(context.Background()); err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("orca dev did not come up in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledOrcaResumesEveryRun kills `orca dev` (and with it its workers) with SIGKILL several
// times during a run and starts it again on the same data: the run completes with every item
// counted once.
func TestKilledOrcaResumesEveryRun(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	logs, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	const n = 1000
	// ≈ 260 items/s: slow enough that each kill point is seen before the next.
	flags := []string{"--max-workers", "2", "--concurrency", "2", "--compute-delay", "15ms", "--visibility-timeout", "2s"}
	cmd := startDev(t, filepath.Join(dir, "data"), addr, logs, flags...)
	c := newClient(t, "http://"+addr)
	id := startRun(t, c, fmt.Sprint(n))
	// Kill at several points of the run: while it enqueues, and at growing shares of the items.
	for kill, share := range []float64{0, 0.2, 0.45, 0.7, 0.9} {
		deadline := time.Now().Add(time.Minute)
		for {
			st, err := c.Status(context.Background(), id)
			var p compute.Progress
			if err == nil {
				_ = json.Unmarshal(st.CustomStatus, &p)
			}
			if (share == 0 && p.Stage == "enqueuing") || (share > 0 && float64(p.Completed) >= share*n) {
				t.Logf("kill %d at %+v", kill+1, p)
				break
			}
			if p.Stage == "done" {
				t.Fatalf("the run finished before kill %d (%+v): the workers are too fast for this test", kill+1, p)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress before kill %d (%+v)", kill+1, p)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		cmd = startDev(t, filepath.Join(dir, "data"), addr, logs, flags...)
	}
	st := waitRun(t, c, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %.500s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), n, "2")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	// No worker outlived the orca processes that started them, killed or stopped.
	wait.For(t, 5*time.Second, func() bool { return len(processesOf(orcaBin)) == 0 },
		"every orca process to end with the ones that started it")
}

// processesOf returns the command lines of running processes started from bin.
func processesOf(bin string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(string(cmdline), bin+"\x00") {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") { // a zombie is dead already
			continue
		}
		out = append(out, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// TestDuplicateBlobCreatedCountsOnce delivers the same completion three times (the same event id
// twice through ingestion, and another event for the same blob): the item counts once.
func TestDuplicateBlobCreatedCountsOnce(t *testing.T) {
	a := node(t, t.TempDir(), nil)
	c := newClient(t, a.BaseURL)
	ctx := context.Background()
	id := startRun(t, c, "3")
	// The test is the worker: it takes the three items.
	var msgs []*client.QueueMessage
	deadline := time.Now().Add(30 * time.Second)
	for len(msgs) < 3 && time.Now().Before(deadline) {
		got, err := c.Dequeue(ctx, compute.DefaultQueue, 32, time.Minute, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, got...)
	}
	if len(msgs) != 3 {
		t.Fatalf("dequeued %d items, want 3", len(msgs))
	}
	finish := func(m *client.QueueMessage) int {
		var item compute.WorkItem
		if err := json.Unmarshal([]byte(m.Body), &item); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(compute.Output{InputID: item.InputID, InstanceID: item.InstanceID, Result: json.RawMessage(`42`)})
		if _, err := c.PutBlob(ctx, compute.OutputContainer, compute.OutputBlobName(id, item.InputID), out, "application/json"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteMessage(ctx, compute.DefaultQueue, m.ID, m.PopReceipt); err != nil {
			t.Fatal(err)
		}
		return item.InputID
	}
	first := finish(msgs[0])
	blobEvent := func(eventID string) map[string]any {
		return map[string]any{"id": eventID, "subject": "/blobServices/default/containers/output/blobs/" + compute.OutputBlobName(id, first),
			"eventType": "Microsoft.Storage.BlobCreated", "eventTime": time.Now().UTC(), "dataVersion": "", "metadataVersion": "1",
			"data": map[string]any{"api": "PutBlob", "contentLength": 60, "url": "x"}}
	}
	for _, evID := range []string{"dup-1", "dup-1", "dup-2"} {
		if _, err := c.IngestEvents(ctx, []any{blobEvent(evID)}); err != nil {
			t.Fatal(err)
		}
	}
	// The run saw item `first` once: one completed, two to go.
	deadline = time.Now().Add(10 * time.Second)
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var p compute.Progress
		_ = json.Unmarshal(st.CustomStatus, &p)
		if p.Stage == "computing" && p.Completed == 1 {
			break
		}
		if p.Completed > 1 || time.Now().After(deadline) {
			t.Fatalf("progress %s after duplicate completions of one item", st.CustomStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
	finish(msgs[1])
	finish(msgs[2])
	st := waitRun(t, c, id, 30*time.Second)
	checkEveryItemOnce(t, decodeOutput(t, st), 3, "42")
}

// runFailingItems runs n items through a worker whose algorithm always fails and checks that
// the run fails with each of them reported as poisoned, with the worker's error. It returns the
// run's id.
func runFailingItems(t *testing.T, base string, c *client.Client, n int) string {
	t.Helper()
	workerPool(t, base, 1, "--exec", "sh "+repoFile(t, "examples/algorithms/fail.sh"), "--concurrency", "2")
	id := startRun(t, c, strconv.Itoa(n))
	st := waitRun(t, c, id, 2*time.Minute)
	if st.RuntimeStatus != "Failed" {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
	out := decodeOutput(t, st)
	if out.Failed != n || len(out.Failures) != n {
		t.Fatalf("output %+v", out)
	}
	for _, f := range out.Failures {
		if !strings.Contains(f.Reason, "this algorithm always fails") || !strings.Contains(f.Reason, "input-poison") {
			t.Fatalf("failure reason %q", f.Reason)
		}
	}
	return id
}

// TestAlwaysFailingItemGoesToPoisonAndIsReported runs items whose algorithm always fails: they
// end in the poison queue, the run fails with them in its failures, and it does not hang.
func TestAlwaysFailingItemGoesToPoisonAndIsReported(t *testing.T) {
	a := node(t, t.TempDir(), func(c *app.Config) { c.MaxDequeueCount = 3 })
	c := newClient(t, a.BaseURL)
	runFailingItems(t, a.BaseURL, c, 2)
	q, err := c.Queue(context.Background(), "input-poison")
	if err != nil || q.ApproximateMessagesCount != 2 {
		t.Fatalf("poison queue %+v (%v)", q, err)
	}
}

// TestWebhookSubscriberDownIsDeliveredWhenBack subscribes a webhook to the output blobs, takes it
// down during a run and brings it back: every BlobCreated is delivered.
func TestWebhookSubscriberDownIsDeliveredWhenBack(t *testing.T) {
	hook := newFlakyEndpoint(t)
	a := node(t, t.TempDir(), func(c *app.Config) {
		c.RetryDelays = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
		c.DeliveryPollInterval = 50 * time.Millisecond
	})
	c := newClient(t, a.BaseURL)
	ctx := context.Background()
	if _, err := c.PutSubscription(ctx, "watch-output", client.Subscription{
		Filter:      client.SubscriptionFilter{SubjectBeginsWith: "/blobServices/default/containers/output/"},
		Destination: client.SubscriptionDestination{Type: client.DestinationWebHook, EndpointURL: hook.url()},
	}); err != nil {
		t.Fatal(err)
	}
	hook.down()
	workerPool(t, a.BaseURL, 1, "--concurrency", "4")
	id := startRun(t, c, "20")
	st := waitRun(t, c, id, time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s", st.RuntimeStatus)
	}
	// The dispatcher has tried and failed while the endpoint was down: at least once per event.
	wait.For(t, 30*time.Second, func() bool { return deliveries(t, a, "watch-output", events.Retried) >= 20 },
		"20 failed delivery attempts while the subscriber is down")
	if n, got := deliveries(t, a, "watch-output", events.Delivered), hook.count(); n != 0 || got != 0 {
		t.Fatalf("%d deliveries counted, %d events received, by an endpoint that was down", n, got)
	}
	hook.up()
	wait.For(t, 30*time.Second, func() bool { return hook.count() == 20 }, "all 20 events to be delivered after the subscriber came back")
	if dl, err := c.DeadLetters(ctx, "watch-output"); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v (%v)", dl, err)
	}
}

// deliveries reads a node's count of a subscription's delivery attempts with an outcome
// (orca_event_deliveries_total).
func deliveries(t *testing.T, a *app.App, subscription string, outcome events.DeliveryOutcome) int {
	t.Helper()
	families, err := a.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "orca_event_deliveries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["subscription"] == subscription && labels["outcome"] == string(outcome) {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// flakyEndpoint is a webhook subscriber on a fixed address that can go down (its listener
// closed: connection refused) and come back.
type flakyEndpoint struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *endpointServer
	seen map[string]bool
}

func newFlakyEndpoint(t *testing.T) *flakyEndpoint {
	f := &flakyEndpoint{t: t, addr: freeAddr(t), seen: map[string]bool{}}
	f.up()
	t.Cleanup(f.down)
	return f
}

func (f *flakyEndpoint) url() string { return "http://" + f.addr + "/events" }

func (f *flakyEndpoint) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *flakyEndpoint) up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv == nil {
		f.srv = startEndpoint(f.t, f.addr, func(ids []string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, id := range ids {
				f.seen[id] = true
			}
		})
	}
}

func (f *flakyEndpoint) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		f.srv.close()
		f.srv = nil
	}
}
