package simulator

import (
	"errors"
	"slices"
	"testing"
	"time"

	"smsgate/adapters"
)

func newTestMarket(delay time.Duration) (*Market, *ManualClock) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	return New(Config{Clock: c, CodeDelay: delay, Stock: 2, BasePrice: adapters.Micro}), c
}

// TestMarketTimings walks the real timings: SMS after the delay, another
// SMS after status 3, the 2-minute guard, the 20-minute lifetime.
func TestMarketTimings(t *testing.T) {
	m, c := newTestMarket(30 * time.Second)
	bal0 := m.Balance()
	o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
	if err != nil || o.State != adapters.StateWaiting || o.Phone[0] != '1' {
		t.Fatalf("buy = %+v, %v", o, err)
	}
	if m.Balance() != bal0-o.Price {
		t.Fatal("purchase not charged")
	}
	c.Advance(29 * time.Second)
	if o, _ = m.Get(o.ID); o.State != adapters.StateWaiting {
		t.Fatalf("at 29 s: %s", o.State)
	}
	c.Advance(time.Second)
	if o, _ = m.Get(o.ID); o.State != adapters.StateCodeReceived || len(o.SMS) != 1 || adapters.ExtractCode(o.SMS[0].Text) != o.SMS[0].Code {
		t.Fatalf("at 30 s: %+v", o)
	}
	if _, err := m.Cancel(o.ID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("cancel after a code = %v", err)
	}
	if o, err = m.RequestAnother(o.ID); err != nil || o.State != adapters.StateRetryWaiting {
		t.Fatalf("another = %+v, %v", o, err)
	}
	c.Advance(30 * time.Second)
	if o, _ = m.Get(o.ID); o.State != adapters.StateCodeReceived || len(o.SMS) != 2 {
		t.Fatalf("after another: %+v", o)
	}
	if o, err = m.Finish(o.ID); err != nil || o.State != adapters.StateFinished {
		t.Fatalf("finish = %+v, %v", o, err)
	}

	// Guard and refund.
	m2, c2 := newTestMarket(-1)
	bal0 = m2.Balance()
	o2, _ := m2.Buy(BuyArgs{Country: "gb", Service: "wa"})
	if _, err := m2.Cancel(o2.ID); !errors.Is(err, adapters.ErrEarlyCancel) {
		t.Fatalf("cancel at 0 = %v", err)
	}
	c2.Advance(2 * time.Minute)
	if _, err := m2.Cancel(o2.ID); err != nil || m2.Balance() != bal0 {
		t.Fatalf("cancel at 2 min = %v, balance %d want %d", err, m2.Balance(), bal0)
	}
	// Lifetime: expiry refunds and returns the number to stock.
	o3, _ := m2.Buy(BuyArgs{Country: "gb", Service: "wa"})
	c2.Advance(20 * time.Minute)
	if o3, _ = m2.Get(o3.ID); o3.State != adapters.StateExpired || m2.Balance() != bal0 {
		t.Fatalf("after 20 min: %s, balance %d", o3.State, m2.Balance())
	}
	if got := m2.Offers("gb", "wa")[0].Count; got != 2 {
		t.Fatalf("stock after refunds %d; want 2", got)
	}
}

func TestMarketRefusals(t *testing.T) {
	m, _ := newTestMarket(0)
	cases := []struct {
		name  string
		setup func()
		args  BuyArgs
		want  error
	}{
		{"unknown service", nil, BuyArgs{Country: "us", Service: "zz"}, adapters.ErrBadService},
		{"unknown country", nil, BuyArgs{Country: "qq", Service: "tg"}, adapters.ErrBadCountry},
		{"country not stocked", nil, BuyArgs{Country: "jp", Service: "tg"}, adapters.ErrNoNumbers},
		{"price floor", nil, BuyArgs{Country: "us", Service: "tg", MaxPrice: 1}, adapters.ErrPriceTooHigh},
		{"sold out", func() { m.SetStock("us", "tg", 0) }, BuyArgs{Country: "us", Service: "tg"}, adapters.ErrNoNumbers},
		{"no balance", func() { m.SetStock("us", "tg", 5); m.SetBalance(0) }, BuyArgs{Country: "us", Service: "tg"}, adapters.ErrNoBalance},
	}
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		if _, err := m.Buy(c.args); !errors.Is(err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, err, c.want)
		}
	}
	var pf *adapters.PriceFloorError
	m.SetBalance(1000 * adapters.Micro)
	if _, err := m.Buy(BuyArgs{Country: "us", Service: "tg", MaxPrice: 1}); !errors.As(err, &pf) || pf.Min.Micros != m.Offers("us", "tg")[0].Price {
		t.Errorf("price floor %v does not carry the price", err)
	}
}

