package simulator

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
)

var realStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// newRealMarket is a realistic market on a manual clock with money and
// stock enough for thousands of orders, fixed ids and a 1-unit base price.
func newRealMarket(mo Model, stock int) (*Market, *ManualClock) {
	c := NewManualClock(realStart)
	return New(Config{
		Clock: c, CodeDelay: 5 * time.Second, Stock: stock, BasePrice: adapters.Micro,
		Balance: 1_000_000 * adapters.Micro, IDOffset: -1, Model: &mo,
	}), c
}

func mild(delivery float64, median time.Duration, sigma float64) Params {
	return Params{Delivery: delivery, DelayMedian: median, DelaySigma: sigma}
}

// outcome is what happened to one order: its code's delay, or -1 when none
// came in its lifetime.
type outcome time.Duration

// buyN buys n orders of (country, service) now and returns their ids.
func buyN(t *testing.T, m *Market, country, service string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		o, err := m.Buy(BuyArgs{Country: country, Service: service})
		if err != nil {
			t.Fatalf("buy %d of %s/%s: %v", i, country, service, err)
		}
		ids[i] = o.ID
	}
	return ids
}

// results reads each order's outcome (call after its lifetime).
func results(t *testing.T, m *Market, ids []int64) []outcome {
	t.Helper()
	out := make([]outcome, len(ids))
	for i, id := range ids {
		o, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = -1
		if len(o.SMS) > 0 {
			out[i] = outcome(o.SMS[0].ReceivedAt.Sub(o.CreatedAt))
		}
	}
	return out
}

// delays splits outcomes into the delivered share and the sorted delays.
func delays(out []outcome) (share float64, ds []time.Duration) {
	for _, o := range out {
		if o >= 0 {
			ds = append(ds, time.Duration(o))
		}
	}
	slices.Sort(ds)
	return float64(len(ds)) / float64(len(out)), ds
}

func quantile(ds []time.Duration, q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }

// TestRealisticDeliveryAndDelay: over 4000 orders per pair the delivered
// share is the pair's probability within 0.02 (3 standard errors at
// n = 4000), and the delays' median and 90th percentile are the
// log-normal's within 6 %. A market that ignored the probability
// (always delivering), drew the delay uniformly or used the mean for the
// median would fall outside these bands.
func TestRealisticDeliveryAndDelay(t *testing.T) {
	mo := Model{Seed: 7, Name: "sim", Default: mild(0.7, 5*time.Second, 0.8),
		Pairs: map[PairKey]Params{{"ru", "tg"}: mild(0.3, 20*time.Second, 0.4)}}
	m, c := newRealMarket(mo, 10_000)
	const n = 4000
	us := buyN(t, m, "us", "wa", n)
	ru := buyN(t, m, "ru", "tg", n)
	c.Advance(21 * time.Minute)
	for _, tc := range []struct {
		name   string
		ids    []int64
		p      float64
		median time.Duration
		sigma  float64
	}{
		{"default us/wa", us, 0.7, 5 * time.Second, 0.8},
		{"pair ru/tg", ru, 0.3, 20 * time.Second, 0.4},
	} {
		share, ds := delays(results(t, m, tc.ids))
		if math.Abs(share-tc.p) > 0.02 {
			t.Errorf("%s: delivered %.3f of orders; want %.2f ± 0.02", tc.name, share, tc.p)
		}
		med, p90 := quantile(ds, 0.5), quantile(ds, 0.9)
		t.Logf("%s: share %.4f median %s p90 %s", tc.name, share, med, p90)
		wantP90 := time.Duration(float64(tc.median) * math.Exp(1.2816*tc.sigma))
		if r := float64(med) / float64(tc.median); math.Abs(r-1) > 0.06 {
			t.Errorf("%s: median delay %s; want %s ± 6%%", tc.name, med, tc.median)
		}
		if r := float64(p90) / float64(wantP90); math.Abs(r-1) > 0.06 {
			t.Errorf("%s: p90 delay %s; want %s ± 6%%", tc.name, p90, wantP90)
		}
	}
	// An order never delivered waits, then expires refunded.
	o, _ := m.Get(ru[slices.IndexFunc(results(t, m, ru), func(o outcome) bool { return o < 0 })])
	if o.State != adapters.StateExpired {
		t.Errorf("undelivered order: state %s; want expired", o.State)
	}
}

