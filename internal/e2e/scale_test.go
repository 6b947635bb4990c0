package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// TestAutoscaledRun runs the seeds' KEDA setup on real processes: `orca dev` with a pool of
// 0..8 `orca worker` processes, one per 5 queued items, and a 2,000-item run of a slow --exec
// algorithm. The pool goes 0 → 8, never above, shrinks while its last items are in hand (the
// stopped workers finish them), and is back at 0 after the cooldown; every item is counted
// once and every resize was recorded with its reason.
func TestAutoscaledRun(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "dev.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	const n, maxWorkers = 2000, 8
	cmd := startDev(t, filepath.Join(dir, "data"), addr, logs,
		"--log-level", "info", "--exec", "sh -c 'sleep 0.1; cat'",
		"--min-workers", "0", "--max-workers", strconv.Itoa(maxWorkers), "--target-queue-length", "5",
		"--polling-interval", "100ms", "--cooldown", "2s", "--scale-up-period", "1s", "--scale-down-stabilization", "-1s")
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}()

	// Count the worker processes of this orca dev all along.
	var (
		mu      sync.Mutex
		peak    int
		samples []int
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			k := len(workersOf(cmd.Process.Pid))
			mu.Lock()
			peak = max(peak, k)
			samples = append(samples, k)
			mu.Unlock()
		}
	}()
	if k := len(workersOf(cmd.Process.Pid)); k != 0 {
		t.Fatalf("%d workers before any work; min is 0", k)
	}

	c := newClient(t, "http://"+addr)
	id := startRun(t, c, strconv.Itoa(n))
	st := waitRun(t, c, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %.500s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), n, "[1,1]")

	// Back to zero after the cooldown.
	wait.For(t, 30*time.Second, func() bool { return len(workersOf(cmd.Process.Pid)) == 0 },
		"the pool to scale to zero after the run")
	close(stop)
	<-sampled
	mu.Lock()
	t.Logf("worker processes: peak %d over %d samples", peak, len(samples))
	if peak != maxWorkers {
		t.Errorf("peak %d worker processes, want exactly %d", peak, maxWorkers)
	}
	mu.Unlock()

	// The queue is empty and nothing went to the poison queue.
	qs, err := c.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Visible+q.InFlight != 0 {
			t.Errorf("queue %s still holds %d+%d messages", q.Queue, q.Visible, q.InFlight)
		}
	}

	// Every resize is in the log with its numbers and reason: 0 → … → 8, at least one step in
	// while items were in hand, and the last one to 0 for the cooldown.
	steps := resizes(t, logPath)
	t.Logf("resizes: %v", steps)
	if len(steps) < 3 {
		t.Fatalf("resizes %v", steps)
	}
	if steps[0].from != 0 || steps[len(steps)-1].to != 0 || !strings.Contains(steps[len(steps)-1].reason, "cooldown") {
		t.Errorf("resizes %v: want the first from 0 and the last to 0 for the cooldown", steps)
	}
	reached, shrankBusy := false, false
	for _, s := range steps {
		reached = reached || s.to == maxWorkers
		shrankBusy = shrankBusy || (s.to < s.from && s.to > 0 && s.metric > 0)
		if s.to > maxWorkers {
			t.Errorf("resize above max: %+v", s)
		}
	}
	if !reached || !shrankBusy {
		t.Errorf("resizes %v: want one to %d and a scale-in with items in hand", steps, maxWorkers)
	}
}

// workersOf returns the pids of the `orca worker` children of pid.
func workersOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); strings.Contains(string(cmdline), "\x00worker\x00") {
			out = append(out, child)
		}
	}
	return out
}

type resize struct {
	from, to int
	metric   int
	reason   string
}

func (r resize) String() string { return fmt.Sprintf("%d→%d(q=%d)", r.from, r.to, r.metric) }

var resizeLine = regexp.MustCompile(`msg="scaler: resize".* from=(\d+) to=(\d+) metric=(-?\d+) .*reason="([^"]*)"`)

// resizes reads the scaler's resize decisions from orca dev's log.
func resizes(t *testing.T, path string) []resize {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []resize
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := resizeLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		from, _ := strconv.Atoi(m[1])
		to, _ := strconv.Atoi(m[2])
		metric, _ := strconv.Atoi(m[3])
		out = append(out, resize{from: from, to: to, metric: metric, reason: m[4]})
	}
	return out
}

// TestDevDemo is the README's first command: `orca dev --demo N` starts a run through its own
// API, shows its progress, reports the outcome, and keeps serving until SIGTERM.
func TestDevDemo(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	out := &syncbuf.Buffer{}
	cmd := exec.Command(orcaBin, "dev", "--data", filepath.Join(dir, "data"), "--listen", addr, "--log-level", "warn", "--demo", "200")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "keeps serving") {
		if time.Now().After(deadline) {
			t.Fatalf("no demo outcome in 2 minutes:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"dashboard", "Demo run ", "200 items", "Completed in", "200 completed, 0 failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// Still serving: the run is there.
	c := newClient(t, "http://"+addr)
	list, _, err := c.ListInstances(context.Background(), client.ListOptions{})
	if err != nil || len(list) != 1 || list[0].RuntimeStatus != client.RuntimeStatusCompleted {
		t.Fatalf("instances %+v, %v", list, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("orca dev exited with %v after SIGTERM:\n%s", err, out.String())
	}
}
