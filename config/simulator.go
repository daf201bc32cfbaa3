package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"smsgate/adapters/catalog"
)

// validateSimulator checks [simulator]: the fixed market's keys, the
// realistic market's defaults, each platform's and pair's overrides, and
// the drift schedule. Overrides and drift must name a platform that runs
// on the built-in simulator and sells activations, so none is accepted
// and then ignored.
func (c *Config) validateSimulator(p *problems) {
	s := c.Simulator
	if s.CodeDelay < 0 {
		p.add("simulator.code_delay", "must be >= 0, got %s", s.CodeDelay)
	}
	p.atLeast("simulator.stock", s.Stock, 0)
	if !decimalRE.MatchString(s.Balance) {
		p.add("simulator.balance", "not a decimal: %q", s.Balance)
	}
	m := s.SimMarket
	v := simValues{p: p, prefix: "simulator."}
	v.probability("delivery", m.Delivery)
	if m.DelayMedian < 0 {
		p.add("simulator.delay_median", "must be >= 0 (0 = code_delay), got %s", m.DelayMedian)
	}
	v.sigma("delay_sigma", m.DelaySigma)
	v.nonNegative("refill_per_minute", m.RefillPerMinute)
	p.atLeast("simulator.stock_cap", m.StockCap, 0)
	v.step("price_step", m.PriceStep)
	p.positive("simulator.price_interval", m.PriceInterval)
	v.priceMin("price_min", m.PriceMin)
	v.priceMax("price_max", m.PriceMax)

	for _, code := range slices.Sorted(maps.Keys(s.Platforms)) {
		key := "simulator.platforms." + code
		c.simulatedPlatform(p, key, code)
		pl := s.Platforms[code]
		v.override(key+".", pl.SimOverride)
		for _, country := range slices.Sorted(maps.Keys(pl.Pairs)) {
			ck := key + ".pairs." + country
			if _, ok := catalog.CountryByISO(country); !ok {
				p.add(ck, "unknown country %q (want an ISO 3166 code such as \"ru\")", country)
			}
			for _, service := range slices.Sorted(maps.Keys(pl.Pairs[country])) {
				sk := ck + "." + service
				if _, ok := catalog.ServiceByCode(service); !ok {
					p.add(sk, "unknown service %q", service)
				}
				v.override(sk+".", pl.Pairs[country][service])
			}
		}
	}

	for i, d := range s.Drift {
		key := fmt.Sprintf("simulator.drift[%d]", i)
		at := func(f string) string { return key + "." + f }
		if d.At < 0 {
			p.add(at("at"), "must be >= 0, got %s", d.At)
		}
		if d.Platform == "" {
			p.add(at("platform"), "required")
		} else {
			c.simulatedPlatform(p, at("platform"), d.Platform)
		}
		switch {
		case (d.Country == "") != (d.Service == ""):
			p.add(key, "give both country and service (one pair), or neither (every pair)")
		case d.Country != "":
			if _, ok := catalog.CountryByISO(d.Country); !ok {
				p.add(at("country"), "unknown country %q", d.Country)
			}
			if _, ok := catalog.ServiceByCode(d.Service); !ok {
				p.add(at("service"), "unknown service %q", d.Service)
			}
		}
		dv := simValues{p: p, prefix: key + "."}
		if d.Delivery != nil {
			dv.probability("delivery", *d.Delivery)
		}
		dv.factor("delay_factor", d.DelayFactor)
		dv.factor("price_factor", d.PriceFactor)
		changes := d.Delivery != nil || d.DelayFactor != 0 || d.PriceFactor != 0
		if d.Recover && changes {
			p.add(at("recover"), "a recovery sets the market back and changes nothing else: drop delivery, delay_factor and price_factor")
		} else if !d.Recover && !changes {
			p.add(key, "changes nothing: set delivery, delay_factor, price_factor or recover")
		}
	}
}

// simulatedPlatform checks that code names a [[platforms]] entry served
// by the built-in simulator that sells activations.
func (c *Config) simulatedPlatform(p *problems, key, code string) {
	i := slices.IndexFunc(c.Platforms, func(pl Platform) bool { return pl.Code == code })
	switch {
	case i < 0:
		p.add(key, "no [[platforms]] entry has code %q", code)
	case c.Platforms[i].URL != "sim":
		p.add(key, "platform %q is not simulated (its url is not \"sim\")", code)
	case isPoolType(c.Platforms[i].Type):
		p.add(key, "platform %q is a number pool (%s): its SMS do not come from the market model", code, c.Platforms[i].Type)
	}
}

// simValues checks realistic-market values, each named prefix + key.
type simValues struct {
	p      *problems
	prefix string
}

func (v simValues) probability(key string, x float64) {
	if !(x >= 0 && x <= 1) {
		v.p.add(v.prefix+key, "must be a probability 0..1, got %v", x)
	}
}

func (v simValues) sigma(key string, x float64) {
	if !(x >= 0 && x <= 5) {
		v.p.add(v.prefix+key, "must be 0..5 (a log-normal sigma), got %v", x)
	}
}

func (v simValues) nonNegative(key string, x float64) {
	if !(x >= 0) || math.IsInf(x, 1) {
		v.p.add(v.prefix+key, "must be >= 0, got %v", x)
	}
}

func (v simValues) step(key string, x float64) {
	if !(x >= 0 && x < 1) {
		v.p.add(v.prefix+key, "must be 0..1 (exclusive; 0 = fixed prices), got %v", x)
	}
}

func (v simValues) priceMin(key string, x float64) {
	if !(x > 0 && x <= 1) {
		v.p.add(v.prefix+key, "must be in (0, 1] (a factor of the starting price), got %v", x)
	}
}

func (v simValues) priceMax(key string, x float64) {
	if !(x >= 1) || math.IsInf(x, 1) {
		v.p.add(v.prefix+key, "must be >= 1 (a factor of the starting price), got %v", x)
	}
}

func (v simValues) factor(key string, x float64) {
	if !(x >= 0) || math.IsInf(x, 1) {
		v.p.add(v.prefix+key, "must be > 0 (0 = unchanged), got %v", x)
	}
}

func (v simValues) duration(key string, d time.Duration) {
	if d <= 0 {
		v.p.add(v.prefix+key, "must be > 0, got %s", d)
	}
}

// override checks the keys an override sets.
func (v simValues) override(prefix string, o SimOverride) {
	v.prefix = prefix
	if o.Delivery != nil {
		v.probability("delivery", *o.Delivery)
	}
	if o.DelayMedian != nil {
		v.duration("delay_median", *o.DelayMedian)
	}
	if o.DelaySigma != nil {
		v.sigma("delay_sigma", *o.DelaySigma)
	}
	if o.RefillPerMinute != nil {
		v.nonNegative("refill_per_minute", *o.RefillPerMinute)
	}
	if o.StockCap != nil {
		v.p.atLeast(prefix+"stock_cap", *o.StockCap, 0)
	}
	if o.PriceStep != nil {
		v.step("price_step", *o.PriceStep)
	}
	if o.PriceInterval != nil {
		v.duration("price_interval", *o.PriceInterval)
	}
	if o.PriceMin != nil {
		v.priceMin("price_min", *o.PriceMin)
	}
	if o.PriceMax != nil {
		v.priceMax("price_max", *o.PriceMax)
	}
}
