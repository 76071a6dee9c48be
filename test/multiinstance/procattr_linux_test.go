package multiinstance_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel send sig to cmd when the test process dies,
// so a test killed by its timeout leaves no server running.
func dieWithTest(cmd *exec.Cmd, sig syscall.Signal) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: sig}
}
