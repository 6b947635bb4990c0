// Package wait is the tests' one way to wait for something another goroutine or process makes
// true: poll a condition until it holds, failing the test with what was waited for when it does
// not in time. Tests import it; the binaries do not.
package wait

import (
	"testing"
	"time"
)

// every is how often For polls.
const every = 5 * time.Millisecond

// For polls cond every few milliseconds until it holds; when timeout passes first it fails the
// test with "timed out after <timeout> waiting for <what>". Inside a testing/synctest bubble the
// polling runs on the bubble's virtual clock.
func For(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}
