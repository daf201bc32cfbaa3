// Package pools serves what pool platforms (adapters/pool: numbers of our
// own) need beyond adapters.Platform: their SMS callbacks (/webhooks/…),
// their numbers' states for operators, and gauges of those on /metrics.
package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/adapters/pool"
	"smsgate/gateway/lifetime"
	"smsgate/gateway/platform"
	"smsgate/ledger"
)

// Pool platforms (package pool) own their numbers. The gateway needs three
// things from them beyond adapters.Platform, each found by a type
// assertion on the adapter: their SMS callbacks, their numbers' states for
// operators, and "ban".

// callbackPlatform is a platform whose upstream calls back with each SMS.
type callbackPlatform interface {
	Kind() string // "" when callbacks are off
	// Callback takes one callback request and returns the upstream id of the
	// order the SMS is for ("" when none); pool.ErrNotMine when the request
	// is not this platform's.
	Callback(ctx context.Context, req *fasthttp.RequestCtx) (string, error)
}

// numberLister is a platform with numbers of its own.
type numberLister interface {
	Numbers(ctx context.Context) ([]pool.NumberView, error)
}

// Checker checks one order now (poller.Poller).
type Checker interface {
	Check(ctx context.Context, o ledger.Order, p *platform.Platform)
}

// Metrics counts requests and shows gauges (ops.Metrics).
type Metrics interface {
	Request(api, action, result string)
	Gauge(name string, f func() float64)
}

// Pools serves the pool platforms among platforms.
type Pools struct {
	platforms []*platform.Platform
	byCode    map[string]*platform.Platform
	store     ledger.Store
	checker   Checker
	bg        *lifetime.Group // runs the checks callbacks trigger
	metrics   Metrics
	log       *zap.Logger
}

// New serves the pools among platforms and puts their gauges on metrics.
func New(platforms []*platform.Platform, byCode map[string]*platform.Platform, store ledger.Store, c Checker,
	bg *lifetime.Group, m Metrics, log *zap.Logger) *Pools {
	g := &Pools{platforms: platforms, byCode: byCode, store: store, checker: c, bg: bg, metrics: m, log: log}
	g.registerGauges()
	return g
}

// Webhook serves /webhooks/<kind>: the first platform of that kind whose
// secret matches takes the SMS; the order it is for is checked at once, so
// the code reaches the client without waiting for the next poll.
func (g *Pools) Webhook(ctx *fasthttp.RequestCtx, kind string) {
	ctx.SetContentType("text/plain; charset=utf-8")
	authenticated := false
	for _, p := range g.platforms {
		cp, ok := p.Raw().(callbackPlatform)
		if !ok || cp.Kind() != kind {
			continue
		}
		// The request context has no deadline (fasthttp's never does): the
		// ledger work of a callback must not hang its handler. It is not
		// the parent either: a RequestCtx is reused once the handler
		// returns, and a timer's goroutine watching it would race with that.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		up, err := cp.Callback(cctx, ctx)
		cancel()
		if errors.Is(err, pool.ErrNotMine) {
			continue
		}
		if errors.Is(err, pool.ErrNotOurNumber) {
			authenticated = true // the upstream is ours; the number may be another pool's
			continue
		}
		if err != nil {
			g.log.Warn("bad webhook", zap.String("platform", p.Code), zap.Error(err))
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString("bad callback")
			return
		}
		g.metrics.Request("webhook", kind, "ok")
		if up != "" {
			g.bg.Go(func(ctx context.Context) { g.checkNow(ctx, p, up) })
		}
		ctx.SetBodyString("OK")
		return
	}
	if authenticated {
		// A number none of our pools holds: acknowledged, so the upstream
		// does not retry it, and dropped.
		g.metrics.Request("webhook", kind, "ignored")
		ctx.SetBodyString("OK")
		return
	}
	// Unknown kind and wrong secret answer alike: nothing to learn by probing.
	g.metrics.Request("webhook", "unknown", "forbidden")
	ctx.SetStatusCode(fasthttp.StatusForbidden)
	ctx.SetBodyString("forbidden")
}

// checkNow polls the active order the platform knows as upstreamID.
func (g *Pools) checkNow(ctx context.Context, p *platform.Platform, upstreamID string) {
	ctx, cancel := context.WithTimeout(ctx, 2*p.Timeout)
	defer cancel()
	orders, err := g.store.List(ctx, ledger.Filter{Platform: p.Code, ActiveOnly: true})
	if err != nil {
		g.log.Warn("cannot find the order of a callback", zap.String("platform", p.Code), zap.Error(err))
		return
	}
	for _, o := range orders {
		if o.UpstreamID == upstreamID {
			// Straight to the check, even if a poll of it is in flight: that
			// poll may have read before the SMS was stored.
			g.checker.Check(ctx, o, p)
			return
		}
	}
}

// Numbers lists a pool platform's numbers with their states.
func (g *Pools) Numbers(ctx context.Context, code string) ([]pool.NumberView, error) {
	p, ok := g.byCode[code]
	if !ok {
		return nil, platform.ErrUnknown
	}
	nl, ok := p.Raw().(numberLister)
	if !ok {
		return nil, ErrNotPool
	}
	cctx, cancel := p.CallCtx(ctx)
	defer cancel()
	return nl.Numbers(cctx)
}

// ErrNotPool: the platform has no numbers of its own.
var ErrNotPool = errors.New("not a pool platform")

// poolGauges shows a pool's numbers by state on /metrics, counted from the
// pool's own listing when scraped and reused for a few seconds (one
// listing serves every series of a scrape).
type poolGauges struct {
	nl      numberLister
	timeout time.Duration

	mu     sync.Mutex
	at     time.Time          // when counts were taken; guarded by mu
	counts map[string]float64 // guarded by mu
}

// poolSeries are the series each pool has: numbers by state, and the
// per-service blocks by reason.
var poolSeries = []struct{ metric, label, value string }{
	{"smsgate_pool_numbers", "state", "idle"},
	{"smsgate_pool_numbers", "state", "leased"},
	{"smsgate_pool_numbers", "state", "down"},
	{"smsgate_pool_blocks", "reason", "cooldown"},
	{"smsgate_pool_blocks", "reason", "quarantine"},
}

func (g *Pools) registerGauges() {
	for _, p := range g.platforms {
		nl, ok := p.Raw().(numberLister)
		if !ok {
			continue
		}
		pg := &poolGauges{nl: nl, timeout: p.Timeout}
		for _, s := range poolSeries {
			key := s.label + "=" + s.value
			g.metrics.Gauge(fmt.Sprintf(`%s{platform=%q,%s=%q}`, s.metric, p.Code, s.label, s.value), func() float64 { return pg.value(key) })
		}
	}
}

func (pg *poolGauges) value(key string) float64 {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if time.Since(pg.at) >= 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), pg.timeout)
		views, err := pg.nl.Numbers(ctx)
		cancel()
		pg.at = time.Now()
		if err == nil { // else the last counts stand
			counts := map[string]float64{"state=idle": 0, "state=leased": 0, "state=down": 0}
			for _, v := range views {
				counts["state="+v.State]++
				for _, b := range v.Blocks {
					counts["reason="+b.Reason]++
				}
			}
			pg.counts = counts
		}
	}
	return pg.counts[key]
}
