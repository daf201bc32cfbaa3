package simulator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// A Model makes a market realistic: per (country, service) a probability
// that a number ever receives its SMS, a log-normal delay, stock that
// refills, prices that walk, and drift scheduled on the market clock. A
// market without one (Config.Model nil) delivers every SMS CodeDelay after
// purchase at fixed prices, as the tests across the repository expect.
//
// Outcomes are drawn per order from a generator seeded by a hash of
// (Seed, Name, country, service, the order's sequence number within its
// pair), not from one generator consumed in arrival order: the n-th order
// of a pair has the same draws whatever other pairs' orders interleave
// with it, so two runs that buy the same pairs in the same per-pair order,
// at the same market times, see the same deliveries and delays. Two
// routing strategies run on one seed therefore meet the same luck (common
// random numbers), and their difference is the strategies'.
type Model struct {
	// Seed of every draw; with Name it picks the outcomes.
	Seed uint64
	// Name tells markets on one seed apart (the platform's code): part of
	// every draw's seed, so reordering platforms changes nothing.
	Name string
	// Default is how every pair without an entry in Pairs behaves.
	Default Params
	// Pairs override Default for one (country, service) each.
	Pairs map[PairKey]Params
	// Drift changes the parameters at given times (any order; applied by
	// At, ties in the order given).
	Drift []Drift
}

// PairKey names one (country, service).
type PairKey struct{ Country, Service string }

func (k PairKey) String() string { return k.Country + "/" + k.Service }

// Params is how one pair behaves.
type Params struct {
	// Delivery is the probability, 0..1, that a number receives its SMS;
	// one that never does waits until it is cancelled or expires.
	Delivery float64
	// DelayMedian (> 0) and DelaySigma (>= 0) give the SMS delay after
	// purchase: log-normal, median × e^(σ·Z) with Z standard normal, so
	// half the codes come within the median and a few take many times it
	// (σ = 1: the 95th percentile is 5.2× the median). σ = 0: always the
	// median.
	DelayMedian time.Duration
	DelaySigma  float64
	// RefillPerMinute (>= 0) numbers come back into stock per minute of
	// market clock while the stock is below StockCap (0 = Config.Stock).
	RefillPerMinute float64
	StockCap        int
	// PriceStep (0..1) is the largest relative price move per
	// PriceInterval: each interval the price is multiplied by a factor
	// drawn uniformly from [1-step, 1+step], then held within
	// [PriceMin, PriceMax] times the starting price (PriceMin <= 1 <=
	// PriceMax). 0 = fixed prices.
	PriceStep     float64
	PriceInterval time.Duration
	PriceMin      float64
	PriceMax      float64
}

// Drift changes one platform's parameters — every pair's, or one
// (Country, Service)'s — At after the market started (market clock).
type Drift struct {
	At               time.Duration
	Country, Service string // both "" = every pair; else both set
	// Delivery, when set, is the new delivery probability (0..1).
	Delivery *float64
	// DelayFactor multiplies the delay median; 0 = unchanged.
	DelayFactor float64
	// PriceFactor multiplies the price; 0 = unchanged.
	PriceFactor float64
	// Recover sets the pairs back to their configured parameters, undoing
	// every drift before it (an entry that recovers changes nothing else).
	Recover bool
}

// Validate reports every parameter out of range, each named.
func (mo *Model) Validate() error {
	var errs []error
	check := func(where string, p Params) {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		if !(p.Delivery >= 0 && p.Delivery <= 1) {
			bad("delivery must be a probability 0..1, got %v", p.Delivery)
		}
		if p.DelayMedian <= 0 {
			bad("delay median must be > 0, got %s", p.DelayMedian)
		}
		if !(p.DelaySigma >= 0 && p.DelaySigma <= 5) {
			bad("delay sigma must be 0..5, got %v", p.DelaySigma)
		}
		if !(p.RefillPerMinute >= 0) || math.IsInf(p.RefillPerMinute, 0) {
			bad("refill per minute must be >= 0, got %v", p.RefillPerMinute)
		}
		if p.StockCap < 0 {
			bad("stock cap must be >= 0, got %d", p.StockCap)
		}
		if !(p.PriceStep >= 0 && p.PriceStep < 1) {
			bad("price step must be 0..1 (exclusive), got %v", p.PriceStep)
		}
		if p.PriceStep > 0 {
			if p.PriceInterval <= 0 {
				bad("price interval must be > 0 with a price step, got %s", p.PriceInterval)
			}
			if !(p.PriceMin > 0 && p.PriceMin <= 1 && p.PriceMax >= 1) || math.IsInf(p.PriceMax, 0) {
				bad("price bounds must hold 0 < min <= 1 <= max, got [%v, %v]", p.PriceMin, p.PriceMax)
			}
		}
	}
	check("default", mo.Default)
	for _, k := range mo.pairKeys() {
		check("pair "+k.String(), mo.Pairs[k])
	}
	for i, d := range mo.Drift {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("drift[%d]: %s", i, fmt.Sprintf(format, args...)))
		}
		if d.At < 0 {
			bad("at must be >= 0, got %s", d.At)
		}
		if (d.Country == "") != (d.Service == "") {
			bad("give both country and service, or neither (every pair)")
		}
		if d.Delivery != nil && !(*d.Delivery >= 0 && *d.Delivery <= 1) {
			bad("delivery must be a probability 0..1, got %v", *d.Delivery)
		}
		if !(d.DelayFactor >= 0) || math.IsInf(d.DelayFactor, 0) {
			bad("delay factor must be > 0 (0 = unchanged), got %v", d.DelayFactor)
		}
		if !(d.PriceFactor >= 0) || math.IsInf(d.PriceFactor, 0) {
			bad("price factor must be > 0 (0 = unchanged), got %v", d.PriceFactor)
		}
		changes := d.Delivery != nil || d.DelayFactor != 0 || d.PriceFactor != 0
		if d.Recover && changes {
			bad("a recovery changes nothing else")
		} else if !d.Recover && !changes {
			bad("changes nothing: set delivery, delay factor, price factor or recover")
		}
	}
	return errors.Join(errs...)
}

