package route

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/ledger"
)

// clock is a manual clock for the estimator.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

// logNormal draws a delay with the given median and log-spread.
func logNormal(r *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
}

// TestEstimatorConverges: with a known delivery probability and
// log-normal delay, the estimates converge to them (evidence uncapped,
// so the only error is the sample's).
func TestEstimatorConverges(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: time.Hour, MaxEvidence: 1e9, Now: c.now})
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		c.advance(5 * time.Second)
		ok := r.Float64() < 0.8
		e.Observe(Outcome{Platform: "a", Country: "us", Service: "tg", Delivered: ok, Delay: logNormal(r, 20*time.Second, 0.6)})
	}
	got := e.Estimate("a", "us", "tg")
	if math.Abs(got.P-0.8) > 0.03 {
		t.Errorf("P = %.3f; want 0.80 ± 0.03", got.P)
	}
	if m := got.DelayMedian.Seconds(); math.Abs(m-20) > 2 {
		t.Errorf("median delay %.1fs; want 20 ± 2", m)
	}
	// Log-normal mean: 20 s · e^(0.6²/2) = 23.9 s.
	if m := got.DelayMean.Seconds(); math.Abs(m-23.9) > 2.5 {
		t.Errorf("mean delay %.1fs; want 23.9 ± 2.5", m)
	}
	// (A change detected by chance restarts the delivery record, not the
	// delay's, so the two need not compare.)
	if got.Evidence < 500 || got.DelayEvidence < 500 {
		t.Errorf("evidence %.0f, delay evidence %.0f", got.Evidence, got.DelayEvidence)
	}
	// A pair with no record is the prior.
	if p := e.Estimate("a", "us", "wa"); p.P != priorRate || p.DelayMedian != priorDelayMedian || p.Evidence != 0 {
		t.Errorf("no record: %+v", p)
	}
}

// TestEstimatorDecays: old evidence fades with the half-life, and a drift
// from 0.9 to 0.2 is followed within a few orders (change detection).
func TestEstimatorDecays(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now})
	for i := 0; i < 10; i++ {
		e.Record("a", "us", "tg", true)
	}
	c.advance(2 * time.Hour)
	if got := e.Estimate("a", "us", "tg").Evidence; math.Abs(got-2.5) > 1e-9 {
		t.Errorf("evidence after two half-lives %.3f; want 2.5", got)
	}

	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		c.advance(time.Second)
		e.Record("b", "us", "tg", r.Float64() < 0.9)
	}
	if p := e.Estimate("b", "us", "tg").P; p < 0.8 {
		t.Fatalf("before the drift P = %.2f; want about 0.9", p)
	}
	n := 0
	for ; e.Estimate("b", "us", "tg").P >= 0.5; n++ {
		if n > 200 {
			t.Fatal("still above 0.5 after 200 orders at 0.2")
		}
		c.advance(time.Second)
		e.Record("b", "us", "tg", r.Float64() < 0.2)
	}
	if n > 10 {
		t.Errorf("P fell under 0.5 after %d orders at 0.2; want within 10", n)
	}
	t.Logf("P under 0.5 after %d orders", n)
}

// TestEstimatorDetectsChange: a steady platform's record grows to the cap
// and is seldom restarted by chance; a fall from 0.9 to 0.2 restarts it
// within a few orders, from those orders, and so does a return to 0.9
// of a platform long at 0.2.
func TestEstimatorDetectsChange(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now})
	r := rand.New(rand.NewPCG(11, 12))
	rec := func() *decayed { return e.m[pairKey{"a", "us", "tg"}] }
	for i := 0; i < 5000; i++ {
		c.advance(time.Second)
		e.Record("a", "us", "tg", r.Float64() < 0.9)
	}
	if got := rec().restarts; got > 2 {
		t.Errorf("%d restarts in 5000 orders at 0.9; want at most 2 (about one in 7000)", got)
	}
	if est := e.Estimate("a", "us", "tg"); est.Evidence < DefaultMaxEvidence-1 || math.Abs(est.P-0.9) > 0.05 {
		t.Errorf("steady record: %+v; want evidence at the cap %d and P about 0.9", est, DefaultMaxEvidence)
	}
	before := rec().restarts
	n := 0
	for ; rec().restarts == before; n++ {
		if n > 20 {
			t.Fatal("no change detected within 20 orders at 0.2")
		}
		c.advance(time.Second)
		e.Record("a", "us", "tg", r.Float64() < 0.2)
	}
	est := e.Estimate("a", "us", "tg")
	if n > 8 || est.P > 0.6 || est.Evidence > 10 {
		t.Errorf("fall detected after %d orders, then %+v; want within 8, P under 0.6 from the last few orders (and the long-run prior)", n, est)
	}
	for i := 0; i < 300; i++ {
		c.advance(time.Second)
		e.Record("a", "us", "tg", r.Float64() < 0.2)
	}
	before = rec().restarts
	n = 0
	for ; rec().restarts == before; n++ {
		if n > 20 {
			t.Fatal("no return detected within 20 orders at 0.9")
		}
		c.advance(time.Second)
		e.Record("a", "us", "tg", r.Float64() < 0.9)
	}
	if n > 10 || e.Rate("a", "us", "tg") < 0.7 {
		t.Errorf("return detected after %d orders, P %.2f; want within 10 and P over 0.7", n, e.Rate("a", "us", "tg"))
	}
}

