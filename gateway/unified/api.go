package unified

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/gateway/ops"
	"smsgate/gateway/orders"
	"smsgate/gateway/overrides"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// Orders is the order service (orders.Service).
type Orders interface {
	Buy(ctx context.Context, t *tenant.Tenant, r orders.BuyRequest) (ledger.Order, error)
	Order(ctx context.Context, t *tenant.Tenant, id int64) (ledger.Order, error)
	SetStatus(ctx context.Context, t *tenant.Tenant, id int64, status int) (ledger.Order, error)
	WaitChange(ctx context.Context, id int64, recheck time.Duration) bool
	Wallet(ctx context.Context, t *tenant.Tenant) (ledger.Wallet, error)
	Fund(ctx context.Context, t *tenant.Tenant, amount int64, note string) (ledger.Wallet, error)
	Journal(ctx context.Context, t *tenant.Tenant, before int64, limit int) ([]ledger.Entry, error)
	Actions(ctx context.Context, id int64) ([]ledger.Action, error)
}

// Store is what the API reads from the ledger directly.
type Store interface {
	GetByIdempotencyKey(ctx context.Context, tenant, key string) (ledger.Order, error)
	List(ctx context.Context, f ledger.Filter) ([]ledger.Order, error)
	Outcomes(ctx context.Context, f ledger.OutcomeFilter) ([]ledger.Outcome, error)
	Batch(ctx context.Context, tenant, key string) (string, error)
	ActionsOf(ctx context.Context, tenant string, kind ledger.ActionKind, before int64, limit int) ([]ledger.Action, error)
	PutBatch(ctx context.Context, tenant, key, answer string, at time.Time) error
}

// Market is what the API reads of the platforms (market.Market).
type Market interface {
	Usable(t *tenant.Tenant) []*platform.Platform
	PlatformOffers(ctx context.Context, p *platform.Platform, country, service string) ([]adapters.Offer, error)
	PlatformBalance(ctx context.Context, p *platform.Platform) (adapters.Money, error)
}

// Health is the platforms' last checks (ops.HealthChecker).
type Health interface {
	Snapshot(p *platform.Platform) ops.Health
}

// Overrides are the admin's platform settings (overrides.Overrides).
type Overrides interface {
	List(ctx context.Context) ([]overrides.PlatformAdmin, error)
	Patch(ctx context.Context, code string, patch overrides.PlatformPatch) (overrides.PlatformAdmin, error)
}

// Pools lists pool platforms' numbers (pools.Pools).
type Pools interface {
	Numbers(ctx context.Context, code string) ([]pool.NumberView, error)
}

// Metrics counts answered requests (ops.Metrics).
type Metrics interface {
	Request(api, action, result string)
}

// Deps are what the unified API serves from.
type Deps struct {
	Config    config.Config
	Tenants   *tenant.Tenants
	Limiter   *tenant.Limiter
	Admin     func(key string) bool // whether key is the admin key
	Orders    Orders
	Store     Store
	Market    Market
	Recommend func(ctx context.Context, t *tenant.Tenant, r route.Request) (route.Plan, error)
	// Standing is a platform's penalties and recent rates (route.Router).
	Standing  func(p *platform.Platform) route.Standing
	Health    Health
	Overrides Overrides
	Pools     Pools
	FX        *fx.FX
	Platforms []*platform.Platform // by priority
	ByCode    map[string]*platform.Platform
	Metrics   Metrics
	Log       *zap.Logger
	Now       func() time.Time
	Streams   Streams
}

// Streams serves order-event streams (events.Streams).
type Streams interface {
	Serve(ctx *fasthttp.RequestCtx, tenant string, after int64)
	ServeAll(ctx *fasthttp.RequestCtx, tenants []string)
}

// API serves /api/sms/*.
type API struct {
	cfg       config.Config
	tenants   *tenant.Tenants
	limiter   *tenant.Limiter
	admin     func(key string) bool
	orders    Orders
	store     Store
	market    Market
	recommend func(ctx context.Context, t *tenant.Tenant, r route.Request) (route.Plan, error)
	standing  func(p *platform.Platform) route.Standing
	health    Health
	overrides Overrides
	pools     Pools
	fx        *fx.FX
	platforms []*platform.Platform
	byCode    map[string]*platform.Platform
	metrics   Metrics
	log       *zap.Logger
	now       func() time.Time
	streams   Streams

	idem singleflight.Group // getPhone requests in flight by tenant and Idempotency-Key
}

// New builds the unified API.
func New(d Deps) *API {
	return &API{cfg: d.Config, tenants: d.Tenants, limiter: d.Limiter, admin: d.Admin, orders: d.Orders, store: d.Store,
		market: d.Market, recommend: d.Recommend, standing: d.Standing, health: d.Health, overrides: d.Overrides, pools: d.Pools, fx: d.FX,
		platforms: d.Platforms, byCode: d.ByCode, metrics: d.Metrics, log: d.Log, now: d.Now, streams: d.Streams}
}
