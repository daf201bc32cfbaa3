//go:build !linux

package main

import "syscall"

// childAttr: outside Linux there is no parent-death signal; the upstream
// process is stopped on bench's own exit paths only.
func childAttr() *syscall.SysProcAttr { return nil }
