//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// DieWithTest is a no-op where the kernel offers no parent-death signal:
// t.Cleanup still stops every process when the test ends normally.
func DieWithTest(cmd *exec.Cmd, sig syscall.Signal) {}
