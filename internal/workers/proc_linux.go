//go:build linux

package workers

import (
	"os"
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the worker when orca dies, however it dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
