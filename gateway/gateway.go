// Package gateway is the façade: New wires the concerns that live in its
// sub-packages (tenant, platform, market, route, orders, poller,
// overrides, pools, ops, and the legacy and unified front ends), Start and
// Stop own every goroutine they run, and Server is the fasthttp server and
// its routes. The work itself is the sub-packages'; each is given what it
// needs as small interfaces it declares.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/breaker"
	"smsgate/config"
	"smsgate/gateway/events"
	"smsgate/gateway/fx"
	"smsgate/gateway/legacy"
	"smsgate/gateway/lifetime"
	"smsgate/gateway/market"
	"smsgate/gateway/ops"
	"smsgate/gateway/orders"
	"smsgate/gateway/outbox"
	"smsgate/gateway/overrides"
	"smsgate/gateway/platform"
	"smsgate/gateway/poller"
	"smsgate/gateway/pools"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/gateway/unified"
	"smsgate/gateway/webhook"
	"smsgate/ledger"
	"smsgate/limits"
)

// Health is one platform's last check (package ops).
type Health = ops.Health

// Tenant is a client of the gateway (package tenant).
type Tenant = tenant.Tenant

// Platform is one configured upstream as the gateway routes to it
// (package platform).
type Platform = platform.Platform

// Settings are a platform's routing settings that the admin API may
// change at run time.
type Settings = platform.Settings

// Options build a Gateway.
type Options struct {
	Config    config.Config
	Platforms []*Platform
	Store     ledger.Store
	Logger    *zap.Logger      // default zap.NewNop()
	Clock     func() time.Time // default time.Now; tests share the simulator's clock
	// Rand drives the random strategy; default seeded from the clock.
	Rand *rand.Rand
	// Rates and Caps hold tenant and platform limits; default in-memory
	// (one instance). Several instances pass shared ones.
	Rates limits.Rates
	Caps  limits.Caps
	// Shared carries breaker openings between instances (Redis); nil =
	// each instance's breakers are its own.
	Shared breaker.Shared
	// Bus wakes event streams on the other instances when this one
	// commits order events (Redis pub/sub); nil = one instance.
	Bus events.Bus
}

// Gateway wires the concerns together and owns their lifetimes; the
// work is theirs (tenant, platform, market, route, orders, poller, ops).
type Gateway struct {
	cfg       config.Config
	log       *zap.Logger
	store     ledger.Store
	fx        *fx.FX
	tenants   *tenant.Tenants
	platforms []*Platform // by priority
	byCode    map[string]*Platform
	now       func() time.Time

	metrics     *ops.Metrics
	alerts      *ops.Alerter
	market      *market.Market  // offers, balances, countries (cached) and the balance book
	router      *route.Router   // strategies, plans and delivery statistics
	orders      *orders.Service // Buy, SetStatus, reads, background upstream work
	poller      *poller.Poller
	outbox      *outbox.Worker // runs the upstream calls the ledger owes
	hooks       *outbox.Worker // delivers webhooks, in per-tenant lanes
	hub         *events.Hub    // wakes event streams at each commit of order events
	streams     *events.Streams
	health      *ops.HealthChecker
	intentEvery time.Duration
	pendingMu   sync.Mutex
	pending     map[ledger.ActionKind]int // outbox actions owed, by kind (countPending); guarded by pendingMu

	// bg owns every goroutine the gateway starts (the Start loops, the
	// outbox worker, the intent pass): its context ends at Stop (or when
	// Start's does), and Stop waits for all of them.
	bg       *lifetime.Group
	undoStop func() bool // unlinks bg from Start's context

	rates     limits.Rates
	limiter   *tenant.Limiter // tenants' request rates
	caps      limits.Caps
	admin     adminKey
	overrides *overrides.Overrides
	pools     *pools.Pools
}

