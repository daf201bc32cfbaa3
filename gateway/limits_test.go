package gateway_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters/simulator"
	"smsgate/config"
)

// TestTenantLimits: a tenant over its request rate gets the limit answer
// (429, Retry-After, TOO_MANY_REQUESTS); a tenant at its active-order cap
// gets CHANNELS_LIMIT until one of its orders ends; another tenant is not
// affected by either.
func TestTenantLimits(t *testing.T) {
	e := newEnvWith(t, envOptions{
		codeDelay: -1,
		config: func(c *config.Config) {
			c.Tenants[0].MaxActive = 2
			c.Tenants[1].Rate = 5 // b: 5 requests/s, burst 5
		},
	})
	// Rate: the manual clock stands still, so b's bucket never refills.
	limited := 0
	for i := 0; i < 8; i++ {
		resp, err := http.Get(e.url + "/stubs/handler_api.php?action=getBalance&api_key=" + keyB)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if string(buf[:n]) != "TOO_MANY_REQUESTS" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("limited answer %q, Retry-After %q", buf[:n], resp.Header.Get("Retry-After"))
			}
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 8 requests limited; want 3 over a burst of 5", limited)
	}
	e.clock.Advance(time.Second)
	if _, b := e.legacy(keyB, "action", "getBalance"); !strings.HasPrefix(b, "ACCESS_BALANCE:") {
		t.Fatalf("after a second b gets %q; want its bucket refilled", b)
	}
	// a has no rate limit: unaffected.
	for i := 0; i < 20; i++ {
		if _, b := e.legacy(keyA, "action", "getBalance"); !strings.HasPrefix(b, "ACCESS_BALANCE:") {
			t.Fatalf("tenant a limited by b's rate: %q", b)
		}
	}

	// Active-order cap.
	first := e.buy(keyA, "service", "tg", "country", "187")
	e.buy(keyA, "service", "tg", "country", "187")
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "CHANNELS_LIMIT" {
		t.Fatalf("third order over a cap of 2 = %q; want CHANNELS_LIMIT", b)
	}
	if _, b := e.legacy(keyA, "action", "getNumberV2", "service", "wa", "country", "16"); b != "CHANNELS_LIMIT" {
		t.Fatalf("getNumberV2 over the cap = %q; want CHANNELS_LIMIT", b)
	}
	e.clock.Advance(2 * time.Minute) // past the cancel guard
	if _, b := e.legacy(keyA, "action", "setStatus", "id", first, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("cancel = %q", b)
	}
	e.buy(keyA, "service", "tg", "country", "187") // a slot is free again
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "CHANNELS_LIMIT" {
		t.Fatalf("cap not enforced again: %q", b)
	}
	e.clock.Advance(time.Second) // b's bucket: one token back
	if _, b := e.legacy(keyB, "action", "getNumber", "service", "tg", "country", "187"); !strings.HasPrefix(b, "ACCESS_NUMBER:") {
		t.Fatalf("tenant b blocked by a's cap: %q", b)
	}
}

// TestCapSurvivesRestart: active orders in the ledger count against the
// cap after a restart.
func TestCapSurvivesRestart(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1, config: func(c *config.Config) { c.Tenants[0].MaxActive = 1 }})
	e.buy(keyA, "service", "tg", "country", "187")
	e.restart()
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "CHANNELS_LIMIT" {
		t.Fatalf("after restart with one active order = %q; want CHANNELS_LIMIT", b)
	}
}

// TestPricesSingleFlightAndStale: 100 concurrent getPrices misses make one
// upstream call per platform; with the upstream down and the entry past
// its TTL, getPrices still answers from the stale entry.
func TestPricesSingleFlightAndStale(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1})
	before := map[string]int64{}
	for code, s := range e.sims {
		before[code] = s.Market.Calls("getPrices")
	}
	var wg sync.WaitGroup
	bodies := make(chan string, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b := e.legacy(keyA, "action", "getPrices", "service", "wa", "country", "16")
			bodies <- b
		}()
	}
	wg.Wait()
	close(bodies)
	var first string
	for b := range bodies {
		if first == "" {
			first = b
		}
		if b != first || !strings.HasPrefix(b, `{"16":{"wa":`) {
			t.Fatalf("answers differ or are wrong: %q vs %q", b, first)
		}
	}
	for code, s := range e.sims {
		if n := s.Market.Calls("getPrices") - before[code]; n != 1 {
			t.Errorf("%s got %d getPrices calls for 100 concurrent misses; want 1", code, n)
		}
	}
	// Past the prices TTL, with every upstream down: the stale answer.
	e.clock.Advance(2 * time.Hour)
	for _, s := range e.sims {
		s.Market.SetFaults(simulator.Faults{Outage: true})
	}
	if _, b := e.legacy(keyA, "action", "getPrices", "service", "wa", "country", "16"); b != first {
		t.Fatalf("getPrices with upstreams down = %q; want the stale %q", b, first)
	}
	if m := mustGet(e, "/metrics"); metricValue(m, `smsgate_cache_total{kind="offers",result="stale"}`) < 1 {
		t.Errorf("stale serving not counted:\n%s", grep(m, "cache_total"))
	}
}
