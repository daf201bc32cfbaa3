package smsactivate

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAppendMoney: the allocation-free balance digits are money's, to the
// byte: rounding half away from zero, no "-0.00".
func TestAppendMoney(t *testing.T) {
	for _, m := range []int64{0, 1, 4_999, 5_000, 9_999, 10_000, 1_000_000, 12_345_678, 99_995_000, -1, -4_999, -5_000,
		-12_345_678, 1 << 62, -(1 << 62)} {
		if got, want := string(appendMoney(nil, m)), money(m); got != want {
			t.Errorf("appendMoney(%d) = %q; money = %q", m, got, want)
		}
	}
}

// TestLazyDeadline: the request context behaves as context.WithDeadline
// would: Done closes at the deadline, Err says why, derived contexts end
// with it, and it ends when the request does.
func TestLazyDeadline(t *testing.T) {
	x := getExchange(request{}, time.Now().Add(20*time.Millisecond))
	defer x.put()
	var ctx context.Context = &x.ctx
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	child, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	<-child.Done() // the parent's deadline ends it
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("after the deadline: Err = %v, child's = %v", ctx.Err(), child.Err())
	}

	y := getExchange(request{}, time.Now().Add(time.Hour))
	ctx = &y.ctx
	child, cancel = context.WithCancel(ctx)
	defer cancel()
	y.put() // the request ends
	<-child.Done()
	if ctx.Err() == nil {
		t.Fatal("a finished request's context is not done")
	}
}

// TestExchangeNotReusedOnceTouched: a context something looked at may have
// been kept (a driver's watcher goroutine), so its exchange never serves
// another request; an untouched one does.
func TestExchangeNotReusedOnceTouched(t *testing.T) {
	x := getExchange(request{}, time.Now().Add(time.Hour))
	if !x.ctx.release() {
		t.Fatal("an untouched context is not reusable")
	}
	y := getExchange(request{}, time.Now().Add(time.Hour))
	_ = y.ctx.Done()
	if y.ctx.release() {
		t.Fatal("a context whose Done was asked is reusable")
	}
	// A late holder asks the released context: it answers as ended, and
	// the exchange is not handed out again.
	if y.ctx.Err() == nil {
		t.Fatal("a released context is not done")
	}
	exchanges.Put(y)
	for range 10 {
		if z := getExchange(request{}, time.Now().Add(time.Hour)); z == y {
			t.Fatal("a touched exchange was handed out again")
		}
	}
}
