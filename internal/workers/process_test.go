package workers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testutil/wait"
)

var _ scaler.Provider = (*ProcessPool)(nil)
var _ scaler.Provider = (*GoroutinePool)(nil)

// shellWorker is a worker process that announces its id in dir (as `orca worker` announces it
// with its first poll) and runs until told to stop; on SIGTERM it takes termDelay to finish.
func shellWorker(dir string, termDelay string) []string {
	script := `trap 'sleep ` + termDelay + `; exit 0' TERM
echo $$ > "` + dir + `/$` + WorkerIDEnv + `"
while :; do sleep 0.05; done`
	return []string{"sh", "-c", script}
}

// announced returns the ids of the workers that have started, in dir.
func announced(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestProcessPoolScalesAndMarksReady(t *testing.T) {
	dir := t.TempDir()
	p := NewProcessPool(ProcessConfig{Name: "pool", Command: shellWorker(dir, "0"), StopGrace: 5 * time.Second})
	defer p.Stop(context.Background())

	p.Scale(3)
	if w := p.Workers(); w.Starting != 3 || w.Actual() != 3 {
		t.Fatalf("right after Scale(3): %+v, want 3 starting", w)
	}
	wait.For(t, 10*time.Second, func() bool { return len(announced(dir)) == 3 }, "3 workers to start")
	for _, id := range announced(dir) {
		if !strings.HasPrefix(id, "pool-") {
			t.Fatalf("worker id %q does not name its pool", id)
		}
	}
	ready := announced(dir)[0]
	p.MarkReady(ready)
	p.MarkReady("someone-else")
	if w := p.Workers(); w.Ready != 1 || w.Starting != 2 {
		t.Fatalf("after one MarkReady: %+v", w)
	}

	// Scaling in stops the workers that are not ready first.
	p.Scale(1)
	wait.For(t, 10*time.Second, func() bool { return len(p.PIDs()) == 1 }, "two workers to stop")
	if w := p.Workers(); w.Ready != 1 || w.Starting != 0 || w.Stopping != 0 {
		t.Fatalf("after Scale(1): %+v, want the ready worker kept", w)
	}
}

func TestProcessPoolRestartsCrashedWorkers(t *testing.T) {
	dir := t.TempDir()
	p := NewProcessPool(ProcessConfig{Name: "pool", Command: shellWorker(dir, "0"), StopGrace: 5 * time.Second})
	defer p.Stop(context.Background())
	p.Scale(1)
	wait.For(t, 10*time.Second, func() bool { return len(p.PIDs()) == 1 && len(announced(dir)) == 1 }, "the worker")
	first := p.PIDs()[0]
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() bool { pids := p.PIDs(); return len(pids) == 1 && pids[0] != first }, "a new worker")
	wait.For(t, 10*time.Second, func() bool { return len(announced(dir)) == 2 }, "the new worker to announce itself")
	if ids := announced(dir); len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids %v: a restarted worker gets a new id", ids)
	}
	if w := p.Workers(); w.Actual() != 1 {
		t.Fatalf("%+v", w)
	}
}

func TestProcessPoolStopWaitsThenKills(t *testing.T) {
	dir := t.TempDir()
	// A worker that needs 30 s to finish after SIGTERM, with a grace of 300 ms.
	p := NewProcessPool(ProcessConfig{Name: "slow", Command: shellWorker(dir, "30"), StopGrace: 300 * time.Millisecond})
	p.Scale(2)
	wait.For(t, 10*time.Second, func() bool { return len(announced(dir)) == 2 && len(p.PIDs()) == 2 }, "2 workers")
	pids := p.PIDs()
	start := time.Now()
	p.Stop(context.Background())
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Stop took %s with a 300ms grace", took)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("worker %d outlived Stop", pid)
		}
	}
	if w := p.Workers(); w != (scaler.Workers{}) {
		t.Fatalf("after Stop: %+v", w)
	}
	p.Scale(3) // a stopped pool starts nothing
	if len(p.PIDs()) != 0 || p.Workers().Actual() != 0 {
		t.Fatal("a stopped pool started workers")
	}
}

func TestProcessPoolScaleInLetsTheWorkerFinish(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(t.TempDir(), "finished")
	// On SIGTERM the worker "finishes its item" (writes a file) before exiting.
	script := `trap 'sleep 0.3; touch "` + done + `"; exit 0' TERM
echo $$ > "` + dir + `/$` + WorkerIDEnv + `"
while :; do sleep 0.05; done`
	p := NewProcessPool(ProcessConfig{Name: "pool", Command: []string{"sh", "-c", script}, StopGrace: 10 * time.Second})
	defer p.Stop(context.Background())
	p.Scale(1)
	wait.For(t, 10*time.Second, func() bool { return len(announced(dir)) == 1 }, "the worker")
	p.Scale(0)
	if w := p.Workers(); w.Stopping != 1 {
		t.Fatalf("right after Scale(0): %+v, want 1 stopping", w)
	}
	wait.For(t, 10*time.Second, func() bool { return p.Workers() == (scaler.Workers{}) }, "the worker to finish")
	if _, err := os.Stat(done); err != nil {
		t.Fatal("the worker was killed before it finished its item")
	}
}
