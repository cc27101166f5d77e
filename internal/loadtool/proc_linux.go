package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a child process get SIGKILL when the tool dies, however it dies.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
