package queue_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/queue"
)

func TestValidateName(t *testing.T) {
	valid := []string{"abc", "work", "input", "a-b", "a1-b2-c3", "123", strings.Repeat("a", 63), "x-poison"}
	for _, name := range valid {
		if err := queue.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	invalid := []string{"", "a", "ab", strings.Repeat("a", 64), "Work", "WORK", "wo rk", "wo_rk", "wo.rk", "-abc", "abc-",
		"a--b", "wörk", "ab\x00", "ab/c", "---"}
	for _, name := range invalid {
		if err := queue.ValidateName(name); !errors.Is(err, queue.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestPoisonName(t *testing.T) {
	if got := queue.PoisonName("input"); got != "input-poison" {
		t.Fatalf("PoisonName(input) = %q", got)
	}
	if err := queue.ValidateName(queue.PoisonName("input")); err != nil {
		t.Fatalf("the poison queue of a short name is not a valid name: %v", err)
	}
	for name, want := range map[string]string{"input-poison": "input", "input": "", "-poison": "", "a-poison-poison": "a-poison"} {
		if got, ok := queue.PoisonOf(name); ok != (want != "") || ok && got != want {
			t.Errorf("PoisonOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestStatsLength(t *testing.T) {
	if got := (queue.Stats{Visible: 3, InFlight: 4}).Length(); got != 7 {
		t.Fatalf("Length = %d, want 7", got)
	}
	if got := (queue.Stats{}).Length(); got != 0 {
		t.Fatalf("Length of no messages = %d", got)
	}
}

// validByRule is Azure's rule for queue names written independently of ValidateName.
func validByRule(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--") {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"work", "a-b", "a--b", "-ab", "ab-", "AB", "wörk", strings.Repeat("z", 63), strings.Repeat("z", 64), "", "\xff\xfe\xfd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := queue.ValidateName(name)
		if err != nil && !errors.Is(err, queue.ErrInvalidName) {
			t.Fatalf("ValidateName(%q) = %v, not ErrInvalidName", name, err)
		}
		if want := validByRule(name); (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v, want valid: %v", name, err, want)
		}
	})
}

func TestTruncateLastError(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"éé", 3, "é"}, {"", 0, ""}, {"é", 0, ""}} {
		if got := queue.TruncateLastError(c.in, c.n); got != c.want {
			t.Errorf("TruncateLastError(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
