package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExampleHostModule builds examples/hostapp — a Go module of its own that hosts its
// orchestrators with package host — runs it, and drives it as a Durable Functions client
// would: the start route answers 202 with the check-status payload, statusQueryGetUri ends at
// 200 Completed with the orchestrator's output, and SIGINT stops the program cleanly.
func TestExampleHostModule(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "hostapp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoFile(t, "examples/hostapp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/hostapp: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", freeAddr(t), "--data", filepath.Join(dir, "data"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() { _ = cmd.Process.Kill() }() // after a failure; an error once it exited
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("hostapp printed no URL (%v)", lines.Err())
	}
	base := strings.TrimSpace(lines.Text())
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()

	resp, err := http.Post(base+"/runtime/webhooks/durabletask/orchestrators/SumOfSquares", "application/json", strings.NewReader("10"))
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		ID                string `json:"id"`
		StatusQueryGetURI string `json:"statusQueryGetUri"`
	}
	err = json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted || started.ID == "" || !strings.HasPrefix(started.StatusQueryGetURI, base) {
		t.Fatalf("start: %d %+v (%v)", resp.StatusCode, started, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(started.StatusQueryGetURI)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			RuntimeStatus string          `json:"runtimeStatus"`
			Output        json.RawMessage `json:"output"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if st.RuntimeStatus != "Completed" || string(st.Output) != "385" {
				t.Fatalf("run ended %s with output %s, want Completed with 385", st.RuntimeStatus, st.Output)
			}
			break
		}
		if resp.StatusCode != http.StatusAccepted || time.Now().After(deadline) {
			t.Fatalf("status %d %+v", resp.StatusCode, st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("hostapp exited with %v after SIGINT, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hostapp did not stop within 30 s of SIGINT")
	}
}
