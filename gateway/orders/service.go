package orders

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/gateway/lifetime"
	"smsgate/gateway/market"
	"smsgate/gateway/outbox"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
	"smsgate/limits"
)

// ErrDuplicateOrder: a purchase reused an idempotency key.
var ErrDuplicateOrder = errors.New("order id already used")

// ErrTenantActiveLimit: the tenant holds its maximum of active orders.
var ErrTenantActiveLimit = errors.New("tenant active-order limit reached")

// Market is what orders need of the market (market.Market).
type Market interface {
	Book() *market.BalanceBook
	InCurrency(m adapters.Money, currency string) (int64, bool)
	DropBalance(p *platform.Platform)
}

// Router plans purchases (route.Router).
type Router interface {
	Route(ctx context.Context, t *tenant.Tenant, r route.Request) (route.Plan, error)
	OfferFor(ctx context.Context, p *platform.Platform, country, service string) (adapters.Offer, bool)
}

// Outcomes learns of orders as they are bought, get their first code and
// end (route.Estimator): a number still waiting counts against its
// platform as it ages.
type Outcomes interface {
	Bought(p route.Purchase)
	Coded(order int64)
	Observe(o route.Outcome)
}

// Metrics counts what orders do (ops.Metrics).
type Metrics interface {
	Failover(from string)
	Routed(strategy, platform string)
	Reconciled(platform, result string)
}

// Pricer gives a tenant's price of a platform's price in any currency
// (the tenant's currency, its markup).
type Pricer interface {
	TenantPrice(t *tenant.Tenant, upstream adapters.Money) (adapters.Money, error)
}

// final marks an outbox action's error as definitive.
var final = outbox.Final

// Deps are what the order service works with.
type Deps struct {
	Routing   config.Routing
	CodesTTL  time.Duration // how long the order cache keeps an order ([cache] codes)
	Log       *zap.Logger
	Store     ledger.Store
	FX        *fx.FX
	Market    Market
	Router    Router
	Outcomes  Outcomes
	Metrics   Metrics
	Caps      limits.Caps
	BG        *lifetime.Group // owns the background work; ends at the gateway's Stop
	Platforms map[string]*platform.Platform
	Now       func() time.Time
	Pricer    Pricer
	// Reconcile is how long a lost purchase is looked for; IntentGrace how
	// old an open purchase intent must be before the intent pass decides
	// it (longer than any purchase takes to record its number).
	Reconcile, IntentGrace time.Duration
	Queued                 func() // tells the outbox an action was queued
	// Hooked reports whether a tenant has a webhook URL: its events then
	// queue webhook deliveries; nil = no tenant has one.
	Hooked func(tenant string) bool
	// Published is told, after each commit that wrote a tenant's order
	// events, whose they were (it wakes the event streams); nil = nobody.
	Published func(tenant string)
}

// Service is the order service.
type Service struct {
	routing      config.Routing
	codesTTL     time.Duration
	log          *zap.Logger
	store        ledger.Store
	fx           *fx.FX
	market       Market
	router       Router
	outcomes     Outcomes
	metrics      Metrics
	caps         limits.Caps
	bg           *lifetime.Group
	byCode       map[string]*platform.Platform
	now          func() time.Time
	pricer       Pricer
	reconcileFor time.Duration
	intentGrace  time.Duration
	queued       func()
	hooked       func(tenant string) bool
	published    func(tenant string)

	locks   [256]sync.Mutex // per-order read-modify-write, striped by id
	waiters waiters         // long-polling clients by order
	// sightings is when the intent pass first saw each unowned upstream
	// order (platform|upstream id); guarded by passMu.
	passMu    sync.Mutex
	sightings map[string]time.Time

	cache   *ristretto.Cache[int64, *ledger.Order] // read cache of orders; nil when the ledger is shared
	wallets walletFigures                          // wallet tenants' last wallet reads (Spendable)
}

// New builds the order service. When this instance is the ledger's only
// writer (not a ledger.Leaser) orders are read through a memory cache.
func New(d Deps) (*Service, error) {
	g := &Service{routing: d.Routing, codesTTL: d.CodesTTL, log: d.Log, store: d.Store, fx: d.FX, market: d.Market,
		router: d.Router, outcomes: d.Outcomes, metrics: d.Metrics, caps: d.Caps, bg: d.BG, byCode: d.Platforms,
		now: d.Now, pricer: d.Pricer, reconcileFor: d.Reconcile, intentGrace: d.IntentGrace, queued: d.Queued,
		hooked: d.Hooked, published: d.Published}
	if g.hooked == nil {
		g.hooked = func(string) bool { return false }
	}
	if g.published == nil {
		g.published = func(string) {}
	}
	if g.queued == nil {
		g.queued = func() {}
	}
	if g.pricer == nil {
		g.pricer = tenantPrice{d.FX}
	}
	if _, shared := d.Store.(ledger.Leaser); !shared {
		c, err := newOrderCache()
		if err != nil {
			return nil, err
		}
		g.cache = c
	}
	return g, nil
}

// SetQueued sets who is told of queued actions (the outbox, built after).
func (g *Service) SetQueued(f func()) { g.queued = f }

// SetPublished sets who is told of committed order events (the event
// streams, built after).
func (g *Service) SetPublished(f func(tenant string)) { g.published = f }

// tenantPrice is the tenant's own price (tenant.Price: its currency, its
// markup).
type tenantPrice struct{ fx *fx.FX }

func (p tenantPrice) TenantPrice(t *tenant.Tenant, upstream adapters.Money) (adapters.Money, error) {
	return t.Price(p.fx, upstream)
}

// Close stops the order cache's goroutines.
func (g *Service) Close() {
	if g.cache != nil {
		g.cache.Close()
	}
}

// Lock is the order's lock, for read-modify-write.
func (g *Service) Lock(id int64) *sync.Mutex { return &g.locks[uint64(id)%uint64(len(g.locks))] }

// bought tells the event streams (and the webhook worker, when the tenant
// has one) of the EventBought that Create wrote with o.
func (g *Service) bought(o *ledger.Order) {
	// The number waits for its code from now: the estimator holds it
	// against its pair as it ages, until its first code or its end
	// (transit). Memory only, no ledger write.
	g.outcomes.Bought(route.Purchase{Order: o.ID, Platform: o.Platform, Country: o.Country, Service: o.Service,
		At: o.CreatedAt, Until: o.ExpiresAt.Add(lifetimeSlack)})
	g.published(o.Tenant)
	if o.Webhook {
		g.queued()
	}
}
