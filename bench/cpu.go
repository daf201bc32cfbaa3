package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the CPU (user + system) this process has used, and with pid
// > 0 also that process's (read from /proc; 0 where there is none).
// Throughput on a shared two-core box moves with whatever else runs;
// CPU spent per operation moves much less, so the buy scenario reports
// both.
func cpuTime(pid int) time.Duration {
	var ru syscall.Rusage
	var self time.Duration
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self + procCPU(pid)
}

// procCPU reads pid's utime + stime from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat: utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15: stime
	const hz = 100                           // USER_HZ, 100 on Linux
	return time.Duration(ut+st) * time.Second / hz
}
