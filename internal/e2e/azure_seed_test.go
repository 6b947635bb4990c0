package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/azurite"
)

// seedAccount is the seeds' storage account on Azurite (newAzureAccount in azure_queue_test.go: the
// connection string in orca's environment, a queue prefix of the test's own), with a plain
// blob client and the runs whose blobs to delete when the test ends. Blob names are per run
// already: they start with the instance id.
type seedAccount struct {
	*azureAccount
	blobs *azblob.Client

	mu   sync.Mutex
	runs []string
}

// newSeedAccount returns the account, skipping loudly without Azurite (failing with
// REQUIRE_INTEGRATION=1). It is created before the server, so that its clean-up (the
// prefix's queues, the runs' blobs) happens after the server has stopped.
func newSeedAccount(t *testing.T) *seedAccount {
	t.Helper()
	a := &seedAccount{azureAccount: newAzureAccount(t)}
	var err error
	if a.blobs, err = azblob.NewClientFromConnectionString(a.connectionString, nil); err != nil {
		t.Fatal(err)
	}
	// The containers write their outputs into an existing container: orca creates the compute
	// flow's input and output containers when it starts (the seeds' deployment template did).
	t.Cleanup(func() { a.deleteBlobs(t) })
	return a
}

// trackRun has the run's blobs deleted when the test ends.
func (a *seedAccount) trackRun(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs = append(a.runs, id)
}

// blobNames lists the names in container that start with prefix.
func (a *seedAccount) blobNames(ctx context.Context, container, prefix string) ([]string, error) {
	var names []string
	pager := a.blobs.NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Prefix: to.Ptr(prefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Segment.BlobItems {
			names = append(names, deref(item.Name))
		}
	}
	return names, nil
}

// deleteBlobs deletes the blobs of the test's runs. The containers stay: other runs on this
// Azurite may use them.
func (a *seedAccount) deleteBlobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range a.runs {
		for _, container := range []string{compute.InputContainer, compute.OutputContainer} {
			names, err := a.blobNames(ctx, container, id+"/")
			if err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
				t.Errorf("list %s/%s/: %v", container, id, err)
			}
			for _, name := range names {
				if _, err := a.blobs.DeleteBlob(ctx, container, name, nil); err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
					t.Errorf("delete %s/%s: %v", container, name, err)
				}
			}
		}
	}
}

// orcaOnAzure is an `orca server` process whose blobs and queue are the account's.
type orcaOnAzure struct {
	base    string
	cmd     *exec.Cmd
	logs    string
	logFile *os.File
	args    []string
}

// crashAndRestart kills the server with SIGKILL — and anything it started — and starts it
// again on the same data directory and address.
func (s *orcaOnAzure) crashAndRestart(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill orca server: %v", err)
	}
	_ = s.cmd.Wait()
	s.cmd = startProcess(t, s.logFile, s.args...)
	waitUp(t, s.base)
}

// startServer runs `orca server` on SQLite in a temporary directory, with --blob azblob:// and
// --queue-url azqueue://?prefix=… on the account of AZURE_STORAGE_CONNECTION_STRING (which the
// child inherits: credentials never go on the command line), and an optional configuration
// file.
func (a *seedAccount) startServer(t *testing.T, config string) *orcaOnAzure {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "orca.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	addr := freeAddr(t)
	args := []string{"server", "--listen", addr, "--data", filepath.Join(dir, "data"),
		"--blob", "azblob://", "--queue-url", a.orcaQueueURL(), "--log-level", "info"}
	if config != "" {
		path := filepath.Join(dir, "orca.yaml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	s := &orcaOnAzure{base: "http://" + addr, logs: logPath, logFile: logs, args: args}
	s.cmd = startProcess(t, logs, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("orca server log (%s):\n%s", logPath, tail(logPath, 8<<10))
		}
	})
	waitUp(t, s.base)
	return s
}

