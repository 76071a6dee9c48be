package testenv

import (
	"os/exec"
	"syscall"
)

// DieWithTest makes the kernel send sig to cmd when the test process dies,
// so a test killed by its timeout leaves no child running.
func DieWithTest(cmd *exec.Cmd, sig syscall.Signal) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: sig}
}
