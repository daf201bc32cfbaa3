package legacy

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/smsactivate"
	"smsgate/gateway/orders"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// legacy serves the SMS-Activate handler API for one request's tenant:
// the protocol server from adapters/smsactivate over the gateway's order
// service, so the gateway and the simulated upstream answer with the very
// same bytes. The front end resolved the tenant from api_key (one hash)
// before the protocol server runs; the protocol server's Authenticate only
// learns that outcome, and every call below uses the handle, never a
// second lookup.
type legacy struct {
	f *Front
	t *tenant.Tenant // nil: the key matched no tenant (BAD_KEY)
	// sms is the scratch list of the one Activation a status read builds
	// (the protocol server never keeps it past the request): reused with
	// the pooled call, so a read with codes allocates nothing.
	sms []adapters.SMS
}

var (
	_ smsactivate.Backend       = (*legacy)(nil)
	_ smsactivate.CountryLister = (*legacy)(nil)
	_ smsactivate.Authenticated = (*legacy)(nil)
)

// tenant is the request's tenant (the protocol server calls the other
// methods only after Authenticate succeeded, so it is never nil there).
func (l *legacy) tenant(string) *tenant.Tenant { return l.t }

// Authenticate reports the front end's lookup: the key the protocol server
// read is the one the front end hashed (the same request argument).
func (l *legacy) Authenticate(_ context.Context, _ string) (string, bool) { return l.Account() }

// Account is the front end's lookup, without the protocol server copying
// the key to hand it to Authenticate.
func (l *legacy) Account() (string, bool) {
	if l.t == nil {
		return "", false
	}
	return l.t.Name, true
}

func (l *legacy) Currency(account string) string { return l.tenant(account).Currency }

// Balance is what the tenant can spend: a wallet tenant's available
// balance (what it paid in, less what it spent and what is held for
// orders waiting for a code), else the platforms' balances (operator mode).
func (l *legacy) Balance(ctx context.Context, account string) (adapters.Money, error) {
	t := l.tenant(account)
	if !t.Wallet {
		return l.f.market.Balance(ctx, t)
	}
	// At most orders.WalletLag behind another instance's purchases.
	return l.f.orders.Spendable(ctx, t)
}

func (l *legacy) Buy(ctx context.Context, account string, p smsactivate.BuyParams) (smsactivate.Activation, error) {
	t := l.tenant(account)
	o, err := l.f.orders.Buy(ctx, t, orders.BuyRequest{
		Country: p.Country, Service: p.Service, Operator: p.Operator, MaxPrice: p.MaxPrice,
		Strategy: p.Strategy, Platform: p.Platform, Failover: p.Failover, IdempotencyKey: p.OrderID,
	})
	switch {
	case errors.Is(err, orders.ErrDuplicateOrder):
		return smsactivate.Activation{}, &smsactivate.TokenError{Token: smsactivate.TokOrderExists, Err: err}
	case errors.Is(err, route.ErrBadPlatform):
		return smsactivate.Activation{}, &smsactivate.TokenError{Token: "BAD_PLATFORM", Err: err}
	case errors.Is(err, orders.ErrTenantActiveLimit):
		return smsactivate.Activation{}, &smsactivate.TokenError{Token: smsactivate.TokChannelsLimit, Err: err}
	case errors.Is(err, route.ErrBadStrategy):
		return smsactivate.Activation{}, &smsactivate.TokenError{Token: "BAD_STRATEGY", Err: err}
	case errors.Is(err, orders.ErrInsufficientFunds):
		// The tenant's wallet, not a platform's: the protocol has one word for both.
		return smsactivate.Activation{}, &smsactivate.TokenError{Token: smsactivate.TokNoBalance, Err: err}
	case err != nil:
		return smsactivate.Activation{}, err
	}
	return l.activation(t, o), nil
}

func (l *legacy) activation(t *tenant.Tenant, o ledger.Order) smsactivate.Activation {
	return l.activationInto(t, &o, nil)
}

