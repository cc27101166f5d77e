//go:build !linux

package main

import "os/exec"

func dieWithParent(*exec.Cmd) {}

func raiseFileLimit() {}

func fileLimit() uint64 { return 0 }
