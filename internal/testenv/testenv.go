// Package testenv holds what the tests and benchmarks of many packages share about how they run.
// When the machine lacks something a test needs (a test server, a browser, a file), the test
// skips with a loud message, or fails when REQUIRE_INTEGRATION=1, as CI sets it, so that an
// integration suite never skips without anyone noticing (Missing, Service). A benchmark spreads
// its b.N items over goroutines with Parallel. Only tests import it.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing ends t because what msg describes is missing: a Skip, or a failure under
// REQUIRE_INTEGRATION=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	Skip(t, msg)
}

// Skip skips t loudly: it also prints why to stderr, where a run without -v shows it. It is
// for skips that are declared, not for what is missing (see Missing).
func Skip(t testing.TB, why string) {
	t.Helper()
	fmt.Fprintln(os.Stderr, "\n*** SKIP: "+t.Name()+": "+why+" ***")
	t.Skip(why)
}

// Service returns the values of the environment variables that point a test at its test server,
// which scripts/services/<script> starts; when one is unset, the server is Missing.
func Service(t testing.TB, script string, names ...string) []string {
	t.Helper()
	values := make([]string, len(names))
	for i, n := range names {
		if values[i] = os.Getenv(n); values[i] == "" {
			Missing(t, fmt.Sprintf("%s is not set: run eval \"$(scripts/services/%s start)\"; these tests did not run", n, script))
		}
	}
	return values
}
