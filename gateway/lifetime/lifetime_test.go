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

func TestRetry(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	calls := 0
	ok := Retry(context.Background(), clock, now.Add(time.Hour), time.Microsecond, false, func(context.Context) bool {
		calls++
		return calls == 3
	})
	if !ok || calls != 3 {
		t.Fatalf("Retry = %v after %d calls; want true after 3", ok, calls)
	}
	// Past the deadline (on the injected clock): one attempt, then give up.
	calls = 0
	ok = Retry(context.Background(), clock, now, time.Microsecond, false, func(context.Context) bool { calls++; return false })
	if ok || calls != 1 {
		t.Fatalf("Retry past deadline = %v after %d calls; want false after 1", ok, calls)
	}
	// An ended context stops the retries at the next pause.
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	ok = Retry(ctx, clock, now.Add(time.Hour), time.Hour, false, func(context.Context) bool { calls++; cancel(); return false })
	if ok || calls != 1 {
		t.Fatalf("Retry after cancel = %v after %d calls; want false after 1", ok, calls)
	}
	// pauseFirst on an ended context never tries.
	if Retry(ctx, clock, now.Add(time.Hour), time.Hour, true, func(context.Context) bool { t.Error("tried"); return true }) {
		t.Fatal("Retry with pauseFirst on an ended context reported success")
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
