package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/worker"
)

// streamScript is a long-lived algorithm in sh: for each line it answers {"result": its pid},
// except for the input ids the cases below give a misbehaviour to.
const streamScript = `
while IFS= read -r line; do
	case "$line" in
	*'"input_id":1,'*) echo '{"error": "input 1 is refused"}' ;;
	*'"input_id":2,'*) echo "about to print garbage" >&2; echo 'not json' ;;
	*'"input_id":3,'*) echo "dying" >&2; exit 3 ;;
	*'"input_id":4,'*) sleep 30 ;;
	*'"input_id":5,'*) printf '{"result": "%0300d"}\n' 0 ;;
	*'"input_id":6,'*) echo '{"other": 1}' ;;
	*) echo "{\"result\": $$}" ;;
	esac
done
`

func newStream(t *testing.T) *worker.Stream {
	t.Helper()
	s := &worker.Stream{Command: []string{"sh", "-c", streamScript}, Timeout: 500 * time.Millisecond, MaxLine: 200}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// computeID sends the item with inputID and returns the answer.
func computeID(s *worker.Stream, inputID int) (json.RawMessage, error) {
	return s.ComputeItem(context.Background(), compute.WorkItem{InputID: inputID, InstanceID: "run"}, json.RawMessage(`[1, 2]`))
}

// pidOf computes a well-behaved item and returns the pid of the process that answered.
func pidOf(t *testing.T, s *worker.Stream) int {
	t.Helper()
	out, err := computeID(s, 0)
	if err != nil {
		t.Fatalf("a well-behaved item failed: %v", err)
	}
	pid, err := strconv.Atoi(string(out))
	if err != nil {
		t.Fatalf("result %s is not a pid", out)
	}
	return pid
}

func TestStreamKeepsItsProcessAcrossItems(t *testing.T) {
	s := newStream(t)
	first := pidOf(t, s)
	for range 20 {
		if pid := pidOf(t, s); pid != first {
			t.Fatalf("an item ran in process %d, the one before in %d: the process was not kept", pid, first)
		}
	}
	// An {"error"} answer fails the item and keeps the process.
	if _, err := computeID(s, 1); err == nil || err.Error() != "input 1 is refused" {
		t.Fatalf("refused item: err = %v, want the process's own reason", err)
	}
	if pid := pidOf(t, s); pid != first {
		t.Fatalf("after an {\"error\"} answer the process changed (%d → %d)", first, pid)
	}
}

func TestStreamSendsTheItemAsOneLine(t *testing.T) {
	s := &worker.Stream{Command: []string{"sh", "-c", `while IFS= read -r line; do printf '{"result": %s}\n' "$line"; done`}}
	defer s.Close()
	in := json.RawMessage("{\n  \"a\": [1,\n 2]\n}")
	out, err := s.ComputeItem(context.Background(), compute.WorkItem{InputID: 7, InstanceID: "inst"}, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"input_id":7,"instance_id":"inst","input_data":{"a":[1,2]}}`; string(out) != want {
		t.Fatalf("the process was sent %s, want %s", out, want)
	}
}

func TestStreamMisbehavioursFailTheItemAndRestartTheProcess(t *testing.T) {
	for _, c := range []struct {
		name    string
		inputID int
		want    []string
	}{
		{"garbage", 2, []string{`the answer is not {"result": …} or {"error": "…"}`, "not json", "about to print garbage"}},
		{"exit mid-item", 3, []string{"the process exited mid-item", "exit status 3", "dying"}},
		{"hang past the timeout", 4, []string{"no answer within 500ms"}},
		{"too long an answer", 5, []string{"the answer is over 200 bytes"}},
		{"neither result nor error", 6, []string{`{\"other\": 1}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStream(t)
			before := pidOf(t, s)
			_, err := computeID(s, c.inputID)
			if err == nil {
				t.Fatal("the item succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to say %q", err, w)
				}
			}
			if syscall.Kill(before, 0) == nil {
				t.Errorf("process %d still runs after it misbehaved", before)
			}
			// The next item gets a new process and goes through.
			if after := pidOf(t, s); after == before {
				t.Errorf("the misbehaving process %d took the next item", before)
			}
		})
	}
}

// top is a random source whose every draw is the top of its range: each delay is its bound.
type top struct{}

func (top) Uint64() uint64 { return math.MaxUint64 }

func TestStreamRestartsWithGrowingBackoff(t *testing.T) {
	s := &worker.Stream{Command: []string{"sh", "-c", "exit 1"}}
	s.SetRestartRand(rand.New(top{}))
	defer s.Close()
	start := time.Now()
	for range 3 {
		if _, err := computeID(s, 0); err == nil || !strings.Contains(err.Error(), "exited mid-item") {
			t.Fatalf("err = %v, want the exit", err)
		}
	}
	// The second start waits up to 100ms, the third up to 200ms: here, the bounds.
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("three failing starts took %v: no backoff between restarts", took)
	}
}

func TestStreamConcurrentItemsEachGetAProcess(t *testing.T) {
	s := &worker.Stream{Command: []string{"sh", "-c", `while IFS= read -r line; do sleep 0.2; echo "{\"result\": $$}"; done`}}
	defer s.Close()
	var mu sync.Mutex
	pids := map[string]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := computeID(s, 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			pids[string(out)] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(pids) != 4 {
		t.Fatalf("4 items at once ran in %d processes, want 4", len(pids))
	}
}

func TestStreamCancelKillsTheProcess(t *testing.T) {
	s := newStream(t)
	before := pidOf(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.ComputeItem(ctx, compute.WorkItem{InputID: 4}, json.RawMessage(`1`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if syscall.Kill(before, 0) == nil {
		t.Errorf("process %d still runs after its item was cancelled", before)
	}
	if after := pidOf(t, s); after == before {
		t.Errorf("the cancelled process %d took the next item", before)
	}
}

func TestStreamCloseEndsTheProcesses(t *testing.T) {
	// One process leaves at the end of its stdin; the other ignores it and is killed.
	polite := &worker.Stream{Command: []string{"sh", "-c", streamScript}}
	stubborn := &worker.Stream{Command: []string{"sh", "-c", `read line; echo '{"result": '$$'}'; exec sleep 60`}}
	for _, s := range []*worker.Stream{polite, stubborn} {
		pid := pidOf(t, s)
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("Close took %v", took)
		}
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d runs after Close", pid)
		}
		if _, err := computeID(s, 0); err == nil {
			t.Error("an item computed after Close succeeded")
		}
	}
}
