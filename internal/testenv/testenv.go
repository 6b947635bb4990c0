// Package testenv is what a test does when the machine lacks something it needs (a test server,
// a browser, a file): it skips with a loud message, or fails when REQUIRE_INTEGRATION=1, as CI
// sets it, so that an integration suite never skips without anyone noticing. Only tests import
// it.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing ends t because what msg describes is missing: a skip that also prints msg to stderr,
// or a failure under REQUIRE_INTEGRATION=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "\n*** SKIP: "+t.Name()+": "+msg+" ***")
	t.Skip(msg)
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
