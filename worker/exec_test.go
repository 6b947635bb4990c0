package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/worker"
)

func TestExecPassesJSONThrough(t *testing.T) {
	e := &worker.Exec{Command: []string{"sh", "-c", `read x; echo "progress" >&2; echo "{\"got\": $x}"`}}
	out, err := e.Compute(context.Background(), json.RawMessage(`[1,2]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"got": [1,2]}` {
		t.Fatalf("result %s", out)
	}
}

func TestExecFailureCarriesTheStderrTail(t *testing.T) {
	e := &worker.Exec{Command: []string{"sh", "-c", `echo "line one" >&2; echo "the real reason" >&2; exit 3`}}
	_, err := e.Compute(context.Background(), json.RawMessage(`1`))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "the real reason") {
		t.Fatalf("err = %v", err)
	}
}

func TestExecRejectsNonJSONOutput(t *testing.T) {
	e := &worker.Exec{Command: []string{"sh", "-c", `echo hello`}}
	if _, err := e.Compute(context.Background(), json.RawMessage(`1`)); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("err = %v", err)
	}
}

func TestExecTimeoutKillsTheProcessGroup(t *testing.T) {
	// The child starts a grandchild that would outlive a plain kill.
	e := &worker.Exec{Command: []string{"sh", "-c", `sleep 30 & echo started >&2; wait`}, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := e.Compute(context.Background(), json.RawMessage(`1`))
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") || !strings.Contains(err.Error(), "started") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s: the process group was not killed", d)
	}
}

func TestExecMissingProgram(t *testing.T) {
	e := &worker.Exec{Command: []string{"/nonexistent/algorithm"}}
	if _, err := e.Compute(context.Background(), json.RawMessage(`1`)); err == nil {
		t.Fatal("a missing program succeeded")
	}
}
