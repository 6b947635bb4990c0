package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/compute"
)

// pacedStreamAlgorithm is a long-lived algorithm (--exec-mode stream) that sums input_data and
// takes 10 ms an item, so that a 15,000-item run lasts long enough for all its kills.
const pacedStreamAlgorithm = `import json, sys, time
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.01)
    sys.stdout.write(json.dumps({"result": sum(item["input_data"])}) + "\n")
    sys.stdout.flush()
`

// The faults TestBatchedPathSurvivesRandomKills injects.
const (
	killServer        = "orca"
	killOneWorker     = "one worker"
	killServerWorkers = "orca and all its workers"
)

// TestBatchedPathSurvivesRandomKills runs one 15,000-item run through `orca server` on SQLite
// and three `orca worker`s streaming items to a long-lived algorithm over the batched data
// plane, and kills with SIGKILL, at random points of the run, orca alone, one worker alone, or
// orca with all its workers, 21 times; whatever was killed starts again on the same data. Every
// kind of batch is cut somewhere: leases answered and lost, completions committed and not
// acknowledged, algorithms mid-item — and, the run being bigger than the orchestrator's fan-out
// window (10,000), its enqueues are spread over turns that a restart replays. The run
// completes with every item exactly once and its own result, and the queue and the input
// container end empty.
func TestBatchedPathSurvivesRandomKills(t *testing.T) {
	python := realPython(t)
	dir := t.TempDir()
	logs, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	algo := filepath.Join(dir, "paced_sum.py")
	if err := os.WriteFile(algo, []byte(pacedStreamAlgorithm), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, data := freeAddr(t), filepath.Join(dir, "data")
	startServer := func() *exec.Cmd {
		cmd := startProcess(t, logs, "server", "--listen", addr, "--data", data, "--log-level", "warn")
		waitUp(t, "http://"+addr)
		return cmd
	}
	startWorker := func() *exec.Cmd {
		return startProcess(t, logs, "worker", "--server", "http://"+addr, "--exec", python+" "+algo,
			"--exec-mode", "stream", "--concurrency", "2", "--visibility-timeout", "3s", "--log-level", "error")
	}
	kill := func(cmd *exec.Cmd) {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: the worker's algorithms too
		_ = cmd.Wait()
	}
	server := startServer()
	workers := []*exec.Cmd{startWorker(), startWorker(), startWorker()}

	const n = 15_000
	c := newClient(t, "http://"+addr)
	id, err := c.StartOrchestration(context.Background(), compute.OrchestratorName, "", map[string]any{"items": pairs(n, 1), "resultsBlobThreshold": n})
	if err != nil {
		t.Fatal(err)
	}
	// Seven kills of each kind, in a random order, at random points up to 80% of the items.
	var faults []string
	for range 7 {
		faults = append(faults, killServer, killOneWorker, killServerWorkers)
	}
	mathrand.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	at := make([]int, len(faults))
	for i := range at {
		at[i] = mathrand.IntN(n * 8 / 10)
	}
	slices.Sort(at)
	for k, fault := range faults {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st, err := c.Status(context.Background(), id)
			var p compute.Progress
			if err == nil {
				_ = json.Unmarshal(st.CustomStatus, &p)
			}
			if p.Stage == "done" {
				t.Fatalf("the run finished before kill %d (%+v): the algorithm is too fast for this test", k+1, p)
			}
			if err == nil && p.Stage != "" && p.Completed >= at[k] {
				t.Logf("kill %2d: %-24s at %+v", k+1, fault, p)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never reached kill %d at %d items (%s)", id, k+1, at[k], describe(st, err))
			}
			time.Sleep(time.Duration(mathrand.IntN(20)) * time.Millisecond)
		}
		switch fault {
		case killServer:
			kill(server)
			server = startServer()
		case killOneWorker:
			w := mathrand.IntN(len(workers))
			kill(workers[w])
			workers[w] = startWorker()
		case killServerWorkers:
			kill(server)
			for _, w := range workers {
				kill(w)
			}
			server = startServer()
			for i := range workers {
				workers[i] = startWorker()
			}
		}
	}
	st := waitRun(t, c, id, 4*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %.500s", st.RuntimeStatus, st.Output)
	}
	checkResults(t, decodeOutput(t, st), n, func(i int) string { return fmt.Sprint(i + 1) })

	// The flow cleans up after itself: every input deleted, the queue drained (a message
	// enqueued twice by an enqueue activity that ran again after a kill is dropped when leased).
	left, err := c.ListBlobs(context.Background(), compute.InputContainer, id+"/", "", 10)
	if err != nil || len(left.Blobs) != 0 {
		t.Fatalf("input blobs left: %+v (%v)", left, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		q, err := c.Queue(context.Background(), compute.DefaultQueue)
		if err == nil && q.ApproximateMessagesCount == 0 && q.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained a minute after the run: %+v (%v)", q, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
