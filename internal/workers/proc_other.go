//go:build !linux

package workers

import (
	"os"
	"os/exec"
)

// configureProcess: only Linux has a parent-death signal; elsewhere workers outlive a killed
// orca until their next request to it fails.
func configureProcess(*exec.Cmd) {}

func terminate(p *os.Process) error { return p.Signal(os.Interrupt) }

func kill(p *os.Process) error { return p.Kill() }
