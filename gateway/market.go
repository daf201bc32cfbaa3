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
// A fresh read also resets what routing knows (balanceBook).
func (g *Gateway) platformBalance(ctx context.Context, p *Platform) (adapters.Money, error) {
	v, _, err := g.cache.Get(ctx, "balance", "balance|"+p.Code, g.cfg.Cache.Status,
		func(ctx context.Context) (any, error) { return g.readBalance(ctx, p) })
	if err != nil {
		return adapters.Money{}, err
	}
	return v.(adapters.Money), nil
}

// readBalance asks the platform for its balance and tells the book.
func (g *Gateway) readBalance(ctx context.Context, p *Platform) (adapters.Money, error) {
	since := g.balances.spent(p.Code)
	cctx, cancel := callCtx(ctx, p)
	defer cancel()
	bal, err := p.Adapter.Balance(cctx)
	if err == nil {
		if m, ok := g.inCurrency(bal, p.Currency); ok {
			g.balances.read(p.Code, m, since)
		}
	}
	return bal, err
}

// inCurrency is m in micro-units of currency ("" is taken as currency).
func (g *Gateway) inCurrency(m adapters.Money, currency string) (int64, bool) {
	if m.Currency == "" || m.Currency == currency {
		return m.Micros, true
	}
	c, err := g.fx.Convert(m, currency)
	if err != nil {
		return 0, false
	}
	return c.Micros, true
}

// spendsBalance reports whether a purchase at p is paid from its account
// balance. Pools own their numbers: their "balance" is the source
// account's, or zero, and says nothing about whether they can sell.
func spendsBalance(p *Platform) bool {
	_, own := p.raw().(numberLister)
	return !own
}

// balanceBook is what routing knows of each platform's balance, in the
// platform's currency, so that it is never staler than the purchase in
// hand: the last read, less what every purchase since has cost (debited
// the moment the platform sells), plus refunds of orders cancelled since,
// and less what purchases in flight may cost (reserved before the call,
// so concurrent buyers do not all count the same money). A platform that
// answers NO_BALANCE has nothing until its next read. Reads happen on the
// health interval and whenever the balance API's cache refills.
type balanceBook struct {
	mu sync.Mutex
	m  map[string]*bookEntry // by platform code; guarded by mu
}

type bookEntry struct {
	known    bool
	micros   int64 // estimate: last read − debits + credits since
	reserved int64 // expected cost of purchases in flight
	total    int64 // every debit so far: a read that raced a purchase is corrected by it
}

func (b *balanceBook) entry(code string) *bookEntry {
	if b.m == nil {
		b.m = map[string]*bookEntry{}
	}
	e := b.m[code]
	if e == nil {
		e = &bookEntry{}
		b.m[code] = e
	}
	return e
}

// spent is the debit total, to pass to read for a read starting now.
func (b *balanceBook) spent(code string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entry(code).total
}

// read records a balance read that started when the debit total was
// since. Purchases debited during the read may or may not be in micros;
// they are taken off again, so the estimate errs low, never high.
func (b *balanceBook) read(code string, micros, since int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.known = true
	e.micros = micros - (e.total - since)
}

// reserve sets cost aside for a purchase about to be sent, or reports that
// the known balance cannot pay it (cost 0, price unknown: nothing left at
// all). An unknown balance reserves and lets the platform decide, as does
// force.
func (b *balanceBook) reserve(code string, cost int64, force bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	if e.known && !force {
		left := e.micros - e.reserved
		if left < cost || left <= 0 {
			return false
		}
	}
	e.reserved += cost
	return true
}

// release gives back a reservation once the purchase has answered (after
// debit, when it sold).
func (b *balanceBook) release(code string, cost int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entry(code).reserved -= cost
}

// debit takes a sold number's price off at once.
func (b *balanceBook) debit(code string, cost int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.total += cost
	e.micros -= cost
}

// credit adds a refund back.
func (b *balanceBook) credit(code string, amount int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entry(code).micros += amount
}

// empty records a NO_BALANCE answer: nothing left until the next read.
func (b *balanceBook) empty(code string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.known, e.micros = true, 0
}

// available is the balance not yet set aside, and whether it is known.
func (b *balanceBook) available(code string) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	return e.micros - e.reserved, e.known
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
