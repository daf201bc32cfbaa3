package config

import (
	"strings"
	"testing"
	"time"
)

// simTOML is baseTOML with a realistic market: defaults, a platform
// override, a pair override and two drift entries.
const simTOML = baseTOML + `
[simulator]
code_delay = "3s"
seed = 42
delivery = 0.95
delay_sigma = 0.5
refill_per_minute = 2
price_step = 0.05
price_interval = "5m"

[simulator.platforms.smsactivate]
delivery = 0.9
delay_median = "4s"
[simulator.platforms.smsactivate.pairs.ru.tg]
delivery = 0
price_max = 1.5

[[simulator.drift]]
at = "10m"
platform = "smsactivate"
country = "ru"
service = "tg"
delivery = 0.2
delay_factor = 3

[[simulator.drift]]
at = "20m"
platform = "smsactivate"
recover = true
`

// TestSimulatorMarketLoad: the realistic keys load at each level, a
// platform's keys override [simulator]'s and a pair's the platform's, and
// keys left out are inherited.
func TestSimulatorMarketLoad(t *testing.T) {
	c, err := Load(writeConfig(t, simTOML), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Simulator
	if !s.Realistic() || s.Seed != 42 {
		t.Fatalf("simulator = %+v; want a realistic market on seed 42", s)
	}
	m, pairs := s.Market("smsactivate")
	want := SimMarket{Delivery: 0.9, DelayMedian: 4 * time.Second, DelaySigma: 0.5, RefillPerMinute: 2,
		PriceStep: 0.05, PriceInterval: 5 * time.Minute, PriceMin: 0.5, PriceMax: 2}
	if m != want {
		t.Errorf("smsactivate = %+v\nwant %+v", m, want)
	}
	want.Delivery, want.PriceMax = 0, 1.5
	if got := pairs["ru"]["tg"]; got != want || len(pairs) != 1 {
		t.Errorf("smsactivate ru/tg = %+v (of %d countries)\nwant %+v", got, len(pairs), want)
	}
	if other, _ := s.Market("fivesim"); other.Delivery != 0.95 || other.DelayMedian != 0 {
		t.Errorf("a platform without overrides = %+v; want [simulator]'s", other)
	}
	if len(s.Drift) != 2 || s.Drift[0].At != 10*time.Minute || *s.Drift[0].Delivery != 0.2 || s.Drift[0].DelayFactor != 3 ||
		s.Drift[0].Country != "ru" || !s.Drift[1].Recover || s.Drift[1].Delivery != nil {
		t.Errorf("drift = %+v", s.Drift)
	}
}

// TestSimulatorFixedByDefault: with no realistic key set (a seed alone
// changes nothing), simulators keep the fixed market.
func TestSimulatorFixedByDefault(t *testing.T) {
	c, err := Load(writeConfig(t, baseTOML+"\n[simulator]\nseed = 9\ncode_delay = \"1s\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Simulator.Realistic() {
		t.Errorf("simulator = %+v; want the fixed market", c.Simulator)
	}
	c.Simulator.Delivery = 0.99
	if !c.Simulator.Realistic() {
		t.Error("delivery 0.99 did not make the market realistic")
	}
}

// TestSimulatorMarketValidate: each bad value is refused with its key.
func TestSimulatorMarketValidate(t *testing.T) {
	pool := "\n[[platforms]]\ncode = \"textnow\"\nurl = \"sim\"\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"probabilities", `[simulator]
delivery = 1.2
[simulator.platforms.smsactivate]
delivery = -0.1
[simulator.platforms.smsactivate.pairs.ru.tg]
delivery = 2`, []string{"simulator.delivery: must be a probability 0..1, got 1.2",
			"simulator.platforms.smsactivate.delivery: must be a probability 0..1, got -0.1",
			"simulator.platforms.smsactivate.pairs.ru.tg.delivery: must be a probability 0..1, got 2"}},
		{"durations", `[simulator]
delay_median = "-1s"
price_interval = "0s"
[simulator.platforms.smsactivate]
delay_median = "0s"`, []string{"simulator.delay_median: must be >= 0", "simulator.price_interval: must be > 0",
			"simulator.platforms.smsactivate.delay_median: must be > 0"}},
		{"spread, refill, walk", `[simulator]
delay_sigma = -0.5
refill_per_minute = -1
stock_cap = -3
price_step = 1
price_min = 1.5
price_max = 0.9`, []string{"simulator.delay_sigma: must be 0..5", "simulator.refill_per_minute: must be >= 0",
			"simulator.stock_cap: must be >= 0", "simulator.price_step: must be 0..1", "simulator.price_min: must be in (0, 1]",
			"simulator.price_max: must be >= 1"}},
		{"override of an unknown platform", `[simulator.platforms.nosuch]
delivery = 0.5`, []string{`simulator.platforms.nosuch: no [[platforms]] entry has code "nosuch"`}},
		{"override of a real platform", `[simulator.platforms.fivesim]
delivery = 0.5`, []string{`simulator.platforms.fivesim: platform "fivesim" is not simulated`}},
		{"override of a pool", pool + `[simulator.platforms.textnow]
delivery = 0.5`, []string{`simulator.platforms.textnow: platform "textnow" is a number pool`}},
		{"unknown pair", `[simulator.platforms.smsactivate.pairs.xx.zzzz]
delivery = 0.5`, []string{`simulator.platforms.smsactivate.pairs.xx: unknown country "xx"`,
			`simulator.platforms.smsactivate.pairs.xx.zzzz: unknown service "zzzz"`}},
		{"misspelt override key", `[simulator.platforms.smsactivate]
delivry = 0.5`, []string{"unknown key simulator.platforms[smsactivate].delivry"}},
		{"drift", `[[simulator.drift]]
at = "-1m"
platform = "nosuch"
country = "ru"
delivery = 1.5
delay_factor = -2
[[simulator.drift]]
at = "1m"
[[simulator.drift]]
at = "2m"
platform = "smsactivate"
recover = true
price_factor = 2`, []string{"simulator.drift[0].at: must be >= 0", `simulator.drift[0].platform: no [[platforms]] entry has code "nosuch"`,
			"simulator.drift[0]: give both country and service", "simulator.drift[0].delivery: must be a probability 0..1, got 1.5",
			"simulator.drift[0].delay_factor: must be > 0 (0 = unchanged), got -2",
			"simulator.drift[1].platform: required", "simulator.drift[1]: changes nothing",
			"simulator.drift[2].recover: a recovery sets the market back and changes nothing else"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, baseTOML+"\n"+tc.body+"\n"), nil)
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\nwant it to say %q", err, want)
				}
			}
		})
	}
}