// TestEstimatorFadesToItsOwnRecord: as a pair's record fades, its
// estimate falls back to the pair's long-run rate, not to the prior of a
// platform never tried; only over many half-lives does that go too.
func TestEstimatorFadesToItsOwnRecord(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now})
	for i := 0; i < 100; i++ {
		c.advance(time.Second)
		e.Record("a", "us", "tg", i%10 < 3) // 30 %
	}
	c.advance(4 * time.Hour)
	est := e.Estimate("a", "us", "tg")
	if est.Evidence > 10 || est.P > 0.4 {
		t.Errorf("four half-lives on: evidence %.1f, P %.2f; want a faded record and P near 0.3, not %.1f", est.Evidence, est.P, priorRate)
	}
	c.advance(80 * time.Hour)
	if p := e.Rate("a", "us", "tg"); math.Abs(p-priorRate) > 0.02 {
		t.Errorf("80 half-lives on: P %.2f; want the prior %.1f", p, priorRate)
	}
}

// TestThompsonLeavesAFallenPlatform: two platforms at one price, a
// delivering 90 % and b 70 %; value (Thompson draws) sends most orders to
// a, and once a falls to 20 % its share of the last 20 orders goes under
// 20 % within 50 orders.
func TestThompsonLeavesAFallenPlatform(t *testing.T) {
	c := newClock()
	g := New(config.Routing{HalfLife: time.Hour, GiveUp: 2 * time.Minute, ValueOfMinute: 0.05}, nil, nil,
		rand.New(rand.NewPCG(5, 6)), c.now)
	world := rand.New(rand.NewPCG(7, 8))
	truth := map[string]float64{"a": 0.9, "b": 0.7}
	pick := func() string {
		best, score := "", math.Inf(1)
		for _, p := range []string{"a", "b"} {
			est := g.Estimator().Estimate(p, "us", "tg")
			if s := g.value(300_000, g.sampleBeta(est.Alpha, est.Beta), est.DelayMean); s < score {
				best, score = p, s
			}
		}
		return best
	}
	var last []string
	share := func(p string) float64 {
		k := 0
		for _, q := range last {
			if q == p {
				k++
			}
		}
		return float64(k) / float64(len(last))
	}
	step := func() {
		p := pick()
		c.advance(3 * time.Second)
		g.Estimator().Observe(Outcome{Platform: p, Country: "us", Service: "tg", Delivered: world.Float64() < truth[p], Delay: 20 * time.Second})
		last = append(last, p)
		if len(last) > 20 {
			last = last[1:]
		}
	}
	for i := 0; i < 300; i++ {
		step()
	}
	if s := share("a"); s < 0.6 {
		t.Fatalf("before the drift a's share of the last 20 orders %.2f; want most", s)
	}
	truth["a"] = 0.2
	n := 0
	for ; n < 20 || share("a") >= 0.2; n++ {
		if n > 200 {
			t.Fatal("a still has 20 % of the orders 200 orders after its fall")
		}
		step()
	}
	if n > 50 {
		t.Errorf("a's share of the last 20 orders fell under 20 %% after %d orders; want within 50", n)
	}
	t.Logf("a's share under 20 %% after %d orders", n)
}