// New wires a Gateway; it does not start the poller (Start does).
func New(o Options) (*Gateway, error) {
	withDefaults(&o)
	conv, err := fx.New(o.Config.FX.BaseCurrency, o.Config.FX.Rates)
	if err != nil {
		return nil, err
	}
	ts, err := tenant.New(o.Config.Tenants, o.Config.FX.BaseCurrency, o.Config.Routing.Strategy)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: o.Config, log: o.Logger, store: o.Store, fx: conv, tenants: ts, now: o.Clock, byCode: map[string]*Platform{},
		metrics: ops.NewMetrics(), rates: o.Rates, caps: o.Caps, bg: lifetime.NewGroup(), undoStop: func() bool { return false }}
	if g.admin, err = newAdminKey(o.Config.Admin); err != nil {
		return nil, err
	}
	g.limiter = tenant.NewLimiter(o.Rates)
	g.alerts = ops.NewAlerter(o.Config.Alerts.WebhookURL, o.Logger, g.metrics, o.Clock)
	if err := g.wirePlatforms(o.Platforms, o.Shared); err != nil {
		return nil, err
	}
	if g.market, err = market.New(g.platforms, conv, o.Config.Cache, g.metrics, o.Logger, o.Clock); err != nil {
		return nil, err
	}
	g.overrides = overrides.New(o.Store, g.platforms, g.byCode, g.bg, o.Clock, o.Logger)
	rc := o.Config.Routing
	if _, shared := o.Store.(ledger.Leaser); !shared {
		// One instance counts every order as it ends: nothing to read back.
		rc.Refresh = 0
	}
	g.router = route.New(rc, g.market, conv, o.Rand, o.Clock)
	g.orders, err = orders.New(orders.Deps{
		Routing: o.Config.Routing, CodesTTL: o.Config.Cache.Codes, Log: o.Logger, Store: o.Store, FX: conv,
		Market: g.market, Router: g.router, Outcomes: g.router.Estimator(), Metrics: g.metrics, Caps: o.Caps, BG: g.bg,
		Platforms: g.byCode, Now: o.Clock, Reconcile: o.Config.Recovery.Reconcile, IntentGrace: o.Config.Recovery.IntentGrace,
		Hooked: func(name string) bool { t, ok := ts.ByName(name); return ok && t.Hooked() },
	})
	if err != nil {
		return nil, err
	}
	g.poller = poller.New(o.Store, g.orders, g.byCode, o.Clock, o.Logger, g.router.Random)
	g.outbox = outbox.New(o.Store, g.orders.RunAction, o.Clock, g.router.Random, o.Logger, g.metrics, g.alerts, outbox.Options{
		Tick: o.Config.Recovery.OutboxTick, MinBackoff: o.Config.Recovery.RetryMin, MaxBackoff: o.Config.Recovery.RetryMax,
		Kinds: []ledger.ActionKind{ledger.ActCancel, ledger.ActFinish, ledger.ActAnother, ledger.ActBan}})
	g.wirePush(o)
	g.intentEvery = o.Config.Recovery.IntentEvery
	for _, k := range []ledger.ActionKind{ledger.ActCancel, ledger.ActFinish, ledger.ActAnother, ledger.ActBan, ledger.ActWebhook} {
		g.metrics.Gauge(fmt.Sprintf(`smsgate_actions_pending{kind=%q}`, k), func() float64 {
			g.pendingMu.Lock()
			defer g.pendingMu.Unlock()
			return float64(g.pending[k])
		})
	}
	g.pools = pools.New(g.platforms, g.byCode, o.Store, g.poller, g.bg, g.metrics, o.Logger)
	interval := o.Config.Health.Interval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	g.health = ops.NewHealthChecker(g.platforms, g.market, conv, g.alerts, o.Clock, interval)
	return g, nil
}

