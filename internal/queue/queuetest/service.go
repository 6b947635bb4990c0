package queuetest

import (
	"fmt"
	"os"
	"testing"
)

// ServiceEnv returns the values of the environment variables that point a backend's tests at
// its test server, which scripts/services/<script> starts. When one is unset the test skips
// with a loud message, or fails when REQUIRE_INTEGRATION=1 (as CI sets it).
func ServiceEnv(t testing.TB, script string, names ...string) []string {
	t.Helper()
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = os.Getenv(n)
		if values[i] != "" {
			continue
		}
		msg := fmt.Sprintf("%s is not set: run eval \"$(scripts/services/%s start)\"; these tests did not run", n, script)
		if os.Getenv("REQUIRE_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "\n*** SKIP: "+t.Name()+": "+msg+" ***")
		t.Skip(msg)
	}
	return values
}
