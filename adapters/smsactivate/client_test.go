package smsactivate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
)

const testKey = "sim-key-123"

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	client *smsactivate.Client
}

// newFixture serves a market through the skin on loopback and points a
// client at it, the way the gateway is wired.
func newFixture(t *testing.T, d smsactivate.Dialect, key string, timeout time.Duration) *fixture {
	return newFixtureDelay(t, d, key, timeout, 5*time.Second)
}

func newFixtureDelay(t *testing.T, d smsactivate.Dialect, key string, timeout, codeDelay time.Duration) *fixture {
	t.Helper()
	h := adapterstest.Serve(t, simulator.Config{Currency: "RUB", Key: testKey, CodeDelay: codeDelay},
		func(m *simulator.Market) fasthttp.RequestHandler { return smsactivate.NewSkin(m, d) })
	c, err := smsactivate.New(smsactivate.Options{Code: "sa", BaseURL: h.Server.URL, Key: key, Currency: "RUB", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, client: c}
}

var dialects = []struct {
	name string
	d    smsactivate.Dialect
}{{"classic", smsactivate.Classic}, {"hero", smsactivate.Hero}}

func TestLifecycle(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.name, func(t *testing.T) {
			f := newFixture(t, dc.d, testKey, 2*time.Second)
			ctx := context.Background()
			bal0, err := f.client.Balance(ctx)
			if err != nil || bal0.Micros != 1000*adapters.Micro || bal0.Currency != "RUB" {
				t.Fatalf("balance = %v, %v; want 1000.00 RUB", bal0, err)
			}
			p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if err != nil {
				t.Fatalf("buy: %v", err)
			}
			if p.UpstreamID == "" || len(p.Phone) < 8 || p.Phone[0] != '1' || p.Price.Micros <= 0 {
				t.Fatalf("purchase = %+v", p)
			}
			u, err := f.client.Check(ctx, p.UpstreamID)
			if err != nil || u.State != adapters.StateWaiting || len(u.SMS) != 0 {
				t.Fatalf("check before code = %+v, %v", u, err)
			}
			f.clock.Advance(5 * time.Second)
			u, err = f.client.Check(ctx, p.UpstreamID)
			if err != nil || u.State != adapters.StateCodeReceived || len(u.SMS) != 1 {
				t.Fatalf("check after delay = %+v, %v", u, err)
			}
			first := u.SMS[0]
			if len(first.Code) != 6 || first.Text == first.Code || adapters.ExtractCode(first.Text) != first.Code {
				t.Fatalf("sms = %+v; want a 6-digit code inside the full text", first)
			}
			if err := f.client.RequestAnother(ctx, p.UpstreamID); err != nil {
				t.Fatalf("another: %v", err)
			}
			u, _ = f.client.Check(ctx, p.UpstreamID)
			if u.State != adapters.StateRetryWaiting || u.SMS[0].Code != first.Code {
				t.Fatalf("after retry = %+v; want retry_waiting with the old code", u)
			}
			f.clock.Advance(5 * time.Second)
			u, _ = f.client.Check(ctx, p.UpstreamID)
			if u.State != adapters.StateCodeReceived || u.SMS[0].Code == first.Code {
				t.Fatalf("second code = %+v; want a new code", u)
			}
			if err := f.client.Finish(ctx, p.UpstreamID); err != nil {
				t.Fatalf("finish: %v", err)
			}
			u, _ = f.client.Check(ctx, p.UpstreamID)
			if u.State.Active() {
				t.Fatalf("after finish state %s; want terminal", u.State)
			}
			bal, _ := f.client.Balance(ctx)
			if bal.Micros != bal0.Micros-p.Price.Micros {
				t.Fatalf("balance after finish %v; want %v charged once", bal, p.Price)
			}
		})
	}
}

