// Package market is what the platforms sell and hold: their offers,
// balances and country lists through a ristretto cache with single-flight
// fill and stale-if-error, the merge of offers across platforms, and the
// balance book routing reads.
package market

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/gateway/platform"
	"smsgate/gateway/tenant"
)

// MergedOffer is the market across platforms for one (country, service):
// the lowest tenant price (tenant.Price: converted to the tenant's
// currency, marked up) and the summed stock.
type MergedOffer struct {
	Country, Service string
	Price            adapters.Money
	// Count is the summed stock of the platforms that publish one: a lower
	// bound where some platform's stock is unknown.
	Count     int
	Platforms int // how many platforms sell it
	sellable  bool
}

// Offers merges every usable platform's offers. Platforms that fail are
// left out; only if all fail is it an error.
func (g *Market) Offers(ctx context.Context, t *tenant.Tenant, country, service string) ([]MergedOffer, error) {
	// The merge of every platform's list (thousands of offers) is itself
	// cached for a few seconds: legacy clients ask for prices and countries
	// constantly, and the platforms' lists are cached far longer anyway.
	v, _, err := g.cache.Get(ctx, "merged", "merged|"+t.Name+"|"+country+"|"+service, MergedTTL,
		func(ctx context.Context) (any, error) { return g.mergeOffers(ctx, t, country, service) })
	if err != nil {
		return nil, err
	}
	return v.([]MergedOffer), nil
}

// MergedTTL is how long a merged price list is reused.
const MergedTTL = 5 * time.Second

func (g *Market) mergeOffers(ctx context.Context, t *tenant.Tenant, country, service string) ([]MergedOffer, error) {
	plats := g.Usable(t)
	lists, answered := fanOut(g, plats, "offers", func(p *platform.Platform) ([]adapters.Offer, error) {
		return g.PlatformOffers(ctx, p, country, service)
	})
	type key struct{ c, s string }
	merged := map[key]*MergedOffer{}
	for i, offers := range lists {
		if !answered[i] {
			continue
		}
		for _, o := range offers {
			if (country != "" && o.Country != country) || (service != "" && o.Service != service) {
				continue
			}
			price, err := t.Price(g.fx, o.Price)
			if err != nil {
				continue
			}
			k := key{o.Country, o.Service}
			m := merged[k]
			if m == nil {
				m = &MergedOffer{Country: o.Country, Service: o.Service, Price: price}
				merged[k] = m
			}
			// The lowest price among the offers that can sell (stock, or
			// stock unknown); a sold-out offer's price only stands in.
			if o.Count != 0 && (!m.sellable || price.Micros < m.Price.Micros) {
				m.Price, m.sellable = price, true
			}
			if o.Count > 0 {
				m.Count += o.Count
			}
			m.Platforms++
		}
	}
	if !slices.Contains(answered, true) && len(plats) > 0 {
		return nil, fmt.Errorf("offers: every platform failed: %w", adapters.ErrUnavailable)
	}
	out := make([]MergedOffer, 0, len(merged))
	for _, m := range merged {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Country != out[j].Country {
			return out[i].Country < out[j].Country
		}
		return out[i].Service < out[j].Service
	})
	return out, nil
}

// PlatformOffers is one platform's offers for the filters, through the
// cache (prices TTL); a failed refresh serves the last answer.
func (g *Market) PlatformOffers(ctx context.Context, p *platform.Platform, country, service string) ([]adapters.Offer, error) {
	ttl := g.ttl.Prices
	if p.OffersTTL > 0 && p.OffersTTL < ttl {
		ttl = p.OffersTTL
	}
	v, _, err := g.cache.Get(ctx, "offers", "offers|"+p.Code+"|"+country+"|"+service, ttl,
		func(ctx context.Context) (any, error) {
			cctx, cancel := p.CallCtx(ctx)
			defer cancel()
			return p.Adapter.Offers(cctx, service, country)
		})
	if err != nil {
		return nil, err
	}
	return v.([]adapters.Offer), nil
}

