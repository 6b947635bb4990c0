//go:build unix && !linux

package worker

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs the command in its own process group and kills the whole group when
// the command's context ends, so a timeout also stops what the command started.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