func TestCancelGuardExpiryAndRefund(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.name, func(t *testing.T) {
			// No automatic SMS: the orders stay waiting until cancelled or expired.
			f := newFixtureDelay(t, dc.d, testKey, 2*time.Second, -1)
			ctx := context.Background()
			bal0, _ := f.client.Balance(ctx)
			p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrEarlyCancel) {
				t.Fatalf("cancel at 0s = %v; want ErrEarlyCancel", err)
			}
			if err := f.client.Ready(ctx, p.UpstreamID); err != nil {
				t.Fatalf("ready: %v", err)
			}
			f.clock.Advance(2 * time.Minute)
			if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
				t.Fatalf("cancel at 2m: %v", err)
			}
			if bal, _ := f.client.Balance(ctx); bal != bal0 {
				t.Fatalf("balance after cancel %v; want refunded to %v", bal, bal0)
			}
			if err := f.client.Finish(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
				t.Fatalf("finish after cancel = %v; want ErrBadState", err)
			}

			p2, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(20 * time.Minute)
			u, err := f.client.Check(ctx, p2.UpstreamID)
			if err != nil || u.State.Active() {
				t.Fatalf("after 20m = %+v, %v; want ended", u, err)
			}
			if bal, _ := f.client.Balance(ctx); bal != bal0 {
				t.Fatalf("balance after expiry %v; want auto-refunded to %v", bal, bal0)
			}
			if _, err := f.client.Check(ctx, "999"); !errors.Is(err, adapters.ErrNoActivation) {
				t.Fatalf("check unknown id = %v; want ErrNoActivation", err)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	type setup func(f *fixture)
	cases := []struct {
		name  string
		key   string
		setup setup
		req   adapters.BuyRequest
		want  error
		// outcomeUnknown: the buy was sent and its answer lost.
		outcomeUnknown bool
	}{
		{name: "no numbers", setup: func(f *fixture) { f.market.SetStock("us", "tg", 0) }, want: adapters.ErrNoNumbers},
		{name: "no balance", setup: func(f *fixture) { f.market.SetBalance(0) }, want: adapters.ErrNoBalance},
		{name: "bad key", key: "wrong", want: adapters.ErrAuth},
		{name: "banned", setup: func(f *fixture) { f.market.SetBanned(f.clock.Now().Add(time.Hour)) }, want: adapters.ErrUnavailable},
		{name: "price floor", req: adapters.BuyRequest{MaxPrice: adapters.Money{Micros: 10_000, Currency: "RUB"}}, want: adapters.ErrPriceTooHigh},
		{name: "http 5xx", setup: func(f *fixture) { f.market.SetFaults(simulator.Faults{ErrorRate: 1}) }, want: adapters.ErrUnavailable},
		{name: "garbage body", setup: func(f *fixture) { f.market.SetFaults(simulator.Faults{Garbage: true}) }, want: adapters.ErrUnavailable},
		{name: "outage", setup: func(f *fixture) { f.market.SetFaults(simulator.Faults{Outage: true}) }, want: adapters.ErrUnavailable, outcomeUnknown: true},
		{name: "timeout", setup: func(f *fixture) { f.market.SetFaults(simulator.Faults{Hang: true}) }, want: adapters.ErrUnavailable, outcomeUnknown: true},
		{name: "service not sold", req: adapters.BuyRequest{Service: "zz"}, want: adapters.ErrBadService},
	}
	for _, dc := range dialects {
		for _, tc := range cases {
			t.Run(dc.name+"/"+tc.name, func(t *testing.T) {
				key := tc.key
				if key == "" {
					key = testKey
				}
				f := newFixture(t, dc.d, key, 300*time.Millisecond)
				if tc.setup != nil {
					tc.setup(f)
				}
				req := tc.req
				if req.Country == "" {
					req.Country = "us"
				}
				if req.Service == "" {
					req.Service = "tg"
				}
				_, err := f.client.Buy(context.Background(), req)
				if !errors.Is(err, tc.want) {
					t.Fatalf("buy error = %v; want %v", err, tc.want)
				}
				if got := errors.Is(err, adapters.ErrOutcomeUnknown); got != tc.outcomeUnknown {
					t.Fatalf("outcome unknown = %v; want %v (err %v)", got, tc.outcomeUnknown, err)
				}
				if tc.name == "price floor" {
					var pf *adapters.PriceFloorError
					if !errors.As(err, &pf) || pf.Min.Micros <= 0 {
						t.Fatalf("price floor error %v carries no minimum", err)
					}
				}
				if err != nil && (contains(err.Error(), testKey) || contains(err.Error(), "wrong")) {
					t.Fatalf("error %q leaks the key", err)
				}
				// Balance goes through the same mapping for non-buy calls.
				if tc.name == "bad key" {
					if _, err := f.client.Balance(context.Background()); !errors.Is(err, adapters.ErrAuth) {
						t.Fatalf("balance with bad key = %v; want ErrAuth", err)
					}
				}
			})
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestOffersAndCountries(t *testing.T) {
	f := newFixture(t, smsactivate.Classic, testKey, 2*time.Second)
	ctx := context.Background()
	offers, err := f.client.Offers(ctx, "tg", "us")
	if err != nil || len(offers) != 1 {
		t.Fatalf("offers = %+v, %v; want one", offers, err)
	}
	want := f.market.Offers("us", "tg")[0]
	if offers[0].Price.Micros != want.Price || offers[0].Count != want.Count || offers[0].Country != "us" {
		t.Fatalf("offer = %+v; want price %d count %d", offers[0], want.Price, want.Count)
	}
	all, err := f.client.Offers(ctx, "", "")
	if err != nil || len(all) != len(f.market.Offers("", "")) {
		t.Fatalf("all offers = %d, %v; want %d", len(all), err, len(f.market.Offers("", "")))
	}
	countries, err := f.client.Countries(ctx)
	if err != nil || len(countries) != len(f.market.Countries()) {
		t.Fatalf("countries = %v, %v; want %v", countries, err, f.market.Countries())
	}
}
