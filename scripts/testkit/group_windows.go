package testkit

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own (Windows' kind: for console signals).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killGroup does nothing on Windows yet: ending a process's helpers with it needs a job
// object. Only the browser tests start programs with helpers, and they run on Linux.
func killGroup(*exec.Cmd) {}