// TestRealisticSameSeedAnyInterleaving: the n-th order of a pair has the
// same outcome whichever goroutine interleaving of other pairs' purchases
// led to it, and another seed changes the outcomes.
func TestRealisticSameSeedAnyInterleaving(t *testing.T) {
	mo := Model{Seed: 42, Name: "hero", Default: mild(0.6, 8*time.Second, 1)}
	pairs := []PairKey{{"us", "wa"}, {"ru", "tg"}, {"kz", "go"}}
	const n = 300
	run := func(mo Model, concurrent bool, reverse bool) map[PairKey][]outcome {
		m, c := newRealMarket(mo, 10_000)
		ids := make([][]int64, len(pairs))
		order := slices.Clone(pairs)
		if reverse {
			slices.Reverse(order)
		}
		var wg sync.WaitGroup
		for _, k := range order {
			i := slices.Index(pairs, k)
			buy := func() {
				for range n {
					o, err := m.Buy(BuyArgs{Country: k.Country, Service: k.Service})
					if err != nil {
						t.Error(err)
						return
					}
					ids[i] = append(ids[i], o.ID)
				}
			}
			if concurrent {
				wg.Go(buy)
			} else {
				buy()
			}
		}
		wg.Wait()
		c.Advance(21 * time.Minute)
		out := map[PairKey][]outcome{}
		for i, k := range pairs {
			out[k] = results(t, m, ids[i])
		}
		return out
	}
	want := run(mo, false, false)
	for _, tc := range []struct {
		name                string
		concurrent, reverse bool
	}{{"pairs reversed", false, true}, {"pairs concurrent", true, false}, {"concurrent reversed", true, true}} {
		got := run(mo, tc.concurrent, tc.reverse)
		for _, k := range pairs {
			if !slices.Equal(got[k], want[k]) {
				t.Errorf("%s: outcomes of %s differ from the sequential run's", tc.name, k)
			}
		}
	}
	other := mo
	other.Seed = 43
	if slices.Equal(run(other, false, false)[pairs[0]], want[pairs[0]]) {
		t.Error("seed 43 gave seed 42's outcomes")
	}
	other = mo
	other.Name = "fivesim"
	if slices.Equal(run(other, false, false)[pairs[0]], want[pairs[0]]) {
		t.Error("another platform name on the same seed gave the same outcomes")
	}
}

