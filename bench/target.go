package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/ledger"
)

// endpoint is one thing bench loads: the gateway, the simulator directly,
// or the bare fasthttp ceiling.
type endpoint struct {
	name string // "gateway", "direct", "ceiling"
	base string // "http://127.0.0.1:port"
	key  string // api_key / bearer key it accepts
}

// errNeedsSimulator refuses a scenario that has to steer the simulated
// upstreams when bench loads a gateway it did not start.
var errNeedsSimulator = errors.New("needs control of the simulated upstreams, so it runs only in-process: drop -target")

// tenantName is the in-process demo tenant.
const tenantName = "demo"

// world is what a scenario runs against. In-process, bench owns every
// piece; with -target only gateway is set.
type world struct {
	gateway endpoint
	// In-process only (nil / zero with -target):
	sims   []*registry.Sim // the gateway's upstreams, by priority
	codes  []string        // their platform codes
	direct *directSim      // a separate simulator for the direct baselines
	// upstream is the out-of-process simulator the buy scenario's gateway
	// buys from (nil for the other scenarios).
	upstream *upstreamProc
	store    ledger.Store
	dir      string // temporary ledger directory, removed by close
	close    func()
}

// directSim is the "simulator directly" baseline: the smsactivate skin over
// its own market, with the same settings as the gateway's upstreams.
type directSim struct {
	market *simulator.Market
	server *simulator.Server
	ep     endpoint
}

// simConfig is every simulated market's setup: real clock, stock and
// balance no run can exhaust, SMS after -code-delay.
func simConfig(o *options, seed uint64) simulator.Config {
	return simulator.Config{
		Currency:  "USD",
		Balance:   1_000_000_000 * adapters.Micro,
		Stock:     100_000_000,
		BasePrice: adapters.Micro / 2,
		CodeDelay: o.codeDelay,
		Clock:     simulator.RealClock{},
		Seed:      seed,
	}
}

func startDirect(o *options) (*directSim, error) {
	mc := simConfig(o, 99)
	mc.Key = randomHex(16)
	m := simulator.New(mc)
	srv, err := simulator.Serve(smsactivate.NewSkin(m, smsactivate.Classic))
	if err != nil {
		return nil, fmt.Errorf("cannot start the direct simulator: %w", err)
	}
	return &directSim{market: m, server: srv, ep: endpoint{name: "direct", base: srv.URL, key: mc.Key}}, nil
}

// setupWorld starts the simulators and a gateway on a temporary ledger, or
// describes the -target gateway.
func setupWorld(o *options) (*world, error) {
	if !o.inProcess() {
		return &world{gateway: endpoint{name: "gateway", base: o.target, key: o.key}, close: func() {}}, nil
	}
	w := &world{}
	var closers []func()
	w.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*world, error) {
		w.close()
		return nil, err
	}

	dir, err := os.MkdirTemp("", "smsgate-bench-")
	if err != nil {
		return fail(fmt.Errorf("cannot create the ledger directory: %w", err))
	}
	w.dir = dir
	closers = append(closers, func() { os.RemoveAll(dir) })

	key := "bench-" + randomHex(12)
	cfg, err := benchConfig(o, dir, key)
	if err != nil {
		return fail(err)
	}

	var plats []*gateway.Platform
	if o.ownUpstream() {
		if w.upstream, err = startUpstreamProc(o); err != nil {
			return fail(err)
		}
		closers = append(closers, w.upstream.stop)
		plats, err = upstreamPlatforms(o, w.upstream)
	} else {
		plats, err = w.startSims(o, cfg, &closers)
	}
	if err != nil {
		return fail(err)
	}

	store, err := openBenchLedger(o, cfg, &closers)
	if err != nil {
		return fail(err)
	}
	w.store = store
	storeOpen := true
	closers = append(closers, func() {
		if storeOpen {
			store.Close()
		}
	})
	g, err := gateway.New(gateway.Options{Config: cfg, Platforms: plats, Store: store, Logger: benchLogger()})
	if err != nil {
		return fail(fmt.Errorf("cannot build the gateway: %w", err))
	}
	srv := gateway.NewServer(g)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fail(fmt.Errorf("cannot listen: %w", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	go srv.Serve(ln) //nolint:errcheck // returns at Shutdown
	closers = append(closers, func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(sctx) //nolint:errcheck // a request cut at exit does not matter
		scancel()
		cancel()
		g.Stop()
		store.Close()
		storeOpen = false
	})
	w.gateway = endpoint{name: "gateway", base: "http://" + ln.Addr().String(), key: key}
	if w.upstream != nil {
		return w, waitHealthy(w.gateway.base) // the proxy is its baseline
	}
	if w.direct, err = startDirect(o); err != nil {
		return fail(err)
	}
	closers = append(closers, func() { w.direct.server.Close() })
	return w, waitHealthy(w.gateway.base)
}

