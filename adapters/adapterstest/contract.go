// Package adapterstest is the contract every platform adapter passes,
// run through the adapter's own simulator skin over loopback HTTP: the
// same suite for every platform, so they all mean the same thing by
// "no numbers", "no balance", "bad key" and "unavailable". It also holds
// what the adapters' own wire tests share: a simulated platform on
// loopback (Serve, harness.go), a recorder of the requests it gets
// (Recorder), a fake upstream with canned answers (Script), and the
// fuzzing of their answer parsers (FuzzParser).
package adapterstest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
)

// Key is the API key the simulated account accepts.
const Key = "contract-test-key-0123456789"

// Platform describes one adapter to the suite.
type Platform struct {
	// Skin serves the platform's protocol over a market.
	Skin func(m *simulator.Market) fasthttp.RequestHandler
	// Client builds the adapter for baseURL with the given key and per-call
	// timeout.
	Client   func(baseURL, key string, timeout time.Duration) (adapters.Platform, error)
	Currency string // the market/account currency; default "USD"
	// Country and Service: a pair the platform sells; default "us", "tg".
	Country, Service string
	// CanRequestAnother: the platform supports another SMS on one order.
	CanRequestAnother bool
	// CancelGuard: the platform refuses cancels for this long after purchase
	// (0 = no guard).
	CancelGuard time.Duration
	// CanBan: the adapter is an adapters.Banner (the platform has a call
	// that reports a number the service refused).
	CanBan bool
	// Lifetime of an order on the platform; default 20m.
	Lifetime time.Duration
	// StockUnknown: the platform publishes prices but no stock; its offers
	// carry Count adapters.StockUnknown.
	StockUnknown bool
	// AfterBuy runs after each successful Buy in the suite (e.g. to let a
	// platform that assigns numbers late assign it); may be nil.
	AfterBuy func(h *Harness)
	// Pool marks a pool platform (package pool): the gateway owns its
	// numbers instead of buying them, so the suite fills the simulator's
	// inbox and delivers SMS itself (pool_contract.go). Client is unused.
	Pool *PoolSpec
}

// Start serves p's skin over a fresh market (mc's Clock, Key and Currency
// are set here) and builds the adapter against it.
func Start(t testing.TB, p Platform, mc simulator.Config, key string, timeout time.Duration) *Harness {
	t.Helper()
	mc.Key = Key
	if mc.Currency == "" {
		mc.Currency = p.Currency
	}
	if mc.CancelGuard == 0 && p.CancelGuard > 0 {
		mc.CancelGuard = p.CancelGuard
	}
	if mc.Lifetime == 0 && p.Lifetime > 0 {
		mc.Lifetime = p.Lifetime
	}
	h := Serve(t, mc, p.Skin)
	c, err := p.Client(h.Server.URL, key, timeout)
	if err != nil {
		t.Fatal(err)
	}
	h.Platform = c
	return h
}

func (p Platform) pair() (string, string) {
	c, s := p.Country, p.Service
	if c == "" {
		c = "us"
	}
	if s == "" {
		s = "tg"
	}
	return c, s
}

// Run is the contract suite.
func Run(t *testing.T, p Platform) {
	if p.Pool != nil {
		runPool(t, p)
		return
	}
	s := newSuite(p)
	for _, c := range []struct {
		name string
		run  func(*suite, *testing.T)
	}{
		{"balance", (*suite).balance},
		{"offers", (*suite).offers},
		{"buy, code, another code, finish", (*suite).lifecycle},
		{"cancel guard and refund", (*suite).cancelGuard},
		{"ban", (*suite).ban},
		{"no numbers", (*suite).noNumbers},
		{"no balance", (*suite).noBalance},
		{"bad key", (*suite).badKey},
		{"list poll", (*suite).listPoll},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(s, t) })
	}
	for _, f := range upstreamFaults {
		t.Run(f.name, func(t *testing.T) { s.fault(t, f.apply) })
	}
}

// suite is one platform's run of the contract: the platform, the pair it
// sells and the steps the cases share.
type suite struct {
	p                Platform
	country, service string
	ctx              context.Context
}

func newSuite(p Platform) *suite {
	country, service := p.pair()
	return &suite{p: p, country: country, service: service, ctx: context.Background()}
}

func (s *suite) start(t *testing.T, mc simulator.Config) *Harness {
	return Start(t, s.p, mc, Key, 2*time.Second)
}

