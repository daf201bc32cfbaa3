package simulator

import (
	"fmt"
	"testing"
	"time"

	"smsgate/adapters"
)

// checkQueue fails unless the event queue is a valid min-heap whose
// entries know their places, and holds exactly the events the orders'
// fields call for: the lifetime of each active order, the SMS on its way,
// and (with a retention) the forgetting of each ended order.
func checkQueue(t *testing.T, m *Market) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.events
	for i, e := range q {
		if e.index != i {
			t.Fatalf("event %d of order %d says it is at %d", i, e.o.ID, e.index)
		}
		if p := (i - 1) / 2; i > 0 && q.Less(i, p) {
			t.Fatalf("event %d (%d) is earlier than its parent %d (%d)", i, e.at, p, q[p].at)
		}
	}
	want := 0
	for id, o := range m.orders {
		_, active := m.active[id]
		if active != o.State.Active() {
			t.Fatalf("order %d: state %s, in the active set %v", id, o.State, active)
		}
		switch {
		case active:
			want++
			if o.life.index < 0 || o.life.at != o.ExpiresAt.UnixNano() {
				t.Fatalf("order %d: lifetime event at %d (queued %v); want %s", id, o.life.at, o.life.index >= 0, o.ExpiresAt)
			}
		case m.cfg.Retention > 0:
			want++
			if o.life.index < 0 {
				t.Fatalf("order %d ended and is never forgotten", id)
			}
		case o.life.index >= 0:
			t.Fatalf("order %d ended and still has a lifetime event", id)
		}
		if pending := !o.NextSMSAt.IsZero(); pending != (o.sms.index >= 0) || (pending && o.sms.at != o.NextSMSAt.UnixNano()) {
			t.Fatalf("order %d: next SMS at %s, SMS event at %d queued %v", id, o.NextSMSAt, o.sms.at, o.sms.index >= 0)
		}
		if o.sms.index >= 0 {
			want++
		}
	}
	if len(q) != want {
		t.Fatalf("%d events queued; the orders call for %d", len(q), want)
	}
}

// timeline is the staggered purchases TestEventsFireInTimeOrder makes: order
// i is bought at start + i*spacing.
type timeline struct {
	start                    time.Time
	spacing, delay, lifetime time.Duration
	price                    int64
}

// check fails unless every order bought so far is, as stored, in the state
// the timings give at now, with its SMS received at its scheduled time;
// it returns what the expired ones refunded. m.mu held.
func (tl timeline) check(t *testing.T, m *Market, ids []int64, now time.Time) (refunded int64) {
	t.Helper()
	for i, id := range ids {
		bought := tl.start.Add(time.Duration(i) * tl.spacing)
		o := m.orders[id]
		coded := tl.delay < tl.lifetime && !now.Before(bought.Add(tl.delay))
		ended := !now.Before(bought.Add(tl.lifetime))
		want := adapters.StateWaiting
		switch {
		case ended && coded:
			want = adapters.StateFinished
		case ended:
			want = adapters.StateExpired
			refunded += tl.price
		case coded:
			want = adapters.StateCodeReceived
		}
		at := now.Sub(tl.start)
		if o.State != want {
			t.Fatalf("at +%s order %d (bought +%s): %s; want %s", at, i, bought.Sub(tl.start), o.State, want)
		}
		if coded && (len(o.SMS) != 1 || !o.SMS[0].ReceivedAt.Equal(bought.Add(tl.delay))) {
			t.Fatalf("at +%s order %d: SMS %+v; want one received at +%s", at, i, o.SMS, bought.Add(tl.delay).Sub(tl.start))
		}
	}
	return refunded
}

// TestEventsFireInTimeOrder moves a manual clock one second at a time past
// staggered orders and, after each step, applies only what is due (a
// balance read names no order) and reads the orders as stored: every SMS
// and expiry must have happened exactly when due, not before and not
// later, and each SMS must carry its scheduled time, not the time it was
// applied (the 30.5 s delay falls between two steps). With the delay
// above the lifetime no SMS comes and every order expires with a refund,
// in turn.
func TestEventsFireInTimeOrder(t *testing.T) {
	const orders = 10
	for _, delay := range []time.Duration{30*time.Second + 500*time.Millisecond, 90 * time.Second} {
		t.Run(fmt.Sprintf("delay=%s", delay), func(t *testing.T) {
			tl := timeline{start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), spacing: 7 * time.Second, delay: delay, lifetime: time.Minute}
			c := NewManualClock(tl.start)
			m := New(Config{Clock: c, CodeDelay: delay, Lifetime: tl.lifetime, Stock: orders, BasePrice: adapters.Micro, IDOffset: -1})
			tl.price = m.Offers("us", "tg")[0].Price
			bal0 := m.Balance()
			var ids []int64
			for s := time.Duration(0); s <= orders*tl.spacing+tl.lifetime+delay; s += time.Second {
				now := tl.start.Add(s)
				if c.Now().Before(now) {
					c.Advance(now.Sub(c.Now()))
				}
				if s%tl.spacing == 0 && len(ids) < orders {
					o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, o.ID)
				}
				bal := m.Balance()
				m.mu.Lock()
				refunded := tl.check(t, m, ids, now)
				m.mu.Unlock()
				if spent := int64(len(ids)) * tl.price; bal != bal0-spent+refunded {
					t.Fatalf("at +%s balance %d; want %d", s, bal, bal0-spent+refunded)
				}
				checkQueue(t, m)
			}
			if len(m.events) != 0 || len(m.active) != 0 {
				t.Fatalf("after every lifetime: %d events, %d active orders", len(m.events), len(m.active))
			}
		})
	}
}

