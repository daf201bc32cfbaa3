package gateway_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/gateway"
	"smsgate/ledger"
)

// failingStore is a ledger whose commits fail, as a full disk would.
type failingStore struct{ ledger.Store }

func (failingStore) Create(context.Context, *ledger.Order) error {
	return errors.New("disk I/O error")
}

// TestUnrecordedPurchaseIsCancelled: when the ledger cannot commit a
// purchase, the client gets an error (never ACCESS_NUMBER) and the number
// is cancelled upstream as soon as the platform allows.
func TestUnrecordedPurchaseIsCancelled(t *testing.T) {
	clock := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	cfg := testConfig()
	cfg.Platforms = cfg.Platforms[:1]
	pc := cfg.Platforms[0]
	sim, err := registry.StartSim(registry.Spec{Code: pc.Code, Type: pc.Type, Currency: pc.Currency, Timeout: pc.Timeout},
		simulator.Config{Clock: clock, CodeDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	real, err := ledger.OpenSQLite(t.TempDir()+"/l.db", ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	g, err := gateway.New(gateway.Options{
		Config: cfg, Store: failingStore{real}, Clock: clock.Now,
		Platforms: []*gateway.Platform{{Code: pc.Code, Adapter: sim.Platform, Currency: pc.Currency, Timeout: pc.Timeout, Enabled: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.Start(context.Background())
	defer g.Stop()
	srv := gateway.NewServer(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	e := &env{t: t, url: "http://" + ln.Addr().String(), g: g}

	bal0 := sim.Market.Balance()
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "ERROR_SQL" {
		t.Fatalf("getNumber with a failing ledger = %q; want ERROR_SQL", b)
	}
	active := sim.Market.Active()
	if len(active) != 1 {
		t.Fatalf("upstream has %d active orders; want the 1 just bought", len(active))
	}
	// The cancel is queued in the outbox (an orphan: no order). Inside the
	// 2-minute guard the platform refuses it; after it, the retry gets
	// through and the money comes back.
	waitFor(t, func() bool {
		acts, err := real.Actions(context.Background(), 0)
		return err == nil && len(acts) == 1 && acts[0].Attempts > 0 && acts[0].Kind == ledger.ActCancel
	})
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for len(sim.Market.Active()) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	o, _ := sim.Market.Get(active[0].ID)
	if o.State != adapters.StateCancelled || sim.Market.Balance() != bal0 {
		t.Fatalf("upstream order %s, balance %d; want cancelled and refunded to %d", o.State, sim.Market.Balance(), bal0)
	}
}