func (s *suite) buy(t *testing.T, h *Harness) adapters.Purchase {
	t.Helper()
	pur, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: s.service})
	if err != nil {
		t.Fatalf("buy %s/%s: %v", s.country, s.service, err)
	}
	if pur.UpstreamID == "" || pur.Phone == "" {
		t.Fatalf("purchase %+v lacks id or phone", pur)
	}
	if strings.HasPrefix(pur.Phone, "+") {
		t.Fatalf("phone %q: want digits without '+'", pur.Phone)
	}
	if s.p.AfterBuy != nil {
		s.p.AfterBuy(h)
	}
	return pur
}

func (s *suite) check(t *testing.T, h *Harness, id string) adapters.Update {
	t.Helper()
	u, err := h.Platform.Check(s.ctx, id)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return u
}

func (s *suite) balance(t *testing.T) {
	wantBalance(t, s.ctx, s.start(t, simulator.Config{Balance: 123_450_000}), 123_450_000)
}

// wantBalance checks that the platform reads the simulated account's
// balance, in its currency.
func wantBalance(t *testing.T, ctx context.Context, h *Harness, micros int64) {
	t.Helper()
	b, err := h.Platform.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Micros != micros || b.Currency != h.Market.Currency() {
		t.Fatalf("balance = %v; want %v", b, adapters.Money{Micros: micros, Currency: h.Market.Currency()})
	}
}

func (s *suite) offers(t *testing.T) {
	h := s.start(t, simulator.Config{})
	h.Market.SetStock(s.country, s.service, 42)
	offers, err := h.Platform.Offers(s.ctx, s.service, s.country)
	if err != nil {
		t.Fatal(err)
	}
	want := h.Market.Offers(s.country, s.service)[0]
	found := false
	for _, o := range offers {
		if o.Country == s.country && o.Service == s.service {
			found = true
			wantCount := 42
			if s.p.StockUnknown {
				wantCount = adapters.StockUnknown
			}
			if o.Price.Micros != want.Price || o.Count != wantCount || o.Price.Currency != h.Market.Currency() {
				t.Fatalf("offer = %+v; want price %d %s, count %d", o, want.Price, h.Market.Currency(), wantCount)
			}
		}
	}
	if !found {
		t.Fatalf("offers %+v lack %s/%s", offers, s.country, s.service)
	}
}

func (s *suite) lifecycle(t *testing.T) {
	h := s.start(t, simulator.Config{CodeDelay: 10 * time.Second})
	bal0 := h.Market.Balance()
	pur := s.buy(t, h)
	if pur.Price.Micros <= 0 || pur.Price.Currency != h.Market.Currency() {
		t.Fatalf("purchase price %v; want > 0 %s", pur.Price, h.Market.Currency())
	}
	if h.Market.Balance() != bal0-pur.Price.Micros {
		t.Fatalf("market charged %d; adapter reported %d", bal0-h.Market.Balance(), pur.Price.Micros)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
		t.Fatalf("before the code: %+v; want waiting, no SMS", u)
	}
	h.Clock.Advance(10 * time.Second)
	u := s.check(t, h, pur.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) == 0 {
		t.Fatalf("after the delay: %+v; want code_received", u)
	}
	first := u.SMS[len(u.SMS)-1]
	if len(first.Code) < 4 || !strings.Contains(first.Text, first.Code) {
		t.Fatalf("sms %+v: want a code that appears in the text", first)
	}
	if s.p.CanRequestAnother {
		if err := h.Platform.RequestAnother(s.ctx, pur.UpstreamID); err != nil {
			t.Fatalf("another: %v", err)
		}
		h.Clock.Advance(10 * time.Second)
		u = s.check(t, h, pur.UpstreamID)
		last := u.SMS[len(u.SMS)-1]
		if u.State != adapters.StateCodeReceived || last.Code == first.Code {
			t.Fatalf("after another: %+v; want a new code", u)
		}
	}
	if err := h.Platform.Finish(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State.Active() {
		t.Fatalf("after finish: %+v; want terminal", u)
	}
	if h.Market.Balance() != bal0-pur.Price.Micros {
		t.Fatal("finished order was refunded")
	}
}

func (s *suite) cancelGuard(t *testing.T) {
	h := s.start(t, simulator.Config{CodeDelay: -1})
	bal0 := h.Market.Balance()
	pur := s.buy(t, h)
	if s.p.CancelGuard > 0 {
		if err := h.Platform.Cancel(s.ctx, pur.UpstreamID); !errors.Is(err, adapters.ErrEarlyCancel) {
			t.Fatalf("cancel inside the guard = %v; want ErrEarlyCancel", err)
		}
		h.Clock.Advance(s.p.CancelGuard)
	}
	if err := h.Platform.Cancel(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State.Active() {
		t.Fatalf("after cancel: %+v; want terminal", u)
	}
	if h.Market.Balance() != bal0 {
		t.Fatalf("balance %d after cancel; want refunded %d", h.Market.Balance(), bal0)
	}
}

func (s *suite) ban(t *testing.T) {
	h := s.start(t, simulator.Config{CodeDelay: 10 * time.Second})
	b, ok := h.Platform.(adapters.Banner)
	if ok != s.p.CanBan {
		t.Fatalf("adapter is a Banner: %v; the platform says CanBan %v", ok, s.p.CanBan)
	}
	if !ok {
		return
	}
	pur := s.buy(t, h)
	if err := b.Ban(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("ban: %v", err)
	}
	if u := s.check(t, h, pur.UpstreamID); u.State != adapters.StateBanned {
		t.Fatalf("after ban: %+v; want banned", u)
	}
	if n := len(h.Market.Active()); n != 0 {
		t.Fatalf("%d orders still open in the market after the ban", n)
	}
	// A finished order cannot be banned: the transition is refused,
	// it is not an unknown order nor a platform fault.
	pur = s.buy(t, h)
	h.Clock.Advance(10 * time.Second)
	if u := s.check(t, h, pur.UpstreamID); u.State != adapters.StateCodeReceived {
		t.Fatalf("after the delay: %+v; want code_received", u)
	}
	if err := h.Platform.Finish(s.ctx, pur.UpstreamID); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if err := b.Ban(s.ctx, pur.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("ban after finish = %v; want ErrBadState", err)
	}
}

func (s *suite) noNumbers(t *testing.T) {
	h := s.start(t, simulator.Config{})
	h.Market.SetStock(s.country, s.service, 0)
	if _, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: s.service}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with no stock = %v; want ErrNoNumbers", err)
	}
}