// wirePush builds the order-event delivery: the hub that wakes streams at
// each commit (and tells other instances through the bus), the SSE
// streams, and the webhook worker — a second outbox worker, leasing only
// webhook actions, whose lanes keep one tenant's slow receiver from
// delaying another's deliveries.
func (g *Gateway) wirePush(o Options) {
	g.hub = events.NewHub(o.Bus, o.Logger)
	g.streams = events.NewStreams(g.hub, o.Store, events.Options{
		Heartbeat: o.Config.API.SSEHeartbeat, WriteTimeout: o.Config.Server.WriteTimeout, Log: o.Logger})
	wc := o.Config.Webhooks
	sender := webhook.New(o.Store, g.tenants, wc.Timeout, o.Clock)
	g.hooks = outbox.New(o.Store, sender.Run, o.Clock, g.router.Random, o.Logger, g.metrics, g.alerts, outbox.Options{
		Tick: o.Config.Recovery.OutboxTick, MinBackoff: o.Config.Recovery.RetryMin, MaxBackoff: wc.RetryMax,
		Kinds: []ledger.ActionKind{ledger.ActWebhook}, GiveUpAfter: wc.GiveUp, Lanes: true, Name: "webhooks",
		// A lane waits at most LaneDepth POST timeouts: within the lease.
		Lease: max(2*time.Minute, 32*wc.Timeout)})
	g.orders.SetQueued(func() { g.outbox.Wake(); g.hooks.Wake() })
	g.orders.SetPublished(g.hub.Committed)
	g.metrics.Gauge("smsgate_event_streams_open", func() float64 { return float64(g.streams.Open()) })
}

// withDefaults fills what Options leave out.
func withDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}

	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed))
	}

	if o.Rates == nil {
		o.Rates = limits.NewBuckets(o.Clock)
	}
	if o.Caps == nil {
		o.Caps = limits.NewCounters()
	}
}

// wirePlatforms puts each platform behind its breaker, outbound limit and
// metrics, and lists them by priority.
func (g *Gateway) wirePlatforms(list []*Platform, shared breaker.Shared) error {
	bs := g.cfg.Breaker
	for _, p := range list {
		if _, dup := g.byCode[p.Code]; dup {
			return fmt.Errorf("platform %s configured twice", p.Code)
		}
		g.penaltySettings(p)
		p.Wire(platform.Wiring{
			Breaker: breaker.Settings{
				ConsecutiveFailures: bs.ConsecutiveFailures, FailureRatio: bs.FailureRatio, MinRequests: bs.MinRequests,
				Interval: bs.Interval, OpenTimeout: bs.OpenTimeout, MaxOpenTimeout: bs.MaxOpenTimeout,
				HalfOpenRequests: bs.HalfOpenRequests, OnChange: g.breakerChanged, Shared: shared,
				Now: g.now, // the gateway's clock: tests reach any breaker state without sleeping
			},
			Rates: g.rates, Recorder: g.metrics, Now: g.now,
			OnAuth: func(code string, err error) {
				g.alerts.Raise("auth", code, "platform refused our credentials: "+err.Error())
			},
		})
		b := p.Breaker()
		g.metrics.Gauge(fmt.Sprintf(`smsgate_breaker_state{platform=%q}`, p.Code), func() float64 {
			switch b.Snapshot().State {
			case breaker.Open:
				return 2
			case breaker.HalfOpen:
				return 1
			}
			return 0
		})
		g.byCode[p.Code] = p
		g.platforms = append(g.platforms, p)
	}
	sort.SliceStable(g.platforms, func(i, j int) bool { return g.platforms[i].Priority < g.platforms[j].Priority })
	return nil
}

// penaltySettings takes p's penalty settings from its [[platforms]]
// entry where p does not set them itself (min_success_rate is a percent
// there, a fraction on the platform).
func (g *Gateway) penaltySettings(p *Platform) {
	for _, pc := range g.cfg.Platforms {
		if pc.Code != p.Code {
			continue
		}
		if p.MinSuccessRate == 0 {
			p.MinSuccessRate = pc.MinSuccessRate / 100
		}
		if p.MinSuccessSample == 0 {
			p.MinSuccessSample = pc.MinSuccessSample
		}
		if p.PenaltyBackoff == 0 {
			p.PenaltyBackoff = pc.PenaltyBackoff
		}
	}
}

// breakerChanged logs, counts and alerts on a breaker's state change (on
// the breaker's own goroutine, never under its lock).
func (g *Gateway) breakerChanged(c breaker.Change) {
	g.metrics.BreakerChange(c.Name, string(c.To))
	g.log.Warn("breaker state", zap.String("platform", c.Name), zap.String("from", string(c.From)),
		zap.String("to", string(c.To)), zap.Int("trips", c.Trips), zap.Duration("open_for", c.OpenFor))
	switch c.To {
	case breaker.Open:
		g.alerts.Raise("breaker_open", c.Name, fmt.Sprintf("circuit breaker opened (trip %d, open for %s)", c.Trips, c.OpenFor))
	case breaker.Closed:
		g.alerts.Clear("breaker_open", c.Name)
	}
}

