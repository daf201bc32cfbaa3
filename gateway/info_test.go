package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters/simulator"
	"smsgate/config"
)

// TestStatisticsRange: a range is limited by the periods it returns (at
// most 400), not by its days: two years by month or week answer, two years
// by day is refused with a message naming the limit.
func TestStatisticsRange(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1})
	// One order on the simulated 2026-03-01, so the periods are not empty.
	if r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"}); r.Status != 200 {
		t.Fatalf("getPhone: %d %s", r.Status, r.Msg)
	}
	cases := []struct {
		name, from, to, groupBy string
		wantPeriod              string // a period key the answer must hold; "" = refused
		wantMsg                 []string
	}{
		{name: "two years by month", from: "2025-01-01", to: "2026-12-31", groupBy: "month", wantPeriod: "2026-03"},
		{name: "two years by week", from: "2025-01-01", to: "2026-12-31", groupBy: "week", wantPeriod: "2026-W09"},
		{name: "400 days by day", from: "2026-01-01", to: "2027-02-04", groupBy: "day", wantPeriod: "2026-03-01"},
		{name: "401 days by day", from: "2026-01-01", to: "2027-02-05", groupBy: "day", wantMsg: []string{"401 days", "at most 400 periods"}},
		{name: "two years by day", from: "2025-01-01", to: "2026-12-31", groupBy: "day", wantMsg: []string{"730 days", "at most 400 periods"}},
		{name: "two years by default (day)", from: "2025-01-01", to: "2026-12-31", wantMsg: []string{"730 days", "at most 400 periods"}},
		{name: "34 years by month", from: "1993-01-01", to: "2026-12-31", groupBy: "month", wantMsg: []string{"408 months", "at most 400 periods"}},
		{name: "8 years by week", from: "2019-01-01", to: "2026-12-31", groupBy: "week", wantMsg: []string{"418 weeks", "at most 400 periods"}},
		{name: "centuries by day", from: "0001-01-01", to: "9999-12-31", groupBy: "day", wantMsg: []string{"at most 400 periods"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := "startDate=" + tc.from + "&endDate=" + tc.to
			if tc.groupBy != "" {
				q += "&groupBy=" + tc.groupBy
			}
			r := e.api("GET", "/api/sms/statistics?"+q, keyA, nil)
			if tc.wantPeriod == "" {
				if r.Status != 400 || r.Code != 400 {
					t.Fatalf("statistics?%s = HTTP %d code %d; want 400", q, r.Status, r.Code)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(r.Msg, m) {
						t.Errorf("message %q does not say %q", r.Msg, m)
					}
				}
				return
			}
			if r.Status != 200 || r.Code != 0 {
				t.Fatalf("statistics?%s = HTTP %d code %d %s", q, r.Status, r.Code, r.Msg)
			}
			var st struct {
				GroupBy string
				Periods []struct {
					Key    string
					Orders int
				}
			}
			r.into(t, &st)
			found := false
			for _, p := range st.Periods {
				found = found || (p.Key == tc.wantPeriod && p.Orders == 1)
			}
			if !found {
				t.Errorf("statistics?%s periods = %+v; want %s with 1 order", q, st.Periods, tc.wantPeriod)
			}
		})
	}
}

// countriesCalls is how many getCountries calls each simulator answered.
func countriesCalls(e *env) map[string]int64 {
	out := map[string]int64{}
	for code, s := range e.sims {
		out[code] = s.Market.Calls("getCountries")
	}
	return out
}