// stop stops the server with SIGTERM, as Kubernetes or ACI would, and checks that it exits
// cleanly.
func (s *orcaOnAzure) stop(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM orca server: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("orca server exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		err := <-done
		t.Errorf("orca server did not stop within 30s of SIGTERM (killed: %v)", err)
	}
}

// tail returns the end of a file.
func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// startSeedRun starts a ComputeOrchestrator run through the seeds' starter route, as their
// HTTP trigger is called, and returns the instance id from the check-status payload.
func startSeedRun(t *testing.T, base string, input any) string {
	t.Helper()
	body, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/orchestrators/"+compute.OrchestratorName, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start %s: %s: %s", compute.OrchestratorName, resp.Status, answer)
	}
	var payload struct {
		ID                string `json:"id"`
		StatusQueryGetURI string `json:"statusQueryGetUri"`
	}
	if err := json.Unmarshal(answer, &payload); err != nil || payload.ID == "" || payload.StatusQueryGetURI == "" {
		t.Fatalf("start %s: check-status payload %s (%v)", compute.OrchestratorName, answer, err)
	}
	return payload.ID
}

// waitEnqueued waits until the run has enqueued all its n items (before any is done).
func waitEnqueued(t *testing.T, c *client.Client, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Status(context.Background(), id)
		var p compute.Progress
		if err == nil {
			_ = json.Unmarshal(st.CustomStatus, &p)
		}
		if p.Stage == "enqueuing" && p.InFlight == n {
			return
		}
		if err == nil && st.RuntimeStatus != "Running" && st.RuntimeStatus != "Pending" {
			t.Fatalf("run %s is %s before its items were enqueued: %s", id, st.RuntimeStatus, st.Output)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not enqueue its %d items in 30s (progress %+v, %v)", id, n, p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// orcaQueueMetric sums the orca_queue_messages gauge of queue q in the server's /metrics.
func orcaQueueMetric(t *testing.T, base, q string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	total, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "orca_queue_messages{") || !strings.Contains(line, `queue="`+q+`"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		total, found = total+v, true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("/metrics has no orca_queue_messages for queue %q", q)
	}
	return int(total)
}

// checkKEDAView checks that the work queue's length as KEDA's azure-queue trigger reads it
// (the Azure queue's approximate message count, read with the plain SDK) is want, and that
// orca reports the same through its queue API and its metrics.
func checkKEDAView(t *testing.T, az *seedAccount, srv *orcaOnAzure, c *client.Client, want int) {
	t.Helper()
	azure := az.approximateCount(t, compute.DefaultQueue)
	q, err := c.Queue(context.Background(), compute.DefaultQueue)
	if err != nil {
		t.Fatalf("orca's stats of queue %s: %v", compute.DefaultQueue, err)
	}
	metric := orcaQueueMetric(t, srv.base, compute.DefaultQueue)
	t.Logf("queue length: Azure %d, orca API %+v, orca metrics %d", azure, *q, metric)
	if azure != want || q.ApproximateMessagesCount != want || q.Visible+q.InFlight != want || metric != want {
		t.Fatalf("queue length: Azure's approximate message count (what KEDA reads) %d, orca's API %+v, orca's metrics %d; want %d for all",
			azure, *q, metric, want)
	}
}

// containerErrors collects what the containers and Event Grid report.
type containerErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *containerErrors) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *containerErrors) list() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// startContainers runs k seed containers and the Event Grid stand-in for run id as goroutines
// until the returned stop is called (which waits for them).
func startContainers(t *testing.T, az *seedAccount, srv *orcaOnAzure, id string, k int, visibility int32,
	errs *containerErrors) ([]*seedContainer, *eventGrid, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	containers := make([]*seedContainer, k)
	for i := range containers {
		c, err := newSeedContainer(az.connectionString, az.prefix+compute.DefaultQueue, visibility, doubledSum)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		containers[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, errs.add)
		}()
	}
	grid, err := newEventGrid(az.connectionString, azurite.Account, az.blobURL, srv.base+"/api/events", seedOutputContainer, id+"/")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		grid.run(ctx, errs.add)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return containers, grid, stop
}

// pairs returns n items whose input_data is [i, second]: the containers' result is 2*(i+second).
func pairs(n, second int) []json.RawMessage {
	items := make([]json.RawMessage, n)
	for i := range items {
		items[i] = json.RawMessage(fmt.Sprintf("[%d,%d]", i, second))
	}
	return items
}

// TestSeedContainersOnAzureStorage is the seeds' Azure deployment with orca as the
// orchestrator: orca's blobs and work queue are a storage account's (Azurite), and the compute
// containers are programs that know nothing of orca: they read the queue and blobs with the
// Azure SDKs alone, in the seeds' wire format. An Event Grid subscription on the account brings
// the output blobs' BlobCreated events to orca. The queue's length, as KEDA's azure-queue trigger
// reads it from the account, is what orca reports; the run completes with every item counted
// once and its result right.
func TestSeedContainersOnAzureStorage(t *testing.T) {
	az := newSeedAccount(t)
	srv := az.startServer(t, "")
	c := newClient(t, srv.base)

	const n, k = 200, 4
	started := time.Now()
	id := startSeedRun(t, srv.base, map[string]any{"items": pairs(n, 7)})
	az.trackRun(id)

	// Before any container runs: every item is in the Azure queue, and KEDA (reading the
	// account) and orca agree on the length.
	waitEnqueued(t, c, id, n)
	checkKEDAView(t, az, srv, c, n)
	if names, err := az.blobNames(context.Background(), compute.InputContainer, id+"/"); err != nil || len(names) != n {
		t.Fatalf("input blobs of the run in the account: %d (%v), want %d", len(names), err, n)
	}

	var errs containerErrors
	containers, grid, stop := startContainers(t, az, srv, id, k, 30, &errs)
	st := waitRunOrReport(t, c, id, 60*time.Second, &errs)
	t.Logf("%d items through %d seed containers in %v", n, k, time.Since(started).Round(time.Millisecond))
	stop()
	for _, err := range errs.list() {
		t.Errorf("container or Event Grid: %v", err)
	}
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("run %s: status %s output %.1000s", id, st.RuntimeStatus, st.Output)
	}
	checkResults(t, decodeOutput(t, st), n, func(i int) string { return strconv.Itoa(2 * (i + 7)) })

	// Every container took part, each item was received once (30 s of visibility is plenty),
	// and one BlobCreated per output was delivered.
	received := map[int]int{}
	for i, sc := range containers {
		msgs := sc.receivedMessages()
		if len(msgs) == 0 {
			t.Errorf("container %d received no message", i)
		}
		for _, rm := range msgs {
			var m seedMessage
			if err := json.Unmarshal([]byte(rm.Text), &m); err != nil {
				t.Fatalf("message text %q: %v", rm.Text, err)
			}
			want := seedMessage{InputID: m.InputID, InstanceID: id,
				PathToData: fmt.Sprintf("%s/%s/%d.json", compute.InputContainer, id, m.InputID)}
			if m != want || rm.DequeueCount != 1 {
				t.Errorf("message %q with dequeue count %d, want %+v received for the first time", rm.Text, rm.DequeueCount, want)
			}
			received[m.InputID]++
		}
	}
	for i := range n {
		if received[i] != 1 {
			t.Errorf("item %d received %d times by the containers, want once", i, received[i])
		}
	}
	if got := grid.deliveredCount(); got != n {
		t.Errorf("Event Grid delivered %d BlobCreated events, want %d", got, n)
	}

	// The account afterwards: the queue is empty (KEDA scales to zero) and orca says so too; the
	// inputs are gone, the outputs are the containers'.
	checkKEDAView(t, az, srv, c, 0)
	ctx := context.Background()
	if names, err := az.blobNames(ctx, compute.InputContainer, id+"/"); err != nil || len(names) != 0 {
		t.Errorf("input blobs left: %v (%v)", names, err)
	}
	outputs, err := az.blobNames(ctx, compute.OutputContainer, id+"/")
	if err != nil || len(outputs) != n {
		t.Errorf("output blobs: %d (%v), want %d", len(outputs), err, n)
	}
	// orca reads the containers' outputs as its own blobs.
	data, _, err := c.GetBlob(ctx, compute.OutputContainer, fmt.Sprintf("%s/%d.json", id, 5))
	if err != nil {
		t.Fatalf("orca's blob API on output/%s/5.json: %v", id, err)
	}
	var out seedOutput
	if err := json.Unmarshal(data, &out); err != nil || out.InputID != 5 || out.InstanceID != id || string(out.Result) != "24" {
		t.Errorf("output/%s/5.json through orca: %s (%v)", id, data, err)
	}
	srv.stop(t)
}

// TestSeedContainersSurviveAServerCrash kills orca (SIGKILL) at a random point of a run fed to
// the seeds' containers — while it enqueues (a third of the runs), or with some items done —
// and starts it again on the same data directory. The containers keep working on the account
// meanwhile; Event Grid retries the deliveries orca could not take. The run completes with
// every item counted once and its result right.
//
// A kill while the run enqueues can enqueue an item twice: its enqueue ran, but the crash lost
// the record of it, so it runs again (at least once). Both messages name one input blob, which
// the first container to finish deletes, so the seeds' containers fail on the second, as they
// would in the seeds, and leave it in the queue. orca's own workers delete such a duplicate once
// they see the item's output.
func TestSeedContainersSurviveAServerCrash(t *testing.T) {
	az := newSeedAccount(t)
	srv := az.startServer(t, "")
	c := newClient(t, srv.base)

	const n, k = 300, 4
	id := startSeedRun(t, srv.base, map[string]any{"items": pairs(n, 1)})
	az.trackRun(id)
	var errs containerErrors
	_, _, stop := startContainers(t, az, srv, id, k, 30, &errs)
	// The kill comes when the run has enqueued (if it still enqueues) or completed this many.
	enqueuing := mathrand.IntN(3) == 0
	killAt := mathrand.IntN(n * 7 / 10)
	if enqueuing {
		killAt = 1 + mathrand.IntN(n-1)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.Status(context.Background(), id)
		var p compute.Progress
		if err == nil {
			_ = json.Unmarshal(st.CustomStatus, &p)
		}
		if err == nil && (enqueuing && (p.InFlight >= killAt || p.Stage == "computing") || !enqueuing && p.Completed >= killAt) {
			t.Logf("killing orca: %d of %d items completed, %d in flight, stage %q (target: %d %s)",
				p.Completed, n, p.InFlight, p.Stage, killAt, map[bool]string{true: "enqueued", false: "completed"}[enqueuing])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never reached the kill point (%s)", id, describe(st, err))
		}
		time.Sleep(time.Duration(mathrand.IntN(10)) * time.Millisecond)
	}
	srv.crashAndRestart(t)
	st := waitRunOrReport(t, c, id, 90*time.Second, &errs)
	stop()
	duplicates := 0
	for _, err := range errs.list() {
		switch {
		case strings.Contains(err.Error(), "event grid: deliver"): // while orca was down; retried
		case (strings.Contains(err.Error(), "download "+compute.InputContainer+"/"+id+"/") ||
			strings.Contains(err.Error(), "delete "+compute.InputContainer+"/"+id+"/")) && strings.Contains(err.Error(), "BlobNotFound"):
			duplicates++ // the other copy's container deleted the input first
		default:
			t.Errorf("container: %v", err)
		}
	}
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("run %s: status %s output %.1000s", id, st.RuntimeStatus, st.Output)
	}
	checkResults(t, decodeOutput(t, st), n, func(i int) string { return strconv.Itoa(2 * (i + 1)) })
	// Messages left are duplicates the containers failed on (or had not received yet when the
	// run ended): they do not change the run's result.
	left := az.approximateCount(t, compute.DefaultQueue)
	t.Logf("%d deliveries of duplicate messages met their input gone; %d messages left in the queue", duplicates, left)
	srv.stop(t)
}

// TestSeedContainersFailingItemTimesOut runs two items through a seed container whose
// algorithm fails on one of them: the container never deletes that message, which comes back
// after its 1 s visibility timeout, again and again, as it would in the seeds. orca cannot move
// it to the poison queue — only a consumer can, when it dequeues it (as the Azure Functions
// host does; orca's own workers do) — so what ends the run is the item timeout: the run fails
// with that item timed out, the other item's result intact, and does not hang.
func TestSeedContainersFailingItemTimesOut(t *testing.T) {
	az := newSeedAccount(t)
	srv := az.startServer(t, "")
	c := newClient(t, srv.base)

	id := startSeedRun(t, srv.base, map[string]any{"itemTimeout": "4s", "items": []json.RawMessage{
		json.RawMessage(`[1,2]`), json.RawMessage(`"not numbers"`)}})
	az.trackRun(id)
	waitEnqueued(t, c, id, 2)
	checkKEDAView(t, az, srv, c, 2)

	var errs containerErrors
	containers, _, stop := startContainers(t, az, srv, id, 1, 1, &errs)
	st := waitRunOrReport(t, c, id, 60*time.Second, &errs)
	stop()
	for _, err := range errs.list() {
		if !errors.Is(err, errAlgorithm) || !strings.Contains(err.Error(), "item 1 of") {
			t.Errorf("container or Event Grid: %v", err)
		}
	}
	if st.RuntimeStatus != "Failed" {
		t.Fatalf("run %s: status %s output %.1000s, want Failed with item 1 in its failures", id, st.RuntimeStatus, st.Output)
	}
	out := decodeOutput(t, st)
	if out.Total != 2 || out.Succeeded != 1 || out.Failed != 1 || len(out.Results) != 1 || len(out.Failures) != 1 {
		t.Fatalf("output %+v, want item 0 succeeded and item 1 failed", out)
	}
	if r := out.Results[0]; r.InputID != 0 || string(r.Result) != "6" {
		t.Errorf("result %+v, want item 0 = 6", r)
	}
	if f := out.Failures[0]; f.InputID != 1 || !strings.Contains(f.Reason, "timed out") {
		t.Errorf("failure %+v, want item 1 timed out", f)
	}
	// The container kept getting the failing message back; nothing else was received twice.
	seen := map[int]int{}
	for _, m := range containers[0].receivedMessages() {
		var item seedMessage
		if err := json.Unmarshal([]byte(m.Text), &item); err != nil {
			t.Fatalf("message text %q: %v", m.Text, err)
		}
		seen[item.InputID]++
	}
	if seen[0] != 1 || seen[1] < 2 {
		t.Errorf("the container received item 0 %d times and item 1 %d times; want once, and again and again", seen[0], seen[1])
	}
	srv.stop(t)
}

// waitRunOrReport waits for the run to finish; past limit it fails, naming the run's progress,
// the queue and what the containers reported, rather than hanging.
func waitRunOrReport(t *testing.T, c *client.Client, id string, limit time.Duration, errs *containerErrors) *client.Status {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st, err := c.Status(context.Background(), id)
		if err == nil && (st.RuntimeStatus == "Completed" || st.RuntimeStatus == "Failed" || st.RuntimeStatus == "Terminated") {
			return st
		}
		if time.Now().After(deadline) {
			q, qerr := c.Queue(context.Background(), compute.DefaultQueue)
			reported := errs.list()
			if len(reported) > 5 {
				reported = reported[len(reported)-5:]
			}
			t.Fatalf("run %s not finished after %v (%s); orca's queue %+v (%v); last container or Event Grid errors %v",
				id, limit, describe(st, err), q, qerr, reported)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describe is a run's status and progress for a failure message.
func describe(st *client.Status, err error) string {
	if err != nil {
		return "status: " + err.Error()
	}
	return fmt.Sprintf("status %s, progress %s", st.RuntimeStatus, st.CustomStatus)
}
