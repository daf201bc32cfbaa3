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

// RunDedupMigration: a ledger from before the (platform, upstream id)
// index that holds duplicate active orders opens, the oldest of each
// keeping its id and later ones renamed "<id>#dup<order id>", and says how
// many it renamed. open opens the same database each time; dropIndex
// drops the index while the store is open (so that it can write the
// duplicates), and downgrade then turns the closed database's schema back
// to the version before the index (undoing the later steps).
func RunDedupMigration(t *testing.T, open func(t *testing.T) ledger.Store, dropIndex, downgrade func(t *testing.T)) {
	ctx := context.Background()
	s := open(t)
	dropIndex(t)
	mk := func(platform, up string, st adapters.State) ledger.Order {
		o := NewOrder("t1")
		o.Platform, o.UpstreamID, o.State = platform, up, st
		return create(t, s, o)
	}
	a1 := mk("alpha", "1", adapters.StateWaiting)
	a2 := mk("alpha", "1", adapters.StateCodeReceived)
	a3 := mk("alpha", "1", adapters.StateWaiting)
	done := mk("alpha", "1", adapters.StateFinished) // ended: not a duplicate
	b1 := mk("beta", "1", adapters.StateWaiting)     // another platform
	c1 := mk("alpha", "2", adapters.StateWaiting)
	c2 := mk("alpha", "2", adapters.StateRetryWaiting)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t)

	s = open(t)
	r, ok := s.(interface{ RenamedDuplicates() int64 })
	if !ok {
		t.Fatalf("%T has no RenamedDuplicates", s)
	}
	if got := r.RenamedDuplicates(); got != 3 {
		t.Errorf("RenamedDuplicates = %d; want 3", got)
	}
	want := map[int64]string{
		a1.ID: "1", a2.ID: fmt.Sprintf("1#dup%d", a2.ID), a3.ID: fmt.Sprintf("1#dup%d", a3.ID),
		done.ID: "1", b1.ID: "1", c1.ID: "2", c2.ID: fmt.Sprintf("2#dup%d", c2.ID),
	}
	for id, up := range want {
		if got := get(t, s, id).UpstreamID; got != up {
			t.Errorf("order %d: upstream id %q; want %q", id, got, up)
		}
	}
	dup := NewOrder("t1")
	dup.UpstreamID = "1"
	if err := s.Create(ctx, &dup); !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("after the migration, Create of a duplicate: got %v; want ErrDuplicateUpstream", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t)
	defer s.Close()
	if got := s.(interface{ RenamedDuplicates() int64 }).RenamedDuplicates(); got != 0 {
		t.Errorf("second open: RenamedDuplicates = %d; want 0", got)
	}
}
