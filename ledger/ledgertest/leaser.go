package ledgertest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// leaserStore is a Store that is also a Leaser.
type leaserStore interface {
	ledger.Store
	ledger.Leaser
}

func claim(t *testing.T, s ledger.Leaser, owner string, now time.Time, lease time.Duration, limit int) []ledger.Order {
	t.Helper()
	got, err := s.Claim(context.Background(), owner, now, lease, limit)
	if err != nil {
		t.Fatalf("Claim(%s): %v", owner, err)
	}
	return got
}

func testClaimDue(t *testing.T, s leaserStore) {
	now := base.Add(time.Hour)
	mk := func(st adapters.State, nextPoll time.Duration) ledger.Order {
		o := NewOrder("t1")
		o.State = st
		o.NextPollAt = now.Add(nextPoll)
		return create(t, s, o)
	}
	late := mk(adapters.StateWaiting, -2*time.Second)
	mk(adapters.StateWaiting, time.Second) // not due yet
	latest := mk(adapters.StateCodeReceived, -3*time.Second)
	exactlyNow := mk(adapters.StateRetryWaiting, 0)
	mk(adapters.StateFinished, -5*time.Second)  // not active
	mk(adapters.StateCancelled, -4*time.Second) // not active
	mk(adapters.StateExpired, -time.Second)     // not active
	mk(adapters.StateBanned, -time.Second)      // not active
	late2 := mk(adapters.StateWaiting, -time.Second)

	// The limit takes the soonest; the next claim (another owner, as the
	// first ones are leased) takes the rest in order.
	first := claim(t, s, "a", now, time.Minute, 2)
	rest := claim(t, s, "b", now, time.Minute, 10)
	for _, c := range []struct {
		name string
		got  []ledger.Order
		want []ledger.Order
	}{
		{"first claim, limit 2", first, []ledger.Order{latest, late}},
		{"second claim", rest, []ledger.Order{late2, exactlyNow}},
	} {
		if !reflect.DeepEqual(ids(c.got), ids(c.want)) {
			t.Errorf("%s: got ids %v; want %v", c.name, ids(c.got), ids(c.want))
			continue
		}
		for i := range c.got {
			if d := Diff(c.want[i], c.got[i]); d != "" {
				t.Errorf("%s [%d]:\n%s", c.name, i, d)
			}
		}
	}
	if got := claim(t, s, "c", now, time.Minute, 10); len(got) != 0 {
		t.Errorf("third claim: got ids %v; want none", ids(got))
	}
	// Claiming leases; it does not change what Get returns.
	if d := Diff(latest, get(t, s, latest.ID)); d != "" {
		t.Errorf("Get of a leased order:\n%s", d)
	}
}

func testClaimArguments(t *testing.T, s leaserStore) {
	ctx := context.Background()
	o := NewOrder("t1")
	o.NextPollAt = base
	create(t, s, o)
	if got, err := s.Claim(ctx, "a", base, time.Minute, 0); err != nil || len(got) != 0 {
		t.Errorf("Claim with limit 0: got %v, %v; want nothing, nil", ids(got), err)
	}
	if _, err := s.Claim(ctx, "", base, time.Minute, 10); err == nil {
		t.Errorf("Claim with an empty owner: got nil error")
	}
	for _, lease := range []time.Duration{0, -time.Second} {
		if _, err := s.Claim(ctx, "a", base, lease, 10); err == nil {
			t.Errorf("Claim with lease %v: got nil error", lease)
		}
	}
	// None of the refused claims leased the order.
	if got := claim(t, s, "b", base, time.Minute, 10); len(got) != 1 {
		t.Errorf("Claim after refused claims: got ids %v; want the one order", ids(got))
	}
}

func testLeaseExpiry(t *testing.T, s leaserStore) {
	now := base.Add(time.Hour)
	const lease = 30 * time.Second
	var want []ledger.Order
	for i := range 3 {
		o := NewOrder("t1")
		o.NextPollAt = now.Add(time.Duration(i-3) * time.Second)
		want = append(want, create(t, s, o))
	}
	if got := claim(t, s, "a", now, lease, 10); !reflect.DeepEqual(ids(got), ids(want)) {
		t.Fatalf("first claim: got ids %v; want %v", ids(got), ids(want))
	}
	for _, c := range []struct {
		name  string
		owner string
		at    time.Duration
	}{
		{"another owner at once", "b", 0},
		{"another owner just before expiry", "b", lease - time.Millisecond},
		{"the holder itself", "a", time.Second},
	} {
		if got := claim(t, s, c.owner, now.Add(c.at), lease, 10); len(got) != 0 {
			t.Errorf("%s: got ids %v; want none while the lease is live", c.name, ids(got))
		}
	}
	// The holder died: at now+lease its lease has passed and b takes over.
	got := claim(t, s, "b", now.Add(lease), lease, 10)
	if !reflect.DeepEqual(ids(got), ids(want)) {
		t.Fatalf("claim after expiry: got ids %v; want %v", ids(got), ids(want))
	}
	// b's lease runs from its own claim.
	if got := claim(t, s, "a", now.Add(lease+time.Second), lease, 10); len(got) != 0 {
		t.Errorf("claim during the new lease: got ids %v; want none", ids(got))
	}
}

