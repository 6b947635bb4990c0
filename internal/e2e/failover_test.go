package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// startProcess starts orca with args, its output to logs.
func startProcess(t *testing.T, logs *os.File, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(orcaBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group, so that a kill takes the process and anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd
}

// waitUp waits until the server at base answers.
func waitUp(t *testing.T, base string) {
	t.Helper()
	c := newClient(t, base)
	wait.For(t, 30*time.Second, func() bool { _, err := c.Queues(context.Background()); return err == nil },
		"server "+base+" to come up")
}

// TestServerFailover runs the seeds' flow on two `orca server`s sharing one PostgreSQL task hub,
// with external workers attached to each. Mid-run, one server and its workers (a machine lost)
// are killed with SIGKILL: the run completes through the other server with every item counted
// once. The run is started through the server that dies, so the orchestration's lock, its
// activities and the singletons' lease all have to move.
func TestServerFailover(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	dir := t.TempDir()
	logs, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	// Short leases, so that the takeover happens within seconds.
	cfg := filepath.Join(dir, "orca.yaml")
	if err := os.WriteFile(cfg, []byte("engine:\n  lockDuration: 4s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	blobs := "file://" + filepath.Join(dir, "blobs")
	servers := []string{freeAddr(t), freeAddr(t)}
	var procs [2][]*exec.Cmd
	for i, addr := range servers {
		procs[i] = append(procs[i], startProcess(t, logs, "server", "--listen", addr, "--store", db, "--blob", blobs,
			"--config", cfg, "--log-level", "warn"))
	}
	for i, addr := range servers {
		waitUp(t, "http://"+addr)
		for range 2 {
			// Slow enough (4 workers × 2 slots / 20 ms ≈ 400 items/s) that the kill comes well
			// before the last item.
			procs[i] = append(procs[i], startProcess(t, logs, "worker", "--server", "http://"+addr, "--concurrency", "2",
				"--compute-delay", "20ms", "--visibility-timeout", "3s", "--log-level", "error"))
		}
	}

	const n = 5000
	doomed, survivor := newClient(t, "http://"+servers[0]), newClient(t, "http://"+servers[1])
	id := startRun(t, doomed, fmt.Sprint(n))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := survivor.Status(context.Background(), id)
		var p compute.Progress
		if err == nil {
			_ = json.Unmarshal(st.CustomStatus, &p)
		}
		if p.Completed >= n*2/5 { // enqueuing or computing: the servers' work is the same
			t.Logf("killing server 1 and its workers at %+v", p)
			break
		}
		if p.Stage == "done" {
			t.Fatalf("the run finished before the kill (%+v): the workers are too fast for this test", p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress to 40%% in 3 minutes (%+v, %v)", p, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range procs[0] {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
	}
	killed := time.Now()
	st := waitRun(t, survivor, id, 4*time.Minute)
	t.Logf("run finished %v after the kill", time.Since(killed).Round(time.Millisecond))
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %.500s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), n, "2")
}
