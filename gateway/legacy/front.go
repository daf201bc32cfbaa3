// Package legacy is the SMS-Activate handler API front end
// (/stubs/handler_api.php): the protocol server of adapters/smsactivate over
// the order service, the tenant resolved once per request (one key hash)
// and handed down, per-tenant rate limits, and a short-lived cache of the
// encoded answers of read actions.
package legacy

import (
	"context"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/smsactivate"
	"smsgate/gateway/fx"
	"smsgate/gateway/market"
	"smsgate/gateway/orders"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// Orders is the order service (orders.Service).
type Orders interface {
	Buy(ctx context.Context, t *tenant.Tenant, r orders.BuyRequest) (ledger.Order, error)
	Order(ctx context.Context, t *tenant.Tenant, id int64) (ledger.Order, error)
	// Peek is Order sharing Codes with the order cache (read only).
	Peek(ctx context.Context, t *tenant.Tenant, id int64) (*ledger.Order, error)
	SetStatus(ctx context.Context, t *tenant.Tenant, id int64, status int) (ledger.Order, error)
	// Spendable is a wallet tenant's available money, at most
	// orders.WalletLag old.
	Spendable(ctx context.Context, t *tenant.Tenant) (adapters.Money, error)
}

// Market is what the legacy actions read of the platforms (market.Market).
type Market interface {
	Offers(ctx context.Context, t *tenant.Tenant, country, service string) ([]market.MergedOffer, error)
	Balance(ctx context.Context, t *tenant.Tenant) (adapters.Money, error)
	Countries(ctx context.Context, t *tenant.Tenant) ([]string, error)
}

// Store lists a tenant's active orders (ledger.Store).
type Store interface {
	List(ctx context.Context, f ledger.Filter) ([]ledger.Order, error)
}

// Metrics counts answered requests (ops.Metrics).
type Metrics interface {
	Request(api, action, result string)
}

// Deps are what the legacy front end serves from.
type Deps struct {
	Tenants *tenant.Tenants
	Limiter *tenant.Limiter
	Orders  Orders
	Market  Market
	Store   Store
	FX      *fx.FX
	Metrics Metrics
	Now     func() time.Time
	Timeout time.Duration // one request's backend work ([server] request_timeout)
}

// Front serves the handler API.
type Front struct {
	tenants *tenant.Tenants
	limiter *tenant.Limiter
	orders  Orders
	market  Market
	store   Store
	fx      *fx.FX
	metrics Metrics
	now     func() time.Time
	calls   *legacyCalls
	answers *ristretto.Cache[string, cachedAnswer] // encoded read answers (bytes)
}

// New builds the front end.
func New(d Deps) *Front {
	answers, err := ristretto.NewCache(&ristretto.Config[string, cachedAnswer]{
		NumCounters: 100_000, MaxCost: 64 << 20, BufferItems: 64, // cost: body bytes, 64 MiB
	})
	if err != nil {
		panic("BUG: ristretto config: " + err.Error())
	}
	f := &Front{tenants: d.Tenants, limiter: d.Limiter, orders: d.Orders, market: d.Market, store: d.Store, fx: d.FX,
		metrics: d.Metrics, now: d.Now, answers: answers}
	f.calls = newLegacyCalls(f, smsactivate.Server{Dialect: smsactivate.Classic, Timeout: d.Timeout})
	return f
}

// Close stops the answer cache's goroutines.
func (s *Front) Close() { s.answers.Close() }

// Handle serves one handler-API request.
func (s *Front) Handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsPost() {
		// The handler API is GET (and form POST) only.
		ctx.Response.Header.Set("Allow", "GET, POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("method not allowed")
		s.metrics.Request("legacy", "other", "method_not_allowed")
		return
	}
	action := legacyAction(ctx)
	// The tenant is looked up once here (one hash) for the rate limit, the
	// read cache and the protocol handler, which gets the handle; an
	// unknown key goes on to the protocol handler (BAD_KEY).
	t, known := s.tenants.ByKeyBytes(legacyArgBytes(ctx, "api_key"))
	if known && !s.legacyRateOK(ctx, t) {
		s.metrics.Request("legacy", action, TokTooManyRequests)
		return
	}
	readKey := ""
	if known && readActions[action] {
		readKey = t.Name + "\x00" + action + "\x00" + legacyArg(ctx, "service") + "\x00" + legacyArg(ctx, "country") +
			"\x00" + legacyArg(ctx, "lang") + "\x00" + legacyArg(ctx, "freePrice")
		if s.servedFromCache(ctx, readKey) {
			s.metrics.Request("legacy", action, "ok")
			return
		}
	}
	s.calls.serve(ctx, t)
	if readKey != "" {
		s.keepReadAnswer(ctx, readKey)
	}
	s.metrics.Request("legacy", action, smsactivate.Result(ctx.Response.Body()))
}

// readActions are the legacy actions whose answer depends only on the
// tenant and the request's filters (no order, no purchase): their encoded
// answers are reused for a few seconds, since clients repeat them
// constantly and each is a merge and encoding of thousands of offers.
var readActions = map[string]bool{
	"getPrices": true, "getCountries": true, "getServicesList": true, "getNumbersStatus": true,
	"getTopCountriesByService": true, "getOperators": true,
}

type cachedAnswer struct {
	body    []byte // never mutated once cached
	ctype   string
	expires time.Time
}

// legacyArg reads a parameter from the query, then the form body (a copy).
func legacyArg(ctx *fasthttp.RequestCtx, k string) string { return string(legacyArgBytes(ctx, k)) }

// legacyArgBytes is legacyArg without the copy: valid only during the
// request. fasthttp parses the query and form once per request; every
// reader after the first peeks at the parsed arguments.
func legacyArgBytes(ctx *fasthttp.RequestCtx, k string) []byte {
	if v := ctx.QueryArgs().Peek(k); v != nil {
		return v
	}
	if ctx.IsPost() {
		return ctx.PostArgs().Peek(k)
	}
	return nil
}

func (s *Front) servedFromCache(ctx *fasthttp.RequestCtx, key string) bool {
	a, ok := s.answers.Get(key)
	if !ok || s.now().After(a.expires) {
		return false
	}
	ctx.SetContentType(a.ctype)
	ctx.Response.SetBodyRaw(a.body) // shared, read-only
	return true
}

func (s *Front) keepReadAnswer(ctx *fasthttp.RequestCtx, key string) {
	if ctx.Response.StatusCode() != fasthttp.StatusOK {
		return
	}
	body := ctx.Response.Body()
	if smsactivate.Result(body) != "ok" {
		return // errors (upstreams down) are not kept
	}
	s.answers.SetWithTTL(key, cachedAnswer{body: append([]byte(nil), body...), ctype: string(ctx.Response.Header.ContentType()),
		expires: s.now().Add(market.MergedTTL)}, int64(len(body)), market.MergedTTL)
}

// TokTooManyRequests answers a legacy request over the tenant's rate. The
// handler API documents no such token (CHANNELS_LIMIT is about active
// orders); this one comes with HTTP 429 and Retry-After, which clients that
// read only the body still see as an error token.
const TokTooManyRequests = "TOO_MANY_REQUESTS"

// legacyRateOK spends a token of the request's tenant; when none is left
// it answers TOO_MANY_REQUESTS.
func (s *Front) legacyRateOK(ctx *fasthttp.RequestCtx, t *tenant.Tenant) bool {
	allowed, wait := s.limiter.Allow(t)
	if allowed {
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
	ctx.Response.Header.Set("Retry-After", tenant.RetryAfter(wait))
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(TokTooManyRequests)
	return false
}

// legacyAction is the request's action as a metric label: known actions
// only, so a client cannot grow the label set.
func legacyAction(ctx *fasthttp.RequestCtx) string {
	a := ctx.QueryArgs().Peek("action")
	if a == nil && ctx.IsPost() {
		a = ctx.PostArgs().Peek("action")
	}
	if name, ok := knownActions[string(a)]; ok {
		return name // the map's own string: no allocation
	}
	return "other"
}

var knownActions = func() map[string]string {
	m := map[string]string{}
	for _, a := range smsactivate.Actions() {
		m[a] = a
	}
	return m
}()