// TestCountriesCache: getCountries answers from each platform's country
// list, kept for [cache] countries (here 1 h): within it no upstream call
// (another tenant, past the legacy answers' own few seconds, or many at
// once), after it one refetch; when the refetch fails the last list is
// served and counted.
func TestCountriesCache(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1, config: func(c *config.Config) { c.Cache.Countries = time.Hour }})
	countries := func(key string) map[string]json.RawMessage {
		t.Helper()
		_, b := e.legacy(key, "action", "getCountries")
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(b), &m); err != nil || m["187"] == nil || m["0"] == nil {
			t.Fatalf("getCountries = %q; want a list with the USA (187) and Russia (0)", b)
		}
		return m
	}
	calls := func(what string, want int64) {
		t.Helper()
		for code, n := range countriesCalls(e) {
			if n != want {
				t.Errorf("%s: %s answered %d getCountries calls in all; want %d", what, code, n, want)
			}
		}
	}
	calls("before", 0)

	// Fifty at once, two tenants: one call per platform.
	var wg sync.WaitGroup
	for i := range 50 {
		key := keyA
		if i%2 == 1 {
			key = keyB
		}
		wg.Go(func() { countries(key) })
	}
	wg.Wait()
	first := countries(keyA)
	calls("50 concurrent requests", 1)

	// Within the TTL and past the legacy answer reuse (5 s): the answers
	// are built again, from the cached lists.
	e.clock.Advance(59 * time.Minute)
	countries(keyA)
	countries(keyB)
	calls("59 minutes later", 1)

	// Past the TTL: refetched once.
	e.clock.Advance(2 * time.Minute)
	countries(keyA)
	countries(keyB)
	calls("61 minutes later", 2)

	// Past the TTL again with every upstream down: the last list.
	e.clock.Advance(2 * time.Hour)
	for _, s := range e.sims {
		s.Market.SetFaults(simulator.Faults{Outage: true})
	}
	stale := countries(keyB)
	if len(stale) != len(first) {
		t.Fatalf("with the upstreams down getCountries lists %d countries; want the last list's %d", len(stale), len(first))
	}
	// More requests while it is down: the last list again, and the failing
	// upstream is not asked on each of them.
	e.clock.Advance(10 * time.Second)
	countries(keyA)
	countries(keyB)
	m := mustGet(e, "/metrics")
	for code := range e.sims {
		if n := countriesAttempts(m, code); n != 3 {
			t.Errorf("%s: %v countries calls sent in all; want 3 (two answered, one failed)", code, n)
		}
	}
	if m := mustGet(e, "/metrics"); metricValue(m, `smsgate_cache_total{kind="countries",result="stale"}`) < 1 ||
		metricValue(m, `smsgate_cache_total{kind="countries",result="hit"}`) < 1 {
		t.Errorf("countries cache not counted:\n%s", grep(m, "cache_total"))
	}
	// The upstreams back: refetched (the failed refresh is retried after
	// a pause, not on every request).
	for _, s := range e.sims {
		s.Market.SetFaults(simulator.Faults{})
	}
	e.clock.Advance(time.Minute)
	countries(keyA)
	calls("after the upstreams came back", 3)
}

// countriesAttempts sums the countries calls the gateway sent platform,
// whatever their result, from its metrics.
func countriesAttempts(metrics, platform string) float64 {
	prefix := `smsgate_upstream_calls_total{platform="` + platform + `",op="countries",`
	var n float64
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, prefix) {
			var v float64
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
			n += v
		}
	}
	return n
}

// TestStatisticsEstimates: the statistics answer carries what routing
// believes now of each platform × country × service — the same figures
// GET platforms gives — narrowed by the answer's filters and by the
// platforms the tenant may use (the admin's answer covers every platform).
func TestStatisticsEstimates(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) { c.Tenants[1].Platforms = []string{"hero"} }})
	for i := range 10 {
		e.g.RecordOutcome("sa", "us", "tg", i < 9)
		e.g.RecordOutcome("hero", "us", "tg", i < 2)
		e.g.RecordOutcome("hero", "gb", "wa", true)
	}
	type estimate struct {
		Platform, Country, Service string
		DeliveryProbability        float64
		Evidence, DelaySeconds     float64
	}
	estimates := func(key, path string) []estimate {
		t.Helper()
		var st struct{ Estimates []estimate }
		r := e.api("GET", path, key, nil)
		if r.Status != 200 {
			t.Fatalf("%s: HTTP %d %s", path, r.Status, r.Msg)
		}
		r.into(t, &st)
		return st.Estimates
	}
	// What GET platforms says of each pair, for comparison.
	var plats struct {
		Platforms []struct {
			Platform  string
			Estimates []estimate
		}
	}
	e.api("GET", "/api/sms/platforms", keyA, nil).into(t, &plats)
	want := map[string]float64{}
	for _, p := range plats.Platforms {
		for _, x := range p.Estimates {
			want[p.Platform+" "+x.Country+"/"+x.Service] = x.DeliveryProbability
		}
	}
	if len(want) != 3 || want["sa us/tg"] <= want["hero us/tg"] {
		t.Fatalf("platforms' estimates %v; want sa us/tg above hero us/tg, 3 pairs", want)
	}
	check := func(who string, got []estimate, keys ...string) {
		t.Helper()
		if len(got) != len(keys) {
			t.Fatalf("%s: %d estimates %+v; want %v", who, len(got), got, keys)
		}
		for i, x := range got {
			k := x.Platform + " " + x.Country + "/" + x.Service
			if k != keys[i] || x.DeliveryProbability != want[k] || x.Evidence <= 0 {
				t.Errorf("%s: estimate %d = %+v; want %s with p %v", who, i, x, keys[i], want[k])
			}
		}
	}
	check("tenant a", estimates(keyA, "/api/sms/statistics"), "sa us/tg", "hero gb/wa", "hero us/tg")
	check("tenant a, us/tg", estimates(keyA, "/api/sms/statistics?country=us&service=tg"), "sa us/tg", "hero us/tg")
	check("tenant a, hero", estimates(keyA, "/api/sms/statistics?platform=hero"), "hero gb/wa", "hero us/tg")
	check("tenant b (hero only)", estimates(keyB, "/api/sms/statistics"), "hero gb/wa", "hero us/tg")
	check("admin", estimates(adminKey, "/api/sms/admin/statistics"), "sa us/tg", "hero gb/wa", "hero us/tg")
}
