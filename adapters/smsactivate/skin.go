package smsactivate

import (
	"context"
	"slices"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
)

// NewSkin serves the handler API over a simulated market in the given
// dialect, with the market's fault injection in front.
func NewSkin(m *simulator.Market, d Dialect) fasthttp.RequestHandler {
	return NewSkinWith(m, SkinOptions{Dialect: d})
}

// SkinOptions pick the variant of the protocol a skin speaks. The zero
// value is the classic dialect with the docs' layouts.
type SkinOptions struct {
	Dialect Dialect
	// Active is the layout of getActiveActivations (see ActiveLayout).
	Active ActiveLayout
}

// NewSkinWith is NewSkin speaking the chosen variant.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	s := &Server{Backend: marketBackend{m}, Dialect: o.Dialect, Active: o.Active, OnAction: m.CountCall}
	return m.Wrap(s.Handle)
}

// NewMarketBackend is the Backend over a simulated market, for clones'
// skins that add their own actions around the standard ones.
func NewMarketBackend(m *simulator.Market) Backend { return marketBackend{m} }

// marketBackend adapts a simulator.Market to Backend: one account, the
// market's key.
type marketBackend struct{ m *simulator.Market }

func (b marketBackend) Authenticate(_ context.Context, key string) (string, bool) {
	return "sim", b.m.CheckKey(key)
}

func (b marketBackend) Currency(string) string { return b.m.Currency() }

func (b marketBackend) money(micros int64) adapters.Money {
	return adapters.Money{Micros: micros, Currency: b.m.Currency()}
}

func (b marketBackend) Balance(context.Context, string) (adapters.Money, error) {
	return b.money(b.m.Balance()), nil
}

func (b marketBackend) activation(o simulator.Order) Activation {
	return Activation{
		ID: o.ID, Phone: o.Phone, Country: o.Country, Service: o.Service, Operator: o.Operator,
		Cost: b.money(o.Price), State: o.State, SMS: o.SMS, CreatedAt: o.CreatedAt,
		CanRetry: b.m.RetryAllowed(o.Country),
	}
}

func (b marketBackend) Buy(_ context.Context, _ string, p BuyParams) (Activation, error) {
	now := b.m.Now()
	if until, banned := b.m.BannedUntil(); banned {
		return Activation{}, &BanError{Until: until, RetryAfter: until.Sub(now)}
	}
	if until, banned := b.m.PairBannedUntil(p.Country, p.Service); banned {
		id := 0
		if c, ok := catalog.CountryByISO(p.Country); ok {
			id = c.SMSActivateID
		}
		return Activation{}, &BanError{Pair: true, Service: p.Service, CountryID: id, Until: until, RetryAfter: until.Sub(now)}
	}
	if b.m.OverChannels() {
		return Activation{}, &TokenError{Token: TokChannelsLimit}
	}
	o, err := b.m.Buy(simulator.BuyArgs{Country: p.Country, Service: p.Service, Operator: p.Operator, MaxPrice: p.MaxPrice.Micros})
	if err != nil {
		return Activation{}, err
	}
	return b.activation(o), nil
}

func (b marketBackend) Activation(_ context.Context, _ string, id int64) (Activation, error) {
	o, err := b.m.Get(id)
	if err != nil {
		return Activation{}, err
	}
	return b.activation(o), nil
}

func (b marketBackend) SetStatus(_ context.Context, _ string, id int64, status int) (Activation, error) {
	var (
		o   simulator.Order
		err error
	)
	switch status {
	case 1:
		o, err = b.m.Ready(id)
	case 3:
		o, err = b.m.RequestAnother(id)
	case 6:
		o, err = b.m.Finish(id)
	case 8:
		o, err = b.m.Cancel(id)
	default:
		return Activation{}, adapters.ErrBadState
	}
	if err != nil {
		return Activation{}, err
	}
	return b.activation(o), nil
}

func (b marketBackend) Active(context.Context, string) ([]Activation, error) {
	list := b.m.Active()
	out := make([]Activation, len(list))
	for i, o := range list {
		out[i] = b.activation(o)
	}
	return out, nil
}

var _ ActivePager = marketBackend{}

// ActivePage converts the page as the market copies it out under its
// lock; the answer is encoded after, outside it.
func (b marketBackend) ActivePage(_ context.Context, _ string, dst []Activation, start, limit int) ([]Activation, error) {
	b.m.EachActive(start, limit, func(n int) { dst = slices.Grow(dst, n) }, func(o *simulator.Order) { dst = append(dst, b.activation(*o)) })
	return dst, nil
}

func (b marketBackend) Offers(_ context.Context, _, country, service string) ([]Offer, error) {
	list := b.m.Offers(country, service)
	out := make([]Offer, len(list))
	for i, o := range list {
		out[i] = Offer{Country: o.Country, Service: o.Service, Price: b.money(o.Price), Count: o.Count}
	}
	return out, nil
}

func (b marketBackend) Operators(_ context.Context, _, country string) (map[string][]string, error) {
	out := map[string][]string{}
	countries := []string{country}
	if country == "" {
		countries = b.m.Countries()
	}
	for _, c := range countries {
		if b.m.SellsCountry(c) {
			out[c] = simulator.Operators(c)
		}
	}
	return out, nil
}
