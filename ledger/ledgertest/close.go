package ledgertest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"smsgate/ledger"
)

// CloseDuringCreates closes s while 16 goroutines create orders: each
// create either committed (and is in the store reopen returns) or got
// ErrClosed; nothing hangs or panics. The close comes once acked creates
// have been acknowledged, so that it lands among creates in flight.
func CloseDuringCreates(t *testing.T, s ledger.Store, acked int, reopen func() ledger.Store) {
	var (
		mu      sync.Mutex
		ids     []int64
		wg      sync.WaitGroup
		enough  = make(chan struct{})
		closeIt sync.Once
	)
	for range 16 {
		wg.Go(func() {
			for {
				o := NewOrder("t1")
				if err := s.Create(context.Background(), &o); err != nil {
					if !errors.Is(err, ledger.ErrClosed) {
						t.Errorf("Create: %v; want ErrClosed", err)
					}
					return
				}
				mu.Lock()
				ids = append(ids, o.ID)
				n := len(ids)
				mu.Unlock()
				if n >= acked {
					closeIt.Do(func() { close(enough) })
				}
			}
		})
	}
	go func() { // every create failed before enough were acknowledged
		wg.Wait()
		closeIt.Do(func() { close(enough) })
	}()
	<-enough
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	s = reopen()
	for _, id := range ids {
		if _, err := s.Get(context.Background(), id); err != nil {
			t.Errorf("acknowledged order %d after reopen: %v", id, err)
		}
	}
	t.Logf("%d orders acknowledged before Close", len(ids))
}
