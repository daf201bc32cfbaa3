package gateway_test

import (
	"strings"
	"testing"
	"time"

	"smsgate/adapters/simulator"
	"smsgate/config"
)

// penaltyEnv: "hero" (HeroSMS dialect) is tried first (priority
// strategy), "sa" second; one platform failure would open a breaker, so a
// penalty counted as one could not go unnoticed.
func penaltyEnv(t *testing.T, edit func(c *config.Config)) *env {
	return unifiedEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		c.Routing.Strategy = "priority"
		c.Platforms[1].Priority = -1 // hero first
		c.Breaker.ConsecutiveFailures = 1
		if edit != nil {
			edit(c)
		}
	}})
}

type penaltyView struct {
	Scope, Country, Service, Reason string
	Until                           time.Time
}

type platformView struct {
	Platform       string
	Breaker        string
	BreakerTrips   int
	Penalties      []penaltyView
	RecentOrders   float64
	SuccessRate    *float64
	CancelRate     *float64
	MinSuccessRate *float64
}

// platformsView is GET /api/sms/platforms by platform code (answers are
// checked against openapi.json by e.api).
func platformsView(t *testing.T, e *env) map[string]platformView {
	t.Helper()
	var v struct{ Platforms []platformView }
	r := e.api("GET", "/api/sms/platforms", keyA, nil)
	if r.Status != 200 {
		t.Fatalf("platforms: %d %s", r.Status, r.Msg)
	}
	r.into(t, &v)
	out := map[string]platformView{}
	for _, p := range v.Platforms {
		out[p.Platform] = p
	}
	return out
}

// buyAt buys country/service and returns the platform that sold it.
func buyAt(t *testing.T, e *env, country, service string) (platform string, id int64) {
	t.Helper()
	var ph struct {
		ID       int64
		Platform string
	}
	r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": country, "service": service})
	if r.Status != 200 {
		t.Fatalf("getPhone %s/%s: %d %s", country, service, r.Status, r.Msg)
	}
	r.into(t, &ph)
	return ph.Platform, ph.ID
}

func wantBuyAt(t *testing.T, e *env, country, service, want, when string) int64 {
	t.Helper()
	got, id := buyAt(t, e, country, service)
	if got != want {
		t.Fatalf("%s: %s/%s bought at %s; want %s", when, country, service, got, want)
	}
	return id
}

// wantPenalty checks that platform shows exactly one penalty like want
// and a closed breaker that never tripped.
func wantPenalty(t *testing.T, e *env, platform string, want penaltyView) {
	t.Helper()
	v := platformsView(t, e)[platform]
	if v.Breaker != "closed" || v.BreakerTrips != 0 {
		t.Errorf("%s breaker %s after %d trips; want closed, never tripped", platform, v.Breaker, v.BreakerTrips)
	}
	if len(v.Penalties) != 1 {
		t.Fatalf("%s penalties = %+v; want one like %+v", platform, v.Penalties, want)
	}
	p := v.Penalties[0]
	if p.Scope != want.Scope || p.Country != want.Country || p.Service != want.Service ||
		!strings.Contains(p.Reason, want.Reason) || !p.Until.Equal(want.Until) {
		t.Errorf("%s penalty = %+v; want %+v (reason containing %q)", platform, p, want, want.Reason)
	}
}

func wantNoPenalty(t *testing.T, e *env, platform string) {
	t.Helper()
	if v := platformsView(t, e)[platform]; len(v.Penalties) != 0 || v.Breaker != "closed" {
		t.Errorf("%s: penalties %+v, breaker %s; want none, closed", platform, v.Penalties, v.Breaker)
	}
}

// TestPairBanRoutesAround (issue 19, acceptance 5): the simulated HeroSMS
// bans one service × country with retry_after: purchases of that pair go
// to the other platform until it ends (HeroSMS is not asked again), other
// pairs still buy at HeroSMS, its breaker stays closed, platforms shows
// the ban with its reason and end; after the end the pair buys there again.
func TestPairBanRoutesAround(t *testing.T) {
	e := penaltyEnv(t, nil)
	hero := e.sims["hero"].Market
	wantBuyAt(t, e, "us", "tg", "hero", "before the ban")

	start := e.clock.Now()
	end := start.Add(10 * time.Minute)
	hero.SetPairBanned("us", "tg", end)
	wantBuyAt(t, e, "us", "tg", "sa", "the ban answered")
	asked := hero.Calls("getNumberV2")
	wantBuyAt(t, e, "us", "tg", "sa", "during the ban")
	if n := hero.Calls("getNumberV2"); n != asked {
		t.Errorf("HeroSMS was asked %d more purchases during the ban; want none", n-asked)
	}
	wantBuyAt(t, e, "gb", "tg", "hero", "another country during the ban")
	wantBuyAt(t, e, "us", "wa", "hero", "another service during the ban")
	wantPenalty(t, e, "hero", penaltyView{Scope: "pair", Country: "us", Service: "tg", Reason: "BANNED", Until: end})
	wantNoPenalty(t, e, "sa")

	var rec struct {
		Skipped []struct{ Platform, Reason string }
	}
	e.api("GET", "/api/sms/recommended?country=us&service=tg", keyA, nil).into(t, &rec)
	if len(rec.Skipped) != 1 || rec.Skipped[0].Platform != "hero" || !strings.HasPrefix(rec.Skipped[0].Reason, "penalised: BANNED") {
		t.Errorf("recommended skipped = %+v; want hero penalised: BANNED …", rec.Skipped)
	}

	e.clock.Advance(end.Sub(start) - time.Second)
	wantBuyAt(t, e, "us", "tg", "sa", "a second before the end")
	e.clock.Advance(time.Second)
	wantBuyAt(t, e, "us", "tg", "hero", "after the ban")
	wantNoPenalty(t, e, "hero")
}

