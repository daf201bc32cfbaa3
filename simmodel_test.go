package main

import (
	"testing"
	"time"

	"smsgate/adapters/simulator"
	"smsgate/config"
)

// TestSimModel: [simulator] becomes each simulated platform's Model — a
// delay median left 0 is code_delay, overrides and the platform's drift
// (and only its) carried over — and no realistic key means no Model, the
// fixed market.
func TestSimModel(t *testing.T) {
	s := config.Defaults().Simulator
	if simModel(s, "smsactivate") != nil {
		t.Fatal("default [simulator]: want the fixed market (nil model)")
	}
	s.CodeDelay, s.Seed, s.Delivery, s.DelaySigma = 3*time.Second, 7, 0.9, 0.5
	median := 6 * time.Second
	s.Platforms = map[string]config.SimPlatform{"herosms": {
		SimOverride: config.SimOverride{DelayMedian: &median},
		Pairs:       map[string]map[string]config.SimOverride{"ru": {"tg": {DelaySigma: new(1.0)}}},
	}}
	s.Drift = []config.SimDrift{
		{At: time.Minute, Platform: "herosms", Delivery: new(0.2)},
		{At: time.Minute, Platform: "smsactivate", PriceFactor: 2},
	}
	mo := simModel(s, "herosms")
	want := simulator.Params{Delivery: 0.9, DelayMedian: median, DelaySigma: 0.5,
		PriceInterval: time.Minute, PriceMin: 0.5, PriceMax: 2}
	if mo == nil || mo.Seed != 7 || mo.Name != "herosms" || mo.Default != want {
		t.Fatalf("herosms model = %+v\nwant default %+v", mo, want)
	}
	want.DelaySigma = 1
	if got := mo.Pairs[simulator.PairKey{Country: "ru", Service: "tg"}]; got != want || len(mo.Pairs) != 1 {
		t.Errorf("herosms ru/tg = %+v\nwant %+v", got, want)
	}
	if len(mo.Drift) != 1 || *mo.Drift[0].Delivery != 0.2 {
		t.Errorf("herosms drift = %+v; want its own entry only", mo.Drift)
	}
	if err := mo.Validate(); err != nil {
		t.Error(err)
	}
	if other := simModel(s, "smsactivate"); other.Default.DelayMedian != 3*time.Second || len(other.Drift) != 1 || other.Drift[0].PriceFactor != 2 {
		t.Errorf("smsactivate model = %+v; want code_delay as the median and its price drift", other)
	}
}