// startSims starts a simulator per configured platform and returns the
// gateway platforms over them.
func (w *world) startSims(o *options, cfg config.Config, closers *[]func()) ([]*gateway.Platform, error) {
	var plats []*gateway.Platform
	for i, pc := range cfg.Platforms {
		sim, err := registry.StartSim(registry.Spec{Code: pc.Code, Type: pc.Type, Currency: pc.Currency, Dialect: pc.Dialect, Timeout: pc.Timeout},
			simConfig(o, uint64(i+1)))
		if err != nil {
			return nil, fmt.Errorf("cannot start simulator %s: %w", pc.Code, err)
		}
		*closers = append(*closers, func() { sim.Close() })
		w.sims = append(w.sims, sim)
		w.codes = append(w.codes, pc.Code)
		plats = append(plats, &gateway.Platform{
			Code: pc.Code, Adapter: sim.Platform, Priority: pc.Priority, Weight: pc.Weight, Currency: pc.Currency,
			PollInterval: pc.PollInterval, Timeout: pc.Timeout, Enabled: true, Rate: pc.Rate, MaxActive: pc.MaxActive,
		})
	}
	return plats, nil
}

// benchConfig is the in-process gateway's configuration: o.platforms
// simulated SMS-Activate platforms, one tenant with key, a SQLite ledger in
// dir.
func benchConfig(o *options, dir, key string) (config.Config, error) {
	cfg := config.Defaults()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Ledger.URL = filepath.Join(dir, "ledger.db")
	n := o.platforms
	if o.ownUpstream() {
		n = 1 // the upstream process
	}
	for i := range n {
		cfg.Platforms = append(cfg.Platforms, config.Platform{
			Code: platformCode(o, i), Type: "smsactivate", URL: "sim", Currency: "USD", Dialect: "classic",
			// Unlimited outbound rate: bench measures the gateway's cost, not
			// the default 10 requests/s a real platform account allows.
			PollInterval: o.upstreamPoll, Timeout: o.upstreamTimeout, Rate: -1,
		})
	}
	cfg.Tenants = []config.Tenant{{Name: tenantName, Key: config.Secret(key)}}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("gateway config: %w", err)
	}

	return cfg, nil
}

// platformCode is the i-th configured platform's code: "up" for the buy
// scenario's upstream process, else sim1, sim2, ….
func platformCode(o *options, i int) string {
	if o.ownUpstream() {
		return "up"
	}
	return fmt.Sprintf("sim%d", i+1)
}

// waitHealthy waits up to 5 s for /healthz to answer 200.
func waitHealthy(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	hc := &fasthttp.HostClient{Addr: u.Host, MaxIdemponentCallAttempts: 1}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _, err := hc.GetTimeout(nil, base+"/healthz", time.Second)
		if err == nil && code == fasthttp.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway at %s not healthy after 5s (status %d, %v)", base, code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// calls sums the simulated upstreams' protocol calls of one action ("" =
// all), for markets ms.
func calls(ms []*simulator.Market, action string) int64 {
	var n int64
	for _, m := range ms {
		n += m.Calls(action)
	}
	return n
}

// markets lists the gateway's upstream markets.
func (w *world) markets() []*simulator.Market {
	out := make([]*simulator.Market, len(w.sims))
	for i, s := range w.sims {
		out[i] = s.Market
	}
	return out
}

// owner is the platform code holding gateway order id ("" if unknown).
func (w *world) owner(id int64) string {
	if w.store == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	o, err := w.store.Get(ctx, id)
	if err != nil {
		return ""
	}
	return o.Platform
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// openBenchLedger opens the temporary SQLite ledger, or with -ledger a
// PostgreSQL schema of its own (dropped when the world closes).
func openBenchLedger(o *options, cfg config.Config, closers *[]func()) (ledger.Store, error) {
	if o.ledgerURL == "" {
		return ledger.OpenSQLite(cfg.Ledger.URL, ledger.SQLiteOptions{Synchronous: cfg.Ledger.Synchronous})
	}
	schema := "bench_" + randomHex(6)
	store, err := ledger.OpenPostgres(context.Background(), o.ledgerURL, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		return nil, fmt.Errorf("cannot open the PostgreSQL ledger: %w", err)
	}
	*closers = append(*closers, func() {
		if conn, err := pgx.Connect(context.Background(), o.ledgerURL); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return store, nil
}

func benchLogger() *zap.Logger {
	if os.Getenv("BENCH_DEBUG") != "" {
		l, _ := zap.NewDevelopment()
		return l
	}
	return zap.NewNop()
}
