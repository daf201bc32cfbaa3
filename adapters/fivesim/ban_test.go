package fivesim_test

import (
	"errors"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/fivesim"
)

// TestBanThroughTheSkin: the unified "ban" goes to 5SIM's own call, GET
// /v1/user/ban/{id}, never to cancel (which 5SIM refuses once an SMS came,
// and which reports nothing about the number), and the skin ends the order
// BANNED. Both error-status readings, since 5SIM's refusals came with 200
// in older clients' time and 400 now.
func TestBanThroughTheSkin(t *testing.T) {
	for _, opt := range []fivesim.SkinOptions{{}, {ErrorStatus: 200, NoCancelGuard: true}} {
		f := newFixture(t, opt, -1)
		bal0 := f.market.Balance()
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		f.rec.Take()

		// Inside the early-cancel guard too: a ban is not a cancel.
		if err := f.client.Ban(ctx, p.UpstreamID); err != nil {
			t.Fatalf("ban: %v", err)
		}
		reqs := f.rec.Take()
		if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/v1/user/ban/"+p.UpstreamID || reqs[0].Header.Get("Authorization") != "Bearer "+testKey {
			t.Fatalf("ban sent %+v; want one GET /v1/user/ban/%s with the token", reqs, p.UpstreamID)
		}
		id := adapterstest.MarketID(t, p.UpstreamID)
		if o, _ := f.market.Get(id); o.State != adapters.StateBanned {
			t.Fatalf("market order %s after ban; want banned", o.State)
		}
		// 5SIM refunds a banned order (protocols/5sim.md §3.6).
		if f.market.Balance() != bal0 {
			t.Fatalf("balance %d after ban; want refunded to %d", f.market.Balance(), bal0)
		}
		if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateBanned {
			t.Fatalf("check after ban = %+v, %v; want banned", u, err)
		}
		// Asked again (the first answer lost): the skin answers the banned
		// order again, so a retried ban succeeds.
		if err := f.client.Ban(ctx, p.UpstreamID); err != nil {
			t.Fatalf("ban again: %v", err)
		}

		// A number with its code can still be reported (5SIM's lifecycle:
		// RECEIVED with sms → BANNED).
		p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		if _, err := f.market.DeliverSMS(adapterstest.MarketID(t, p2.UpstreamID), "Telegram code 12345"); err != nil {
			t.Fatal(err)
		}
		if err := f.client.Ban(ctx, p2.UpstreamID); err != nil {
			t.Fatalf("ban with an SMS: %v", err)
		}

		// A cancelled order is over: refused, not unknown.
		f.clock.Advance(3 * time.Minute)
		p3, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		f.clock.Advance(3 * time.Minute)
		if err := f.client.Cancel(ctx, p3.UpstreamID); err != nil {
			t.Fatal(err)
		}
		if err := f.client.Ban(ctx, p3.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
			t.Fatalf("ban after cancel = %v; want ErrBadState", err)
		}
		// An order 5SIM does not know: "order not found".
		if err := f.client.Ban(ctx, "999999"); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("ban of an unknown order = %v; want ErrNoActivation", err)
		}
		// Not a 5SIM id at all: refused without a request.
		f.rec.Take()
		if err := f.client.Ban(ctx, "12/../../profile"); !errors.Is(err, adapters.ErrNoActivation) || len(f.rec.Take()) != 0 {
			t.Fatalf("ban of a malformed id = %v; want ErrNoActivation and no request", err)
		}
	}
}
