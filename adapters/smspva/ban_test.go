package smspva_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smspva"
)

// TestBanThroughTheSkin: the unified "ban" is SMS-PVA's own bad-number
// call, PUT /activation/blocknumber/{id} (not cancelorder, which would let
// the number be issued again), in both readings of where the status
// travels; the skin closes the order as banned.
func TestBanThroughTheSkin(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]smspva.SkinOptions{"default": {}, "status in body": {StatusInBody: true}} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, simulator.Config{CodeDelay: -1}, o)
			bal0 := f.market.Balance()
			p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if err != nil {
				t.Fatal(err)
			}
			f.rec.Take()
			if err := f.client.Ban(ctx, p.UpstreamID); err != nil {
				t.Fatalf("ban: %v", err)
			}
			wantWire(t, f.rec.Take(), "PUT /activation/blocknumber/"+p.UpstreamID)
			if st := f.order(t, p.UpstreamID).State; st != adapters.StateBanned {
				t.Fatalf("market order %s after ban; want banned", st)
			}
			// No SMS, no charge: SMS-PVA charges on delivery.
			if f.market.Balance() != bal0 {
				t.Fatalf("balance %d after a ban without SMS; want %d", f.market.Balance(), bal0)
			}
			// The platform now answers 410 for the order; the client
			// remembers it banned it.
			if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateBanned {
				t.Fatalf("check after ban = %+v, %v; want banned", u, err)
			}
			// A retried ban (its first answer lost) succeeds without a
			// request: the platform would answer 406 for a closed order.
			if err := f.client.Ban(ctx, p.UpstreamID); err != nil {
				t.Fatalf("ban again: %v", err)
			}
			wantWire(t, f.rec.Take())

			// An order the client finished (locally: SMS-PVA has no finish
			// call) cannot be banned, and no block is sent for it.
			p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if _, err := f.market.DeliverSMS(adapterstest.MarketID(t, p2.UpstreamID), "Your code is 4821"); err != nil {
				t.Fatal(err)
			}
			if err := f.client.Finish(ctx, p2.UpstreamID); err != nil {
				t.Fatal(err)
			}
			f.rec.Take()
			if err := f.client.Ban(ctx, p2.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
				t.Fatalf("ban after finish = %v; want ErrBadState", err)
			}
			wantWire(t, f.rec.Take())

			// An order that closed by itself: the client learnt it from
			// 410 and refuses; one it never saw closed gets SMS-PVA's 406.
			p3, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			p4, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			f.clock.Advance(smspva.Lifetime + time.Second)
			if u, err := f.client.Check(ctx, p3.UpstreamID); err != nil || u.State.Active() {
				t.Fatalf("check after the lifetime = %+v, %v; want ended", u, err)
			}
			if err := f.client.Ban(ctx, p3.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
				t.Fatalf("ban of an order seen closed = %v; want ErrBadState", err)
			}
			if err := f.client.Ban(ctx, p4.UpstreamID); !errors.Is(err, adapters.ErrNoActivation) {
				t.Fatalf("ban of an order closed unseen = %v; want ErrNoActivation (406)", err)
			}
			if err := f.client.Ban(ctx, "424242"); !errors.Is(err, adapters.ErrNoActivation) {
				t.Fatalf("ban of an unknown order = %v; want ErrNoActivation (406)", err)
			}

			// A karma block refuses the ban like any call the docs list it for.
			p5, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			f.market.SetBanned(f.clock.Now().Add(10 * time.Minute))
			if err := f.client.Ban(ctx, p5.UpstreamID); !errors.Is(err, adapters.ErrAuth) {
				t.Fatalf("ban under a karma block = %v; want ErrAuth (411)", err)
			}
		})
	}
}
