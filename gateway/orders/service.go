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

// Outcomes learns how orders end (route.Stats).
type Outcomes interface {
	Record(platform, country, service string, delivered bool)
}

// Metrics counts what orders do (ops.Metrics).
type Metrics interface {
	Failover(from string)
	Routed(strategy, platform string)
	Reconciled(platform, result string)
}

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
	// OrphanRetry is the pause between attempts of background upstream
	// work; Reconcile how long a lost purchase is looked for.
	OrphanRetry, Reconcile time.Duration
	Wake                   func() // tells the poller a new order is due soon
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
	orphanRetry  time.Duration
	reconcileFor time.Duration
	wake         func()

	locks   [256]sync.Mutex                       // per-order read-modify-write, striped by id
	claimed claims                                // upstream orders owned but maybe not yet in the ledger
	waiters waiters                               // long-polling clients by order
	cache   *ristretto.Cache[int64, ledger.Order] // read cache of orders; nil when the ledger is shared
}

// New builds the order service. When this instance is the ledger's only
// writer (not a ledger.Leaser) orders are read through a memory cache.
func New(d Deps) (*Service, error) {
	g := &Service{routing: d.Routing, codesTTL: d.CodesTTL, log: d.Log, store: d.Store, fx: d.FX, market: d.Market,
		router: d.Router, outcomes: d.Outcomes, metrics: d.Metrics, caps: d.Caps, bg: d.BG, byCode: d.Platforms,
		now: d.Now, orphanRetry: d.OrphanRetry, reconcileFor: d.Reconcile, wake: d.Wake}
	if g.wake == nil {
		g.wake = func() {}
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

// SetWake sets who is told of new orders (the poller, built after).
func (g *Service) SetWake(f func()) { g.wake = f }

// Close stops the order cache's goroutines.
func (g *Service) Close() {
	if g.cache != nil {
		g.cache.Close()
	}
}

// Lock is the order's lock, for read-modify-write.
func (g *Service) Lock(id int64) *sync.Mutex { return &g.locks[uint64(id)%uint64(len(g.locks))] }
