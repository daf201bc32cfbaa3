package simulator

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"smsgate/adapters"
)

// The realistic market's mechanics (a Model set in Config): per-order
// draws, stock refill and the price walk. Every one is lazy, as the order
// events are: refill and price steps are worked out for a pair when the
// pair is next read, from the market clock, so nothing runs between calls
// and a ManualClock drives them all.

// realism is a market's resolved Model and the state it keeps per pair;
// guarded by Market.mu.
type realism struct {
	Model
	start    time.Time       // the market clock at New: drift counts from it
	seq      map[pair]uint64 // orders sold per pair: the next one's sequence number
	refillAt map[pair]int64  // Unix ns from which the pair's refill is counted
	walks    map[pair]walk   // price walk state per pair
	keys     map[pair]uint64 // hash of (Seed, Name, pair), memoised
}

// walk is a pair's price walk: its factor after steps intervals.
type walk struct {
	factor float64
	steps  int64
}

// newRealism resolves mo for a market of cfg (defaults applied) whose clock
// reads now; it panics on a model Validate refuses (configuration is
// validated before a market is built: an invalid one here is a bug).
func newRealism(mo Model, cfg Config, now time.Time) *realism {
	if err := mo.Validate(); err != nil {
		panic("simulator: invalid model: " + err.Error())
	}
	fill := func(p Params) Params {
		if p.StockCap == 0 {
			p.StockCap = cfg.Stock
		}
		return p
	}
	mo.Default = fill(mo.Default)
	mo.Pairs = maps.Clone(mo.Pairs)
	for k, p := range mo.Pairs {
		mo.Pairs[k] = fill(p)
	}
	mo.Drift = slices.Clone(mo.Drift)
	slices.SortStableFunc(mo.Drift, func(a, b Drift) int { return cmp.Compare(a.At, b.At) })
	return &realism{
		Model:    mo,
		start:    now,
		seq:      map[pair]uint64{},
		refillAt: map[pair]int64{},
		walks:    map[pair]walk{},
		keys:     map[pair]uint64{},
	}
}

// pairKey is the hash every draw of p starts from.
func (r *realism) pairKey(p pair) uint64 {
	k, ok := r.keys[p]
	if !ok {
		h := uint64(14695981039346656037) // FNV-1a over name, country, service
		for _, s := range [...]string{r.Name, p.country, p.service} {
			for i := 0; i < len(s); i++ {
				h = (h ^ uint64(s[i])) * 1099511628211
			}
			h = (h ^ 0xff) * 1099511628211 // separator: ("ab","c") ≠ ("a","bc")
		}
		k = mix(h ^ mix(r.Seed))
		r.keys[p] = k
	}
	return k
}

// mix is splitmix64's finaliser: every input bit moves every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Stream constants keep the generators of one pair apart.
const (
	streamSMS   = 0x736d73 // "sms"
	streamPrice = 0x707269 // "pri"
)

// orderKey is the draw seed of p's next order, and counts it.
func (r *realism) orderKey(p pair) uint64 {
	n := r.seq[p]
	r.seq[p] = n + 1
	return mix(r.pairKey(p) + (n+1)*0x9e3779b97f4a7c15)
}

// drawSMS decides the k-th SMS of an order with draw seed key under the
// parameters c: whether it ever arrives, and after how long. Both numbers
// are always drawn, so one seed gives the same luck under any parameters:
// a drift that lowers the probability loses exactly the orders whose draw
// lies above the new value.
func drawSMS(key uint64, k int, c Params) (bool, time.Duration) {
	r := rand.New(rand.NewPCG(key, uint64(k)<<32|streamSMS))
	u, z := r.Float64(), r.NormFloat64()
	if u >= c.Delivery {
		return false, 0
	}
	d := float64(c.DelayMedian) * math.Exp(c.DelaySigma*z)
	// A far tail beyond any lifetime is as good as never; the bounds keep
	// the conversion to a Duration finite.
	return true, time.Duration(min(max(d, float64(time.Millisecond)), float64(1000*time.Hour)))
}

// scheduleDraw draws o's next SMS from the parameters at now; m.mu held,
// m.real set.
func (m *Market) scheduleDraw(o *order, now time.Time) {
	c := m.real.at(pair{o.Country, o.Service}, now.Sub(m.real.start))
	if ok, d := drawSMS(o.draw, len(o.SMS), c.Params); ok {
		o.NextSMSAt = now.Add(d)
		o.nextCode = m.drawCode()
	}
}

// refill adds the numbers p regained since its refill was last counted,
// up to its cap; m.mu held. Whole numbers only: the count's start moves by
// the time those numbers took, so no fraction is lost between reads.
func (m *Market) refill(p pair, now time.Time) {
	r := m.real
	if r == nil {
		return
	}
	prm := r.params(p)
	if prm.RefillPerMinute <= 0 {
		return
	}
	ns := now.UnixNano()
	at, ok := r.refillAt[p]
	if !ok {
		at = r.start.UnixNano()
	}
	s := m.stock[p]
	if s >= prm.StockCap {
		r.refillAt[p] = ns // full: the next sale starts the count
		return
	}
	perNumber := float64(time.Minute) / prm.RefillPerMinute // ns
	n := int64(float64(ns-at) / perNumber)
	if n <= 0 {
		r.refillAt[p] = at
		return
	}
	if int64(prm.StockCap-s) <= n {
		m.stock[p] = prm.StockCap
		r.refillAt[p] = ns
		return
	}
	m.stock[p] = s + int(n)
	r.refillAt[p] = at + int64(float64(n)*perNumber)
}