// TestEventsFollowTransitions: every transition that changes when an order
// changes on its own moves or removes its events, and a stale event never
// fires (a cancelled order's SMS, a delivered order's scheduled one).
func TestEventsFollowTransitions(t *testing.T) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := New(Config{Clock: c, CodeDelay: 30 * time.Second, CancelGuard: time.Second, Stock: 10, BasePrice: adapters.Micro, IDOffset: -1})
	buy := func() Order {
		t.Helper()
		o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		checkQueue(t, m)
		return o
	}
	do := func(what string, f func(int64) (Order, error), id int64) Order {
		t.Helper()
		o, err := f(id)
		if err != nil {
			t.Fatalf("%s %d: %v", what, id, err)
		}
		checkQueue(t, m)
		return o
	}
	retried, delivered, cancelled, banned := buy(), buy(), buy(), buy()
	c.Advance(10 * time.Second)
	do("deliver", func(id int64) (Order, error) { return m.DeliverSMS(id, "code 424242") }, delivered.ID)
	do("cancel", m.Cancel, cancelled.ID)
	do("ban", m.Ban, banned.ID)
	c.Advance(20 * time.Second) // the scheduled SMS of all four is due now
	if o := do("get", m.Get, retried.ID); o.State != adapters.StateCodeReceived {
		t.Fatalf("retried order at 30 s: %s", o.State)
	}
	if o := do("another", m.RequestAnother, retried.ID); !o.NextSMSAt.Equal(c.Now().Add(30 * time.Second)) {
		t.Fatalf("another SMS at %s; want %s", o.NextSMSAt, c.Now().Add(30*time.Second))
	}
	if o := do("get", m.Get, delivered.ID); len(o.SMS) != 1 || o.SMS[0].Code != "424242" {
		t.Fatalf("delivered order got its stale scheduled SMS too: %+v", o.SMS)
	}
	for _, id := range []int64{cancelled.ID, banned.ID} {
		if o := do("get", m.Get, id); len(o.SMS) != 0 || o.State.Active() {
			t.Fatalf("ended order %d: %s with %d SMS", id, o.State, len(o.SMS))
		}
	}
	c.Advance(30 * time.Second)
	if o := do("finish", m.Finish, retried.ID); len(o.SMS) != 2 || o.State != adapters.StateFinished {
		t.Fatalf("retried order: %s with %d SMS; want finished with 2", o.State, len(o.SMS))
	}
	do("finish", m.Finish, delivered.ID)
	if len(m.events) != 0 {
		t.Fatalf("%d events left with no active order", len(m.events))
	}
}

// TestRetention: an ended order can be looked up for Retention, then the
// market forgets it; active orders are never forgotten.
func TestRetention(t *testing.T) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := New(Config{Clock: c, CodeDelay: -1, CancelGuard: time.Second, Retention: 10 * time.Minute, Stock: 10, BasePrice: adapters.Micro, IDOffset: -1})
	a, _ := m.Buy(BuyArgs{Country: "us", Service: "tg"})
	b, _ := m.Buy(BuyArgs{Country: "us", Service: "tg"})
	c.Advance(time.Second)
	if _, err := m.Cancel(a.ID); err != nil {
		t.Fatal(err)
	}
	checkQueue(t, m)
	c.Advance(10*time.Minute - time.Nanosecond)
	if o, err := m.Get(a.ID); err != nil || o.State != adapters.StateCancelled {
		t.Fatalf("cancelled order just inside the retention: %+v, %v", o, err)
	}
	c.Advance(time.Nanosecond)
	if _, err := m.Get(a.ID); err != adapters.ErrNoActivation {
		t.Fatalf("cancelled order after the retention: %v; want ErrNoActivation", err)
	}
	if o, err := m.Get(b.ID); err != nil || o.State != adapters.StateWaiting {
		t.Fatalf("active order: %+v, %v", o, err)
	}
	checkQueue(t, m)
	c.Advance(10 * time.Minute) // b expires 20 min after purchase, then waits its retention
	if o, err := m.Get(b.ID); err != nil || o.State != adapters.StateExpired {
		t.Fatalf("expired order inside the retention: %+v, %v", o, err)
	}
	c.Advance(10 * time.Minute)
	if _, err := m.Get(b.ID); err != adapters.ErrNoActivation || len(m.orders) != 0 || len(m.events) != 0 {
		t.Fatalf("after both retentions: %v, %d orders, %d events", err, len(m.orders), len(m.events))
	}
}

// BenchmarkMarketBuyStatus is one purchase and one status read against a
// market holding a steady number of active orders: the clock moves one
// lifetime per that many purchases, so each step also expires one order
// (and forgets one past the retention) and delivers one SMS. The cost per
// operation must not grow with the active orders (issue 19: the old walk
// over every active order was 52% of CPU at 2k buys/s).
func BenchmarkMarketBuyStatus(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("active=%d", n), func(b *testing.B) {
			c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
			lifetime := 20 * time.Minute
			m := New(Config{
				Clock: c, CodeDelay: 5 * time.Second, Lifetime: lifetime, Retention: time.Minute,
				Stock: 1 << 40, Balance: 1 << 62, BasePrice: adapters.Micro,
			})
			step := lifetime / time.Duration(n)
			op := func() {
				c.Advance(step)
				o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Get(o.ID); err != nil {
					b.Fatal(err)
				}
			}
			for range n {
				op()
			}
			b.ResetTimer()
			for range b.N {
				op()
			}
			b.StopTimer()
			if got := len(m.Active()); got < n-1 || got > n+1 {
				b.Fatalf("%d active orders; want about %d", got, n)
			}
		})
	}
}
