package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parse defines a dev-like command's flags and parses args.
func parse(t *testing.T, args ...string) (*Flags, *pflag.FlagSet) {
	t.Helper()
	fl := &Flags{}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fl.Log(fs)
	fl.Node(fs)
	fl.Workers(fs)
	fl.Pool(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fl, fs
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orca.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSettingsAreLayered: the flags' defaults, then the file, then the environment, then the
// flags given, each winning over the one before.
func TestSettingsAreLayered(t *testing.T) {
	path := writeFile(t, "listen: file:1\ndata: /file\nsync: NORMAL\nworkers: {max: 3, concurrency: 5, cooldown: 1m}\nlog: {level: debug}\n")
	t.Setenv("ORCA_LISTEN", "env:2")
	t.Setenv("ORCA_MAX_WORKERS", "4")
	t.Setenv("ORCA_CONFIG", "")
	fl, fs := parse(t, "--config", path, "--max-workers", "9", "--queue", "work", "--insecure")
	f, err := fl.Resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"flag over environment over file", f.Workers.Max, 9},
		{"environment over file", f.Listen, "env:2"},
		{"file over the flag's default", f.Data, "/file"},
		{"file over the flag's default (int)", f.Workers.Concurrency, 5},
		{"file over the flag's default (duration)", f.Workers.Cooldown, time.Minute},
		{"file over the root's flag default", f.Log.Level, "debug"},
		{"file's setting without a flag", f.Sync, "NORMAL"},
		{"flag over unset", f.Work.Queue, "work"},
		{"bool flag", f.Insecure, true},
		{"unset takes the flag's default", f.Log.Format, "text"},
		{"unset takes the flag's default (duration)", f.Workers.VisibilityTimeout, 30 * time.Second},
		{"unset takes the flag's default (mode)", f.Workers.ExecMode, ExecPerItem},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

// TestConfigFromTheEnvironment: without --config, $ORCA_CONFIG names the file.
func TestConfigFromTheEnvironment(t *testing.T) {
	t.Setenv("ORCA_CONFIG", writeFile(t, "listen: file:1\n"))
	fl, fs := parse(t)
	f, err := fl.Resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "file:1" {
		t.Fatalf("listen %q: $ORCA_CONFIG not read", f.Listen)
	}
}

// TestBadSettingNamesItsSource: a bad value given as a flag is reported under the flag's name, a
// bad value from the file under the setting's.
func TestBadSettingNamesItsSource(t *testing.T) {
	t.Setenv("ORCA_CONFIG", "")
	fl, fs := parse(t, "--exec-mode", "batch", "--exec", "cat")
	if _, err := fl.Resolve(fs); err == nil || !strings.HasPrefix(err.Error(), `--exec-mode: "batch"`) {
		t.Fatalf("flag: err = %v", err)
	}
	fl, fs = parse(t, "--config", writeFile(t, "workers: {execMode: stream}\n"))
	if _, err := fl.Resolve(fs); err == nil || !strings.HasPrefix(err.Error(), "configuration: workers.execMode: stream needs exec") {
		t.Fatalf("file: err = %v", err)
	}
}

// TestFurtherPoolsInheritTheWorkersSection: a pool that sets no item time limit or lease gets
// the workers section's, and the per-item mode.
func TestFurtherPoolsInheritTheWorkersSection(t *testing.T) {
	t.Setenv("ORCA_CONFIG", "")
	path := writeFile(t, "workers: {execTimeout: 2m}\npools:\n  - {name: gpu, queue: gpu, exec: \"python3 gpu.py\", visibilityTimeout: 1m}\n")
	fl, fs := parse(t, "--config", path)
	f, err := fl.Resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Pools[0].Workers; p.ExecTimeout != 2*time.Minute || p.VisibilityTimeout != time.Minute || p.ExecMode != ExecPerItem {
		t.Fatalf("pool settings %+v", p)
	}
	if args := strings.Join(f.Pools[0].Args("gpu"), " "); args != "--queue gpu --concurrency 0 --batch 0 --visibility-timeout 1m0s --exec python3 gpu.py --exec-mode per-item --exec-timeout 2m0s" {
		t.Fatalf("worker args %q", args)
	}
}
