package route

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"smsgate/config"
	"smsgate/gateway/platform"
)

func buy(e *Estimator, id int64, platform string, at time.Time) {
	e.Bought(Purchase{Order: id, Platform: platform, Country: "us", Service: "tg", At: at})
}

// TestPendingNeverDelivers: a fresh platform whose numbers never deliver
// is judged bad before the first give-up (2 min) is heard of: four
// numbers that waited 110 s, well past the usual delay, weigh as failures.
func TestPendingNeverDelivers(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now})
	for i := range 4 {
		buy(e, int64(i+1), "dud", c.now())
	}
	c.advance(10 * time.Second)
	if est := e.Estimate("dud", "us", "tg"); est.Pending != 0 || est.P != priorRate {
		t.Fatalf("10 s after purchase: %+v; want the prior, nothing counted yet (younger than the median delay)", est)
	}
	c.advance(100 * time.Second)
	est := e.Estimate("dud", "us", "tg")
	if est.Pending != 4 || est.P >= 0.5 {
		t.Fatalf("110 s after purchase: P %.3f, %v waiting counted; want < 0.5 with 4", est.P, est.Pending)
	}
	t.Logf("P %.3f after 110 s with 4 numbers waiting", est.P)
	// Their ends retire them: the record holds them instead.
	for i := range 4 {
		e.Observe(Outcome{Order: int64(i + 1), Platform: "dud", Country: "us", Service: "tg"})
	}
	if est := e.Estimate("dud", "us", "tg"); est.Pending != 0 || est.Evidence != 4 {
		t.Fatalf("after the ends: %+v; want nothing waiting, 4 orders of record", est)
	}
	if len(e.waiting) != 0 {
		t.Fatalf("%d orders still waiting", len(e.waiting))
	}
}

// TestPendingSlowButDelivering: a platform whose codes take about 90 s
// is not held bad for numbers that have waited 100 s, while a platform
// whose codes take 10 s is, for the same wait.
func TestPendingSlowButDelivering(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		delivered := i%10 != 0 // 0.9
		e.Observe(Outcome{Platform: "slow", Country: "us", Service: "tg", Delivered: delivered, Delay: logNormal(r, 90*time.Second, 0.3), At: c.now()})
		e.Observe(Outcome{Platform: "fast", Country: "us", Service: "tg", Delivered: delivered, Delay: logNormal(r, 10*time.Second, 0.3), At: c.now()})
	}
	slow0, fast0 := e.Estimate("slow", "us", "tg"), e.Estimate("fast", "us", "tg")
	for i := range 4 {
		buy(e, int64(100+i), "slow", c.now())
		buy(e, int64(200+i), "fast", c.now())
	}
	c.advance(60 * time.Second)
	if s := e.Estimate("slow", "us", "tg"); s.Pending != 0 {
		t.Fatalf("slow after 60 s: %v counted; want none (younger than its median)", s.Pending)
	}
	c.advance(40 * time.Second)
	s, f := e.Estimate("slow", "us", "tg"), e.Estimate("fast", "us", "tg")
	if s.P < slow0.P-0.03 {
		t.Errorf("slow after 100 s: P %.3f (%v counted), was %.3f; want about the same", s.P, s.Pending, slow0.P)
	}
	if f.P > fast0.P-0.05 || f.Pending != 4 {
		t.Errorf("fast after 100 s: P %.3f (%v counted), was %.3f; want clearly lower, 4 counted", f.P, f.Pending, fast0.P)
	}
	t.Logf("slow %.3f → %.3f, fast %.3f → %.3f", slow0.P, s.P, fast0.P, f.P)
	// A first code retires a number: it waits no more.
	for i := range 4 {
		e.Coded(int64(200 + i))
	}
	if f := e.Estimate("fast", "us", "tg"); f.Pending != 0 || math.Abs(f.P-fast0.P) > 0.005 {
		t.Errorf("fast after its codes: %+v; want the record alone (%.3f)", f, fast0.P)
	}
}

// TestPendingEndBeforePurchase: an order whose end is heard before its
// purchase (the poller ended it before the buyer reported it) is not left
// waiting.
func TestPendingEndBeforePurchase(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now})
	e.Observe(Outcome{Order: 7, Platform: "a", Country: "us", Service: "tg", Delivered: true, Delay: time.Second})
	buy(e, 7, "a", c.now())
	buy(e, 7, "a", c.now()) // and a purchase reported twice counts once
	buy(e, 8, "a", c.now())
	buy(e, 8, "a", c.now())
	if len(e.waiting) != 1 || e.pend[pairKey{"a", "us", "tg"}].live() != 1 {
		t.Fatalf("%d waiting; want 1 (order 8)", len(e.waiting))
	}
}

