package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
)

// crashChildEnv makes the test binary run as the crash test's child process.
const crashChildEnv = "ORCA_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

const (
	crashItems    = 10_000
	crashInstance = "crash-fanout"
)

// crashChild runs the fan-out on the store in dir until it completes (or is killed). Every
// activity execution appends its item to executions.log before returning.
func crashChild(dir string) error {
	ctx := context.Background()
	logFile, err := os.OpenFile(filepath.Join(dir, "executions.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	var logMu sync.Mutex
	r := orca.NewRegistry()
	if err := r.AddActivity("Record", func(ctx orca.ActivityContext) (any, error) {
		var item int
		if err := ctx.Input(&item); err != nil {
			return nil, err
		}
		time.Sleep(200 * time.Microsecond) // some work, so that kills land mid-run
		logMu.Lock()
		_, err := logFile.WriteString(strconv.Itoa(item) + "\n")
		logMu.Unlock()
		return item, err
	}); err != nil {
		return err
	}
	if err := r.AddOrchestrator("CrashFanOut", func(ctx orca.OrchestrationContext) (any, error) {
		tasks := make([]orca.Task, crashItems)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Record", i)
		}
		var out []int
		err := ctx.WhenAll(tasks...).Await(&out)
		return out, err
	}); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "orca.db")})
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := engine.New(engine.Config{Store: st, Registry: r, ActivityConcurrency: 8, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Stop(ctx)
	if _, err := eng.Get(ctx, crashInstance, false); err != nil {
		if _, err := eng.StartInstance(ctx, engine.StartParams{Name: "CrashFanOut", ID: crashInstance}); err != nil {
			return err
		}
	}
	_, err = eng.WaitForFinish(ctx, crashInstance)
	return err
}

// TestCrashRecoveryFanOut kills a process running a 10,000-activity fan-out with SIGKILL at
// random moments, restarts it on the same data each time, and checks that the run completes
// with every result recorded exactly once, although executions may repeat.
func TestCrashRecoveryFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs real processes; skipped with -short")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	// Kill at random moments: some while the child starts, recovers or commits the fan-out,
	// most while activities run (after a random number of new executions).
	for kill := 1; kill <= 6; kill++ {
		before := len(readExecutions(t, dir))
		cmd := crashCommand(dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var when string
		if kill%3 == 1 {
			delay := time.Duration(rng.IntN(400)) * time.Millisecond
			when = fmt.Sprintf("%s after start", delay)
			select {
			case err := <-done:
				t.Fatalf("child exited before kill %d: %v", kill, err)
			case <-time.After(delay):
			}
		} else {
			more := 1 + rng.IntN(crashItems/8)
			when = fmt.Sprintf("%d new executions", more)
			deadline := time.Now().Add(time.Minute)
			for len(readExecutions(t, dir)) < before+more {
				select {
				case err := <-done:
					t.Fatalf("child exited before kill %d: %v", kill, err)
				case <-time.After(5 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("no progress before kill %d", kill)
				}
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		exit := <-done
		t.Logf("kill %d at %s (%v): %d executions so far", kill, when, exit, len(readExecutions(t, dir)))
	}
	cmd := crashCommand(dir)
	finished := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { finished <- cmd.Wait() }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatalf("final run: %v", err)
		}
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("final run did not finish in 5 minutes")
	}
	checkCrashRun(t, dir)
}

func crashCommand(dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func readExecutions(t *testing.T, dir string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "executions.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue // a line cut short by the kill
		}
		out = append(out, n)
	}
	return out
}

func checkCrashRun(t *testing.T, dir string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "orca.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, err := st.InstanceGet(ctx, crashInstance, true)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != store.StatusCompleted {
		t.Fatalf("status = %s (failure %v), want Completed", in.Status, in.Failure)
	}
	var out []int
	if err := json.Unmarshal(in.Output, &out); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i, v := range out {
		if v != i {
			t.Fatalf("output[%d] = %d", i, v)
		}
		seen[v] = true
	}
	if len(out) != crashItems || len(seen) != crashItems {
		t.Fatalf("output has %d results, %d distinct; want %d", len(out), len(seen), crashItems)
	}
	// Each result is recorded once in the history, however often the activity ran.
	recorded := map[int32]int{}
	for after := -1; ; {
		recs, err := st.HistoryRead(ctx, &store.HistoryReadParams{InstanceID: crashInstance, After: after, Limit: 5000,
			Types: []history.Type{history.TaskCompleted}})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			recorded[r.Event.TaskCompleted.TaskScheduledID]++
		}
		after = recs[len(recs)-1].Seq
	}
	if len(recorded) != crashItems {
		t.Fatalf("history records %d distinct results, want %d", len(recorded), crashItems)
	}
	for id, n := range recorded {
		if n != 1 {
			t.Fatalf("result of task %d recorded %d times", id, n)
		}
	}
	execs := readExecutions(t, dir)
	ran := map[int]bool{}
	for _, v := range execs {
		ran[v] = true
	}
	if len(ran) != crashItems {
		t.Fatalf("%d distinct items executed, want %d", len(ran), crashItems)
	}
	t.Logf("%d executions for %d items (%d repeated after kills)", len(execs), crashItems, len(execs)-crashItems)
}
