package main

import "syscall"

// childAttr makes the kernel kill the upstream process when bench dies,
// however it dies (SIGKILL included): no orphan keeps the port and a CPU.
// Pdeathsig follows the OS thread that started the child, not the
// process; Go only ends a thread when a goroutine exits locked to it,
// which the goroutine that starts the child never is.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
