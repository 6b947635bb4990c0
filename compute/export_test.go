package compute

import "testing"

// SetFanOutWindow sets the fan-out window for one test.
func SetFanOutWindow(t *testing.T, n int) {
	old := fanOutWindow
	fanOutWindow = n
	t.Cleanup(func() { fanOutWindow = old })
}
