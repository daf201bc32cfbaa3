package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/ledger"
)

func simFaults() simulator.Faults { return simulator.Faults{ErrorRate: 1} }

// webhook is a loopback alert receiver.
type webhook struct {
	mu     sync.Mutex
	alerts []map[string]any
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var a map[string]any
	json.Unmarshal(b, &a)
	w.mu.Lock()
	w.alerts = append(w.alerts, a)
	w.mu.Unlock()
}

func (w *webhook) count(kind, platform string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.alerts {
		if a["kind"] == kind && a["platform"] == platform {
			n++
		}
	}
	return n
}

// faultEnv: platforms a (first by priority), b, c on the wall clock, with a
// fast breaker, a short upstream timeout, a big market, and an alert hook.
func faultEnv(t *testing.T, hookURL string) *env {
	return newEnvWith(t, envOptions{
		realClock: true,
		codeDelay: -1,
		config: func(c *config.Config) {
			threePlatforms(c)
			// Timeouts leave room for -race on a busy 2-core machine: a
			// healthy platform must never look slow here.
			for i := range c.Platforms {
				c.Platforms[i].Timeout = time.Second
			}
			c.Breaker.ConsecutiveFailures = 3
			c.Breaker.OpenTimeout = 300 * time.Millisecond
			c.Breaker.MaxOpenTimeout = 600 * time.Millisecond
			c.Routing.Deadline = 10 * time.Second
			c.Alerts.WebhookURL = hookURL
			c.Health.Interval = time.Hour
		},
		market: func(mc *simulator.Config) { mc.Stock = 1_000_000; mc.Balance = 1_000_000 * adapters.Micro },
	})
}

// phaseResult is what one load phase did.
type phaseResult struct {
	byPlatform map[string]int
	errors     []string
}

