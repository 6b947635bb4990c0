//go:build !unix

package worker

import "os/exec"

// killGroupOnCancel leaves the default: the command itself is killed when its context ends.
func killGroupOnCancel(*exec.Cmd) {}
