package orca_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeBuildSaysWhatItDoes runs `make build` with a stand-in for go that only records its
// call: before a first build (no binary yet) make says, on stderr and before the build starts,
// that it is building and that it takes minutes, so `make run` on a fresh clone does not look hung.
func TestMakeBuildSaysWhatItDoes(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fakeGo := filepath.Join(dir, "go")
	script := "#!/bin/sh\necho \"go $*\" >> " + calls + "\necho go-ran >&2\n"
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	for _, c := range []struct {
		name, want string
		first      bool
	}{{"first build", "for the first time", true}, {"later build", "make: building", false}} {
		t.Run(c.name, func(t *testing.T) {
			if !c.first {
				if err := os.MkdirAll(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(bin, "orca"), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command("make", "--no-print-directory", "build", "GO="+fakeGo, "BIN="+bin)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("make build: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			said := strings.Index(stderr.String(), c.want)
			ran := strings.Index(stderr.String(), "go-ran")
			if said < 0 || ran < 0 || said > ran {
				t.Fatalf("stderr %q: want %q before the build", stderr.String(), c.want)
			}
			if c.first != strings.Contains(stderr.String(), "minutes") {
				t.Fatalf("stderr %q: the time a build takes is said only before a first build", stderr.String())
			}
			if b, err := os.ReadFile(calls); err != nil || !strings.Contains(string(b), "go build") {
				t.Fatalf("go was not called to build: %q %v", b, err)
			}
		})
	}
}
