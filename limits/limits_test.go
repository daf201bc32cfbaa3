package limits

import (
	"sync"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBuckets(func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := b.Allow("t", 2, 3); !ok {
			t.Fatalf("burst token %d refused", i)
		}
	}
	ok, wait := b.Allow("t", 2, 3)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th in the same instant = %v, retry after %s; want refused, 500ms", ok, wait)
	}
	if ok, _ := b.Allow("other", 2, 3); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := b.Allow("t", 2, 3); !ok {
		t.Fatal("no token after 1/rate")
	}
	if ok, _ := b.Allow("t", 2, 3); ok {
		t.Fatal("two tokens after 1/rate")
	}
	now = now.Add(time.Hour)
	n := 0
	for {
		if ok, _ := b.Allow("t", 2, 3); !ok {
			break
		}
		n++
	}
	if n != 3 {
		t.Fatalf("after an hour %d tokens; want the burst, 3", n)
	}
	if ok, _ := b.Allow("t", 0, 0); !ok {
		t.Fatal("rate 0 must mean unlimited")
	}
}

func TestCounters(t *testing.T) {
	c := NewCounters()
	var wg sync.WaitGroup
	got := make(chan bool, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); got <- c.TryAcquire("t", 10) }()
	}
	wg.Wait()
	close(got)
	n := 0
	for ok := range got {
		if ok {
			n++
		}
	}
	if n != 10 || c.Count("t") != 10 {
		t.Fatalf("%d acquired, count %d; want exactly the cap, 10", n, c.Count("t"))
	}
	c.Release("t")
	if !c.TryAcquire("t", 10) || c.TryAcquire("t", 10) {
		t.Fatal("a release frees exactly one slot")
	}
	for i := 0; i < 20; i++ {
		c.Release("t")
	}
	if c.Count("t") != 0 {
		t.Fatal("count went below zero")
	}
	c.Set("t", 7)
	if c.Count("t") != 7 || !c.TryAcquire("t", 0) {
		t.Fatal("Set / unlimited acquire")
	}
}

// Peek never spends a token, and a new rate for a key applies at once
// (an admin may change a platform's rate while its bucket exists).
func TestBucketsPeekAndRateChange(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBuckets(func() time.Time { return now })
	if !b.Peek("p", 1, 1) {
		t.Fatal("an unused key has a token")
	}
	for i := 0; i < 3; i++ {
		if !b.Peek("p", 1, 1) {
			t.Fatal("Peek spent a token")
		}
	}
	if ok, _ := b.Allow("p", 1, 1); !ok {
		t.Fatal("first token refused")
	}
	if b.Peek("p", 1, 1) {
		t.Fatal("Peek sees a token that was spent")
	}
	if ok, wait := b.Allow("p", 1, 1); ok || wait != time.Second {
		t.Fatalf("at rate 1/s: %v, %s; want refused, 1s", ok, wait)
	}
	// 100 ms at 1/s filled a tenth of a token; from now on it fills at
	// 10/s, so the rest is due in 90 ms, not 900.
	now = now.Add(100 * time.Millisecond)
	if ok, wait := b.Allow("p", 10, 1); ok || wait != 90*time.Millisecond {
		t.Fatalf("at rate 10/s after 100ms: %v, %s; want refused, 90ms", ok, wait)
	}
	now = now.Add(90 * time.Millisecond)
	if ok, _ := b.Allow("p", 10, 1); !ok {
		t.Fatal("no token when it was due")
	}
}
