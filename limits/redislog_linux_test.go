//go:build linux

package limits

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// captureStderr points file descriptor 2 at a file until the returned
// function restores it and returns what was written: go-redis's default
// logger holds os.Stderr's file, so swapping the variable would see nothing.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	return func() string {
		syscall.Dup3(saved, 2, 0)
		syscall.Close(saved)
		b, err := os.ReadFile(f.Name())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// TestRedisDialErrorGoesThroughZap: with SetRedisLogger installed, a
// client dialling a closed port leaves a zap warning naming the failure
// (once, however many calls fail) and nothing on stderr.
func TestRedisDialErrorGoesThroughZap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now

	core, logs := observer.New(zap.InfoLevel)
	stderr := captureStderr(t)
	SetRedisLogger(zap.New(core))
	rdb, err := NewRedisClient(addr)
	if err != nil {
		stderr()
		t.Fatal(err)
	}
	for range 3 {
		if err := rdb.Ping(context.Background()).Err(); err == nil {
			stderr()
			t.Fatal("ping of a closed port succeeded")
		}
	}
	rdb.Close()
	out := stderr()

	if out != "" {
		t.Errorf("stderr got %q; want nothing", out)
	}
	entries := logs.FilterMessage("redis client").All()
	if len(entries) != 1 {
		t.Fatalf("%d zap entries; want 1 (three failed dials, rate-limited): %v", len(entries), logs.All())
	}
	if d, _ := entries[0].ContextMap()["detail"].(string); !strings.Contains(d, "failed to dial") || !strings.Contains(d, addr) {
		t.Errorf("detail %q; want the failed dial to %s", d, addr)
	}
}
