package adapterstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
)

// PoolSpec describes a pool platform to the suite. A pool owns long-lived
// numbers (the simulator's inbox) and hands them out itself, so some of the
// marketplace contract does not apply; the suite skips those subtests and
// says why:
//
//   - "no balance": pool numbers are free or prepaid; nothing is charged
//     per activation, so there is no balance to run out.
//   - the refund half of "cancel guard and refund", for the same reason; a
//     pool has no cancel guard. Instead a cancelled number is free again at
//     once for other services, and kept from the same service a while (the
//     service may still send a late SMS for the abandoned attempt).
//   - "balance" and the balance checks of "bad key" and the fault
//     subtests, where the upstream has no balance to read (NoBalance).
//
// "no numbers" means every number is leased; "buy, code, another code,
// finish" delivers the SMS into the inbox, since nobody sends one to a
// pool number but the service that was given it.
type PoolSpec struct {
	// Numbers is how many inbox numbers the suite puts in the account;
	// default 3. They are in the suite's country.
	Numbers int
	// Account names the account that owns the i-th number ("" = none).
	Account func(i int) string
	// Client builds the pool platform for the harness's simulator at baseURL
	// with key, on the harness clock and a fresh ledger.
	Client func(h *Harness, baseURL, key string, timeout time.Duration) (adapters.Platform, error)
	// Price is what one activation costs, in the market currency.
	Price int64
	// NoBalance: the upstream has no balance (the adapter reports zero).
	NoBalance bool
}

// StartPool serves p's skin over a market whose inbox holds the pool's
// numbers and builds the pool platform against it.
func StartPool(t testing.TB, p Platform, mc simulator.Config, key string, timeout time.Duration) *Harness {
	t.Helper()
	mc.Key = Key
	if mc.Currency == "" {
		mc.Currency = p.Currency
	}
	h := Serve(t, mc, p.Skin)
	country, _ := p.pair()
	for i := range p.Pool.numbers() {
		n := simulator.InboxNumber{Phone: PoolPhone(i), Country: country}
		if p.Pool.Account != nil {
			n.Account = p.Pool.Account(i)
		}
		h.Market.AddNumber(n)
	}
	c, err := p.Pool.Client(h, h.Server.URL, key, timeout)
	if err != nil {
		t.Fatal(err)
	}
	h.Platform = c
	return h
}

// PoolPhone is the phone of the suite's i-th pool number.
func PoolPhone(i int) string { return fmt.Sprintf("1202555%04d", 100+i) }

func (s *PoolSpec) numbers() int {
	if s.Numbers <= 0 {
		return 3
	}
	return s.Numbers
}