// load runs workers doing legacy getNumber until stop() says so.
func (e *env) load(workers int, stop func() bool) phaseResult {
	var (
		mu  sync.Mutex
		res = phaseResult{byPlatform: map[string]int{}}
		wg  sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop() {
				_, body := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187")
				mu.Lock()
				if rest, ok := strings.CutPrefix(body, "ACCESS_NUMBER:"); ok {
					id, _, _ := strings.Cut(rest, ":")
					res.byPlatform[e.order(id).Platform]++
				} else {
					res.errors = append(res.errors, body)
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return res
}

func forAbout(d time.Duration) func() bool {
	end := time.Now().Add(d)
	return func() bool { return time.Now().After(end) }
}

// TestFailoverUnderFaults: under concurrent legacy getNumber load,
// platform a goes down, then slow past the timeout, then answers garbage,
// then recovers. Clients see no error at any point while b and c sell;
// a's breaker opens, half-opens after recovery, and traffic returns to it.
func TestFailoverUnderFaults(t *testing.T) {
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	e := faultEnv(t, hs.URL)
	a := e.sims["a"].Market

	phases := []struct {
		name   string
		faults simulator.Faults
	}{
		{"a down", simulator.Faults{Outage: true}},
		{"a slow", simulator.Faults{Latency: 3 * time.Second}},
		{"a garbage", simulator.Faults{Garbage: true}},
	}
	healthy := e.load(6, forAbout(500*time.Millisecond))
	t.Logf("phase %-12s routed %v, client errors %d", "healthy", healthy.byPlatform, len(healthy.errors))
	if healthy.byPlatform["a"] == 0 || healthy.byPlatform["b"] != 0 || len(healthy.errors) > 0 {
		t.Fatalf("healthy phase routed %v (%d errors); want everything on a (priority)", healthy.byPlatform, len(healthy.errors))
	}
	for i, ph := range phases {
		// The fault: clients keep getting numbers, from b.
		a.SetFaults(ph.faults)
		before, opened := buyAttempts(e, "a"), transitions(e, "a", "open")
		r := e.load(6, forAbout(time.Second))
		reached := buyAttempts(e, "a") - before
		t.Logf("phase %-12s routed %v, client errors %d, purchase calls that reached a: %v", ph.name, r.byPlatform, len(r.errors), reached)
		if len(r.errors) > 0 {
			t.Errorf("phase %s: %d client-visible errors, e.g. %q", ph.name, len(r.errors), r.errors[0])
		}
		if r.byPlatform["b"] == 0 {
			t.Errorf("phase %s routed %v; want failover to b", ph.name, r.byPlatform)
		}
		// The breaker opened during the phase, within the configured 3
		// failures: only a few calls reached a, not one per client request.
		if transitions(e, "a", "open") <= opened {
			t.Errorf("phase %s: a's breaker did not open", ph.name)
		}
		if reached > 8 {
			t.Errorf("phase %s: %v purchase calls reached a for %d requests; want the breaker to stop them after 3", ph.name, reached, r.byPlatform["b"])
		}
		if h := e.apiGet("/api/sms/platforms/a/health"); !strings.Contains(h, `"breaker":"open"`) && !strings.Contains(h, `"breaker":"half-open"`) {
			t.Errorf("phase %s: health of a %s; want its breaker open", ph.name, h)
		}

		// Recovery: after the open time a probe goes through, the breaker
		// closes, and priority routing brings traffic back to a.
		a.SetFaults(simulator.Faults{})
		var back phaseResult
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			back = e.load(2, forAbout(150*time.Millisecond))
			if back.byPlatform["a"] > 0 || len(back.errors) > 0 {
				break
			}
		}
		t.Logf("phase %-12s routed %v, client errors %d", "recovered", back.byPlatform, len(back.errors))
		if back.byPlatform["a"] == 0 || len(back.errors) > 0 {
			t.Fatalf("after %s: routed %v with %d errors; want traffic back on a", ph.name, back.byPlatform, len(back.errors))
		}
		waitFor(t, func() bool { return transitions(e, "a", "closed") >= float64(i+1) })
	}
	if transitions(e, "a", "half-open") < 3 {
		t.Errorf("a's breaker half-opened %v times; want a probe after each outage", transitions(e, "a", "half-open"))
	}
	// One alert per outage, however many requests failed during it.
	waitFor(t, func() bool { return hook.count("breaker_open", "a") >= len(phases) })
	time.Sleep(50 * time.Millisecond)
	if n := hook.count("breaker_open", "a"); n != len(phases) {
		t.Errorf("webhook got %d breaker_open alerts for a over %d outages; want one each", n, len(phases))
	}
	// No lost number: every order a's simulator holds for us is in the ledger.
	checkNoLostNumbers(t, e, "a")
}

// transitions reads how often platform's breaker went to state, from /metrics.
func transitions(e *env, platform, to string) float64 {
	return metricValue(mustGet(e, "/metrics"), `smsgate_breaker_transitions_total{platform="`+platform+`",to="`+to+`"}`)
}

func metricValue(metrics, series string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(l, series+" "), &v)
			return v
		}
	}
	return 0
}

// buyAttempts is how many purchase calls the gateway sent to platform
// (from its own metrics: every result but "breaker_open").
func buyAttempts(e *env, platform string) float64 {
	var n float64
	for _, l := range strings.Split(mustGet(e, "/metrics"), "\n") {
		if strings.HasPrefix(l, `smsgate_upstream_calls_total{platform="`+platform+`",op="buy"`) && !strings.Contains(l, "breaker_open") {
			var v float64
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
			n += v
		}
	}
	return n
}

