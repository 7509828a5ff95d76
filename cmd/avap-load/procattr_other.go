//go:build !linux

package main

import "os/exec"

// dieWithParent is Linux only; elsewhere the harness relies on its own
// SIGTERM/SIGKILL at the end of each scenario.
func dieWithParent(*exec.Cmd) {}