// TestRealisticDrift: a pair's drop in delivery and growth of delay, and a
// platform-wide price rise, take effect at their time and no sooner; a
// recovery sets everything back; a pair's drift leaves other pairs alone.
func TestRealisticDrift(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	mo := Model{Seed: 3, Name: "sim", Default: mild(0.9, 4*time.Second, 0.5), Drift: []Drift{
		{At: 20 * time.Minute, Recover: true}, // given out of order: New sorts by At
		{At: 10 * time.Minute, Country: "ru", Service: "tg", Delivery: p(0.2), DelayFactor: 3},
		{At: 15 * time.Minute, PriceFactor: 2},
	}}
	m, c := newRealMarket(mo, 10_000)
	truth := func(k PairKey) Truth {
		t.Helper()
		tr, ok := m.Truth(k.Country, k.Service)
		if !ok {
			t.Fatalf("no truth for %s", k)
		}
		return tr
	}
	ru, us := PairKey{"ru", "tg"}, PairKey{"us", "wa"}
	base := truth(ru)
	if base.Delivery != 0.9 || base.DelayMedian != 4*time.Second || base.DelaySigma != 0.5 || base.Elapsed != 0 {
		t.Fatalf("at start: %+v", base)
	}
	usBase := truth(us)

	c.Advance(10*time.Minute - time.Nanosecond)
	if tr := truth(ru); tr.Delivery != 0.9 || tr.DelayMedian != 4*time.Second {
		t.Errorf("just before the drift: %+v", tr)
	}
	c.Advance(time.Nanosecond)
	if tr := truth(ru); tr.Delivery != 0.2 || tr.DelayMedian != 12*time.Second || tr.Price != base.Price {
		t.Errorf("at the drift: %+v; want delivery 0.2, median 12s, price unchanged", tr)
	}
	if tr := truth(us); tr.Delivery != 0.9 || tr.DelayMedian != 4*time.Second {
		t.Errorf("another pair at the drift: %+v; want unchanged", tr)
	}
	// Orders bought after the drift see it.
	ids := buyN(t, m, "ru", "tg", 2000)
	c.Advance(5 * time.Minute)
	if tr := truth(ru); tr.Price != 2*base.Price || tr.Delivery != 0.2 {
		t.Errorf("at the price drift: %+v; want price %d", tr, 2*base.Price)
	}
	if tr := truth(us); tr.Price != 2*usBase.Price {
		t.Errorf("another pair at the price drift: price %d; want %d", tr.Price, 2*usBase.Price)
	}
	if o, err := m.Buy(BuyArgs{Country: "us", Service: "wa"}); err != nil || o.Price != 2*usBase.Price {
		t.Errorf("buy at the price drift: %+v, %v; want price %d", o, err, 2*usBase.Price)
	}
	c.Advance(5 * time.Minute)
	if tr := truth(ru); tr.Delivery != 0.9 || tr.DelayMedian != 4*time.Second || tr.Price != base.Price {
		t.Errorf("after the recovery: %+v; want the start's", tr)
	}
	share, ds := delays(results(t, m, ids))
	if math.Abs(share-0.2) > 0.03 {
		t.Errorf("orders bought during the drift: delivered %.3f; want 0.2 ± 0.03", share)
	}
	if med := quantile(ds, 0.5); math.Abs(float64(med)/float64(12*time.Second)-1) > 0.1 {
		t.Errorf("orders bought during the drift: median delay %s; want 12s ± 10%%", med)
	}
}

// TestRealisticStockRefill: stock runs out (NO_NUMBERS), then comes back
// at its rate of clock time, whole numbers only, up to its cap.
func TestRealisticStockRefill(t *testing.T) {
	prm := mild(1, 3*time.Second, 0)
	prm.RefillPerMinute = 2
	m, c := newRealMarket(Model{Seed: 1, Default: prm}, 3) // cap = stock = 3
	buyN(t, m, "us", "wa", 3)
	if _, err := m.Buy(BuyArgs{Country: "us", Service: "wa"}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy from empty stock: %v; want ErrNoNumbers", err)
	}
	stock := func() int { tr, _ := m.Truth("us", "wa"); return tr.Stock }
	c.Advance(29 * time.Second)
	if s := stock(); s != 0 {
		t.Errorf("29 s after selling out: stock %d; want 0 (one number per 30 s)", s)
	}
	c.Advance(time.Second)
	if s := stock(); s != 1 {
		t.Errorf("30 s after selling out: stock %d; want 1", s)
	}
	c.Advance(45 * time.Second) // 75 s: 2 numbers, 15 s towards the third
	if offers := m.Offers("us", "wa"); len(offers) != 1 || offers[0].Count != 2 {
		t.Errorf("75 s after selling out: offers %+v; want count 2", offers)
	}
	buyN(t, m, "us", "wa", 2)
	c.Advance(15 * time.Second) // the fraction carried over: 90 s = 3 numbers in all
	if s := stock(); s != 1 {
		t.Errorf("90 s after selling out, 2 bought back: stock %d; want 1", s)
	}
	c.Advance(10 * time.Minute)
	if s := stock(); s != 3 {
		t.Errorf("long after: stock %d; want the cap 3", s)
	}
}