// TestTooManyRequestsRoutesAround: HTTP 429 with Retry-After keeps the
// whole platform out of routing for that long, breaker closed.
func TestTooManyRequestsRoutesAround(t *testing.T) {
	e := penaltyEnv(t, nil)
	hero := e.sims["hero"].Market
	wantBuyAt(t, e, "us", "tg", "hero", "before")
	hero.SetFaults(simulator.Faults{TooMany: true, RetryAfter: 90 * time.Second})
	end := e.clock.Now().Add(90 * time.Second)
	wantBuyAt(t, e, "us", "tg", "sa", "the 429 answered")
	hero.SetFaults(simulator.Faults{}) // HeroSMS would sell now; we wait as told
	wantBuyAt(t, e, "gb", "tg", "sa", "within Retry-After, another pair")
	wantPenalty(t, e, "hero", penaltyView{Scope: "account", Reason: "429", Until: end})
	e.clock.Advance(90 * time.Second)
	wantBuyAt(t, e, "us", "tg", "hero", "after Retry-After")
	wantNoPenalty(t, e, "hero")
}

// TestChannelsLimitRoutesAround: CHANNELS_LIMIT keeps the platform out
// for its penalty_backoff, breaker closed.
func TestChannelsLimitRoutesAround(t *testing.T) {
	e := penaltyEnv(t, func(c *config.Config) { c.Platforms[1].PenaltyBackoff = 45 * time.Second })
	hero := e.sims["hero"].Market
	hero.SetChannelsLimit(1)
	wantBuyAt(t, e, "us", "tg", "hero", "the first channel")
	end := e.clock.Now().Add(45 * time.Second)
	wantBuyAt(t, e, "us", "tg", "sa", "over the channel limit")
	asked := hero.Calls("getNumberV2")
	wantBuyAt(t, e, "gb", "tg", "sa", "within the backoff")
	if n := hero.Calls("getNumberV2"); n != asked {
		t.Errorf("HeroSMS was asked %d more purchases within the backoff; want none", n-asked)
	}
	wantPenalty(t, e, "hero", penaltyView{Scope: "account", Reason: "CHANNELS_LIMIT", Until: end})
	hero.SetChannelsLimit(0)
	e.clock.Advance(45 * time.Second)
	wantBuyAt(t, e, "us", "tg", "hero", "after the backoff")
}

// TestMinSuccessRateRoutesAway: three HeroSMS orders cancelled without a
// code put its recent success rate (0 %) under its min_success_rate
// (50 %, over at least 2 orders): purchases go elsewhere, platforms shows
// why and until when (the record decays under the sample), the rates are
// shown (cancel rate 1 per purchase); after that HeroSMS is tried again.
func TestMinSuccessRateRoutesAway(t *testing.T) {
	e := penaltyEnv(t, func(c *config.Config) {
		c.Platforms[1].MinSuccessRate = 50
		c.Platforms[1].MinSuccessSample = 2
	})
	var ids []int64
	for range 3 {
		ids = append(ids, wantBuyAt(t, e, "us", "tg", "hero", "before any record"))
	}
	e.clock.Advance(3 * time.Minute) // past the early-cancel guard
	for _, id := range ids {
		if r := e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": id, "status": "cancel"}); r.Status != 200 {
			t.Fatalf("cancel %d: %d %s", id, r.Status, r.Msg)
		}
	}
	wantBuyAt(t, e, "us", "tg", "sa", "under min_success_rate")
	wantBuyAt(t, e, "gb", "wa", "sa", "under min_success_rate, any pair")
	v := platformsView(t, e)["hero"]
	// The purchases are 3 minutes older than the cancels: they weigh a
	// little less (one-hour half-life), so the rate is a little over 1.
	if v.SuccessRate == nil || *v.SuccessRate != 0 || v.CancelRate == nil || *v.CancelRate < 1 || *v.CancelRate > 1.05 ||
		v.MinSuccessRate == nil || *v.MinSuccessRate != 0.5 || v.RecentOrders < 2.9 || v.RecentOrders > 3 {
		t.Errorf("hero rates: success %v cancel %v min %v recent %v; want 0, ~1, 0.5, 3", ptr(v.SuccessRate), ptr(v.CancelRate), ptr(v.MinSuccessRate), v.RecentOrders)
	}
	if len(v.Penalties) != 1 || v.Penalties[0].Scope != "account" || !strings.Contains(v.Penalties[0].Reason, "below min_success_rate 50.0%") {
		t.Fatalf("hero penalties = %+v; want one for min_success_rate", v.Penalties)
	}
	if v.Breaker != "closed" {
		t.Errorf("hero breaker %s; want closed", v.Breaker)
	}
	// 3 orders decay under 2 within log2(3/2) hours (≈ 35 min).
	until := v.Penalties[0].Until
	if d := until.Sub(e.clock.Now()); d < 30*time.Minute || d > 36*time.Minute {
		t.Errorf("min_success_rate penalty ends in %v; want about 35 min", d)
	}
	e.clock.Advance(until.Sub(e.clock.Now()) - time.Minute)
	wantBuyAt(t, e, "us", "tg", "sa", "a minute before the record decays")
	e.clock.Advance(2 * time.Minute)
	wantBuyAt(t, e, "us", "tg", "hero", "after the record decayed")
}

func ptr(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
