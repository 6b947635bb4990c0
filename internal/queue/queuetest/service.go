package queuetest

import (
	"testing"

	"github.com/orcahq/orca/internal/testenv"
)

// ServiceEnv is testenv.Service, for the queue backends' tests.
func ServiceEnv(t testing.TB, script string, names ...string) []string {
	t.Helper()
	return testenv.Service(t, script, names...)
}