// apiGet GETs a unified endpoint as tenant a and returns the raw body.
func (e *env) apiGet(path string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func mustGet(e *env, path string) string {
	_, b := e.get(path)
	return b
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}

// checkNoLostNumbers: every active order the platform's simulator holds is
// an order in the ledger.
// platformBack ends sa's outage once the outbox has tried order id's
// queued call, moves the clock past the retry's backoff, and waits for
// the platform to show the order in state want.
func (e *env) platformBack(sa *simulator.Market, id string, want adapters.State) {
	e.t.Helper()
	e.attempted(id)
	sa.SetFaults(simulator.Faults{})
	e.clock.Advance(time.Minute)
	up := atoi(e.order(id).UpstreamID)
	waitFor(e.t.(*testing.T), func() bool {
		o, _ := sa.Get(up)
		return o.State == want
	})
}

// attempted waits until the outbox has tried order id's queued action
// once (and failed: the platform is down), so the test's next clock move
// is what makes the retry due.
func (e *env) attempted(id string) {
	e.t.Helper()
	waitFor(e.t.(*testing.T), func() bool {
		acts, err := e.store.Actions(context.Background(), atoi(id))
		return err == nil && len(acts) > 0 && acts[len(acts)-1].Attempts > 0
	})
}

func checkNoLostNumbers(t *testing.T, e *env, platform string) {
	t.Helper()
	owned := map[string]bool{}
	list, err := e.store.List(t.Context(), ledgerFilter(platform))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		owned[o.UpstreamID] = true
	}
	// A number bought but never recorded (its answer lost to a fault) is
	// no order: the intent pass finds it and queues its cancel (an
	// orphan action, order 0). The platform refuses cancels in its first
	// minutes, so the cancel itself may still be pending.
	queued := func() map[string]bool {
		q := map[string]bool{}
		acts, err := e.store.Actions(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.Platform == platform && a.Kind == ledger.ActCancel {
				q[a.UpstreamID] = true
			}
		}
		return q
	}
	for _, o := range e.sims[platform].Market.Active() {
		id := fmt.Sprint(o.ID)
		if owned[id] {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for !queued()[id] {
			if time.Now().After(deadline) {
				t.Errorf("%s holds order %d (%s) that the ledger neither has nor cancels: a lost number", platform, o.ID, o.Phone)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestBusinessAnswersDoNotTrip: NO_NUMBERS and NO_BALANCE fail over to
// the next platform but never open the refusing platform's breaker.
func TestBusinessAnswersDoNotTrip(t *testing.T) {
	e := faultEnv(t, "")
	// Warm the offers cache while a has stock, so the router keeps trying a.
	if plan := e.buy(keyA, "service", "tg", "country", "187"); plan == "" {
		t.Fatal("no purchase")
	}
	for _, refusal := range []struct {
		name  string
		apply func(m *simulator.Market)
	}{
		{"no numbers", func(m *simulator.Market) { m.SetStock("us", "tg", 0) }},
		{"no balance", func(m *simulator.Market) { m.SetStock("us", "tg", 1000); m.SetBalance(0) }},
	} {
		refusal.apply(e.sims["a"].Market)
		var failed atomic.Int32
		r := e.load(4, forAbout(300*time.Millisecond))
		failed.Add(int32(len(r.errors)))
		if failed.Load() > 0 || r.byPlatform["b"] == 0 || r.byPlatform["a"] != 0 {
			t.Fatalf("%s: routed %v, %d errors; want all on b", refusal.name, r.byPlatform, failed.Load())
		}
		h := e.apiGet("/api/sms/platforms/a/health")
		if !strings.Contains(h, `"breaker":"closed"`) {
			t.Fatalf("%s: a's breaker is not closed: %s", refusal.name, h)
		}
	}
}

// TestLostAnswerIsReconciled: a purchase whose answer is lost after the
// platform sold the number (the answer comes after our timeout) gives the
// client that very number: no second paid number elsewhere, no number
// missing from the ledger.
func TestLostAnswerIsReconciled(t *testing.T) {
	e := faultEnv(t, "")
	e.buy(keyA, "service", "tg", "country", "187") // warm the offers cache
	before := map[string]int{}
	for code, s := range e.sims {
		before[code] = len(s.Market.Active())
	}
	// Only the purchase itself is slow: a sells, then answers after 3 s;
	// the gateway gives up at 1 s.
	e.sims["a"].Market.SetFaults(simulator.Faults{LatencyAfter: 3 * time.Second, Count: 1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	o := e.order(id)
	if o.Platform != "a" {
		t.Fatalf("client got a number from %s; want the one a sold", o.Platform)
	}
	for code, s := range e.sims {
		want := before[code]
		if code == "a" {
			want++
		}
		if got := len(s.Market.Active()); got != want {
			t.Errorf("%s holds %d active orders; want %d (no second purchase)", code, got, want)
		}
	}
	checkNoLostNumbers(t, e, "a")
	if m := mustGet(e, "/metrics"); metricValue(m, `smsgate_unknown_purchases_total{platform="a",result="adopted"}`) != 1 {
		t.Errorf("metrics do not count the adopted purchase:\n%s", grep(m, "unknown_purchases"))
	}
}

// TestLowBalanceAlert: a balance under the platform's threshold raises one
// alert per incident, however many checks see it; recovering clears it.
func TestLowBalanceAlert(t *testing.T) {
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	e := newEnvWith(t, envOptions{
		realClock: true,
		config: func(c *config.Config) {
			threePlatforms(c)
			c.Alerts.WebhookURL = hs.URL
			c.Health.Interval = time.Hour
		},
		platform: func(p *gateway.Platform) {
			if p.Code == "b" {
				p.BalanceAlert = 20 * adapters.Micro
			}
		},
	})
	b := e.sims["b"].Market
	b.SetBalance(5 * adapters.Micro)
	for i := 0; i < 3; i++ {
		e.g.CheckHealth(t.Context())
	}
	waitFor(t, func() bool { return hook.count("low_balance", "b") >= 1 })
	b.SetBalance(50 * adapters.Micro)
	e.g.CheckHealth(t.Context())
	b.SetBalance(1 * adapters.Micro)
	e.g.CheckHealth(t.Context())
	e.g.CheckHealth(t.Context())
	waitFor(t, func() bool { return hook.count("low_balance", "b") >= 2 })
	time.Sleep(50 * time.Millisecond)
	if n := hook.count("low_balance", "b"); n != 2 {
		t.Fatalf("webhook got %d low_balance alerts for two incidents; want 2", n)
	}
	if n := hook.count("low_balance", "a") + hook.count("low_balance", "c"); n != 0 {
		t.Fatalf("alerts for platforms without a threshold: %d", n)
	}
	h := e.apiGet("/api/sms/platforms/b/health")
	for _, want := range []string{`"state":"up"`, `"balance":"1.00"`, `"currency":"USD"`, `"breaker":"closed"`, `"latencyMs":`} {
		if !strings.Contains(h, want) {
			t.Errorf("health %s lacks %s", h, want)
		}
	}
	if m := mustGet(e, "/metrics"); metricValue(m, `smsgate_alerts_total{kind="low_balance",platform="b"}`) != 2 {
		t.Errorf("alert metric:\n%s", grep(m, "alerts_total"))
	}
}

// TestFinishWhilePlatformDown: a client that has its code and finishes the
// order while the platform is unreachable gets ACCESS_ACTIVATION; the
// gateway tells the platform once it answers again.
func TestFinishWhilePlatformDown(t *testing.T) {
	e := newEnv(t)
	id := e.buy(keyA, "service", "tg", "country", "187")
	e.clock.Advance(5 * time.Second)
	e.eventually("code", func() bool {
		_, b := e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	sa := e.sims["sa"].Market
	sa.SetFaults(simulator.Faults{Outage: true})
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "6"); b != "ACCESS_ACTIVATION" {
		t.Fatalf("finish with the platform down = %q; want ACCESS_ACTIVATION", b)
	}
	if st := e.state(id); st != adapters.StateFinished {
		t.Fatalf("ledger state %s; want finished", st)
	}
	e.platformBack(sa, id, adapters.StateFinished)
}

// TestCancelWhilePlatformDown: a cancel while the platform is down lands
// too (the client's money comes back at once), with the cancel queued;
// the platform gets it when it answers again.
func TestCancelWhilePlatformDown(t *testing.T) {
	e := newEnvDelay(t, -1)
	sa := e.sims["sa"].Market
	id := e.buy(keyA, "service", "wa", "country", "16")
	e.clock.Advance(2 * time.Minute)
	sa.SetFaults(simulator.Faults{Outage: true})
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("cancel with the platform down = %q; want ACCESS_CANCEL (queued)", b)
	}
	e.platformBack(sa, id, adapters.StateCancelled)
}
