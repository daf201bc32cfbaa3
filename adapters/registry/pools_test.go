package registry_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/ledger"
)

// TestSimulatedPoolSendsTheServiceCode: a simulated pool's number gets the
// code of the service it was handed out for, CodeDelay later, and another
// one when the client asks for another; the numbers' other traffic is not
// the order's code.
func TestSimulatedPoolSendsTheServiceCode(t *testing.T) {
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "l.db"), ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sim, err := registry.StartSim(registry.Spec{Code: "textnow", Type: "textnow", Timeout: 2 * time.Second,
		Pool: registry.PoolSpec{Store: store, MinGap: time.Millisecond}}, simulator.Config{CodeDelay: 1100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	p := sim.Platform
	pur, err := p.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
	if err != nil {
		t.Fatal(err)
	}
	// waitCodes checks the order until it has n codes (each check reads the
	// simulated inbox, which writes what is due).
	waitCodes := func(n int) []adapters.SMS {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			u, err := p.Check(ctx, pur.UpstreamID)
			if err != nil {
				t.Fatal(err)
			}
			if len(u.SMS) >= n {
				return u.SMS
			}
		}
		t.Fatalf("no %d codes in 10 s", n)
		return nil
	}
	record := func(s adapters.SMS) simulator.InboxSMS {
		for _, m := range sim.Market.Inbox(pur.Phone) {
			if m.Text == s.Text {
				return m
			}
		}
		t.Fatalf("%q was not sent to %s", s.Text, pur.Phone)
		return simulator.InboxSMS{}
	}
	first := waitCodes(1)[0]
	if r := record(first); r.Service != "wa" || r.Code != first.Code {
		t.Fatalf("first code %+v is from %+v; want WhatsApp's", first, r)
	}
	another, ok := p.(interface {
		RequestAnotherAfter(ctx context.Context, id string, last time.Time) error
	})
	if !ok {
		t.Fatal("the simulated pool lost RequestAnotherAfter")
	}
	// The next code comes a code delay later: over a second, as TextNow's
	// times are whole seconds and a code in the second of the last one is
	// taken for the last one.
	if err := another.RequestAnotherAfter(ctx, pur.UpstreamID, first.ReceivedAt); err != nil {
		t.Fatal(err)
	}
	second := waitCodes(1)
	if r := record(second[len(second)-1]); r.Service != "wa" || second[len(second)-1].Text == first.Text {
		t.Fatalf("after another: %+v from %+v; want a new WhatsApp code", second, r)
	}
}