// TestValuePrefersDelivery: value is money plus priced waiting, and a
// lower delivery probability is always worse.
func TestValuePrefersDelivery(t *testing.T) {
	g := New(config.Routing{GiveUp: 2 * time.Minute, ValueOfMinute: 0.05}, nil, nil, rand.New(rand.NewPCG(1, 1)), time.Now)
	// p = 1: price plus the delay: 0.30 + 0.05 × 0.5 min.
	if got := g.value(300_000, 1, 30*time.Second); math.Abs(got-325_000) > 1e-6 {
		t.Errorf("value at p=1: %.0f; want 325000", got)
	}
	// p = 0.5: one failed number on average, 2 minutes more.
	if got := g.value(300_000, 0.5, 30*time.Second); math.Abs(got-425_000) > 1e-6 {
		t.Errorf("value at p=0.5: %.0f; want 425000", got)
	}
	prev := math.Inf(1)
	for p := 0.01; p <= 1; p += 0.01 {
		v := g.value(300_000, p, 30*time.Second)
		if v >= prev {
			t.Fatalf("value at p=%.2f (%.0f) not below p-0.01's (%.0f)", p, v, prev)
		}
		prev = v
	}
}

// TestSampleBeta: draws average to the Beta mean and stay in [0, 1]; the
// same seed gives the same draws.
func TestSampleBeta(t *testing.T) {
	for _, ab := range [][2]float64{{3, 7}, {0.5, 0.5}, {40, 2}} {
		g := New(config.Routing{}, nil, nil, rand.New(rand.NewPCG(9, 9)), time.Now)
		h := New(config.Routing{}, nil, nil, rand.New(rand.NewPCG(9, 9)), time.Now)
		sum := 0.0
		const n = 20000
		for i := 0; i < n; i++ {
			x := g.sampleBeta(ab[0], ab[1])
			if x < 0 || x > 1 || x != h.sampleBeta(ab[0], ab[1]) {
				t.Fatalf("Beta%v draw %v", ab, x)
			}
			sum += x
		}
		if want := ab[0] / (ab[0] + ab[1]); math.Abs(sum/n-want) > 0.01 {
			t.Errorf("Beta%v mean of draws %.3f; want %.3f", ab, sum/n, want)
		}
	}
}

// ledgerWith opens a SQLite ledger in a temporary directory.
func ledgerWith(t *testing.T) ledger.Store {
	s, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "l.db"), ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// endOrder writes an order that ended at c's time into s, as the gateway
// does, and returns what an estimator learns from it.
func endOrder(t *testing.T, s ledger.Store, c *clock, i int, platform string, delivered bool, delay time.Duration) Outcome {
	created := c.now().Add(-delay - time.Second)
	o := ledger.Order{Tenant: "t", Platform: platform, UpstreamID: fmt.Sprintf("u%d", i), Phone: "1", Country: "us", Service: "tg",
		State: adapters.StateCancelled, Price: adapters.Money{Micros: 1, Currency: "USD"}, BasePrice: adapters.Money{Micros: 1, Currency: "USD"},
		CreatedAt: created, UpdatedAt: c.now(), ExpiresAt: created.Add(20 * time.Minute)}
	if delivered {
		o.State = adapters.StateFinished
		o.Codes = []ledger.Code{{Code: "1", Text: "1", ReceivedAt: created.Add(delay)}}
	}
	if err := s.Create(context.Background(), &o); err != nil {
		t.Fatal(err)
	}
	out := Outcome{Order: o.ID, Platform: platform, Country: "us", Service: "tg", Delivered: delivered, At: o.UpdatedAt}
	if delivered {
		out.Delay = delay
	}
	return out
}

func same(a, b Estimate) bool {
	close := func(x, y float64) bool { return math.Abs(x-y) < 1e-9*max(1, math.Abs(x)) }
	return close(a.Alpha, b.Alpha) && close(a.Beta, b.Beta) && close(a.Evidence, b.Evidence) &&
		close(a.DelayEvidence, b.DelayEvidence) && (a.DelayMedian-b.DelayMedian).Abs() < time.Microsecond &&
		(a.DelayMean-b.DelayMean).Abs() < time.Microsecond
}

// TestEstimatorRestartsFromLedger: a new estimator loaded from the ledger
// (the first Refresh) holds the estimates of the one that saw the orders
// end.
func TestEstimatorRestartsFromLedger(t *testing.T) {
	c := newClock()
	s := ledgerWith(t)
	live := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now})
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 60; i++ {
		c.advance(7 * time.Second)
		p := []string{"a", "b"}[i%2]
		live.Observe(endOrder(t, s, c, i, p, r.Float64() < 0.6, logNormal(r, 25*time.Second, 0.5).Truncate(time.Millisecond)))
	}
	c.advance(10 * time.Minute)
	restarted := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now})
	if n, full, err := restarted.Refresh(context.Background(), s); err != nil || n != 60 || full {
		t.Fatalf("load: %d orders, full %v, %v; want 60", n, full, err)
	}
	for _, p := range []string{"a", "b"} {
		want, got := live.Estimate(p, "us", "tg"), restarted.Estimate(p, "us", "tg")
		if !same(got, want) {
			t.Errorf("%s after restart %+v; want %+v", p, got, want)
		}
	}
	if d, n := restarted.Platform("a"); d == 0 || n == 0 {
		t.Errorf("platform record after restart: %v of %v", d, n)
	}
}

