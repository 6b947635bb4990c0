//go:build linux

package worker

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs the command in its own process group, kills the whole group when the
// command's context ends (so a timeout also stops what the command started), and has the kernel
// kill the command if the worker dies first.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
