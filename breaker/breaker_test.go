package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// changes records a breaker's reported changes and wakes a waiter on each.
type changes struct {
	mu     sync.Mutex
	list   []Change
	notify chan struct{} // made on first use; one pending wake-up at most
}

func (c *changes) signal() chan struct{} {
	if c.notify == nil {
		c.notify = make(chan struct{}, 1)
	}
	return c.notify
}

func (c *changes) add(ch Change) {
	c.mu.Lock()
	c.list = append(c.list, ch)
	n := c.signal()
	c.mu.Unlock()
	select {
	case n <- struct{}{}:
	default:
	}
}

// wait returns the changes once there are at least n, woken by each one
// reported (the timeout only ends a test that would otherwise hang).
func (c *changes) wait(t *testing.T, n int) []Change {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if len(c.list) >= n {
			out := append([]Change(nil), c.list...)
			c.mu.Unlock()
			return out
		}
		wake := c.signal()
		c.mu.Unlock()
		select {
		case <-wake:
		case <-timeout.C:
			t.Fatalf("fewer than %d state changes", n)
		}
	}
}

var (
	unavailable = fmt.Errorf("x buy: %w", adapters.ErrUnavailable)
	noNumbers   = fmt.Errorf("x buy: %w", adapters.ErrNoNumbers)
)

func call(t *testing.T, b *Breaker, err error) error {
	t.Helper()
	done, aerr := b.Allow()
	if aerr != nil {
		return aerr
	}
	done(err)
	return nil
}

// TestClassification: only platform faults count; business answers and
// cancellations never open the breaker.
func TestClassification(t *testing.T) {
	b := New("p", Settings{ConsecutiveFailures: 3})
	defer b.Close()
	for i := 0; i < 50; i++ {
		call(t, b, noNumbers)
		call(t, b, fmt.Errorf("x: %w", adapters.ErrNoBalance))
		call(t, b, context.Canceled)
	}
	if s := b.Snapshot(); s.State != Closed {
		t.Fatalf("after 150 business answers/cancellations: %s", s.State)
	}
	for i := 0; i < 3; i++ {
		call(t, b, unavailable)
	}
	if s := b.Snapshot(); s.State != Open {
		t.Fatalf("after 3 consecutive failures: %s", s.State)
	}
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow while open = %v", err)
	}
	b2 := New("q", Settings{ConsecutiveFailures: 3})
	defer b2.Close()
	for i := 0; i < 10; i++ {
		call(t, b2, fmt.Errorf("x: %w", adapters.ErrAuth))
	}
	if s := b2.Snapshot(); s.State != Open {
		t.Fatalf("ErrAuth does not count: %s", s.State)
	}
}

// TestFailureRatio trips on a failure share over the window with volume,
// even without N failures in a row.
func TestFailureRatio(t *testing.T) {
	b := New("p", Settings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10})
	defer b.Close()
	for i := 0; i < 4; i++ { // 4 failures in 8: below volume
		call(t, b, unavailable)
		call(t, b, nil)
	}
	if s := b.Snapshot(); s.State != Closed {
		t.Fatalf("below min volume: %s", s.State)
	}
	call(t, b, nil)
	call(t, b, unavailable) // 5 of 10
	if s := b.Snapshot(); s.State != Open {
		t.Fatalf("5 failures in 10 calls: %s", s.State)
	}
}

// TestGrowingOpenTime: each repeated trip keeps the platform out longer
// (OpenTimeout × trips, capped); a good probe closes it.
func TestGrowingOpenTime(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var ch changes
	base := 20 * time.Second // on the injected clock only: nothing waits for it
	b := New("p", Settings{ConsecutiveFailures: 1, OpenTimeout: base, MaxOpenTimeout: 3 * base, Now: clk.now, OnChange: ch.add})
	defer b.Close()
	wantOpenFor := []time.Duration{base, 2 * base, 3 * base, 3 * base}
	for trip, want := range wantOpenFor {
		if err := call(t, b, unavailable); err != nil {
			t.Fatalf("trip %d: probe refused: %v", trip+1, err)
		}
		s := b.Snapshot()
		if s.State != Open || s.Trips != trip+1 || s.OpenUntil.Sub(clk.now()) != want {
			t.Fatalf("trip %d: %+v; want open for %s", trip+1, s, want)
		}
		clk.add(want - time.Millisecond)
		if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
			t.Fatalf("trip %d: allowed before the grown open time: %v", trip+1, err)
		}
		clk.add(time.Millisecond)
	}
	if err := call(t, b, nil); err != nil {
		t.Fatalf("probe after the last open time: %v", err)
	}
	if s := b.Snapshot(); s.State != Closed {
		t.Fatalf("after a good probe: %s", s.State)
	}
	got := ch.wait(t, 9)
	want := []State{Open, HalfOpen, Open, HalfOpen, Open, HalfOpen, Open, HalfOpen, Closed}
	for i, w := range want {
		if got[i].To != w {
			t.Fatalf("change %d to %s; want %s (all: %+v)", i, got[i].To, w, got)
		}
	}
}

// TestConcurrentUse is for the race detector: many callers, a state
// listener reading snapshots.
func TestConcurrentUse(t *testing.T) {
	var b *Breaker
	b = New("p", Settings{ConsecutiveFailures: 5, OpenTimeout: time.Millisecond, OnChange: func(Change) { b.Snapshot() }})
	defer b.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				var err error
				if i%3 == 0 {
					err = unavailable
				}
				call(t, b, err)
			}
		}()
	}
	wg.Wait()
}
