package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func routingOptions(seed uint64) options {
	o := testOptions("routing", time.Second)
	o.seed, o.runs, o.clients, o.span, o.giveUp, o.valueOfMinute = seed, 2, 3, time.Hour, 2*time.Minute, 0.25
	o.drift = "alpha:0.2"
	return o
}

// TestRouting: every strategy and the oracle run on the same market; the
// strategies that ignore delivery do what they say, the oracle follows
// the truth through the drift, and the same seed gives the same report
// (what acceptance's "reproduce a figure exactly" rests on).
func TestRouting(t *testing.T) {
	rep := runScenario(t, routingOptions(7))
	if len(rep.Routing) != len(routingStrategies) {
		t.Fatalf("%d strategy rows; want %d", len(rep.Routing), len(routingStrategies))
	}
	row := map[string]routingResult{}
	for i, r := range rep.Routing {
		if r.Strategy != routingStrategies[i] || r.Runs != 2 || r.Delivered == 0 {
			t.Errorf("row %d: %s, %d runs, %d codes; want %s over 2 runs with codes", i, r.Strategy, r.Runs, r.Delivered, routingStrategies[i])
		}
		row[r.Strategy] = r
	}
	only := func(name string, shares map[string]float64, platform string) {
		t.Helper()
		if len(shares) != 1 || shares[platform] < 0.999 {
			t.Errorf("%s: shares %v; want all on %s", name, shares, platform)
		}
	}
	// The oracle knows the drift: the best platform before and after it,
	// the next best while it fails.
	only("oracle before the drift", row["oracle"].Before, "alpha")
	only("oracle during the drift", row["oracle"].After, "bravo")
	only("oracle after the recovery", row["oracle"].Recovered, "alpha")
	only("price", row["price"].Before, "charlie")
	only("priority", row["priority"].After, "bravo")
	if o := row["oracle"]; o.CancelsPerCode >= row["random"].CancelsPerCode || o.P50 >= row["random"].P50 {
		t.Errorf("oracle %.2f cancels/code, p50 %.0fs; random %.2f, %.0fs: the oracle should beat random on both",
			o.CancelsPerCode, o.P50, row["random"].CancelsPerCode, row["random"].P50)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"seed 7", "drift at +20m0s", "delivery 0.2", "recover", "platform charlie (priority 4, price 0.20 USD)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	graded := 0
	for _, f := range rep.Figures {
		if f.Met != nil {
			graded++
		}
	}
	if graded != 7 { // value: time, money, cancels, abandon, return; success: time, money
		t.Errorf("%d graded figures; want 7: %+v", graded, rep.Figures)
	}

	again := runScenario(t, routingOptions(7))
	if !reflect.DeepEqual(rep.Routing, again.Routing) {
		t.Errorf("the same seed gave another run:\n%+v\n%+v", rep.Routing, again.Routing)
	}
	other := runScenario(t, routingOptions(8))
	if reflect.DeepEqual(rep.Routing, other.Routing) {
		t.Error("another seed gave the same run")
	}
}

// TestRoutingMarketFlags: -market and -drift set the market; a bad one is
// refused with the flag named.
func TestRoutingMarketFlags(t *testing.T) {
	o := routingOptions(1)
	o.market, o.drift = "x:0.5:10s:0:0.10, y:1:5s:0.5:0.30", "y:0"
	spec, err := routingMarketSpec(&o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.platforms) != 2 || spec.platforms[1].code != "y" || spec.platforms[1].priority != 2 ||
		spec.platforms[0].params.DelayMedian != 10*time.Second || spec.drifting != "y" || spec.driftTo != 0 {
		t.Errorf("spec %+v", spec)
	}
	rep := runScenario(t, o)
	if row := rep.Routing[0]; row.Strategy != "oracle" || row.After["x"] < 0.999 {
		t.Errorf("oracle during y's outage: %+v; want all on x", row.After)
	}
	for _, bad := range []struct{ market, drift, want string }{
		{"x:0.5:10s:0:0.10", "x:0.1", "at least two"},
		{"x:1.5:10s:0:0.10,y:1:5s:0:1", "x:0.1", "-market: x"},
		{"x:0.5:10s:0:0.10,x:1:5s:0:1", "x:0.1", "new code"},
		{"x:0.5:10s:0:0,y:1:5s:0:1", "x:0.1", "positive price"},
		{"x:0.5:10s:0:0.10,y:1:5s:0:1", "z:0.1", "-drift"},
		{"x:0.5:10s:0:0.10,y:1:5s:0:1", "x:2", "-drift"},
	} {
		o.market, o.drift = bad.market, bad.drift
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("-market %q -drift %q: %v; want an error with %q", bad.market, bad.drift, err, bad.want)
		}
	}
}

func TestOrdersUntil(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var orders []routingOrder
	add := func(n int, platform string) {
		for range n {
			orders = append(orders, routingOrder{at: t0.Add(time.Duration(len(orders)) * time.Second), platform: platform})
		}
	}
	add(30, "a") // before from
	from := t0.Add(30 * time.Second)
	add(10, "a")
	add(30, "b")
	// Windows of 20 from the 31st order on: under 20 % of "a" once at
	// most 3 of the last 20 are a's, i.e. at the 27th order after from.
	if got := ordersUntil(orders, from, "a", func(s float64) bool { return s < 0.20 }); got != 27 {
		t.Errorf("ordersUntil = %d; want 27", got)
	}
	if got := ordersUntil(orders, from, "c", func(s float64) bool { return s > 0 }); got != -1 {
		t.Errorf("ordersUntil for a platform never bought = %d; want -1", got)
	}
	s := shares(orders, from, t0.Add(time.Hour))
	if s["a"] != 0.25 || s["b"] != 0.75 {
		t.Errorf("shares = %v; want a 0.25, b 0.75", s)
	}
}

// TestRoutingHistory: -history runs the market before the measured span
// (the record a running gateway has) without measuring it: the drift
// moves with it, the oracle's shares still follow it, and the measured
// span holds about as many codes as with no history.
func TestRoutingHistory(t *testing.T) {
	o := routingOptions(7)
	o.runs = 1
	fresh := runScenario(t, o)
	o.history = time.Hour
	rep := runScenario(t, o)
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"after 1h0m0s of unmeasured history", "drift at +1h20m0s", "drift at +1h40m0s"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	oracle, before := rep.Routing[0], fresh.Routing[0]
	if oracle.Before["alpha"] < 0.999 || oracle.After["bravo"] < 0.999 || oracle.Recovered["alpha"] < 0.999 {
		t.Errorf("oracle shares %v / %v / %v; want alpha, bravo, alpha", oracle.Before, oracle.After, oracle.Recovered)
	}
	if r := float64(oracle.Delivered) / float64(before.Delivered); r < 0.8 || r > 1.25 {
		t.Errorf("oracle: %d codes measured after an hour of history, %d with none; want about as many (history is not measured)",
			oracle.Delivered, before.Delivered)
	}
	o.history = -time.Second
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "-history") {
		t.Errorf("-history -1s: %v; want an error naming -history", err)
	}
}
