package adapterstest

import (
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/adapters/upstream"
)

// Harness is one running simulated platform and its adapter.
type Harness struct {
	Market   *simulator.Market
	Clock    *simulator.ManualClock
	Server   *simulator.Server
	Platform adapters.Platform
	// TB is the test the harness serves (a pool client opens its ledger in
	// TB.TempDir()).
	TB testing.TB
}

// Serve serves skin over a fresh market made from mc, on loopback, until
// the test ends; the Harness has no Platform yet. The market runs on a
// manual clock at the suite's start time (mc.Clock is replaced). Cleanup
// clears the faults before closing, so a handler held by a Hang fault
// lets go instead of stalling the close.
func Serve(t testing.TB, mc simulator.Config, skin func(m *simulator.Market) fasthttp.RequestHandler) *Harness {
	t.Helper()
	clock := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	mc.Clock = clock
	m := simulator.New(mc)
	srv, err := simulator.Serve(skin(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.SetFaults(simulator.Faults{}); srv.Close() })
	return &Harness{Market: m, Clock: clock, Server: srv, TB: t}
}

// ServeHandler serves h on loopback until the test ends and returns its
// base URL: for fake upstreams that answer from a script, not a market.
func ServeHandler(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	srv, err := simulator.Serve(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.URL
}

// MarketID is the market order behind an upstream id, for the skins that
// hand out the market's own order ids; any other id fails t.
func MarketID(t testing.TB, upstreamID string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(upstreamID, 10, 64)
	if err != nil || !upstream.IsDigits(upstreamID, 1, 19) {
		t.Fatalf("upstream id %q is not a market order id", upstreamID)
	}
	return id
}
