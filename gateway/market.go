package gateway

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
)

// MergedOffer is the market across platforms for one (country, service):
// the lowest price (converted to the tenant's currency) and the summed stock.
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
func (g *Gateway) Offers(ctx context.Context, t *Tenant, country, service string) ([]MergedOffer, error) {
	// The merge of every platform's list (thousands of offers) is itself
	// cached for a few seconds: legacy clients ask for prices and countries
	// constantly, and the platforms' lists are cached far longer anyway.
	v, _, err := g.cache.Get(ctx, "merged", "merged|"+t.Name+"|"+country+"|"+service, mergedTTL,
		func(ctx context.Context) (any, error) { return g.mergeOffers(ctx, t, country, service) })
	if err != nil {
		return nil, err
	}
	return v.([]MergedOffer), nil
}

// mergedTTL is how long a merged price list is reused.
const mergedTTL = 5 * time.Second

func (g *Gateway) mergeOffers(ctx context.Context, t *Tenant, country, service string) ([]MergedOffer, error) {
	plats := g.usable(t)
	type result struct {
		p      *Platform
		offers []adapters.Offer
		err    error
	}
	res := make([]result, len(plats))
	var wg sync.WaitGroup
	for i, p := range plats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := g.platformOffers(ctx, p, country, service)
			res[i] = result{p, o, err}
		}()
	}
	wg.Wait()
	type key struct{ c, s string }
	merged := map[key]*MergedOffer{}
	ok := 0
	for _, r := range res {
		if r.err != nil {
			g.log.Debug("offers failed", zap.String("platform", r.p.Code), zap.Error(r.err))
			continue
		}
		ok++
		for _, o := range r.offers {
			if (country != "" && o.Country != country) || (service != "" && o.Service != service) {
				continue
			}
			price, err := g.fx.Convert(o.Price, t.Currency)
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
	if ok == 0 && len(plats) > 0 {
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

// platformOffers is one platform's offers for the filters, through the
// cache (prices TTL); a failed refresh serves the last answer.
func (g *Gateway) platformOffers(ctx context.Context, p *Platform, country, service string) ([]adapters.Offer, error) {
	ttl := g.cfg.Cache.Prices
	if p.OffersTTL > 0 && p.OffersTTL < ttl {
		ttl = p.OffersTTL
	}
	v, _, err := g.cache.Get(ctx, "offers", "offers|"+p.Code+"|"+country+"|"+service, ttl,
		func(ctx context.Context) (any, error) {
			cctx, cancel := callCtx(ctx, p)
			defer cancel()
			return p.Adapter.Offers(cctx, service, country)
		})
	if err != nil {
		return nil, err
	}
	return v.([]adapters.Offer), nil
}

// platformBalance is one platform's balance through the cache (status TTL).
func (g *Gateway) platformBalance(ctx context.Context, p *Platform) (adapters.Money, error) {
	v, _, err := g.cache.Get(ctx, "balance", "balance|"+p.Code, g.cfg.Cache.Status,
		func(ctx context.Context) (any, error) {
			cctx, cancel := callCtx(ctx, p)
			defer cancel()
			return p.Adapter.Balance(cctx)
		})
	if err != nil {
		return adapters.Money{}, err
	}
	return v.(adapters.Money), nil
}

// dropBalance forgets a platform's cached balance after it changed (a
// purchase, a refund).
func (g *Gateway) dropBalance(p *Platform) { g.cache.Del("balance|" + p.Code) }

// Balance is the tenant's spendable money: the sum of the usable
// platforms' balances in the tenant's currency. Platforms that fail are
// left out; only if all fail is it an error.
func (g *Gateway) Balance(ctx context.Context, t *Tenant) (adapters.Money, error) {
	plats := g.usable(t)
	sums := make([]int64, len(plats))
	oks := make([]bool, len(plats))
	var wg sync.WaitGroup
	for i, p := range plats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := g.platformBalance(ctx, p)
			if err != nil {
				g.log.Debug("balance failed", zap.String("platform", p.Code), zap.Error(err))
				return
			}
			if m, err := g.fx.Convert(b, t.Currency); err == nil {
				sums[i], oks[i] = m.Micros, true
			}
		}()
	}
	wg.Wait()
	total := adapters.Money{Currency: t.Currency}
	any := false
	for i := range plats {
		if oks[i] {
			total.Micros += sums[i]
			any = true
		}
	}
	if !any && len(plats) > 0 {
		return adapters.Money{}, fmt.Errorf("balance: every platform failed: %w", adapters.ErrUnavailable)
	}
	return total, nil
}

// Countries is the union of the countries the tenant's usable platforms
// list (ISO codes, sorted), each platform's list cached for [cache]
// countries. A platform whose refresh fails serves its last list, however
// old; one that never answered is left out; only if every platform has no
// list is it an error.
func (g *Gateway) Countries(ctx context.Context, t *Tenant) ([]string, error) {
	plats := g.usable(t)
	lists := make([][]string, len(plats))
	var wg sync.WaitGroup
	for i, p := range plats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := g.platformCountries(ctx, p)
			if err != nil {
				g.log.Debug("countries failed", zap.String("platform", p.Code), zap.Error(err))
				return
			}
			lists[i] = l
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	ok := false
	for _, l := range lists {
		if l != nil {
			ok = true
		}
		for _, c := range l {
			seen[c] = true
		}
	}
	if !ok && len(plats) > 0 {
		return nil, fmt.Errorf("countries: every platform failed: %w", adapters.ErrUnavailable)
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// platformCountries is one platform's country list through the countries
// cache ([cache] countries TTL, stale on failure).
func (g *Gateway) platformCountries(ctx context.Context, p *Platform) ([]string, error) {
	// The fill is shared by every caller waiting on it: it must not end
	// because the first caller went away. The platform's timeout bounds it.
	fillCtx := context.WithoutCancel(ctx)
	filled := false
	l, stale, err := g.countries.get(p.Code, g.cfg.Cache.Countries, g.now, func() ([]string, error) {
		filled = true
		g.metrics.cache("countries", "miss")
		cctx, cancel := callCtx(fillCtx, p)
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
		g.metrics.cache("countries", "stale")
	case !filled:
		g.metrics.cache("countries", "hit")
	}
	return l, nil
}
