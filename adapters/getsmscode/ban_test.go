package getsmscode_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/getsmscode"
	"smsgate/adapters/simulator"
)

// TestBanThroughTheSkin: the unified "ban" is GetSMSCode's addblack (the
// number is released and never given to this account again for the
// project), sent at once, with no getsms first: unlike a cancel, a ban
// goes ahead after an SMS.
func TestBanThroughTheSkin(t *testing.T) {
	f := newFixture(t, simulator.Config{CodeDelay: -1}, getsmscode.SkinOptions{})
	ctx := context.Background()
	bal0 := f.market.Balance()
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
	if err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	if err := f.client.Ban(ctx, p.UpstreamID); err != nil {
		t.Fatalf("ban: %v", err)
	}
	reqs := f.rec.Take()
	if len(reqs) != 1 || reqs[0].Path != "/vndo.php" || reqs[0].Query["action"] != "addblack" || reqs[0].Query["cocode"] != "uk" ||
		reqs[0].Query["mobile"] != p.Phone || reqs[0].Answer != "Message|Had add black list" {
		t.Fatalf("ban sent %+v; want one addblack on vndo.php for the number", reqs)
	}
	// Released: no longer held, and (no SMS) not charged.
	if len(f.market.Active()) != 0 || f.market.Balance() != bal0 {
		t.Fatalf("after ban: %d held, balance %d; want none held and %d", len(f.market.Active()), f.market.Balance(), bal0)
	}
	// getsms would now say "not found"; the client remembers the ban.
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateBanned {
		t.Fatalf("check after ban = %+v, %v; want banned", u, err)
	}
	// Retried (its first answer lost): banned already, nothing sent.
	if err := f.client.Ban(ctx, p.UpstreamID); err != nil || len(f.rec.Take()) != 0 {
		t.Fatalf("ban again = %v; want success without a request", err)
	}

	// After an SMS: still banned (where Cancel refuses), the charge kept.
	p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wa"})
	o := f.market.Active()[0]
	if _, err := f.market.DeliverSMS(o.ID, "Your WhatsApp code 482913"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Ban(ctx, p2.UpstreamID); err != nil {
		t.Fatalf("ban after an SMS: %v", err)
	}
	if len(f.market.Active()) != 0 || f.market.Balance() != bal0-o.Price {
		t.Fatalf("after ban with an SMS: %d held, balance %d; want released and charged", len(f.market.Active()), f.market.Balance())
	}

	// A rental this client finished is over: refused without a request.
	p3, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wa"})
	if err := f.client.Finish(ctx, p3.UpstreamID); err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	if err := f.client.Ban(ctx, p3.UpstreamID); !errors.Is(err, adapters.ErrBadState) || len(f.rec.Take()) != 0 {
		t.Fatalf("ban after finish = %v; want ErrBadState and no request", err)
	}

	// A hold that ended unseen: the platform's "mobile number not found!".
	p4, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wa"})
	f.clock.Advance(10*time.Minute + time.Second)
	if err := f.client.Ban(ctx, p4.UpstreamID); !errors.Is(err, adapters.ErrNoActivation) {
		t.Fatalf("ban of a hold that ended = %v; want ErrNoActivation", err)
	}
	// Not a rental id: refused without a request.
	f.rec.Take()
	if err := f.client.Ban(ctx, "10:8613800000000"); !errors.Is(err, adapters.ErrNoActivation) || len(f.rec.Take()) != 0 {
		t.Fatalf("ban of a malformed id = %v; want ErrNoActivation and no request", err)
	}
}
