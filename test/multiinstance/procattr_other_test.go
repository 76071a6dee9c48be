//go:build !linux

package multiinstance_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest is a no-op where the kernel offers no parent-death signal:
// t.Cleanup still stops every process when the test ends normally.
func dieWithTest(cmd *exec.Cmd, sig syscall.Signal) {}