// TestIDOffset: by default every market of a process starts its ids at
// the process's random offset; a fixed offset moves ids and phones, and a
// negative one gives the fixed sequence tests may rely on.
func TestIDOffset(t *testing.T) {
	buy := func(cfg Config) Order {
		t.Helper()
		cfg.BasePrice = adapters.Micro
		o, err := New(cfg).Buy(BuyArgs{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	off := ProcessOffset()
	if off <= 0 || off%1000 != 0 || off >= 1_000_000_000 {
		t.Fatalf("ProcessOffset = %d; want a positive multiple of 1000 below 10^9", off)
	}
	if got := buy(Config{}).ID; got != firstID+off+1 {
		t.Errorf("default first id = %d; want %d (process offset %d)", got, firstID+off+1, off)
	}
	if a, b := buy(Config{Seed: 7}), buy(Config{Seed: 7}); a.ID != b.ID || a.Phone != b.Phone {
		t.Errorf("two markets of one process differ: %d %s, %d %s", a.ID, a.Phone, b.ID, b.Phone)
	}
	fixed := buy(Config{IDOffset: -1, Seed: 7})
	if fixed.ID != firstID+1 {
		t.Errorf("IDOffset -1: first id %d; want %d", fixed.ID, firstID+1)
	}
	if again := buy(Config{IDOffset: -1, Seed: 7}); again.Phone != fixed.Phone {
		t.Errorf("IDOffset -1 phones not reproducible: %s, %s", fixed.Phone, again.Phone)
	}
	// Another process, as another offset: other ids, other numbers.
	other := buy(Config{IDOffset: 5000, Seed: 7})
	if other.ID != firstID+5001 || other.Phone == fixed.Phone {
		t.Errorf("IDOffset 5000: id %d phone %s; want id %d and a phone other than %s", other.ID, other.Phone, firstID+5001, fixed.Phone)
	}
	if len(other.Phone) != len(fixed.Phone) || other.Phone[0] != '1' {
		t.Errorf("phone %q is not a US number like %q", other.Phone, fixed.Phone)
	}
}

// TestHistory pages every order the market holds, ended ones included,
// from either end, and leaves out the orders Retention has forgotten.
func TestHistory(t *testing.T) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := New(Config{Clock: c, CodeDelay: -1, Retention: time.Hour, IDOffset: -1})
	var ids []int64
	for range 5 {
		o, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if _, err := m.Ban(ids[1]); err != nil { // ends now: forgotten in an hour
		t.Fatal(err)
	}
	page := func(offset, limit int, newest bool) []int64 {
		t.Helper()
		list, _ := m.History(offset, limit, newest)
		var out []int64
		for _, o := range list {
			out = append(out, o.ID)
		}
		return out
	}
	if got, want := page(0, 2, true), []int64{ids[4], ids[3]}; !slices.Equal(got, want) {
		t.Fatalf("newest page = %v; want %v", got, want)
	}
	if got, want := page(3, 10, true), []int64{ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Fatalf("newest page at 3 = %v; want %v", got, want)
	}
	if got, want := page(1, 2, false), []int64{ids[1], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("oldest page at 1 = %v; want %v", got, want)
	}
	c.Advance(time.Hour)
	list, total := m.History(0, 10, false)
	if total != 4 || len(list) != 4 || list[0].ID != ids[0] || list[1].ID != ids[2] {
		t.Fatalf("after retention: %d of %d, %+v; want 4 without %d", len(list), total, list, ids[1])
	}
}