// PlatformBalance is one platform's balance through the cache (status TTL).
// A fresh read also resets what routing knows (balanceBook).
func (g *Market) PlatformBalance(ctx context.Context, p *platform.Platform) (adapters.Money, error) {
	v, _, err := g.cache.Get(ctx, "balance", g.balanceKey(p), g.ttl.Status,
		func(ctx context.Context) (any, error) { return g.ReadBalance(ctx, p) })
	if err != nil {
		return adapters.Money{}, err
	}
	return v.(adapters.Money), nil
}

// ReadBalance asks the platform for its balance and tells the book.
func (g *Market) ReadBalance(ctx context.Context, p *platform.Platform) (adapters.Money, error) {
	since := g.book.Spent(p.Code)
	cctx, cancel := p.CallCtx(ctx)
	defer cancel()
	bal, err := p.Adapter.Balance(cctx)
	if err == nil {
		if m, ok := g.InCurrency(bal, p.Currency); ok {
			g.book.Read(p.Code, m, since)
		}
	}
	return bal, err
}

// InCurrency is m in micro-units of currency ("" is taken as currency).
func (g *Market) InCurrency(m adapters.Money, currency string) (int64, bool) {
	if m.Currency == "" || m.Currency == currency {
		return m.Micros, true
	}
	c, err := g.fx.Convert(m, currency)
	if err != nil {
		return 0, false
	}
	return c.Micros, true
}

// SpendsBalance reports whether a purchase at p is paid from its account
// balance. Pools own their numbers: their "balance" is the source
// account's, or zero, and says nothing about whether they can sell.
func SpendsBalance(p *platform.Platform) bool {
	_, own := p.Raw().(numberLister)
	return !own
}

// DropBalance forgets a platform's cached balance after it changed (a
// purchase, a refund).
func (g *Market) DropBalance(p *platform.Platform) { g.cache.Del(g.balanceKey(p)) }

// Balance is the tenant's spendable money: the sum of the usable
// platforms' balances in the tenant's currency. Platforms that fail are
// left out; only if all fail is it an error.
func (g *Market) Balance(ctx context.Context, t *tenant.Tenant) (adapters.Money, error) {
	if m, ok := g.cachedBalance(t); ok {
		return m, nil
	}
	plats := g.Usable(t)
	sums, answered := fanOut(g, plats, "balance", func(p *platform.Platform) (int64, error) {
		b, err := g.PlatformBalance(ctx, p)
		if err != nil {
			return 0, err
		}
		m, err := g.fx.Convert(b, t.Currency)
		return m.Micros, err
	})
	total := adapters.Money{Currency: t.Currency}
	for i, n := range sums {
		if answered[i] {
			total.Micros += n
		}
	}
	if !slices.Contains(answered, true) && len(plats) > 0 {
		return adapters.Money{}, fmt.Errorf("balance: every platform failed: %w", adapters.ErrUnavailable)
	}
	return total, nil
}