func (mo *Model) pairKeys() []PairKey {
	keys := make([]PairKey, 0, len(mo.Pairs))
	for k := range mo.Pairs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b PairKey) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

// params is p's configured parameters (before drift).
func (mo *Model) params(p pair) Params {
	if prm, ok := mo.Pairs[PairKey{p.country, p.service}]; ok {
		return prm
	}
	return mo.Default
}

// current is the state of one pair at an instant: its parameters after
// the drift due by then, and the price factor the drift has applied.
type current struct {
	Params
	priceFactor float64
}

// at is p's parameters elapsed after the market's start: the configured
// ones with every drift due by then applied in turn. O(drift entries):
// a schedule holds a handful.
func (mo *Model) at(p pair, elapsed time.Duration) current {
	base := mo.params(p)
	c := current{Params: base, priceFactor: 1}
	for _, d := range mo.Drift { // sorted by At in New
		if d.At > elapsed {
			break
		}
		if d.Country != "" && (d.Country != p.country || d.Service != p.service) {
			continue
		}
		if d.Recover {
			c = current{Params: base, priceFactor: 1}
			continue
		}
		if d.Delivery != nil {
			c.Delivery = *d.Delivery
		}
		if d.DelayFactor != 0 {
			c.DelayMedian = time.Duration(float64(c.DelayMedian) * d.DelayFactor)
		}
		if d.PriceFactor != 0 {
			c.priceFactor *= d.PriceFactor
		}
	}
	return c
}

// Describe writes the model's parameters and drift schedule, one line
// each, in a fixed order: printed with a benchmark's figures, it is what
// reproduces them.
func (mo *Model) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "market %s: seed %d\n", mo.Name, mo.Seed)
	fmt.Fprintf(&b, "  default: %s\n", mo.Default)
	for _, k := range mo.pairKeys() {
		fmt.Fprintf(&b, "  %s: %s\n", k, mo.Pairs[k])
	}
	for _, d := range mo.Drift {
		fmt.Fprintf(&b, "  drift %s\n", d)
	}
	return b.String()
}

func (p Params) String() string {
	s := fmt.Sprintf("delivery %.3g, delay median %s sigma %.3g", p.Delivery, p.DelayMedian, p.DelaySigma)
	if p.RefillPerMinute > 0 {
		s += fmt.Sprintf(", refill %.3g/min up to %d", p.RefillPerMinute, p.StockCap)
	} else {
		s += ", no refill"
	}
	if p.PriceStep > 0 {
		s += fmt.Sprintf(", price walk ±%.3g every %s within [%.3g, %.3g]×", p.PriceStep, p.PriceInterval, p.PriceMin, p.PriceMax)
	} else {
		s += ", fixed prices"
	}
	return s
}

func (d Drift) String() string {
	scope := "every pair"
	if d.Country != "" {
		scope = d.Country + "/" + d.Service
	}
	var what []string
	if d.Recover {
		what = append(what, "recover")
	}
	if d.Delivery != nil {
		what = append(what, fmt.Sprintf("delivery %.3g", *d.Delivery))
	}
	if d.DelayFactor != 0 {
		what = append(what, fmt.Sprintf("delay median ×%.3g", d.DelayFactor))
	}
	if d.PriceFactor != 0 {
		what = append(what, fmt.Sprintf("price ×%.3g", d.PriceFactor))
	}
	return fmt.Sprintf("at +%s, %s: %s", d.At, scope, strings.Join(what, ", "))
}