// Start runs the poller, the health checker and the alert sender until ctx
// ends. The poller resumes every active order in the ledger; recent ended
// orders seed the delivery statistics.
func (g *Gateway) Start(ctx context.Context) {
	if _, err := g.overrides.Apply(ctx); err != nil {
		g.log.Warn("cannot read platform overrides", zap.Error(err))
	}
	g.overrides.Refresh(5 * time.Second)
	g.refreshEstimates(ctx)
	g.seedCaps(ctx)
	g.undoStop = g.bg.StopWith(ctx)
	if _, shared := g.store.(ledger.Leaser); shared {
		// Shared caps (Redis) drift when an instance dies holding slots:
		// the ledger is the truth, re-counted every minute.
		g.bg.Every(time.Minute, g.seedCaps)
		// Orders other instances end reach this one's delivery estimates.
		if every := g.cfg.Routing.Refresh; every > 0 {
			g.bg.Every(every, g.refreshEstimates)
		}
	}
	g.bg.Go(g.alerts.Run)
	g.bg.Go(g.health.Run)
	g.poller.Start(g.bg.Context())
	g.outbox.Start(g.bg)
	g.hooks.Start(g.bg)
	g.bg.Go(g.hub.Run)
	// Intents left open by a process that died: decided once now, and
	// again at every pass (a number is cancelled only after two sightings).
	g.bg.Go(g.orders.ReconcileIntents)
	g.bg.Every(g.intentEvery, g.orders.ReconcileIntents)
	g.bg.Every(10*time.Second, g.countPending)
}

// Stop ends every goroutine the gateway started (whether or not Start's
// context has ended) and waits for them: the poller and its checks, the
// health, override and alert loops, the outbox worker and the intent
// pass (what they still owe stays in the ledger for the next start). Then it releases the breakers and closes the caches.
// The ledger belongs to the caller (main, tests), which closes it after
// Stop returns. Safe to call without Start and more than once.
func (g *Gateway) Stop() {
	g.streams.Close()
	g.undoStop()
	g.poller.Stop()
	g.bg.Stop()
	g.alerts.Close()
	for _, p := range g.platforms {
		p.Breaker().Close()
	}
	g.market.Close()
	g.orders.Close()
}

// countPending refreshes the outbox gauge: what the ledger still owes.
func (g *Gateway) countPending(ctx context.Context) {
	n, err := g.store.PendingActions(ctx)
	if err != nil {
		return
	}
	g.pendingMu.Lock()
	g.pending = n
	g.pendingMu.Unlock()
}

// Metrics is the gateway's metric set (/metrics).
func (g *Gateway) Metrics() *ops.Metrics { return g.metrics }

// Health reports one platform's last health check and breaker state.
func (g *Gateway) Health(code string) (Health, bool) {
	p, ok := g.byCode[code]
	if !ok {
		return Health{}, false
	}
	return g.health.Snapshot(p), true
}

// CheckHealth runs a health check of every platform now (tests, admin).
func (g *Gateway) CheckHealth(ctx context.Context) { g.health.CheckAll(ctx) }

// seedCaps counts the ledger's active orders per tenant and platform, so
// caps hold across a restart.
func (g *Gateway) seedCaps(ctx context.Context) {
	list, err := g.store.List(ctx, ledger.Filter{ActiveOnly: true})
	if err != nil {
		g.log.Warn("cannot count active orders", zap.Error(err))
		return
	}
	counts := map[string]int{}
	for _, o := range list {
		counts[tenant.Key(o.Tenant)]++
		counts[platform.Key(o.Platform)]++
	}
	for _, t := range g.cfg.Tenants {
		g.caps.Set(tenant.Key(t.Name), counts[tenant.Key(t.Name)])
	}
	for _, p := range g.platforms {
		g.caps.Set(platform.Key(p.Code), counts[platform.Key(p.Code)])
	}
}

