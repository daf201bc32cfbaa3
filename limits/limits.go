// Package limits holds the gateway's rate limits and concurrency caps,
// keyed by tenant or platform: token buckets for requests per second and
// counters for active orders. The in-memory implementations here serve one
// instance; a shared implementation (Redis) satisfies the same interfaces
// when several instances must hold one limit together.
package limits

import (
	"math"
	"sync"
	"time"
)

// Rates limits events per key with token buckets.
type Rates interface {
	// Allow takes one token from key's bucket (rate tokens/s, burst
	// capacity). When none is left it reports how long until one is.
	Allow(key string, rate float64, burst int) (ok bool, retryAfter time.Duration)
}

// Caps counts concurrent holders per key (active orders of a tenant or a
// platform).
type Caps interface {
	// TryAcquire adds one holder to key if fewer than max hold it.
	TryAcquire(key string, max int) bool
	// Release removes one holder (never below zero).
	Release(key string)
	// Set replaces key's count (resynchronising from the ledger).
	Set(key string, n int)
	// Count is key's current count.
	Count(key string) int
}

// Buckets is an in-memory Rates. Safe for concurrent use.
type Buckets struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*bucket // guarded by mu
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewBuckets returns in-memory buckets reading time from now (nil: time.Now).
func NewBuckets(now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{now: now, m: map[string]*bucket{}}
}

// Allow implements Rates. rate <= 0 means unlimited.
func (b *Buckets) Allow(key string, rate float64, burst int) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	if burst < 1 {
		burst = 1
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[key]
	if bk == nil {
		bk = &bucket{tokens: float64(burst), at: now}
		b.m[key] = bk
	}
	if el := now.Sub(bk.at); el > 0 {
		bk.tokens = math.Min(float64(burst), bk.tokens+el.Seconds()*rate)
		bk.at = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	wait := time.Duration((1 - bk.tokens) / rate * float64(time.Second))
	return false, wait
}

// Peek reports whether key's bucket has a token now, without taking it.
func (b *Buckets) Peek(key string, rate float64, burst int) bool {
	if rate <= 0 {
		return true
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[key]
	if bk == nil {
		return true
	}
	t := bk.tokens
	if el := now.Sub(bk.at); el > 0 {
		t = math.Min(float64(burst), t+el.Seconds()*rate)
	}
	return t >= 1
}

// Counters is an in-memory Caps. Safe for concurrent use.
type Counters struct {
	mu sync.Mutex
	m  map[string]int // guarded by mu
}

// NewCounters returns empty counters.
func NewCounters() *Counters { return &Counters{m: map[string]int{}} }

// TryAcquire implements Caps; max <= 0 means unlimited (still counted).
func (c *Counters) TryAcquire(key string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.m[key] >= max {
		return false
	}
	c.m[key]++
	return true
}

// Release implements Caps.
func (c *Counters) Release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] > 0 {
		c.m[key]--
	}
}

// Set implements Caps.
func (c *Counters) Set(key string, n int) {
	c.mu.Lock()
	c.m[key] = n
	c.mu.Unlock()
}

// Count implements Caps.
func (c *Counters) Count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

var (
	_ Rates = (*Buckets)(nil)
	_ Caps  = (*Counters)(nil)
)
