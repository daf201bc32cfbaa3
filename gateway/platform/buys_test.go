package platform

import (
	"context"
	"testing"
)

// Settle waits until the purchases in flight are done, and no longer than
// its context.
func TestBuyTrackerSettle(t *testing.T) {
	var b BuyTracker
	a, c := b.Start(), b.Start()
	settled := make(chan bool)
	go func() { settled <- b.Settle(context.Background()) }()
	b.Finish(a)
	select {
	case <-settled:
		t.Fatal("settled with a purchase still in flight")
	default:
	}
	b.Finish(c)
	if !<-settled {
		t.Fatal("Settle = false with every purchase done")
	}
	b.Finish(c) // twice: nothing happens

	pending := b.Start()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b.Settle(ctx) {
		t.Fatal("Settle = true with a purchase in flight and ctx done")
	}
	b.Finish(pending)
	if !b.Settle(ctx) {
		t.Fatal("Settle = false with nothing in flight")
	}
}
