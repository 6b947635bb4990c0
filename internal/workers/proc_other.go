//go:build !linux

package workers

import (
	"os"
	"os/exec"
)

// setParentDeathSignal: only Linux has a parent-death signal; elsewhere workers outlive a killed
// orca until their next request to it fails.
func setParentDeathSignal(*exec.Cmd) {}

func terminate(p *os.Process) error { return p.Signal(os.Interrupt) }
