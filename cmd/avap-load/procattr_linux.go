package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process if the harness dies, so
// that no server outlives an interrupted run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