// TestRealisticPriceWalk: prices move each interval, stay within their
// bounds, and the price at a time does not depend on how often it was
// read on the way.
func TestRealisticPriceWalk(t *testing.T) {
	prm := mild(1, time.Second, 0)
	prm.PriceStep, prm.PriceInterval, prm.PriceMin, prm.PriceMax = 0.1, time.Minute, 0.8, 1.25
	mo := Model{Seed: 5, Name: "sim", Default: prm}
	m, c := newRealMarket(mo, 10)
	start, _ := m.Truth("us", "wa")
	lo, hi := float64(start.Price)*0.8, float64(start.Price)*1.25
	cent := float64(adapters.Micro / 100)
	seen := map[int64]bool{}
	var low, high int64 = math.MaxInt64, 0
	for range 500 {
		c.Advance(time.Minute)
		tr, _ := m.Truth("us", "wa")
		if p := float64(tr.Price); p < lo-cent || p > hi+cent {
			t.Fatalf("at +%s: price %d outside [%.0f, %.0f]", tr.Elapsed, tr.Price, lo, hi)
		}
		seen[tr.Price] = true
		low, high = min(low, tr.Price), max(high, tr.Price)
	}
	if len(seen) < 20 || float64(low) > lo*1.05 || float64(high) < hi*0.95 {
		t.Errorf("500 steps: %d prices within [%d, %d]; want a walk that reaches both bounds", len(seen), low, high)
	}
	other, c2 := newRealMarket(mo, 10)
	c2.Advance(500 * time.Minute)
	got, _ := other.Truth("us", "wa")
	want, _ := m.Truth("us", "wa")
	if got.Price != want.Price {
		t.Errorf("read once at +500m: price %d; read every minute: %d", got.Price, want.Price)
	}
	// A fixed-price model keeps the configured prices.
	fixed, c3 := newRealMarket(Model{Seed: 5, Default: mild(1, time.Second, 0)}, 10)
	c3.Advance(time.Hour)
	if tr, _ := fixed.Truth("us", "wa"); tr.Price != start.Price {
		t.Errorf("price step 0: price %d; want %d", tr.Price, start.Price)
	}
}

// TestRealisticAnotherSMS: a request for another SMS is drawn like the
// first, from the order's own generator.
func TestRealisticAnotherSMS(t *testing.T) {
	m, c := newRealMarket(Model{Seed: 1, Default: mild(1, 10*time.Second, 0)}, 10)
	o, _ := m.Buy(BuyArgs{Country: "us", Service: "wa"})
	c.Advance(10 * time.Second)
	if o, _ = m.Get(o.ID); len(o.SMS) != 1 {
		t.Fatalf("after the median: %+v", o)
	}
	if _, err := m.RequestAnother(o.ID); err != nil {
		t.Fatal(err)
	}
	c.Advance(10 * time.Second)
	if o, _ = m.Get(o.ID); len(o.SMS) != 2 {
		t.Fatalf("another SMS: %+v", o)
	}
}

