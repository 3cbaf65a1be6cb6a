//go:build unix

package testkit

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, so that killGroup ends its helpers too.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup sends SIGKILL to cmd's whole process group, if ownGroup gave it one.
func killGroup(cmd *exec.Cmd) {
	if a := cmd.SysProcAttr; a != nil && a.Setpgid {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
