// Command smsgate is a gateway in front of SMS-activation platforms. It
// speaks the SMS-Activate handler API to legacy clients and routes each
// purchase to an upstream platform, keeping every order in a ledger.
//
//	go run .                      # gateway.toml: simulated upstreams, demo tenant
//	go run . -config prod.toml    # real platforms; keys from SMSGATE_* env
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
	"smsgate/breaker"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/gateway/events"
	"smsgate/gateway/fx"
	"smsgate/ledger"
	"smsgate/limits"
)

// demoKey is the public demo tenant key shipped in gateway.toml. Only this
// key is ever printed; a configured real key never is.
const demoKey = "demo-key-change-me"

func main() {
	path := flag.String("config", "gateway.toml", "configuration file")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "smsgate:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // fails on consoles (zap#880)
	raiseOpenFiles(&cfg.Server, log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Printf("smsgate listening on http://%s (legacy API at /stubs/handler_api.php, JSON API at /api/sms/)\n", a.ln.Addr())
	for _, t := range cfg.Tenants {
		if h := sha256.Sum256([]byte(demoKey)); strings.EqualFold(t.KeySHA256, hex.EncodeToString(h[:])) {
			fmt.Printf("demo tenant %q: api_key=%s\n", t.Name, demoKey)
		}
	}
	if len(a.sims) > 0 {
		fmt.Printf("%d simulated platform(s) running on loopback\n", len(a.sims))
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-a.served:
		if err != nil {
			log.Error("server stopped", zap.Error(err))
		}
	}
	return a.stop()
}

// app is a running gateway: ledger, simulators, order service, server.
type app struct {
	cfg    config.Config
	log    *zap.Logger
	store  ledger.Store
	sims   []*registry.Sim
	g      *gateway.Gateway
	srv    *gateway.Server
	ln     net.Listener
	cancel context.CancelFunc
	served chan error
}

// start builds and starts everything cfg describes; the background work
// runs until stop (or ctx ends).
func start(ctx context.Context, cfg config.Config, log *zap.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, served: make(chan error, 1)}
	var err error
	if a.store, err = openLedger(cfg.Ledger); err != nil {
		return nil, err
	}
	if r, ok := a.store.(interface{ RenamedDuplicates() int64 }); ok && r.RenamedDuplicates() > 0 {
		log.Warn("ledger held active orders sharing a platform's upstream id; the later ones were renamed <id>#dup<order id> and will expire",
			zap.Int64("renamed", r.RenamedDuplicates()))
	}
	fail := func(err error) (*app, error) {
		for _, s := range a.sims {
			s.Close()
		}
		a.store.Close()
		return nil, err
	}
	// go-redis prints its own dial failures raw on stderr; through zap
	// they are structured and rate-limited like everything else.
	limits.SetRedisLogger(log)
	shared, err := openShared(cfg.Redis)
	if err != nil {
		return fail(err)
	}
	plats, sims, err := buildPlatforms(cfg, a.store)
	a.sims = sims
	if err != nil {
		return fail(err)
	}
	if a.g, err = gateway.New(gateway.Options{Config: cfg, Platforms: plats, Store: a.store, Logger: log,
		Rates: shared.rates, Caps: shared.caps, Shared: shared.breakers, Bus: shared.bus}); err != nil {
		return fail(err)
	}
	a.srv = gateway.NewServer(a.g)
	if a.ln, err = a.srv.Listen(); err != nil {
		return fail(fmt.Errorf("cannot listen on %s: %w", cfg.Server.Listen, err))
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.g.Start(ctx)
	go func() { a.served <- a.srv.Serve(a.ln) }()
	for _, s := range a.sims {
		s.SetGateway("http://" + a.ln.Addr().String()) // simulated upstreams that call back
	}
	return a, nil
}

// stop drains in-flight requests, stops the background work and closes the
// ledger and the simulators.
func (a *app) stop() error {
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		a.log.Warn("shutdown did not drain every request", zap.Error(err))
	}
	a.cancel()
	a.g.Stop()
	for _, s := range a.sims {
		s.Close()
	}
	if err := a.store.Close(); err != nil {
		return fmt.Errorf("cannot close ledger: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

func newLogger(c config.Log) (*zap.Logger, error) {
	var zc zap.Config
	if c.Format == "json" {
		zc = zap.NewProductionConfig()
	} else {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}

func openLedger(c config.Ledger) (ledger.Store, error) {
	if strings.HasPrefix(c.URL, "postgres://") || strings.HasPrefix(c.URL, "postgresql://") {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := ledger.OpenPostgres(ctx, c.URL, ledger.PostgresOptions{})
		if err != nil {
			// The error never quotes the URL: it may hold a password.
			return nil, fmt.Errorf("ledger.url: cannot open PostgreSQL: %w", errors.Unwrap(err))
		}
		return s, nil
	}
	return ledger.OpenSQLite(c.URL, ledger.SQLiteOptions{Synchronous: c.Synchronous})
}

// offersTTL: a pool's offers are its own lease counts, cheap to compute and
// changing with every lease, so they are reused only briefly.
func offersTTL(typ string) time.Duration {
	if registry.IsPool(typ) {
		return 5 * time.Second
	}
	return 0
}

// poolSpec turns a pool platform's settings into what the registry needs.
func poolSpec(c config.Pool, store ledger.Store) (registry.PoolSpec, error) {
	ps, ok := store.(ledger.PoolStore)
	if !ok {
		return registry.PoolSpec{}, errors.New("the ledger does not keep pool leases")
	}
	spec := registry.PoolSpec{
		Store: ps, Cooldown: c.Cooldown, CancelCooldown: c.CancelCooldown, Quarantine: c.Quarantine, Refresh: c.Refresh,
		PushFallback: c.PushFallback, Senders: c.Senders, Patterns: c.CodePatterns, WebhookSecret: c.WebhookSecret.Reveal(),
		AcceptUnattributed: c.AcceptUnattributed, MinGap: c.MinGap,
	}
	switch {
	case c.Price != "":
		p, err := adapters.ParseDecimal(c.Price)
		if err != nil {
			return spec, fmt.Errorf("price: %w", err)
		}
		spec.Price = p
	case c.Rent != "":
		rent, err := adapters.ParseDecimal(c.Rent)
		if err != nil {
			return spec, fmt.Errorf("rent: %w", err)
		}
		// Rounded to a whole cent: every front end shows two decimals.
		cent := int64(adapters.Micro / 100)
		spec.Price = (rent/int64(c.ExpectedUses) + cent - 1) / cent * cent
	}
	for _, a := range c.Accounts {
		spec.Accounts = append(spec.Accounts, textnow.Account{User: a.User, Cookie: a.Cookie.Reveal(), CSRF: a.CSRF.Reveal(), CSRFToken: a.CSRFToken.Reveal(), Phone: a.Phone, Country: a.Country})
	}
	if len(c.Numbers) > 0 {
		spec.Only = map[string]string{}
		for _, n := range c.Numbers {
			spec.Only[n.Phone] = strings.ToLower(n.Country)
		}
	}
	return spec, nil
}

// sharedState is what several instances share through Redis; all nil
// (per-instance state) without [redis] url.
type sharedState struct {
	rates    limits.Rates
	caps     limits.Caps
	breakers breaker.Shared
	bus      events.Bus // wakes other instances' event streams
}

func openShared(c config.Redis) (sharedState, error) {
	if c.URL == "" {
		return sharedState{}, nil
	}
	rdb, err := limits.NewRedisClient(c.URL)
	if err != nil {
		return sharedState{}, fmt.Errorf("redis.url: %w", err)
	}
	return sharedState{
		rates:    limits.NewRedisRates(rdb, c.Prefix, limits.NewBuckets(nil)),
		caps:     limits.NewRedisCaps(rdb, c.Prefix, limits.NewCounters()),
		breakers: breaker.NewRedisShared(rdb, c.Prefix),
		bus:      events.NewRedisBus(rdb, c.Prefix),
	}, nil
}

// simModel is the realistic market [simulator] configures for the
// simulated platform code, or nil for the fixed one (every SMS code_delay
// after purchase) when no realistic key is set. A delay median left 0 is
// code_delay's.
func simModel(s config.Simulator, code string) *simulator.Model {
	if !s.Realistic() {
		return nil
	}
	codeDelay := s.CodeDelay
	if codeDelay == 0 {
		codeDelay = config.Defaults().Simulator.CodeDelay
	}
	params := func(m config.SimMarket) simulator.Params {
		median := m.DelayMedian
		if median == 0 {
			median = codeDelay
		}
		return simulator.Params{
			Delivery: m.Delivery, DelayMedian: median, DelaySigma: m.DelaySigma,
			RefillPerMinute: m.RefillPerMinute, StockCap: m.StockCap,
			PriceStep: m.PriceStep, PriceInterval: m.PriceInterval, PriceMin: m.PriceMin, PriceMax: m.PriceMax,
		}
	}
	def, pairs := s.Market(code)
	mo := &simulator.Model{Seed: s.Seed, Name: code, Default: params(def), Pairs: map[simulator.PairKey]simulator.Params{}}
	for country, services := range pairs {
		for service, m := range services {
			mo.Pairs[simulator.PairKey{Country: country, Service: service}] = params(m)
		}
	}
	for _, d := range s.Drift {
		if d.Platform == code {
			mo.Drift = append(mo.Drift, simulator.Drift{
				At: d.At, Country: d.Country, Service: d.Service, Delivery: d.Delivery,
				DelayFactor: d.DelayFactor, PriceFactor: d.PriceFactor, Recover: d.Recover,
			})
		}
	}
	return mo
}

// buildPlatforms builds every configured platform; url = "sim" starts its
// simulator on loopback first.
func buildPlatforms(cfg config.Config, store ledger.Store) ([]*gateway.Platform, []*registry.Sim, error) {
	balance, err := adapters.ParseDecimal(cfg.Simulator.Balance)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator.balance: %w", err)
	}
	conv, err := fx.New(cfg.FX.BaseCurrency, cfg.FX.Rates)
	if err != nil {
		return nil, nil, err
	}
	var (
		out  []*gateway.Platform
		sims []*registry.Sim
	)
	for i, pc := range cfg.Platforms {
		spec := registry.Spec{
			Code: pc.Code, Type: pc.Type, URL: pc.URL, Key: pc.Key.Reveal(), User: pc.User,
			Password: pc.Password.Reveal(), Currency: pc.Currency, Dialect: pc.Dialect, Timeout: pc.Timeout,
		}
		cur := pc.Currency
		if cur == "" {
			cur = registry.DefaultCurrency(pc.Type)
		}
		if registry.IsPool(pc.Type) {
			if spec.Pool, err = poolSpec(pc.Pool, store); err != nil {
				return nil, sims, fmt.Errorf("platforms[%d].pool: %w", i, err)
			}
		}
		var p adapters.Platform
		if pc.URL == "sim" {
			// Simulated prices average half a unit of the base currency,
			// whatever the platform's currency, so routing by price is
			// meaningful in the demo.
			price, err := conv.Convert(adapters.Money{Micros: adapters.Micro / 2, Currency: conv.Base()}, cur)
			if err != nil {
				return nil, nil, fmt.Errorf("platforms[%d].currency: %w", i, err)
			}
			mc := simulator.Config{
				CodeDelay: cfg.Simulator.CodeDelay, Stock: cfg.Simulator.Stock, Balance: balance,
				BasePrice: price.Micros, Seed: uint64(i + 1),
			}
			if !registry.IsPool(pc.Type) {
				mc.Model = simModel(cfg.Simulator, pc.Code)
			}
			sim, err := registry.StartSim(spec, mc)
			if err != nil {
				return nil, sims, fmt.Errorf("platforms[%d]: %w", i, err)
			}
			sims = append(sims, sim)
			p = sim.Platform
		} else if p, err = registry.Build(spec); err != nil {
			return nil, sims, fmt.Errorf("platforms[%d]: %w", i, err)
		}
		var alertBelow int64
		if pc.BalanceAlert != "" {
			if alertBelow, err = adapters.ParseDecimal(pc.BalanceAlert); err != nil {
				return nil, sims, fmt.Errorf("platforms[%d].balance_alert: %w", i, err)
			}
		}
		out = append(out, &gateway.Platform{
			Code: pc.Code, Name: registry.DisplayName(pc.Type, pc.Code), Adapter: p, Priority: pc.Priority, Weight: pc.Weight, Currency: cur,
			PollInterval: pc.PollInterval, Timeout: pc.Timeout, Enabled: pc.IsEnabled(), BalanceAlert: alertBelow,
			Rate: pc.Rate, MaxActive: pc.MaxActive, OffersTTL: offersTTL(pc.Type),
		})
	}
	return out, sims, nil
}
