// Package limits holds the gateway's rate limits and concurrency caps,
// keyed by tenant or platform: token buckets for requests per second and
// counters for active orders. The in-memory implementations here serve one
// instance; a shared implementation (Redis) satisfies the same interfaces
// when several instances must hold one limit together.
package limits

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// Buckets is an in-memory Rates over golang.org/x/time/rate, one limiter
// per key, read at the injected clock's time (AllowN/ReserveN/TokensAt
// take "now"), so tests reach any state without sleeping. Safe for
// concurrent use.
type Buckets struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*rate.Limiter // guarded by mu; a limiter is safe on its own
}

// NewBuckets returns in-memory buckets reading time from now (nil: time.Now).
func NewBuckets(now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{now: now, m: map[string]*rate.Limiter{}}
}

// limiter is key's limiter, created full and kept at the rate and burst
// the caller asks for now (an admin may change a platform's rate).
func (b *Buckets) limiter(key string, r float64, burst int, now time.Time) *rate.Limiter {
	b.mu.Lock()
	l := b.m[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(r), burst)
		l.SetLimitAt(now, rate.Limit(r)) // anchors the limiter's clock at now
		b.m[key] = l
	}
	b.mu.Unlock()
	if l.Limit() != rate.Limit(r) {
		l.SetLimitAt(now, rate.Limit(r))
	}
	if l.Burst() != burst {
		l.SetBurstAt(now, burst)
	}
	return l
}

// Allow implements Rates. rate <= 0 means unlimited.
func (b *Buckets) Allow(key string, r float64, burst int) (bool, time.Duration) {
	if r <= 0 {
		return true, 0
	}
	burst = max(burst, 1)
	now := b.now()
	l := b.limiter(key, r, burst, now)
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now) // not taken: give the token back
		return false, d
	}
	return true, 0
}

// Peek reports whether key's bucket has a token now, without taking it.
func (b *Buckets) Peek(key string, r float64, burst int) bool {
	if r <= 0 {
		return true
	}
	b.mu.Lock()
	l := b.m[key]
	b.mu.Unlock()
	return l == nil || l.TokensAt(b.now()) >= 1
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
