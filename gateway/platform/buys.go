package platform

import (
	"context"
	"sync"
	"time"

	"smsgate/gateway/lifetime"
)

// BuyTracker knows which purchases on a platform are in flight, so a
// reconciliation never mistakes a number another request is buying right
// now for the lost one: after listing the platform's active orders it
// waits for every purchase in flight at that moment to finish and claim
// its number. (Other gateway instances' purchases are not seen here.)
type BuyTracker struct {
	mu   sync.Mutex
	next uint64
	out  map[uint64]struct{} // tickets of purchases in flight; guarded by mu
}

// Start records a purchase in flight; Finish(ticket) ends it.
func (b *BuyTracker) Start() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out == nil {
		b.out = map[uint64]struct{}{}
	}
	b.next++
	b.out[b.next] = struct{}{}
	return b.next
}

func (b *BuyTracker) Finish(t uint64) {
	b.mu.Lock()
	delete(b.out, t)
	b.mu.Unlock()
}

// Settle waits (bounded by ctx) until every purchase in flight now is done.
func (b *BuyTracker) Settle(ctx context.Context) bool {
	b.mu.Lock()
	snap := make([]uint64, 0, len(b.out))
	for t := range b.out {
		snap = append(snap, t)
	}
	b.mu.Unlock()
	for {
		b.mu.Lock()
		pending := false
		for _, t := range snap {
			if _, ok := b.out[t]; ok {
				pending = true
				break
			}
		}
		b.mu.Unlock()
		if !pending {
			return true
		}
		if !lifetime.Sleep(ctx, 5*time.Millisecond) {
			return false
		}
	}
}
