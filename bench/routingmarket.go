package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"smsgate/adapters/simulator"
)

// marketSpec is the routing scenario's market: the platforms, how each
// behaves, the drift, and how the virtual clients buy.
type marketSpec struct {
	seed     uint64
	currency string
	country  string
	service  string
	start    time.Time

	platforms []platformSpec
	// drifting is the platform whose delivery falls at driftAt and comes
	// back at recoverAt (market clock, from start).
	drifting           string
	driftTo            float64
	driftAt, recoverAt time.Duration

	clients int           // virtual registration clients, one activation each at a time
	length  time.Duration // measured activations start within this much virtual time, after history
	// history is the virtual time the same clients buy on the same market
	// before the measured span: the record a running gateway has (its
	// estimator is loaded from the ledger at start), not measured.
	history time.Duration
	stagger time.Duration // between the clients' first starts
	giveUp  time.Duration // a client waits this long for a code, then cancels and buys again
	guard   time.Duration // the platforms' cancel guard
	think   time.Duration // between a client's code and its next activation
	// valueOfMinute prices waiting for the oracle (market currency units a
	// minute), as [routing] value_of_minute does for the value strategy.
	valueOfMinute float64
}

// platformSpec is one simulated platform of the routing market.
type platformSpec struct {
	code     string
	priority int
	price    float64 // market currency units per number
	params   simulator.Params
}

// defaultPlatforms is the market the routing figures are measured on:
// four platforms selling one pair, each plausible — a reliable one at a
// fair price, a slightly worse and cheaper one, a slow one, and a cheap
// one that often sends nothing. Stock refills faster than the clients can
// buy: the market runs out of patience, not of numbers.
const defaultPlatforms = "bravo:0.75:40s:0.8:0.40,alpha:0.9:20s:0.8:0.45,delta:0.6:90s:1.0:0.55,charlie:0.4:20s:0.7:0.20"

// routingMarketSpec is the market of -market (the default one when
// empty) with -drift, for seed: the drifting platform's delivery falls to
// the given probability at a third of -span and comes back at two thirds.
func routingMarketSpec(o *options, seed uint64) (*marketSpec, error) {
	spec := &marketSpec{
		seed: seed, currency: "USD", country: o.country, service: o.service,
		start:   time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		clients: o.clients, length: o.span, history: o.history, stagger: 7 * time.Second,
		giveUp: o.giveUp, guard: 2 * time.Minute, think: 5 * time.Second,
		valueOfMinute: o.valueOfMinute,
	}
	spec.driftAt, spec.recoverAt = spec.history+spec.length/3, spec.history+2*spec.length/3
	market := o.market
	if market == "" {
		market = defaultPlatforms
	}
	seen := map[string]bool{}
	for i, entry := range strings.Split(market, ",") {
		f := strings.Split(strings.TrimSpace(entry), ":")
		if len(f) != 5 {
			return nil, fmt.Errorf("-market: %q is not code:delivery:median:sigma:price", entry)
		}
		p, err1 := strconv.ParseFloat(f[1], 64)
		median, err2 := time.ParseDuration(f[2])
		sigma, err3 := strconv.ParseFloat(f[3], 64)
		price, err4 := strconv.ParseFloat(f[4], 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil || f[0] == "" || seen[f[0]] || !(price > 0) {
			return nil, fmt.Errorf("-market: %q: want a new code, numbers and a positive price (%v)", entry, err)
		}
		seen[f[0]] = true
		ps := platformSpec{code: f[0], priority: i + 1, price: price,
			params: simulator.Params{Delivery: p, DelayMedian: median, DelaySigma: sigma, RefillPerMinute: 60, StockCap: 500}}
		mo := simulator.Model{Default: ps.params}
		if err := mo.Validate(); err != nil {
			return nil, fmt.Errorf("-market: %s: %w", f[0], err)
		}
		spec.platforms = append(spec.platforms, ps)
	}
	if len(spec.platforms) < 2 {
		return nil, errors.New("-market: want at least two platforms")
	}
	code, to, ok := strings.Cut(o.drift, ":")
	p, err := strconv.ParseFloat(to, 64)
	if !ok || err != nil || !(p >= 0 && p <= 1) || !seen[code] {
		return nil, fmt.Errorf("-drift: %q is not code:delivery with a platform of the market and a probability 0..1", o.drift)
	}
	spec.drifting, spec.driftTo = code, p
	return spec, nil
}

// newMarket is one fresh platform of the spec on clock.
func (s *marketSpec) newMarket(ps platformSpec, clock simulator.Clock) *simulator.Market {
	mo := &simulator.Model{Seed: s.seed, Name: ps.code, Default: ps.params}
	if ps.code == s.drifting {
		to := s.driftTo
		mo.Drift = []simulator.Drift{{At: s.driftAt, Delivery: &to}, {At: s.recoverAt, Recover: true}}
	}
	m := simulator.New(simulator.Config{Currency: s.currency, Countries: []string{s.country}, Services: []string{s.service},
		Stock: 500, Balance: 1 << 50, CancelGuard: s.guard, Lifetime: 20 * time.Minute, Clock: clock, Seed: s.seed,
		IDOffset: -1, Model: mo})
	m.SetPrice(s.country, s.service, int64(math.Round(ps.price*1e6)))
	return m
}

// truth is what the oracle knows of a platform now.
type truth struct {
	p      float64
	delay  time.Duration // mean delay of a delivered number
	price  float64       // market currency units
	stock  int
	exists bool
}

func (s *marketSpec) truth(m *simulator.Market, _ time.Time) truth {
	t, ok := m.Truth(s.country, s.service)
	if !ok {
		return truth{}
	}
	// The mean of a log-normal is its median × e^(σ²/2).
	mean := time.Duration(float64(t.DelayMedian) * math.Exp(t.DelaySigma*t.DelaySigma/2))
	return truth{p: t.Delivery, delay: mean, price: float64(t.Price) / 1e6, stock: t.Stock, exists: true}
}

// expectedCost is the expected price and waiting of one delivered code
// from a platform with these true parameters: the price (paid only for a
// code; a number without one is cancelled and refunded), the delay of a
// delivered number, and a give-up for each number that fails first —
// (1−p)/p of them on average — waiting priced at valueOfMinute.
func (s *marketSpec) expectedCost(t truth) float64 {
	minutes := t.delay.Minutes() + s.giveUp.Minutes()*(1-t.p)/t.p
	return t.price + s.valueOfMinute*minutes
}

// describe is the run's parameters, printed with every report so that a
// figure can be reproduced exactly.
func (s *marketSpec) describe() []string {
	lines := []string{fmt.Sprintf("routing market: seed %d (and the next -runs−1 seeds, each with the same parameters), %s/%s, %d virtual clients, measured activations started within %s of virtual time after %s of unmeasured history on the same market (first starts %s apart), give-up %s, cancel guard %s, %s between a code and the next activation, waiting valued at %g %s/min by the oracle",
		s.seed, s.country, s.service, s.clients, s.length, s.history, s.stagger, s.giveUp, s.guard, s.think, s.valueOfMinute, s.currency)}
	clock := simulator.NewManualClock(s.start)
	for _, ps := range s.platforms {
		d := strings.TrimSpace(s.newMarket(ps, clock).Describe())
		lines = append(lines, fmt.Sprintf("platform %s (priority %d, price %.2f %s): %s", ps.code, ps.priority, ps.price, s.currency,
			strings.ReplaceAll(d, "\n", ";")))
	}
	return lines
}
