package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// DurableAcrossReopen: every order s acknowledged (40 created at once, one
// of them updated since) is in the store reopen returns after Close, with
// its id and every field; s refuses a Create once closed.
func DurableAcrossReopen(t *testing.T, s ledger.Store, reopen func() ledger.Store) {
	ctx := context.Background()
	var (
		mu     sync.Mutex
		orders []ledger.Order
		wg     sync.WaitGroup
	)
	for i := range 40 {
		wg.Go(func() {
			o := NewOrder(fmt.Sprintf("t%d", i%4))
			o.Phone = fmt.Sprintf("7901%07d", i)
			o.IdempotencyKey = fmt.Sprintf("k%d", i)
			// A NUL in an SMS must round-trip (it is why PostgreSQL's
			// codes are json, not jsonb).
			o.Codes = []ledger.Code{{Code: fmt.Sprint(1000 + i), Text: "code\x00" + fmt.Sprint(i), From: "x", ReceivedAt: time.Now()}}
			o.CodesSeen = i % 2
			if err := s.Create(ctx, &o); err != nil {
				t.Errorf("Create #%d: %v", i, err)
				return
			}
			mu.Lock()
			orders = append(orders, o)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		s.Close()
		t.FailNow()
	}
	// An update must survive too.
	orders[0].State = adapters.StateFinished
	orders[0].NextPollAt = time.Time{}
	if err := s.Update(ctx, &orders[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := NewOrder("t1")
	if err := s.Create(ctx, &o); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("Create after Close: got %v; want ErrClosed", err)
	}

	s = reopen()
	for _, want := range orders {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Errorf("after reopen: Get(%d): %v", want.ID, err)
			continue
		}
		if d := Diff(want, got); d != "" {
			t.Errorf("after reopen, order %d:\n%s", want.ID, d)
		}
	}
	all, err := s.List(ctx, ledger.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(orders) {
		t.Errorf("after reopen: %d orders; want %d", len(all), len(orders))
	}
}