// Countries is the union of the countries the tenant's usable platforms
// list (ISO codes, sorted), each platform's list cached for [cache]
// countries. A platform whose refresh fails serves its last list, however
// old; one that never answered is left out; only if every platform has no
// list is it an error.
func (g *Market) Countries(ctx context.Context, t *tenant.Tenant) ([]string, error) {
	plats := g.Usable(t)
	lists, answered := fanOut(g, plats, "countries", func(p *platform.Platform) ([]string, error) {
		return g.PlatformCountries(ctx, p)
	})
	seen := map[string]bool{}
	for _, l := range lists {
		for _, c := range l {
			seen[c] = true
		}
	}
	if !slices.Contains(answered, true) && len(plats) > 0 {
		return nil, fmt.Errorf("countries: every platform failed: %w", adapters.ErrUnavailable)
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// PlatformCountries is one platform's country list through the countries
// cache ([cache] countries TTL, stale on failure).
func (g *Market) PlatformCountries(ctx context.Context, p *platform.Platform) ([]string, error) {
	// The fill is shared by every caller waiting on it: it must not end
	// because the first caller went away. The platform's timeout bounds it.
	fillCtx := context.WithoutCancel(ctx)
	filled := false
	l, stale, err := g.countries.get(p.Code, g.ttl.Countries, g.now, func() ([]string, error) {
		filled = true
		g.metrics.Cache("countries", "miss")
		cctx, cancel := p.CallCtx(fillCtx)
		defer cancel()
		l, err := p.Adapter.Countries(cctx)
		if err == nil && l == nil {
			l = []string{} // an empty list is an answer, not a miss
		}
		if err != nil {
			g.log.Warn("cannot refresh the country list; the last one is served if there is one",
				zap.String("platform", p.Code), zap.Error(err))
		}
		return l, err
	})
	switch {
	case err != nil:
		return nil, err
	case stale:
		g.metrics.Cache("countries", "stale")
	case !filled:
		g.metrics.Cache("countries", "hit")
	}
	return l, nil
}

// numberLister is a pool: it owns its numbers (adapters/pool).
type numberLister interface {
	Numbers(ctx context.Context) ([]pool.NumberView, error)
}

// Recorder counts cache hits, misses and stale answers (ops.Metrics).
type Recorder interface {
	Cache(kind, result string)
}

// Market holds the platforms' read-mostly data for routing and the front
// ends.
type Market struct {
	cache *Cache
	// countries holds each platform's country list: never dropped, so a
	// failed refresh always has the last list to serve (cache.go).
	countries listCache
	book      BalanceBook // what routing knows of each platform's balance
	platforms []*platform.Platform
	fx        *fx.FX
	ttl       config.Cache
	metrics   Recorder
	log       *zap.Logger
	now       func() time.Time
	// balanceKeys are the platforms' balance cache keys (read only).
	balanceKeys map[*platform.Platform]string
	sums        balanceSums // operator-mode balance sums (balance.go)
}

// New builds the market over platforms (by priority).
func New(platforms []*platform.Platform, conv *fx.FX, ttl config.Cache, m Recorder, log *zap.Logger, now func() time.Time) (*Market, error) {
	c, err := newCache(now, m)
	if err != nil {
		return nil, err
	}
	keys := make(map[*platform.Platform]string, len(platforms))
	for _, p := range platforms {
		keys[p] = "balance|" + p.Code
	}
	return &Market{cache: c, platforms: platforms, fx: conv, ttl: ttl, metrics: m, log: log, now: now, balanceKeys: keys}, nil
}

// Close stops the cache's goroutines.
func (g *Market) Close() { g.cache.Close() }

// Available is what routing knows a platform can spend (the balance book).
func (g *Market) Available(code string) (int64, bool) { return g.book.Available(code) }

// Book is what routing knows of each platform's balance.
func (g *Market) Book() *BalanceBook { return &g.book }

// Usable lists the platforms a tenant may buy from, by priority.
func (g *Market) Usable(t *tenant.Tenant) []*platform.Platform {
	out := make([]*platform.Platform, 0, len(g.platforms))
	for _, p := range g.platforms {
		if p.Current().Enabled && t.Allows(p.Code) {
			out = append(out, p)
		}
	}
	return out
}

// fanOut asks every platform at once; answered[i] says whether plats[i]
// answered (a failure is logged at debug level: callers serve what the
// others said).
func fanOut[T any](g *Market, plats []*platform.Platform, what string, f func(p *platform.Platform) (T, error)) (vals []T, answered []bool) {
	vals, answered = make([]T, len(plats)), make([]bool, len(plats))
	var wg sync.WaitGroup
	for i, p := range plats {
		wg.Go(func() {
			v, err := f(p)
			if err != nil {
				g.log.Debug(what+" failed", zap.String("platform", p.Code), zap.Error(err))
				return
			}
			vals[i], answered[i] = v, true
		})
	}
	wg.Wait()
	return vals, answered
}