// TestPendingIsAmortisedO1: with many numbers waiting, each estimate moves
// the level pointers only past the numbers that aged past a level since,
// each number passing each level once; the counts stay exact.
func TestPendingIsAmortisedO1(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now})
	const n = 14_000 // a third end: the rest stay under maxPending
	estimates := 0
	for i := range n {
		buy(e, int64(i+1), "a", c.now())
		c.advance(10 * time.Millisecond)
		if i%7 == 0 {
			e.Estimate("a", "us", "tg")
			estimates++
		}
		if i%3 == 0 && i > 0 { // some end, out of purchase order
			e.Observe(Outcome{Order: int64(i), Platform: "a", Country: "us", Service: "tg", Delivered: true, Delay: time.Second})
		}
	}
	pp := e.pend[pairKey{"a", "us", "tg"}]
	if pp.moves > len(pendingLevels)*n {
		t.Fatalf("%d pointer steps for %d numbers and %d estimates; want at most %d", pp.moves, n, estimates, len(pendingLevels)*n)
	}
	// Exact counts: the numbers waiting longer than the pair's median
	// delay are counted.
	est := e.Estimate("a", "us", "tg")
	mu, _ := delayOf(e.m[pairKey{"a", "us", "tg"}])
	cut := c.now().Add(-time.Duration(math.Exp(mu) * float64(time.Second)))
	want := 0
	for _, o := range e.waiting {
		if !o.at.After(cut) {
			want++
		}
	}
	if live := pp.live(); live != len(e.waiting) {
		t.Fatalf("%d live in the pair, %d waiting by id", live, len(e.waiting))
	}
	if int(est.Pending) < want-2 || int(est.Pending) > want+2 {
		t.Fatalf("%v counted; want about %d", est.Pending, want)
	}
	if a := testing.AllocsPerRun(100, func() { e.Estimate("a", "us", "tg") }); a != 0 {
		t.Errorf("Estimate allocates %.0f times with numbers waiting; want 0", a)
	}
}

// TestPendingMemoryBound: numbers whose end is never heard are dropped at
// their lifetime, the queue compacts, and a pair holds at most maxPending.
func TestPendingMemoryBound(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now})
	for i := range 36_000 { // 10 hours, one a second, each living 5 minutes
		e.Bought(Purchase{Order: int64(i + 1), Platform: "a", Country: "us", Service: "tg", At: c.now(), Until: c.now().Add(5 * time.Minute)})
		c.advance(time.Second)
	}
	pp := e.pend[pairKey{"a", "us", "tg"}]
	if len(e.waiting) > 301 || pp.live() > 301 || cap(pp.q) > 4*301+64 {
		t.Fatalf("%d waiting, %d live, queue capacity %d; want the last 5 minutes' only", len(e.waiting), pp.live(), cap(pp.q))
	}
	for i := range maxPending + 500 { // all at once, long-lived
		buy(e, int64(1_000_000+i), "b", c.now())
	}
	if live := e.pend[pairKey{"b", "us", "tg"}].live(); live != maxPending {
		t.Fatalf("%d waiting on b; want the bound %d", live, maxPending)
	}
}

// TestProbeOncePerInterval: a stale pair is claimed once per interval,
// never while a number of it waits (so never two probes in flight); a
// failed probe doubles the interval, a delivered one makes it due at once.
func TestProbeOncePerInterval(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{Now: c.now, Probe: 90 * time.Second})
	ps := []string{"a", "b"}
	if i := e.ClaimProbe(ps, "us", "tg"); i != -1 {
		t.Fatalf("first sight: probe %d; want none (the interval starts now)", i)
	}
	buy(e, 1, "b", c.now()) // b is in use
	c.advance(90 * time.Second)
	if i := e.ClaimProbe(ps, "us", "tg"); i != 0 {
		t.Fatalf("a stale: probe %d; want 0 (b has a number waiting)", i)
	}
	if i := e.ClaimProbe(ps, "us", "tg"); i != -1 {
		t.Fatalf("claimed again at once: %d; want none", i)
	}
	buy(e, 2, "a", c.now()) // the probe's purchase
	c.advance(10 * time.Minute)
	e.Observe(Outcome{Order: 1, Platform: "b", Country: "us", Service: "tg", Delivered: true, Delay: time.Second})
	if i := e.ClaimProbe([]string{"a"}, "us", "tg"); i != -1 {
		t.Fatalf("probe of a while its probe waits: %d; want none", i)
	}
	e.Observe(Outcome{Order: 2, Platform: "a", Country: "us", Service: "tg"}) // failed
	c.advance(90 * time.Second)
	if i := e.ClaimProbe([]string{"a"}, "us", "tg"); i != 0 {
		t.Fatalf("a not bought for 11.5 min: probe %d; want 0", i)
	}
	buy(e, 3, "a", c.now())
	e.Observe(Outcome{Order: 3, Platform: "a", Country: "us", Service: "tg"}) // failed again
	c.advance(90 * time.Second)
	if i := e.ClaimProbe([]string{"a"}, "us", "tg"); i != -1 {
		t.Fatalf("90 s after a failed probe: %d; want none (interval doubled)", i)
	}
	c.advance(90 * time.Second)
	if i := e.ClaimProbe([]string{"a"}, "us", "tg"); i != 0 {
		t.Fatalf("180 s after a failed probe: %d; want a", i)
	}
	buy(e, 4, "a", c.now())
	c.advance(20 * time.Second)
	e.Coded(4) // delivered: due again at once
	if i := e.ClaimProbe([]string{"a"}, "us", "tg"); i != 0 {
		t.Fatalf("after a delivered probe: %d; want a again at once", i)
	}
	if i := NewEstimator(EstimatorOptions{Now: c.now}).ClaimProbe(ps, "us", "tg"); i != -1 {
		t.Fatalf("probes off: %d", i)
	}
}

// TestRouterProbesAFallenPlatform: value ranks first, for one purchase, a
// stale platform that would be best at its long-run rate, and not one that
// has always been poor.
func TestRouterProbesAFallenPlatform(t *testing.T) {
	c := newClock()
	g := New(config.Routing{HalfLife: time.Hour, GiveUp: 2 * time.Minute, ValueOfMinute: 0.25, Probe: 90 * time.Second, Strategy: "value"},
		nil, nil, rand.New(rand.NewPCG(1, 2)), c.now)
	e := g.Estimator()
	observe := func(p string, delivered bool) {
		e.Observe(Outcome{Platform: p, Country: "us", Service: "tg", Delivered: delivered, Delay: 20 * time.Second, At: c.now()})
	}
	for i := range 200 { // a: 0.9 for a long while, b: 0.75, poor: 0.3
		observe("a", i%10 != 0)
		observe("b", i%4 != 0)
		observe("poor", i%10 < 3)
		c.advance(10 * time.Second)
	}
	for range 8 { // a falls: its record restarts low
		observe("a", false)
	}
	plats := map[string]*platform.Platform{}
	for i, code := range []string{"a", "b", "poor"} {
		p := &platform.Platform{Code: code, Currency: "USD", Enabled: true, Priority: i + 1, Weight: 1, Rate: -1}
		p.Wire(platform.Wiring{Now: c.now})
		plats[code] = p
	}
	plan := func() Plan {
		var cs []Candidate
		for _, code := range []string{"a", "b", "poor"} {
			est := e.Estimate(code, "us", "tg")
			price := map[string]int64{"a": 450_000, "b": 400_000, "poor": 100_000}[code]
			cs = append(cs, Candidate{Platform: plats[code], BasePrice: price, Count: -1, Balance: -1, Rate: est.P,
				Evidence: est.Evidence, LongRun: est.LongRun, LongRunEvidence: est.LongRunEvidence, Delay: est.DelayMean, alpha: est.Alpha, beta: est.Beta})
		}
		p := Plan{Strategy: "value", Country: "us", Service: "tg", Candidates: cs}
		g.order(&p, false)
		return p
	}
	if e.Estimate("a", "us", "tg").P > 0.5 {
		t.Fatalf("a's record did not fall: %+v", e.Estimate("a", "us", "tg"))
	}
	plan() // first sight: the intervals start
	e.Bought(Purchase{Order: 1, Platform: "b", Country: "us", Service: "tg", At: c.now()})
	c.advance(2 * time.Minute)
	p := plan()
	if first := p.Candidates[0]; first.Platform.Code != "a" || !first.Probe {
		t.Fatalf("first %s (probe %v); want a probed", first.Platform.Code, first.Probe)
	}
	for _, x := range plan().Candidates {
		if x.Probe {
			t.Fatalf("%s probed twice in a row", x.Platform.Code)
		}
	}
	e.Bought(Purchase{Order: 2, Platform: "a", Country: "us", Service: "tg", At: c.now()}) // the probe's number
	// a's probe waits; poor, not bought for long, has always been poor.
	c.advance(10 * time.Minute)
	for _, x := range plan().Candidates {
		if x.Probe {
			t.Fatalf("%s probed; want none (a's probe waits, poor never worth it)", x.Platform.Code)
		}
	}
	// The probe failed: a is due again after twice the interval.
	e.Observe(Outcome{Order: 2, Platform: "a", Country: "us", Service: "tg", At: c.now()})
	c.advance(3 * time.Minute)
	if first := plan().Candidates[0]; first.Platform.Code != "a" || !first.Probe {
		t.Fatalf("first %s (probe %v); want a probed again", first.Platform.Code, first.Probe)
	}
}
