//go:build linux

package workers

import (
	"os"
	"os/exec"
	"syscall"
)

// configureProcess puts the worker in a process group of its own, so that killing it also
// kills what it started (an --exec algorithm, or anything holding its output open), and has
// the kernel kill it when orca dies, however orca dies.
func configureProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// terminate asks the worker alone to stop: it finishes its items, which need its children.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// kill kills the worker's whole process group.
func kill(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
