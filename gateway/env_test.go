package gateway_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/gateway/apitest"
	"smsgate/ledger"
)

// Tenant keys used by the tests.
const (
	keyA = "tenant-a-key-0001"
	keyB = "tenant-b-key-0002"
)

// env is a running gateway in front of two simulated platforms, all on
// loopback, sharing one manual clock.
type env struct {
	t      testing.TB
	clock  *simulator.ManualClock
	cfg    config.Config
	sims   map[string]*registry.Sim
	dbPath string
	store  ledger.Store
	g      *gateway.Gateway
	srv    *gateway.Server
	cancel context.CancelFunc
	url    string
	opts   envOptions
	oapiMu sync.Mutex
	oapi   *apitest.Validator // loaded on the first unified call; guarded by oapiMu
}

// testConfig: "sa" (classic SMS-Activate, RUB) first, "hero" (HeroSMS
// dialect, USD) second; tenants a (USD) and b.
func testConfig() config.Config {
	cfg := config.Defaults()
	cfg.FX.Rates = map[string]string{"RUB": "0.011"}
	cfg.Platforms = []config.Platform{
		{Code: "sa", Type: "smsactivate", URL: "sim", Currency: "RUB", Dialect: "classic", PollInterval: time.Second, Timeout: 2 * time.Second},
		{Code: "hero", Type: "smsactivate", URL: "sim", Currency: "USD", Dialect: "hero", PollInterval: time.Second, Timeout: 2 * time.Second},
	}
	cfg.Tenants = []config.Tenant{{Name: "a", Key: keyA}, {Name: "b", Key: keyB}}
	// The outbox and the intent pass run on the tests' manual clock: a
	// retry is due when the test moves the clock; the real-time tick only
	// bounds how soon a due action runs.
	cfg.Recovery.OutboxTick = 10 * time.Millisecond
	cfg.Recovery.IntentGrace, cfg.Recovery.Reconcile = time.Second, 10*time.Second
	cfg.Recovery.IntentEvery = 50 * time.Millisecond
	cfg.ApplyDefaults()
	return cfg
}

// newEnv starts the simulators (SMS 5 s after purchase) and a gateway on a
// fresh ledger file.
func newEnv(t *testing.T) *env { return newEnvDelay(t, 5*time.Second) }

// newEnvDelay is newEnv with the simulators' SMS delay (negative: never).
func newEnvDelay(t *testing.T, codeDelay time.Duration) *env {
	return newEnvWith(t, envOptions{codeDelay: codeDelay})
}

// envOptions vary the test gateway.
type envOptions struct {
	codeDelay time.Duration              // simulated SMS delay; 0 = 5 s, negative = never
	config    func(c *config.Config)     // edits testConfig() before use
	preStart  func(e *env)               // runs after the ledger opens, before the gateway starts
	clock     *simulator.ManualClock     // default: a new one at 2026-03-01 10:00 UTC
	realClock bool                       // gateway and simulators on the wall clock (load tests)
	seed      uint64                     // random strategy seed; default 1
	platform  func(p *gateway.Platform)  // edits each gateway platform before New
	market    func(mc *simulator.Config) // edits each simulator's config
}

// newEnvWith starts the simulators and a gateway on a fresh ledger file.
func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.codeDelay == 0 {
		o.codeDelay = 5 * time.Second
	}
	if o.clock == nil {
		o.clock = simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	}
	e := &env{
		t:      t,
		clock:  o.clock,
		cfg:    testConfig(),
		sims:   map[string]*registry.Sim{},
		dbPath: filepath.Join(t.TempDir(), "ledger.db"),
		opts:   o,
	}
	if o.config != nil {
		o.config(&e.cfg)
		e.cfg.ApplyDefaults()
	}
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	prices := map[string]int64{"RUB": 40 * adapters.Micro, "USD": adapters.Micro / 2}
	for i, pc := range e.cfg.Platforms {
		mc := simulator.Config{Clock: e.clock, CodeDelay: o.codeDelay, Seed: uint64(i + 1), BasePrice: prices[pc.Currency], IDOffset: -1}
		if o.realClock {
			mc.Clock = simulator.RealClock{}
		}
		if o.market != nil {
			o.market(&mc)
		}
		sim, err := registry.StartSim(registry.Spec{Code: pc.Code, Type: pc.Type, Currency: pc.Currency, Dialect: pc.Dialect, Timeout: pc.Timeout}, mc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		e.sims[pc.Code] = sim
	}
	e.start()
	return e
}