// TestEstimatorSharedThroughLedger: two instances over one ledger; orders
// one ends reach the other's estimates at its next refresh, and an
// instance's own orders (counted as they ended, then read back) and
// orders read by two overlapping refreshes count once.
func TestEstimatorSharedThroughLedger(t *testing.T) {
	c := newClock()
	s := ledgerWith(t)
	ctx := context.Background()
	one := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Share: true, Now: c.now})
	two := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Share: true, Now: c.now})
	all := NewEstimator(EstimatorOptions{HalfLife: time.Hour, Now: c.now}) // every order once
	for _, e := range []*Estimator{one, two} {
		if _, _, err := e.Refresh(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	i := 0
	round := func() {
		for k := 0; k < 10; k++ {
			c.advance(time.Second)
			o := endOrder(t, s, c, i, "a", r.Float64() < 0.5, 15*time.Second)
			all.Observe(o)
			if i%3 == 0 {
				two.Observe(o)
			} else {
				one.Observe(o)
			}
			i++
		}
	}
	for rounds := 0; rounds < 4; rounds++ {
		round()
		for _, e := range []*Estimator{one, two} {
			if _, _, err := e.Refresh(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		want := all.Estimate("a", "us", "tg")
		for name, e := range map[string]*Estimator{"one": one, "two": two} {
			got := e.Estimate("a", "us", "tg")
			// The order of counting differs (own orders first), so once
			// capped the weights may differ a little; the platform's
			// uncapped record (below) shows nothing counts twice.
			if math.Abs(got.Evidence-want.Evidence) > 0.05 || math.Abs(got.DelayEvidence-want.DelayEvidence) > 0.05 {
				t.Fatalf("round %d: %s evidence %.3f (delay %.3f); want %.3f (%.3f)", rounds, name,
					got.Evidence, got.DelayEvidence, want.Evidence, want.DelayEvidence)
			}
			if math.Abs(got.P-want.P) > 0.05 {
				t.Errorf("round %d: %s P %.3f; want %.3f", rounds, name, got.P, want.P)
			}
		}
		// A refresh with nothing new counts nothing.
		if n, _, err := one.Refresh(ctx, s); err != nil || n != 0 {
			t.Fatalf("refresh again: %d, %v; want 0", n, err)
		}
	}
	if _, total := one.Platform("a"); math.Abs(total-func() float64 { _, n := all.Platform("a"); return n }()) > 1e-9 {
		t.Errorf("platform record %.3f differs from every order once", total)
	}
}

// TestEstimatorSeesReturnToLongRun: a platform long at 0.9 falls to 0.2;
// when it is back, 3 or 4 deliveries in a row restart its record (the
// test against its long-run rate; the GLR alone waits for 6 to 9); and
// while it stays at 0.2, runs of luck seldom pass for a return.
func TestEstimatorSeesReturnToLongRun(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: 2 * time.Hour, Now: c.now})
	rec := func() *decayed { return e.m[pairKey{"a", "us", "tg"}] }
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 2000; i++ {
		c.advance(time.Second)
		e.Record("a", "us", "tg", r.Float64() < 0.9)
	}
	// The fall: a failure every order but one in five, a minute apart (a
	// fallen platform is bought seldom).
	for i := 0; i < 30; i++ {
		c.advance(time.Minute)
		e.Record("a", "us", "tg", i%5 == 2)
	}
	est := e.Estimate("a", "us", "tg")
	if est.P > 0.4 || est.LongRun < 0.8 {
		t.Fatalf("after the fall: %+v; want P under 0.4 and a long-run rate still about 0.9", est)
	}
	// From a record of about 0.3 the 3rd delivery in a row is right at
	// the threshold; the 4th passes it.
	before := rec().restarts
	n := 0
	for ; rec().restarts == before; n++ {
		if n == 4 {
			t.Fatalf("no return seen after 4 deliveries in a row (P %.2f)", e.Rate("a", "us", "tg"))
		}
		c.advance(time.Minute)
		e.Record("a", "us", "tg", true)
	}
	if n < 3 {
		t.Errorf("a return seen after %d deliveries in a row; want at least 3", n)
	}
	if p := e.Rate("a", "us", "tg"); p < 0.8 {
		t.Errorf("P %.2f after the return; want over 0.8 (the tail and the long-run prior)", p)
	}

	// False returns: at 0.2, from a long run of 0.9, over 8 seeds × 100
	// orders. A tail passes 3 nats by chance about once in 125 orders (3
	// or 4 deliveries in a row at 0.2); each then costs a few orders until
	// the fall is seen again.
	falses := 0
	for seed := uint64(0); seed < 8; seed++ {
		c := newClock()
		e := NewEstimator(EstimatorOptions{HalfLife: 2 * time.Hour, Now: c.now})
		r := rand.New(rand.NewPCG(seed, 99))
		for i := 0; i < 2000; i++ {
			c.advance(time.Second)
			e.Record("a", "us", "tg", r.Float64() < 0.9)
		}
		for i := 0; i < 20; i++ { // the fall, detected
			c.advance(time.Minute)
			e.Record("a", "us", "tg", false)
		}
		for i := 0; i < 100; i++ {
			c.advance(time.Minute)
			if e.Rate("a", "us", "tg") > 0.6 { // passed for a return
				falses++
			}
			e.Record("a", "us", "tg", r.Float64() < 0.2)
		}
	}
	// 800 orders: an estimate above 0.6 in at most 6 % of them (39 with
	// these seeds: about 8 false returns of about 5 orders each).
	if falses > 48 {
		t.Errorf("%d of 800 orders at 0.2 were estimated above 0.6; want at most 48", falses)
	}
	t.Logf("%d of 800 orders at 0.2 estimated above 0.6", falses)
}

// TestEstimatorKeepsASeldomPairNarrow: a pair bought once in 10 minutes
// keeps up to longRunWeight orders of what it has been in its prior, so
// its posterior does not fade back to the width of a platform never
// tried; a change detected on another pair empties that part of its
// prior.
func TestEstimatorKeepsASeldomPairNarrow(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: 2 * time.Hour, Now: c.now})
	for i := 0; i < 144; i++ { // a day at 40 %
		c.advance(10 * time.Minute)
		e.Record("c", "us", "tg", i%5 < 2)
	}
	est := e.Estimate("c", "us", "tg")
	if n := est.Alpha + est.Beta; n < est.Evidence+priorWeight+longRunWeight-0.5 {
		t.Errorf("posterior of %.1f orders from a record of %.1f: want the prior to carry %.0f + %.0f more", n, est.Evidence, priorWeight, longRunWeight)
	}
	if math.Abs(est.P-0.4) > 0.05 {
		t.Errorf("P %.2f; want about 0.4", est.P)
	}
	// A pair long at 0.9 falls to nothing: the change detected, the old
	// regime no longer speaks for the new one.
	for i := 0; i < 1000; i++ {
		c.advance(time.Second)
		e.Record("d", "us", "tg", i%10 != 0)
	}
	d := e.m[pairKey{"d", "us", "tg"}]
	for i := 0; d.restarts == 0; i++ {
		if i == 20 {
			t.Fatal("no change detected after 20 failures in a row at 0.9")
		}
		c.advance(time.Second)
		e.Record("d", "us", "tg", false)
	}
	est = e.Estimate("d", "us", "tg")
	if n := est.Alpha + est.Beta; n > est.Evidence+priorWeight+1 || est.P > 0.6 {
		t.Errorf("after the change: posterior of %.1f orders from a record of %.1f, P %.2f; want only the %.0f of the plain prior besides", n, est.Evidence, est.P, priorWeight)
	}
}

// TestEstimatorPlatformRecordHalfLife: a platform's record over every
// pair (what a vendor's success floor reads) halves in platformHalfLife
// whatever routing's half-life.
func TestEstimatorPlatformRecordHalfLife(t *testing.T) {
	c := newClock()
	e := NewEstimator(EstimatorOptions{HalfLife: 6 * time.Hour, Now: c.now})
	for i := 0; i < 10; i++ {
		e.Record("a", "us", "tg", true)
	}
	c.advance(platformHalfLife)
	if _, total := e.Platform("a"); math.Abs(total-5) > 1e-9 {
		t.Errorf("platform record after one platformHalfLife: %.3f orders; want 5", total)
	}
	if ev := e.Estimate("a", "us", "tg").Evidence; math.Abs(ev-10*math.Exp2(-1.0/6)) > 1e-9 {
		t.Errorf("pair record after an hour at a 6h half-life: %.3f; want %.3f", ev, 10*math.Exp2(-1.0/6))
	}
}