func (s *suite) noBalance(t *testing.T) {
	h := s.start(t, simulator.Config{})
	h.Market.SetBalance(0)
	if _, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: s.service}); !errors.Is(err, adapters.ErrNoBalance) {
		t.Fatalf("buy with no balance = %v; want ErrNoBalance", err)
	}
}

func (s *suite) badKey(t *testing.T) {
	h := Start(t, s.p, simulator.Config{}, "wrong-key-zz", 2*time.Second)
	_, err := h.Platform.Balance(s.ctx)
	if !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("balance with a bad key = %v; want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong-key-zz") {
		t.Fatalf("error %q shows the key", err)
	}
	if _, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: s.service}); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("buy with a bad key = %v; want ErrAuth", err)
	}
}

// fault: an upstream failure is ErrUnavailable on every call, and no
// error shows the key.
func (s *suite) fault(t *testing.T, apply func(*Harness)) {
	h := Start(t, s.p, simulator.Config{}, Key, 300*time.Millisecond)
	apply(h)
	if _, err := h.Platform.Balance(s.ctx); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("balance = %v; want ErrUnavailable", err)
	}
	_, err := h.Platform.Buy(s.ctx, adapters.BuyRequest{Country: s.country, Service: s.service})
	if !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("buy = %v; want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), Key) {
		t.Fatalf("error %q shows the key", err)
	}
	if _, err := h.Platform.Offers(s.ctx, s.service, s.country); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("offers = %v; want ErrUnavailable", err)
	}
}

// upstreamFault is one way an upstream fails.
type upstreamFault struct {
	name  string
	apply func(h *Harness)
}

// upstreamFaults are the upstream failures every adapter must report as
// adapters.ErrUnavailable, marketplace or pool.
var upstreamFaults = []upstreamFault{
	{"http 5xx", func(h *Harness) { h.Market.SetFaults(simulator.Faults{ErrorRate: 1}) }},
	{"garbage body", func(h *Harness) { h.Market.SetFaults(simulator.Faults{Garbage: true}) }},
	{"timeout", func(h *Harness) { h.Market.SetFaults(simulator.Faults{Hang: true}) }},
	{"connection closed", func(h *Harness) { h.Market.SetFaults(simulator.Faults{Outage: true}) }},
	{"connection refused", func(h *Harness) { h.Server.Close() }},
}

// CodeMaps fails t for every canonical code in an adapter's embedded maps
// that the gateway's catalogue lacks: a map may translate only countries
// and services the gateway knows.
func CodeMaps(t testing.TB, countries, services *catalog.CodeMap) {
	t.Helper()
	for _, iso := range countries.Canonicals() {
		if _, ok := catalog.CountryByISO(iso); !ok {
			t.Errorf("countries.tsv: %q is not a catalogue country", iso)
		}
	}
	for _, code := range services.Canonicals() {
		if _, ok := catalog.ServiceByCode(code); !ok {
			t.Errorf("services.tsv: %q is not a catalogue service", code)
		}
	}
}
