package simulator

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"smsgate/adapters"
)

// TestActivePage pages the active orders while they churn (purchases,
// finishes, cancels, expiries, with compactions of the id-ordered list in
// between) and checks every page against the whole list taken the slow
// way: every active order, oldest first, sliced.
func TestActivePage(t *testing.T) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := New(Config{Clock: c, CodeDelay: -1, Stock: 100_000, Balance: 1_000_000 * adapters.Micro, IDOffset: -1, Lifetime: time.Hour, CancelGuard: time.Second})
	rng := rand.New(rand.NewPCG(1, 2))
	var all []int64
	check := func(step int) {
		t.Helper()
		var want []int64
		m.Balance() // applies the expiries due
		m.mu.Lock()
		for id := range m.active {
			want = append(want, id)
		}
		m.mu.Unlock()
		slices.Sort(want)
		for _, pg := range []struct{ start, limit int }{{0, 0}, {0, 100}, {1, 100}, {255, 100}, {256, 3}, {len(want) - 5, 100}, {len(want), 100}, {len(want) + 7, 10}, {-3, 2}} {
			page, total := m.ActivePage(nil, pg.start, pg.limit)
			if total != len(want) {
				t.Fatalf("step %d: total %d; want %d", step, total, len(want))
			}
			lo := min(max(pg.start, 0), len(want))
			hi := len(want)
			if pg.limit > 0 {
				hi = min(hi, lo+pg.limit)
			}
			got := make([]int64, len(page))
			for i, o := range page {
				got[i] = o.ID
			}
			if !slices.Equal(got, want[lo:hi]) {
				t.Fatalf("step %d: page (%d, %d) = %v; want %v", step, pg.start, pg.limit, got, want[lo:hi])
			}
		}
	}
	for step := range 40 {
		for range rng.IntN(300) {
			o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, o.ID)
		}
		if step%7 == 3 {
			list, err := m.Seed("us", "tg", 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list {
				all = append(all, o.ID)
			}
		}
		c.Advance(2 * time.Second)
		// End a random share of them: cancel (refund) or a code then finish.
		for _, id := range all {
			switch rng.IntN(10) {
			case 0:
				m.Cancel(id)
			case 1:
				if _, err := m.DeliverSMS(id, "code 123456"); err == nil {
					m.Finish(id)
				}
			}
		}
		if step == 30 {
			c.Advance(time.Hour) // every order left expires at once
		}
		check(step)
	}
	m.mu.Lock()
	entries, live := len(m.live.entries), m.live.n
	m.mu.Unlock()
	if entries > 2*live+activesBlock+1 {
		t.Fatalf("the id-ordered list holds %d entries for %d active orders; compaction should keep it under twice", entries, live)
	}
}

// TestActivePageSharesNoWrites: a page's SMS are what the order had when
// it was read, even after the order receives more.
func TestActivePageSharesNoWrites(t *testing.T) {
	m, _ := newTestMarket(-1)
	o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverSMS(o.ID, "code 111111"); err != nil {
		t.Fatal(err)
	}
	page, _ := m.ActivePage(nil, 0, 0)
	if _, err := m.DeliverSMS(o.ID, "code 222222"); err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || len(page[0].SMS) != 1 || page[0].SMS[0].Code != "111111" || page[0].State != adapters.StateCodeReceived {
		t.Fatalf("page read before the second SMS = %+v", page)
	}
}
