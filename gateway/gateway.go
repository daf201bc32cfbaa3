// Package gateway is the fasthttp front end and everything behind it that
// is not an adapter or the ledger: tenants, routing, the order service, the
// poller, the legacy SMS-Activate handler and the health endpoints.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/ledger"
)

// Platform is one configured upstream as the gateway routes to it.
type Platform struct {
	Code         string
	Adapter      adapters.Platform
	Priority     int // lower first
	Weight       int
	Currency     string
	PollInterval time.Duration // default 5s
	// Lifetime is how long an order lives without a code if the adapter
	// does not say; default 20m.
	Lifetime time.Duration
	Timeout  time.Duration // per upstream call; default 10s
	Enabled  bool
}

// Options build a Gateway.
type Options struct {
	Config    config.Config
	Platforms []*Platform
	Store     ledger.Store
	Logger    *zap.Logger      // default zap.NewNop()
	Clock     func() time.Time // default time.Now; tests share the simulator's clock
	// OrphanRetry is the pause between attempts to cancel a number whose
	// purchase could not be recorded; default 15s.
	OrphanRetry time.Duration
}

// Gateway is the order service behind every front end.
type Gateway struct {
	cfg         config.Config
	log         *zap.Logger
	store       ledger.Store
	fx          *FX
	tenants     *Tenants
	platforms   []*Platform // by priority
	byCode      map[string]*Platform
	now         func() time.Time
	locks       [256]sync.Mutex // per-order read-modify-write, striped by id
	poller      *Poller
	orphanRetry time.Duration
}

// New wires a Gateway; it does not start the poller (Start does).
func New(o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	fx, err := NewFX(o.Config.FX.BaseCurrency, o.Config.FX.Rates)
	if err != nil {
		return nil, err
	}
	ts, err := NewTenants(o.Config.Tenants, o.Config.FX.BaseCurrency, o.Config.Routing.Strategy)
	if err != nil {
		return nil, err
	}
	if o.OrphanRetry <= 0 {
		o.OrphanRetry = 15 * time.Second
	}
	g := &Gateway{cfg: o.Config, log: o.Logger, store: o.Store, fx: fx, tenants: ts, now: o.Clock, byCode: map[string]*Platform{}, orphanRetry: o.OrphanRetry}
	for _, p := range o.Platforms {
		if p.PollInterval <= 0 {
			p.PollInterval = 5 * time.Second
		}
		if p.Lifetime <= 0 {
			p.Lifetime = 20 * time.Minute
		}
		if p.Timeout <= 0 {
			p.Timeout = 10 * time.Second
		}
		if p.Weight <= 0 {
			p.Weight = 1
		}
		if _, dup := g.byCode[p.Code]; dup {
			return nil, fmt.Errorf("platform %s configured twice", p.Code)
		}
		g.byCode[p.Code] = p
		g.platforms = append(g.platforms, p)
	}
	sort.SliceStable(g.platforms, func(i, j int) bool { return g.platforms[i].Priority < g.platforms[j].Priority })
	g.poller = newPoller(g)
	return g, nil
}

// Start runs the poller until ctx ends; it resumes every active order.
func (g *Gateway) Start(ctx context.Context) { g.poller.start(ctx) }

// Stop waits for the poller to finish its current round.
func (g *Gateway) Stop() { g.poller.stop() }

// Tenants is the tenant table.
func (g *Gateway) Tenants() *Tenants { return g.tenants }

// FX is the currency converter.
func (g *Gateway) FX() *FX { return g.fx }

// Platforms lists the configured platforms by priority.
func (g *Gateway) Platforms() []*Platform { return g.platforms }

func (g *Gateway) lock(id int64) *sync.Mutex { return &g.locks[uint64(id)%uint64(len(g.locks))] }

// usable lists the platforms a tenant may buy from, by priority.
func (g *Gateway) usable(t *Tenant) []*Platform {
	out := make([]*Platform, 0, len(g.platforms))
	for _, p := range g.platforms {
		if p.Enabled && t.Allows(p.Code) {
			out = append(out, p)
		}
	}
	return out
}

// callCtx bounds one upstream call by the platform's timeout.
func callCtx(ctx context.Context, p *Platform) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.Timeout)
}

// ErrBadPlatform: the request pinned a platform the tenant cannot use.
var ErrBadPlatform = errors.New("unknown or forbidden platform")

// ErrDuplicateOrder: a purchase reused an idempotency key.
var ErrDuplicateOrder = errors.New("order id already used")

// Kick makes the poller look for due orders now instead of at its next tick.
func (g *Gateway) Kick() { g.poller.wake() }
