package platform

import (
	"context"
	"sync"
)

// BuyTracker knows which purchases on a platform are in flight, so a
// reconciliation never mistakes a number another request is buying right
// now for the lost one: after listing the platform's active orders it
// waits for every purchase in flight at that moment to finish and claim
// its number. (Other gateway instances' purchases are not seen here.)
type BuyTracker struct {
	mu   sync.Mutex
	next uint64
	out  map[uint64]chan struct{} // tickets in flight → closed when done; guarded by mu
}

// Start records a purchase in flight; Finish(ticket) ends it.
func (b *BuyTracker) Start() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out == nil {
		b.out = map[uint64]chan struct{}{}
	}
	b.next++
	b.out[b.next] = make(chan struct{})
	return b.next
}

func (b *BuyTracker) Finish(t uint64) {
	b.mu.Lock()
	if done, ok := b.out[t]; ok {
		close(done)
		delete(b.out, t)
	}
	b.mu.Unlock()
}

// Settle waits (bounded by ctx) until every purchase in flight now is done.
func (b *BuyTracker) Settle(ctx context.Context) bool {
	b.mu.Lock()
	pending := make([]chan struct{}, 0, len(b.out))
	for _, done := range b.out {
		pending = append(pending, done)
	}
	b.mu.Unlock()
	for _, done := range pending {
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