// restock notes that p's stock was set by hand at now: its refill counts
// from then. m.mu held.
func (m *Market) restock(p pair, now time.Time) {
	if m.real != nil {
		m.real.refillAt[p] = now.UnixNano()
	}
}

// stockNow is p's stock after refill; m.mu held.
func (m *Market) stockNow(p pair, now time.Time) int {
	m.refill(p, now)
	return m.stock[p]
}

// priceNow is p's price at now: the configured one, moved by the walk and
// the drift; false when p is not sold. m.mu held.
func (m *Market) priceNow(p pair, now time.Time) (int64, bool) {
	base, ok := m.price[p]
	if !ok || m.real == nil {
		return base, ok
	}
	elapsed := now.Sub(m.real.start)
	f := m.real.at(p, elapsed).priceFactor * m.walkFactor(p, elapsed)
	if f == 1 {
		return base, true
	}
	return centPrice(float64(base) * f), true
}

// centPrice rounds a price to a whole cent, at least one, so every
// platform's decimal format carries it.
func centPrice(micros float64) int64 {
	cent := float64(adapters.Micro / 100)
	return int64(max(1, math.Round(micros/cent))) * int64(adapters.Micro/100)
}

// walkFactor steps p's price walk up to elapsed and returns its factor;
// m.mu held. Step i's move is drawn from (pair, i) alone, so the price at
// a time does not depend on when it was read. A pair read after a long
// pause catches up one step per interval passed.
func (m *Market) walkFactor(p pair, elapsed time.Duration) float64 {
	r := m.real
	prm := r.params(p)
	if prm.PriceStep <= 0 || elapsed <= 0 {
		return 1
	}
	w, ok := r.walks[p]
	if !ok {
		w.factor = 1
	}
	target := int64(elapsed / prm.PriceInterval)
	if w.steps >= target {
		return w.factor
	}
	key := r.pairKey(p)
	for ; w.steps < target; w.steps++ {
		g := rand.NewPCG(key, uint64(w.steps)<<32|streamPrice)
		u := float64(g.Uint64()>>11) / (1 << 53)
		w.factor = min(max(w.factor*(1+prm.PriceStep*(2*u-1)), prm.PriceMin), prm.PriceMax)
	}
	r.walks[p] = w
	return w.factor
}

// Truth is what the market knows of one pair at an instant and a client
// can only estimate: an oracle router is built on it.
type Truth struct {
	At      time.Time     // the market clock's reading
	Elapsed time.Duration // since the market started (drift times count from it)
	// Delivery is the probability a number bought now receives its SMS;
	// DelayMedian and DelaySigma its log-normal delay (sigma 0: fixed).
	Delivery    float64
	DelayMedian time.Duration
	DelaySigma  float64
	Price       int64 // micro-units of the market currency
	Stock       int
}

// Truth is the pair's true parameters now, after the drift due; false
// when the market does not sell the pair. A market without a Model
// delivers every SMS CodeDelay after purchase (probability 0 when
// CodeDelay is negative: only DeliverSMS sends one).
func (m *Market) Truth(country, service string) (Truth, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	m.settleDue(now)
	p := pair{country, service}
	price, ok := m.priceNow(p, now)
	if !ok {
		return Truth{}, false
	}
	t := Truth{At: now, Price: price, Stock: m.stockNow(p, now)}
	if m.real == nil {
		if m.cfg.CodeDelay > 0 {
			t.Delivery, t.DelayMedian = 1, m.cfg.CodeDelay
		}
		return t, true
	}
	t.Elapsed = now.Sub(m.real.start)
	c := m.real.at(p, t.Elapsed)
	t.Delivery, t.DelayMedian, t.DelaySigma = c.Delivery, c.DelayMedian, c.DelaySigma
	return t, true
}

// Model returns the market's resolved model (defaults filled in, drift
// sorted), or nil for a market without one. The copy is the caller's.
func (m *Market) Model() *Model {
	if m.real == nil {
		return nil
	}
	mo := m.real.Model
	mo.Pairs = maps.Clone(mo.Pairs)
	mo.Drift = slices.Clone(mo.Drift)
	return &mo
}

// Describe is the market's parameters and drift schedule as text, one
// line each (see Model.Describe); for a market without a Model, the fixed
// behaviour it has instead.
func (m *Market) Describe() string {
	if m.real != nil {
		return m.real.Describe() + fmt.Sprintf("  stock %d per pair at start, lifetime %s, cancel guard %s\n",
			m.cfg.Stock, m.cfg.Lifetime, m.cfg.CancelGuard)
	}
	delay := "every SMS " + m.cfg.CodeDelay.String() + " after purchase"
	if m.cfg.CodeDelay < 0 {
		delay = "no SMS on its own"
	}
	return fmt.Sprintf("market (fixed): %s, fixed prices, stock %d per pair at start, no refill\n", delay, m.cfg.Stock)
}
