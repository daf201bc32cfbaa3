package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary play the two processes of
// TestUpstreamDiesWithBench: bench itself (BENCH_TEST_PARENT set) and its
// "bench upstream" child (started as os.Executable() upstream …).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "upstream" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Getenv("BENCH_TEST_PARENT") != "" {
		p, err := startUpstreamProc(&options{codeDelay: time.Hour})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("child %d\n", p.pid)
		select {} // until killed
	}
	os.Exit(m.Run())
}

// TestUpstreamDiesWithBench kills a bench (SIGKILL: no exit path of its
// own runs) and sees its upstream child die too, by the parent-death
// signal, instead of living on as an orphan.
func TestUpstreamDiesWithBench(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "-test.run", "^$")
	parent.Env = append(os.Environ(), "BENCH_TEST_PARENT=1")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "child ")))
	if err != nil || perr != nil || !alive(pid) {
		t.Fatalf("the bench printed %q (%v): want a running child's pid", line, err)
	}
	defer func() {
		if p, err := os.FindProcess(pid); err == nil && alive(pid) {
			p.Kill()
		}
	}()
	parent.Process.Kill()
	parent.Wait()
	// The kernel signals the child as the parent dies; nothing to wait on
	// but its entry in /proc.
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream process %d outlived its killed bench by 10 s", pid)
		}
		<-time.After(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie, dead but not yet reaped, does
// not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return rest != "" && rest[0] != 'Z'
}