// TestDefaultMarketUnchanged: without a model every SMS comes exactly
// CodeDelay after purchase at the configured stable prices, stock never
// refills, and Truth and Describe say so.
func TestDefaultMarketUnchanged(t *testing.T) {
	m, c := newTestMarket(7 * time.Second) // stock 2
	ids := make([]int64, 2)
	for i := range ids {
		o, err := m.Buy(BuyArgs{Country: "us", Service: "wa"})
		if err != nil || o.Price != stablePrice(adapters.Micro, "us", "wa") {
			t.Fatalf("buy = %+v, %v", o, err)
		}
		ids[i] = o.ID
	}
	tr, ok := m.Truth("us", "wa")
	if !ok || tr.Delivery != 1 || tr.DelayMedian != 7*time.Second || tr.DelaySigma != 0 || tr.Stock != 0 {
		t.Errorf("truth = %+v, %v", tr, ok)
	}
	c.Advance(7 * time.Second)
	for _, id := range ids {
		if o, _ := m.Get(id); len(o.SMS) != 1 || o.SMS[0].ReceivedAt.Sub(o.CreatedAt) != 7*time.Second {
			t.Errorf("order %d: %+v; want its SMS at 7 s", id, o)
		}
	}
	c.Advance(time.Hour)
	if o := m.Offers("us", "wa"); o[0].Count != 0 || o[0].Price != stablePrice(adapters.Micro, "us", "wa") {
		t.Errorf("an hour later: %+v; want no refill, the same price", o)
	}
	if d := m.Describe(); !strings.Contains(d, "every SMS 7s after purchase") || m.Model() != nil {
		t.Errorf("describe = %q", d)
	}
}

// TestModelValidate: each parameter out of range is named; New refuses an
// invalid model.
func TestModelValidate(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	ok := mild(0.9, time.Second, 0.5)
	bad := ok
	bad.Delivery, bad.DelaySigma, bad.PriceStep = 1.5, -1, 0.1
	mo := Model{Default: Params{Delivery: math.NaN()}, Pairs: map[PairKey]Params{{"ru", "tg"}: bad}, Drift: []Drift{
		{At: -time.Second, Delivery: p(2)},
		{Country: "ru"},
		{Recover: true, PriceFactor: 2},
		{DelayFactor: -1},
	}}
	err := mo.Validate()
	for _, want := range []string{
		"default: delivery must be a probability 0..1, got NaN",
		"default: delay median must be > 0, got 0s",
		"pair ru/tg: delivery must be a probability 0..1, got 1.5",
		"pair ru/tg: delay sigma must be 0..5, got -1",
		"pair ru/tg: price interval must be > 0 with a price step",
		"pair ru/tg: price bounds must hold 0 < min <= 1 <= max",
		"drift[0]: at must be >= 0, got -1s",
		"drift[0]: delivery must be a probability 0..1, got 2",
		"drift[1]: give both country and service",
		"drift[1]: changes nothing",
		"drift[2]: a recovery changes nothing else",
		"drift[3]: delay factor must be > 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v\nwant it to say %q", err, want)
		}
	}
	if err := (&Model{Default: ok, Drift: []Drift{{At: time.Minute, Recover: true}}}).Validate(); err != nil {
		t.Errorf("valid model: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted an invalid model")
		}
	}()
	New(Config{Model: &mo})
}

// TestModelDescribe: every parameter and drift entry is printed, in a
// fixed order, so a run can be reproduced from its output.
func TestModelDescribe(t *testing.T) {
	p := 0.2
	mo := Model{Seed: 9, Name: "hero", Default: mild(0.95, 3*time.Second, 0.6),
		Pairs: map[PairKey]Params{{"ru", "tg"}: mild(0.8, 6*time.Second, 1)},
		Drift: []Drift{{At: 30 * time.Minute, Recover: true}, {At: 10 * time.Minute, Country: "ru", Service: "tg", Delivery: &p}}}
	m, _ := newRealMarket(mo, 500)
	got := m.Describe()
	want := `market hero: seed 9
  default: delivery 0.95, delay median 3s sigma 0.6, no refill, fixed prices
  ru/tg: delivery 0.8, delay median 6s sigma 1, no refill, fixed prices
  drift at +10m0s, ru/tg: delivery 0.2
  drift at +30m0s, every pair: recover
  stock 500 per pair at start, lifetime 20m0s, cancel guard 2m0s
`
	if got != want {
		t.Errorf("describe:\n%s\nwant:\n%s", got, want)
	}
}
