package smsactivate_test

import (
	"context"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
)

// TestPenalties: the answers by which a platform punishes us are
// penalties with their scope and end, never breaker faults: an account
// ban (both dialects), HeroSMS's ban of one service × country with
// retry_after_seconds (the other pairs still sell), CHANNELS_LIMIT (the
// account, no time given) and HTTP 429 with Retry-After.
func TestPenalties(t *testing.T) {
	type want struct {
		scope, country, service string
		retryAfter              time.Duration
		until                   bool // an end date was read
		reason                  string
	}
	cases := []struct {
		name  string
		setup func(f *fixture)
		hero  want // HeroSMS dialect
		class want // classic dialect
	}{
		{
			name:  "account ban",
			setup: func(f *fixture) { f.market.SetBanned(f.clock.Now().Add(time.Hour)) },
			hero:  want{scope: adapters.ScopeAccount, retryAfter: time.Hour, until: true, reason: "BANNED"},
			class: want{scope: adapters.ScopeAccount, until: true, reason: "BANNED"},
		},
		{
			name:  "pair ban",
			setup: func(f *fixture) { f.market.SetPairBanned("us", "tg", f.clock.Now().Add(30*time.Minute)) },
			hero:  want{scope: adapters.ScopePair, country: "us", service: "tg", retryAfter: 30 * time.Minute, until: true, reason: "BANNED (service × country)"},
			// The classic protocol cannot say the scope: the account.
			class: want{scope: adapters.ScopeAccount, until: true, reason: "BANNED"},
		},
		{
			name:  "channels limit",
			setup: func(f *fixture) { f.market.SetChannelsLimit(1); buyOne(t, f, "gb") },
			hero:  want{scope: adapters.ScopeAccount, reason: "CHANNELS_LIMIT"},
			class: want{scope: adapters.ScopeAccount, reason: "CHANNELS_LIMIT"},
		},
		{
			name:  "http 429",
			setup: func(f *fixture) { f.market.SetFaults(simulator.Faults{TooMany: true, RetryAfter: 42 * time.Second}) },
			hero:  want{scope: adapters.ScopeAccount, retryAfter: 42 * time.Second, reason: "http 429 too many requests"},
			class: want{scope: adapters.ScopeAccount, retryAfter: 42 * time.Second, reason: "http 429 too many requests"},
		},
	}
	for _, dc := range dialects {
		for _, tc := range cases {
			t.Run(dc.name+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, dc.d, testKey, 2*time.Second)
				tc.setup(f)
				w := tc.class
				if dc.name == "hero" {
					w = tc.hero
				}
				_, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "us", Service: "tg"})
				pe, ok := adapters.AsPenalty(err)
				if !ok {
					t.Fatalf("buy error = %v; want a penalty", err)
				}
				if adapters.PlatformFault(err) {
					t.Errorf("%v counts as a platform fault (it would trip the breaker)", err)
				}
				if !adapters.Retryable(err) {
					t.Errorf("%v is not retryable elsewhere", err)
				}
				if pe.Scope != w.scope || pe.Country != w.country || pe.Service != w.service || pe.Reason != w.reason {
					t.Errorf("penalty = %+v; want scope %q pair %q/%q reason %q", pe, w.scope, w.service, w.country, w.reason)
				}
				if pe.RetryAfter != w.retryAfter {
					t.Errorf("retry after = %v; want %v", pe.RetryAfter, w.retryAfter)
				}
				if !pe.Until.IsZero() != w.until {
					t.Errorf("until = %v; want set: %v", pe.Until, w.until)
				}
				if w.until && !pe.Until.After(f.clock.Now()) {
					t.Errorf("until = %v; not after the simulator's now %v", pe.Until, f.clock.Now())
				}
				if tc.name == "pair ban" && dc.name == "hero" {
					// Another pair still sells.
					if _, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "gb", Service: "tg"}); err != nil {
						t.Fatalf("buy of another pair during a pair ban: %v", err)
					}
					// After the ban the pair sells again.
					f.clock.Advance(31 * time.Minute)
					if _, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "us", Service: "tg"}); err != nil {
						t.Fatalf("buy after the pair ban ended: %v", err)
					}
				}
			})
		}
	}
}

func buyOne(t *testing.T, f *fixture, country string) {
	t.Helper()
	if _, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: country, Service: "tg"}); err != nil {
		t.Fatalf("buy: %v", err)
	}
}