// refreshEstimates reads ended orders into the router's delivery
// estimates: on start the last hours (they survive a restart), then, with
// a shared ledger, those other instances ended since the last refresh.
func (g *Gateway) refreshEstimates(ctx context.Context) {
	n, full, err := g.router.Estimator().Refresh(ctx, g.store)
	if err != nil {
		g.log.Warn("cannot read the delivery record", zap.Error(err))
		return
	}
	if full {
		g.log.Warn("delivery record: read the newest orders only", zap.Int("orders", n))
	}
}

// Tenants is the tenant table.
func (g *Gateway) Tenants() *tenant.Tenants { return g.tenants }

// FX is the currency converter.
func (g *Gateway) FX() *fx.FX { return g.fx }

// Platforms lists the configured platforms by priority.
func (g *Gateway) Platforms() []*Platform { return g.platforms }

// ErrBadPlatform: the request pinned a platform the tenant cannot use.
var ErrBadPlatform = route.ErrBadPlatform

// ErrBadStrategy: the request named a strategy that does not exist.
var ErrBadStrategy = route.ErrBadStrategy

// Strategies a purchase can be routed by.
var Strategies = route.Strategies

// Plan is a routing decision (package route).
type Plan = route.Plan

// Recommend is the platform the router would pick now, and why.
func (g *Gateway) Recommend(ctx context.Context, t *tenant.Tenant, r BuyRequest) (Plan, error) {
	return g.router.Plan(ctx, t, r.Route())
}

// ErrDuplicateOrder: a purchase reused an idempotency key.
var ErrDuplicateOrder = orders.ErrDuplicateOrder

// ErrTenantActiveLimit: the tenant holds its maximum of active orders.
var ErrTenantActiveLimit = orders.ErrTenantActiveLimit

// BuyRequest is a tenant's purchase after protocol parsing (package orders).
type BuyRequest = orders.BuyRequest

// ErrTenantRateLimit: the tenant sends more requests per second than allowed.
var ErrTenantRateLimit = errors.New("tenant request rate limit")

// errBadRequest: the client's request is malformed.
var errBadRequest = overrides.ErrBadRequest

// PlatformPatch is an admin change of a platform's routing settings.
type PlatformPatch = overrides.PlatformPatch

// Kick makes the poller look for due orders now instead of at its next tick.
func (g *Gateway) Kick() { g.poller.Wake() }

// RoundsCaughtUp reports whether the poller has dealt with every list
// round owed at at (asked it and recorded its changes, or found none
// owed); with no order due at at either, polling has caught up with at.
func (g *Gateway) RoundsCaughtUp(at time.Time) bool { return g.poller.RoundsCaughtUp(at) }

// RecordOutcome adds one ended order to the delivery statistics (the
// poller does this as orders end; tests and imports may too).
func (g *Gateway) RecordOutcome(platform, country, service string, delivered bool) {
	g.router.Estimator().Record(platform, country, service, delivered)
}

// unifiedAPI builds the unified JSON API over the gateway's concerns.
func (g *Gateway) unifiedAPI() *unified.API {
	return unified.New(unified.Deps{
		Config: g.cfg, Tenants: g.tenants, Limiter: g.limiter, Admin: g.admin.matches, Orders: g.orders, Store: g.store,
		Market: g.market, Recommend: g.router.Plan, Standing: g.router.Standing, Health: g.health, Overrides: g.overrides, Pools: g.pools, FX: g.fx,
		Platforms: g.platforms, ByCode: g.byCode, Metrics: g.metrics, Log: g.log, Now: g.now, Streams: g.streams,
	})
}

// legacyFront builds the SMS-Activate handler API front end.
func (g *Gateway) legacyFront() *legacy.Front {
	return legacy.New(legacy.Deps{
		Tenants: g.tenants, Limiter: g.limiter, Orders: g.orders, Market: g.market, Store: g.store, FX: g.fx,
		Metrics: g.metrics, Now: g.now, Timeout: g.cfg.Server.RequestTimeout,
	})
}

// TokTooManyRequests answers a legacy request over the tenant's rate
// (package legacy).
const TokTooManyRequests = legacy.TokTooManyRequests
