package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// runCLISplit runs the CLI with stdout and stderr apart.
func runCLISplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestResultsGoToStdout checks that what a person would script (a BENCH line, the version, a
// config check's verdict) is on stdout, alone, so that `orca bench … > file` captures it.
func TestResultsGoToStdout(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.yaml")
	if err := os.WriteFile(good, []byte("listen: 127.0.0.1:9000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"version"}, regexp.MustCompile(`^orca dev\n$`)},
		{[]string{"config", "check", good}, regexp.MustCompile(`^.*good.yaml: OK \(0 subscriptions\)\n$`)},
		{[]string{"bench", "--scenario", "fanout", "--n", "10", "--dir", t.TempDir()}, regexp.MustCompile(`^BENCH scenario=fanout n=10 .*\n$`)},
	} {
		stdout, stderr, err := runCLISplit(t, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if !c.want.MatchString(stdout) {
			t.Errorf("%v: stdout %q, want %s (stderr %q)", c.args, stdout, c.want, stderr)
		}
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	out, err := runCLI(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"bench", "config", "demo", "dev", "version", "worker"} {
		if !strings.Contains(out, sub) {
			t.Errorf("help does not list %q:\n%s", sub, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := runCLI(t, "version")
	if err != nil || out != "orca dev\n" {
		t.Fatalf("version printed %q (%v)", out, err)
	}
}

func TestBenchPrintsOneLine(t *testing.T) {
	line := regexp.MustCompile(`^BENCH scenario=(fanout|sequence|many) n=(\d+) servers=1 seconds=[0-9.]+ items_per_sec=\d+ peak_rss_mb=[0-9.]+\n$`)
	for _, sc := range []string{"fanout", "sequence", "many"} {
		out, err := runCLI(t, "bench", "--scenario", sc, "--n", "20", "--dir", t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if m := line.FindStringSubmatch(out); m == nil || m[1] != sc || m[2] != "20" {
			t.Fatalf("%s printed %q", sc, out)
		}
	}
	if _, err := runCLI(t, "bench", "--scenario", "nope"); err == nil || !strings.Contains(err.Error(), "fanout") {
		t.Fatalf("unknown scenario: %v (want an error listing the scenarios)", err)
	}
}

func TestDemoCompletes(t *testing.T) {
	out, err := runCLI(t, "demo", "--n", "20", "--delay", "0", "--data", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `Completed in`) || !strings.Contains(out, `"approvedBy":"orca demo"`) || !strings.Contains(out, "TaskCompleted          20") {
		t.Fatalf("demo output:\n%s", out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("listen: 127.0.0.1:9000\nsubscriptions:\n  - name: hook-1\n    destination: {endpointType: WebHook, endpointUrl: http://127.0.0.1:1/x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("workers: {min: 3, max: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "config", "check", good)
	if err != nil || !strings.Contains(out, "OK (1 subscriptions)") {
		t.Fatalf("good file: %q %v", out, err)
	}
	if _, err := runCLI(t, "config", "check", bad); err == nil || !strings.Contains(err.Error(), "workers.min") {
		t.Fatalf("bad file: %v, want it to name workers.min", err)
	}
}

func TestWorkerRefusesBadExecFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--exec-mode", "stream"}, "--exec-mode: stream needs exec"},
		{[]string{"worker", "--exec", "cat", "--exec-mode", "batch"}, `--exec-mode: "batch"`},
		{[]string{"worker", "--batch", "1000"}, "--batch: 1000: at most 256"},
	} {
		if _, err := runCLI(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want one saying %q", c.args, err, c.want)
		}
	}
}