// activationInto is activation with its SMS appended to sms.
func (l *legacy) activationInto(t *tenant.Tenant, o *ledger.Order, sms []adapters.SMS) smsactivate.Activation {
	cost, err := t.OrderPrice(l.f.fx, o)
	if err != nil {
		cost = o.Price
	}
	a := smsactivate.Activation{
		ID: o.ID, Phone: o.Phone, Country: o.Country, Service: o.Service, Operator: o.Operator,
		Cost: cost, State: o.State, CreatedAt: o.CreatedAt, CanRetry: true, SMS: sms,
	}
	for _, c := range o.Codes {
		a.SMS = append(a.SMS, adapters.SMS{Code: c.Code, Text: c.Text, From: c.From, ReceivedAt: c.ReceivedAt})
	}
	return a
}

func (l *legacy) Activation(ctx context.Context, account string, id int64) (smsactivate.Activation, error) {
	t := l.tenant(account)
	// The protocol server only reads the answer, during this request:
	// the cached order and the call's scratch SMS list serve it.
	o, err := l.f.orders.Peek(ctx, t, id)
	if err != nil {
		return smsactivate.Activation{}, err
	}
	a := l.activationInto(t, o, l.sms[:0])
	l.sms = a.SMS
	return a, nil
}

func (l *legacy) SetStatus(ctx context.Context, account string, id int64, status int) (smsactivate.Activation, error) {
	t := l.tenant(account)
	o, err := l.f.orders.SetStatus(ctx, t, id, status)
	if err != nil {
		return smsactivate.Activation{}, err
	}
	return l.activation(t, o), nil
}

func (l *legacy) Active(ctx context.Context, account string) ([]smsactivate.Activation, error) {
	t := l.tenant(account)
	list, err := l.f.store.List(ctx, ledger.Filter{Tenant: t.Name, ActiveOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]smsactivate.Activation, len(list))
	for i, o := range list {
		out[i] = l.activation(t, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (l *legacy) Offers(ctx context.Context, account, country, service string) ([]smsactivate.Offer, error) {
	t := l.tenant(account)
	merged, err := l.f.market.Offers(ctx, t, country, service)
	if err != nil {
		return nil, err
	}
	out := make([]smsactivate.Offer, len(merged))
	for i, m := range merged {
		out[i] = smsactivate.Offer{Country: m.Country, Service: m.Service, Price: m.Price, Count: m.Count}
	}
	return out, nil
}

func (l *legacy) Operators(ctx context.Context, account, country string) (map[string][]string, error) {
	out := map[string][]string{}
	if country != "" {
		out[country] = catalog.Operators(country)
		return out, nil
	}
	t := l.tenant(account)
	merged, err := l.f.market.Offers(ctx, t, "", "")
	if err != nil {
		return nil, err
	}
	for _, m := range merged {
		if _, ok := out[m.Country]; !ok {
			out[m.Country] = catalog.Operators(m.Country)
		}
	}
	return out, nil
}

// Countries lists the countries of the tenant's platforms from the
// countries cache ([cache] countries), for getCountries.
func (l *legacy) Countries(ctx context.Context, account string) ([]string, error) {
	return l.f.market.Countries(ctx, l.tenant(account))
}

// legacyCall is one request's protocol server bound to its tenant; pooled,
// so binding costs no allocation.
type legacyCall struct {
	srv smsactivate.Server
	b   legacy
}

// legacyCalls hands out protocol servers configured like proto, bound per
// request.
type legacyCalls struct{ pool sync.Pool }

func newLegacyCalls(f *Front, proto smsactivate.Server) *legacyCalls {
	lc := &legacyCalls{}
	lc.pool.New = func() any {
		c := &legacyCall{srv: proto, b: legacy{f: f}}
		c.srv.Backend = &c.b
		return c
	}
	return lc
}

// serve answers one handler-API request for tenant t (nil: unknown key).
func (lc *legacyCalls) serve(ctx *fasthttp.RequestCtx, t *tenant.Tenant) {
	c := lc.pool.Get().(*legacyCall)
	c.b.t = t
	c.srv.Handle(ctx)
	c.b.t = nil
	clear(c.b.sms) // no strings kept alive by a pooled call
	lc.pool.Put(c)
}