func runPool(t *testing.T, p Platform) {
	country, service := p.pair()
	spec := p.Pool
	ctx := context.Background()
	start := func(t *testing.T, mc simulator.Config) *Harness {
		return StartPool(t, p, mc, Key, 2*time.Second)
	}
	req := adapters.BuyRequest{Country: country, Service: service}
	buy := func(t *testing.T, h *Harness) adapters.Purchase {
		t.Helper()
		pur, err := h.Platform.Buy(ctx, req)
		if err != nil {
			t.Fatalf("buy %s/%s: %v", country, service, err)
		}
		if pur.UpstreamID == "" || pur.Phone == "" || strings.HasPrefix(pur.Phone, "+") {
			t.Fatalf("purchase %+v: want an id and a phone of digits", pur)
		}
		if _, ok := h.Market.Number(pur.Phone); !ok {
			t.Fatalf("purchase phone %s is not one of the pool's numbers", pur.Phone)
		}
		return pur
	}
	check := func(t *testing.T, h *Harness, id string) adapters.Update {
		t.Helper()
		u, err := h.Platform.Check(ctx, id)
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		return u
	}
	deliver := func(t *testing.T, h *Harness, phone, text string) {
		t.Helper()
		h.Clock.Advance(10 * time.Second)
		if _, err := h.Market.Inject(phone, "Telegram", text); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("balance", func(t *testing.T) {
		if spec.NoBalance {
			t.Skip("pool: the upstream has no balance to read")
		}
		h := start(t, simulator.Config{Balance: 123_450_000})
		b, err := h.Platform.Balance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Micros != 123_450_000 || b.Currency != h.Market.Currency() {
			t.Fatalf("balance = %v; want 123.45 %s", b, h.Market.Currency())
		}
	})

	t.Run("offers", func(t *testing.T) {
		h := start(t, simulator.Config{})
		buy(t, h) // one number busy: the offer counts the free ones
		offers, err := h.Platform.Offers(ctx, service, country)
		if err != nil {
			t.Fatal(err)
		}
		if len(offers) != 1 {
			t.Fatalf("offers = %+v; want one for %s/%s", offers, country, service)
		}
		o := offers[0]
		if o.Country != country || o.Service != service || o.Count != spec.numbers()-1 || o.Price.Micros != spec.Price || o.Price.Currency != h.Market.Currency() {
			t.Fatalf("offer = %+v; want %d free at %d %s", o, spec.numbers()-1, spec.Price, h.Market.Currency())
		}
	})

	t.Run("buy, code, another code, finish", func(t *testing.T) {
		h := start(t, simulator.Config{})
		pur := buy(t, h)
		if pur.Price.Micros != spec.Price || pur.Price.Currency != h.Market.Currency() {
			t.Fatalf("purchase price %v; want %d %s", pur.Price, spec.Price, h.Market.Currency())
		}
		if u := check(t, h, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
			t.Fatalf("before the code: %+v; want waiting, no SMS", u)
		}
		deliver(t, h, pur.Phone, "Telegram code: 48213")
		u := check(t, h, pur.UpstreamID)
		if u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != "48213" || !strings.Contains(u.SMS[0].Text, "48213") {
			t.Fatalf("after the SMS: %+v; want code_received with 48213", u)
		}
		if err := h.Platform.RequestAnother(ctx, pur.UpstreamID); err != nil {
			t.Fatalf("another: %v", err)
		}
		if u := check(t, h, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
			t.Fatalf("after another, before the SMS: %+v; want waiting with nothing new", u)
		}
		deliver(t, h, pur.Phone, "Telegram code: 59324")
		u = check(t, h, pur.UpstreamID)
		if u.State != adapters.StateCodeReceived || len(u.SMS) == 0 || u.SMS[len(u.SMS)-1].Code != "59324" {
			t.Fatalf("after another: %+v; want the new code 59324", u)
		}
		if err := h.Platform.Finish(ctx, pur.UpstreamID); err != nil {
			t.Fatalf("finish: %v", err)
		}
		if u := check(t, h, pur.UpstreamID); u.State.Active() {
			t.Fatalf("after finish: %+v; want terminal", u)
		}
	})

	t.Run("cancel guard and refund", func(t *testing.T) {
		h := start(t, simulator.Config{})
		var ids []string
		for range spec.numbers() {
			ids = append(ids, buy(t, h).UpstreamID)
		}
		if err := h.Platform.Cancel(ctx, ids[0]); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		if u := check(t, h, ids[0]); u.State.Active() {
			t.Fatalf("after cancel: %+v; want terminal", u)
		}
		// Nothing to refund; the number itself comes back instead, for
		// another service.
		if _, err := h.Platform.Buy(ctx, req); !errors.Is(err, adapters.ErrNoNumbers) {
			t.Fatalf("buy for the same service right after the cancel = %v; want ErrNoNumbers", err)
		}
		other := "go"
		if service == other {
			other = "wa"
		}
		if _, err := h.Platform.Buy(ctx, adapters.BuyRequest{Country: country, Service: other}); err != nil {
			t.Fatalf("buy for another service after the cancel: %v", err)
		}
	})

	t.Run("no numbers", func(t *testing.T) {
		h := start(t, simulator.Config{})
		for range spec.numbers() {
			buy(t, h)
		}
		if _, err := h.Platform.Buy(ctx, req); !errors.Is(err, adapters.ErrNoNumbers) {
			t.Fatalf("buy with every number leased = %v; want ErrNoNumbers", err)
		}
	})

	t.Run("no balance", func(t *testing.T) {
		t.Skip("pool: numbers are free or prepaid; nothing is charged per activation")
	})

	t.Run("bad key", func(t *testing.T) {
		h := StartPool(t, p, simulator.Config{}, "wrong-key-zz", 2*time.Second)
		if !spec.NoBalance {
			_, err := h.Platform.Balance(ctx)
			if !errors.Is(err, adapters.ErrAuth) || strings.Contains(err.Error(), "wrong-key-zz") {
				t.Fatalf("balance with a bad key = %v; want ErrAuth without the key", err)
			}
		}
		_, err := h.Platform.Buy(ctx, req)
		if !errors.Is(err, adapters.ErrAuth) || strings.Contains(err.Error(), "wrong-key-zz") {
			t.Fatalf("buy with a bad key = %v; want ErrAuth without the key", err)
		}
	})

	for _, f := range upstreamFaults {
		t.Run(f.name, func(t *testing.T) {
			h := StartPool(t, p, simulator.Config{}, Key, 300*time.Millisecond)
			f.apply(h)
			if !spec.NoBalance {
				if _, err := h.Platform.Balance(ctx); !errors.Is(err, adapters.ErrUnavailable) {
					t.Fatalf("balance = %v; want ErrUnavailable", err)
				}
			}
			_, err := h.Platform.Buy(ctx, req)
			if !errors.Is(err, adapters.ErrUnavailable) || strings.Contains(err.Error(), Key) {
				t.Fatalf("buy = %v; want ErrUnavailable without the key", err)
			}
			if _, err := h.Platform.Offers(ctx, service, country); !errors.Is(err, adapters.ErrUnavailable) {
				t.Fatalf("offers = %v; want ErrUnavailable", err)
			}
		})
	}
}