func testUpdateReleasesLease(t *testing.T, s leaserStore) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	var orders []ledger.Order
	for i := range 2 {
		o := NewOrder("t1")
		o.NextPollAt = now.Add(time.Duration(i-2) * time.Second)
		orders = append(orders, create(t, s, o))
	}
	claim(t, s, "a", now, time.Hour, 10)

	// The poll found nothing new and keeps the order due (it is still
	// late): once written back, the order is free for anyone.
	polled := orders[0]
	polled.UpdatedAt = now
	if err := s.Update(ctx, &polled); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := claim(t, s, "b", now, time.Hour, 10)
	if want := []int64{polled.ID}; !reflect.DeepEqual(ids(got), want) {
		t.Fatalf("claim after Update: got ids %v; want %v (the other is still leased)", ids(got), want)
	}
	if d := Diff(polled, got[0]); d != "" {
		t.Errorf("claimed order after Update:\n%s", d)
	}
}

// testConcurrentClaims is one poll round on a shared store: owners claim
// in small batches while others do, and write each order back with its
// next poll time as soon as they have it. Every order must be polled
// exactly once in the round.
func testConcurrentClaims(t *testing.T, s leaserStore) {
	const (
		orders   = 1000
		owners   = 8
		batch    = 10
		interval = 5 * time.Second
	)
	ctx := context.Background()
	now := base.Add(time.Hour)
	created := createDue(t, s, orders, owners, now)

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = make(map[int64]int)
		by     = make(map[int64][]string)
	)
	for w := range owners {
		owner := fmt.Sprintf("owner-%d", w)
		wg.Go(func() {
			for {
				got, err := s.Claim(ctx, owner, now, time.Minute, batch)
				if err != nil {
					t.Errorf("Claim(%s): %v", owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, o := range got {
					mu.Lock()
					counts[o.ID]++
					by[o.ID] = append(by[o.ID], owner)
					mu.Unlock()
					o.UpdatedAt = now
					o.NextPollAt = now.Add(interval)
					if err := s.Update(ctx, &o); err != nil {
						t.Errorf("Update(%d): %v", o.ID, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	for _, id := range created {
		if counts[id] != 1 {
			t.Errorf("order %d claimed %d times (by %v); want exactly once", id, counts[id], by[id])
		}
	}
	if len(counts) != orders {
		t.Errorf("%d distinct orders claimed; want %d", len(counts), orders)
	}
	// Nothing is left for this round, and every order is due again, free,
	// at the next one.
	if got := claim(t, s, "late", now, time.Minute, orders); len(got) != 0 {
		t.Errorf("claim after the round: got %d orders; want none", len(got))
	}
	if got := claim(t, s, "next", now.Add(interval), time.Minute, orders+1); len(got) != orders {
		t.Errorf("claim at the next round: got %d orders; want %d", len(got), orders)
	}
}

// createDue creates n orders due at or before now from writers goroutines
// at once and returns their ids.
func createDue(t *testing.T, s ledger.Store, n, writers int, now time.Time) []int64 {
	var wg sync.WaitGroup
	created := make([]int64, n)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				o := NewOrder(fmt.Sprintf("t%d", i%3))
				o.NextPollAt = now.Add(-time.Duration(i%50) * time.Second)
				if err := s.Create(context.Background(), &o); err != nil {
					t.Errorf("Create #%d: %v", i, err)
					return
				}
				created[i] = o.ID
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return created
}

func testClaimAfterClose(t *testing.T, s leaserStore) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Claim(context.Background(), "a", base, time.Minute, 10); err == nil {
		t.Errorf("Claim after Close: got nil error")
	}
}

// testOutcomes: the statistics source filters by creation range, tenant,
// platform, country and service, and reports delivery and time-to-code.
