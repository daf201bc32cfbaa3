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
	s := &poolSuite{p: p, spec: p.Pool, country: country, service: service,
		req: adapters.BuyRequest{Country: country, Service: service}, ctx: context.Background()}
	t.Run("balance", s.balance)
	t.Run("offers", s.offers)
	t.Run("buy, code, another code, finish", s.lifecycle)
	t.Run("cancel guard and refund", s.cancelGuard)
	t.Run("no numbers", s.noNumbers)
	t.Run("no balance", s.noBalance)
	t.Run("bad key", s.badKey)
	for _, f := range upstreamFaults {
		t.Run(f.name, func(t *testing.T) { s.fault(t, f) })
	}
}

// poolSuite is the pool contract: one method per case, over one platform.
type poolSuite struct {
	p                Platform
	spec             *PoolSpec
	country, service string
	req              adapters.BuyRequest
	ctx              context.Context
}

func (s *poolSuite) start(t *testing.T, mc simulator.Config) *Harness {
	return StartPool(t, s.p, mc, Key, 2*time.Second)
}

func (s *poolSuite) buy(t *testing.T, h *Harness) adapters.Purchase {
	t.Helper()
	pur, err := h.Platform.Buy(s.ctx, s.req)
	if err != nil {
		t.Fatalf("buy %s/%s: %v", s.country, s.service, err)
	}
	if pur.UpstreamID == "" || pur.Phone == "" || strings.HasPrefix(pur.Phone, "+") {
		t.Fatalf("purchase %+v: want an id and a phone of digits", pur)
	}
	if _, ok := h.Market.Number(pur.Phone); !ok {
		t.Fatalf("purchase phone %s is not one of the pool's numbers", pur.Phone)
	}
	return pur
}

func (s *poolSuite) check(t *testing.T, h *Harness, id string) adapters.Update {
	t.Helper()
	u, err := h.Platform.Check(s.ctx, id)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return u
}

func (s *poolSuite) deliver(t *testing.T, h *Harness, phone, text string) {
	t.Helper()
	h.Clock.Advance(10 * time.Second)
	if _, err := h.Market.Inject(phone, "Telegram", text); err != nil {
		t.Fatal(err)
	}
}

func (s *poolSuite) balance(t *testing.T) {
	if s.spec.NoBalance {
		t.Skip("pool: the upstream has no balance to read")
	}
	wantBalance(t, s.ctx, s.start(t, simulator.Config{Balance: 123_450_000}), 123_450_000)
}

func (s *poolSuite) offers(t *testing.T) {
	h := s.start(t, simulator.Config{})
	s.buy(t, h) // one number busy: the offer counts the free ones
	offers, err := h.Platform.Offers(s.ctx, s.service, s.country)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 1 {
		t.Fatalf("offers = %+v; want one for %s/%s", offers, s.country, s.service)
	}
	o := offers[0]
	if o.Country != s.country || o.Service != s.service || o.Count != s.spec.numbers()-1 || o.Price.Micros != s.spec.Price || o.Price.Currency != h.Market.Currency() {
		t.Fatalf("offer = %+v; want %d free at %d %s", o, s.spec.numbers()-1, s.spec.Price, h.Market.Currency())
	}
}

func (s *poolSuite) lifecycle(t *testing.T) {
	h := s.start(t, simulator.Config{})
	pur := s.buy(t, h)
	if pur.Price.Micros != s.spec.Price || pur.Price.Currency != h.Market.Currency() {
		t.Fatalf("purchase price %v; want %d %s", pur.Price, s.spec.Price, h.Market.Currency())
	}
	if u := s.check(t, h, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
		t.Fatalf("before the code: %+v; want waiting, no SMS", u)
	}
	s.deliver(t, h, pur.Phone, "Telegram code: 48213")
	u := s.check(t, h, pur.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != "48213" || !strings.Contains(u.SMS[0].Text, "48213") {
		t.Fatalf("after the SMS: %+v; want code_received with 48213", u)
	}
	if err := h.Platform.RequestAnother(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("another: %v", err)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
		t.Fatalf("after another, before the SMS: %+v; want waiting with nothing new", u)
	}
	s.deliver(t, h, pur.Phone, "Telegram code: 59324")
	u = s.check(t, h, pur.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) == 0 || u.SMS[len(u.SMS)-1].Code != "59324" {
		t.Fatalf("after another: %+v; want the new code 59324", u)
	}
	if err := h.Platform.Finish(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State.Active() {
		t.Fatalf("after finish: %+v; want terminal", u)
	}
}

func (s *poolSuite) cancelGuard(t *testing.T) {
	h := s.start(t, simulator.Config{})
	var ids []string
	for range s.spec.numbers() {
		ids = append(ids, s.buy(t, h).UpstreamID)
	}
	if err := h.Platform.Cancel(s.ctx, ids[0]); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if u := s.check(t, h, ids[0]); u.State.Active() {
		t.Fatalf("after cancel: %+v; want terminal", u)
	}
	// Nothing to refund; the number itself comes back instead, for
	// another s.service.
	if _, err := h.Platform.Buy(s.ctx, s.req); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy for the same service right after the cancel = %v; want ErrNoNumbers", err)
	}
	other := "go"
	if s.service == other {
		other = "wa"
	}
	if _, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: other}); err != nil {
		t.Fatalf("buy for another service after the cancel: %v", err)
	}
}

func (s *poolSuite) noNumbers(t *testing.T) {
	h := s.start(t, simulator.Config{})
	for range s.spec.numbers() {
		s.buy(t, h)
	}
	if _, err := h.Platform.Buy(s.ctx, s.req); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with every number leased = %v; want ErrNoNumbers", err)
	}
}

func (s *poolSuite) noBalance(t *testing.T) {
	t.Skip("pool: numbers are free or prepaid; nothing is charged per activation")
}

func (s *poolSuite) badKey(t *testing.T) {
	h := StartPool(t, s.p, simulator.Config{}, "wrong-key-zz", 2*time.Second)
	if !s.spec.NoBalance {
		_, err := h.Platform.Balance(s.ctx)
		if !errors.Is(err, adapters.ErrAuth) || strings.Contains(err.Error(), "wrong-key-zz") {
			t.Fatalf("balance with a bad key = %v; want ErrAuth without the key", err)
		}
	}
	_, err := h.Platform.Buy(s.ctx, s.req)
	if !errors.Is(err, adapters.ErrAuth) || strings.Contains(err.Error(), "wrong-key-zz") {
		t.Fatalf("buy with a bad key = %v; want ErrAuth without the key", err)
	}
}

// fault: an upstream fault is ErrUnavailable on every call, never the key.
func (s *poolSuite) fault(t *testing.T, f upstreamFault) {
	h := StartPool(t, s.p, simulator.Config{}, Key, 300*time.Millisecond)
	f.apply(h)
	if !s.spec.NoBalance {
		if _, err := h.Platform.Balance(s.ctx); !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("balance = %v; want ErrUnavailable", err)
		}
	}
	_, err := h.Platform.Buy(s.ctx, s.req)
	if !errors.Is(err, adapters.ErrUnavailable) || strings.Contains(err.Error(), Key) {
		t.Fatalf("buy = %v; want ErrUnavailable without the key", err)
	}
	if _, err := h.Platform.Offers(s.ctx, s.service, s.country); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("offers = %v; want ErrUnavailable", err)
	}
}
