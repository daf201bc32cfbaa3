package simulator

import (
	"sync"
	"time"
)

// Clock tells the market what time it is. Tests use a ManualClock so the
// 2-minute cancel guard and the 20-minute lifetime pass without sleeping.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now() without its monotonic reading. The market's
// event queue keys events by wall-clock nanoseconds; a time with a
// monotonic reading compares by that instead, and the two drift apart
// (NTP slews the wall clock). An event due by the queue's reckoning but
// not yet by settle's then never left the queue: settleDue spun forever
// under the market's lock (bench TestBuy hung that way). Wall time alone
// keeps both on one scale.
func (RealClock) Now() time.Time { return time.Now().Round(0) }

// ManualClock only moves when told to. The zero value starts at a fixed
// instant; safe for concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's current instant.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	}
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.Now()
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
