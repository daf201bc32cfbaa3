package lifetime

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestStopWaitsAndCancels(t *testing.T) {
	g := NewGroup()
	started := make(chan struct{})
	var ended atomic.Bool
	if !g.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		ended.Store(true)
	}) {
		t.Fatal("Go refused before Stop")
	}
	<-started
	g.Stop()
	if !ended.Load() {
		t.Fatal("Stop returned before the goroutine ended")
	}
	if g.Go(func(context.Context) { t.Error("ran after Stop") }) {
		t.Fatal("Go accepted work after Stop")
	}
	g.Stop() // twice is fine
}

func TestStopWith(t *testing.T) {
	g := NewGroup()
	parent, cancel := context.WithCancel(context.Background())
	g.StopWith(parent)
	cancel()
	<-g.Context().Done() // ends because parent did
	g.Stop()
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep reported a full wait on an ended context")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep of 1ms did not complete")
	}
	if Sleep(ctx, 0) {
		t.Fatal("Sleep(0) on an ended context reported success")
	}
}

// Every runs its function each period until the group stops, and Stop
// waits for it.
func TestEvery(t *testing.T) {
	g := NewGroup()
	ran := make(chan struct{}, 10)
	if !g.Every(time.Millisecond, func(context.Context) { ran <- struct{}{} }) {
		t.Fatal("Every refused on a running group")
	}
	<-ran
	<-ran
	g.Stop()
	if g.Every(time.Millisecond, func(context.Context) {}) {
		t.Fatal("Every ran after Stop")
	}
}
