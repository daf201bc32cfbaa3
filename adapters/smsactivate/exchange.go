package smsactivate

import (
	"context"
	"sync"
	"time"
)

// One request's working state, pooled so that the hot reads (getStatus,
// getBalance answered from memory) cost no allocation: the request
// wrapper the actions take and the context the Backend gets.

// exchange is one request in flight, from getExchange to put.
type exchange struct {
	r   request
	ctx lazyDeadline
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func getExchange(r request, deadline time.Time) *exchange {
	x := exchanges.Get().(*exchange)
	if x.ctx.wasTouched() {
		// A late holder of a finished request used it while pooled.
		x = new(exchange)
	}
	x.r = r
	x.ctx.deadline = deadline
	return x
}

// put ends the request. Only an exchange whose context nobody looked at
// goes back to the pool: once anything asked the context anything, it
// may have kept it (database drivers watch Done from goroutines that can
// start after the query returned), so it must never become another
// request's context.
func (x *exchange) put() {
	if x.ctx.release() {
		x.r = request{}
		exchanges.Put(x)
	}
}

// lazyDeadline is a request's context: its deadline is known at once, but
// the timer and channel behind Done exist only once something waits on
// it (a ledger query, an upstream call). A read answered from memory never
// looks at it, so it never pays for them (context.WithTimeout costs four
// allocations per request) and its exchange is reused. Once made, the
// real context answers Done, Err and Value, so contexts derived from this
// one attach to it directly (context finds its cancelCtx through Value)
// instead of watching it from a goroutine.
type lazyDeadline struct {
	deadline time.Time // zero once released
	mu       sync.Mutex
	touched  bool               // a method was called; guarded by mu
	real     context.Context    // nil until Done or Err needs it; guarded by mu
	cancel   context.CancelFunc // real's; guarded by mu
}

var _ context.Context = (*lazyDeadline)(nil)

// ended is what a released context answers: cancelled.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *lazyDeadline) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = true
	return c.deadline, !c.deadline.IsZero()
}

func (c *lazyDeadline) Done() <-chan struct{} { return c.use(true).Done() }

// Err is nil before the deadline; after it, DeadlineExceeded, made or not.
func (c *lazyDeadline) Err() error {
	if r := c.use(false); r != nil {
		return r.Err()
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value carries nothing of its own (the request context never had
// values); once the real context exists it answers, which lets context
// find its cancelCtx.
func (c *lazyDeadline) Value(key any) any {
	if r := c.use(false); r != nil {
		return r.Value(key)
	}
	return nil
}

// use marks the context touched and returns the real context, making it
// when make is set; a released one answers as cancelled.
func (c *lazyDeadline) use(make bool) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = true
	if c.deadline.IsZero() {
		return ended
	}
	if c.real == nil && make {
		c.real, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.real
}

func (c *lazyDeadline) wasTouched() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.touched
}

// release cancels the real context, if any, at the end of the request,
// and reports whether the context may serve another request (it was
// never touched).
func (c *lazyDeadline) release() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	c.deadline = time.Time{}
	return !c.touched
}