// start opens the ledger and serves a gateway over it.
func (e *env) start() {
	t := e.t
	t.Helper()
	store, err := ledger.OpenSQLite(e.dbPath, ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var plats []*gateway.Platform
	for _, pc := range e.cfg.Platforms {
		p := &gateway.Platform{
			Code: pc.Code, Adapter: e.sims[pc.Code].Platform, Priority: pc.Priority, Weight: pc.Weight,
			Currency: pc.Currency, PollInterval: pc.PollInterval, Timeout: pc.Timeout, Enabled: true,
		}
		if e.opts.platform != nil {
			e.opts.platform(p)
		}
		plats = append(plats, p)
	}
	e.store = store
	if e.opts.preStart != nil {
		e.opts.preStart(e)
	}
	seed := e.opts.seed
	if seed == 0 {
		seed = 1
	}
	clock := e.clock.Now
	if e.opts.realClock {
		clock = time.Now
	}
	g, err := gateway.New(gateway.Options{Config: e.cfg, Platforms: plats, Store: store, Clock: clock,
		Rand: rand.New(rand.NewPCG(seed, seed))})
	if err != nil {
		t.Fatal(err)
	}
	srv, url, cancel := serveGateway(t, g)
	e.store, e.g, e.srv, e.cancel, e.url = store, g, srv, cancel, url
	t.Cleanup(e.stop)
}

// serveGateway starts g's background work and serves it on a loopback
// port; drainGateway undoes it.
func serveGateway(t testing.TB, g *gateway.Gateway) (*gateway.Server, string, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	srv := gateway.NewServer(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		g.Stop()
		t.Fatal(err)
	}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), cancel
}

// drainGateway drains the server and stops the background work, as a
// SIGTERM does; the ledger is the caller's to close.
func drainGateway(srv *gateway.Server, cancel context.CancelFunc, g *gateway.Gateway) {
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	srv.Shutdown(ctx)
	cancel()
	g.Stop()
}

// stop drains the server, stops the poller and closes the ledger, as a
// SIGTERM does. Safe to call twice.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	drainGateway(e.srv, e.cancel, e.g)
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close ledger: %v", err)
	}
	e.srv = nil
}

// restart stops the gateway and starts a new one on the same ledger file.
func (e *env) restart() {
	e.stop()
	e.start()
}

// legacy sends a handler-API GET with the given key and parameters
// (alternating name, value) and returns status and body.
func (e *env) legacy(key string, kv ...string) (int, string) {
	e.t.Helper()
	q := url.Values{}
	if key != "" {
		q.Set("api_key", key)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return e.get("/stubs/handler_api.php?" + q.Encode())
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// eventually polls cond (kicking the poller) for up to 5 s of real time.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		e.g.Kick()
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("timed out waiting for %s", what)
}

// statusIs waits until getStatus of id answers want.
func (e *env) statusIs(key, id, want string) {
	e.t.Helper()
	var last string
	e.eventually("getStatus "+want, func() bool {
		_, last = e.legacy(key, "action", "getStatus", "id", id)
		return last == want
	})
}

func ledgerFilter(platform string) ledger.Filter { return ledger.Filter{Platform: platform} }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// pollerCaughtUp kicks the poller until it has dealt with the list
// rounds owed at the current simulated time and no order is due then
// (all polled and rescheduled); generous, for -race on a busy machine.
func (e *env) pollerCaughtUp() {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		now := e.clock.Now()
		if e.g.RoundsCaughtUp(now) {
			due, err := e.store.Due(context.Background(), now, 1)
			if err == nil && len(due) == 0 {
				return
			}
		}
		e.g.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatal("poller did not catch up in 60 s")
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }
