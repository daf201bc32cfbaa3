package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// lister is the platform's active-order list, bypassing its breaker (which
// has just counted the failure): reconciliation must look even then.
func lister(p *platform.Platform) (adapters.ActiveLister, bool) {
	l, ok := p.Raw().(adapters.ActiveLister)
	return l, ok
}

// reconcile deals with a purchase at p whose answer was lost. If the
// platform lists a new active order for the pair that no order of ours
// has, it is the one we bought: it is recorded with the intent and given
// to the client (found). Otherwise nothing was bought as far as the
// platform shows, so the router may go on to the next platform; the
// intent stays open, and the intent pass cancels the number if it shows
// up later (never lost, never paid for twice).
func (g *Service) reconcile(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, in ledger.Intent) (o ledger.Order, found bool, err error) {
	l, ok := lister(p)
	if !ok {
		g.metrics.Reconciled(p.Code, "unsupported")
		g.log.Error("purchase outcome unknown and the platform cannot list active orders: check it by hand",
			zap.String("platform", p.Code), zap.String("tenant", t.Name))
		return ledger.Order{}, false, fmt.Errorf("%s: purchase outcome unknown: %w", p.Code, adapters.ErrOutcomeUnknown)
	}
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		lctx, cancel := p.CallCtx(ctx)
		lost := g.findLost(lctx, l, p, r.Country, r.Service)
		cancel()
		for _, a := range lost {
			o, err := g.adopt(ctx, t, r, p, in, a)
			if errors.Is(err, ledger.ErrDuplicateUpstream) {
				continue // another purchase recorded it a moment ago
			}
			if err == nil {
				g.metrics.Reconciled(p.Code, "adopted")
				g.log.Warn("lost purchase found on the platform; recorded", zap.String("platform", p.Code), zap.String("upstream_id", a.UpstreamID))
			}
			return o, true, err
		}
		if attempt == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond): // a platform may list it a moment later
			}
		}
	}
	g.metrics.Reconciled(p.Code, "watching")
	return ledger.Order{}, false, nil
}

// adopt records a found number with the intent. Unlike record, a commit
// that fails queues no cancel: the number may be another purchase's.
func (g *Service) adopt(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, in ledger.Intent, a adapters.ActiveOrder) (ledger.Order, error) {
	o, err := g.newOrder(t, r, p, g.purchaseOf(ctx, p, r, a), in)
	if err == nil {
		o.Webhook = t.Hooked()
		err = g.store.Create(ctx, &o)
	}
	if err != nil {
		return ledger.Order{}, fmt.Errorf("cannot record order: %w", err)
	}
	g.cacheOrder(&o, true)
	g.market.DropBalance(p)
	g.bought(&o)
	return o, nil
}

// findLost lists the active orders at p for the pair ("" = any) that no
// active order in the ledger has, newest first, once the purchases in flight on this
// instance have settled (one of those may be recording its number now).
func (g *Service) findLost(ctx context.Context, l adapters.ActiveLister, p *platform.Platform, country, service string) []adapters.ActiveOrder {
	list, err := l.ActiveOrders(ctx)
	if err != nil || len(list) == 0 {
		return nil
	}
	if !p.Buys().Settle(ctx) {
		return nil
	}
	owned, err := g.store.List(ctx, ledger.Filter{Platform: p.Code, ActiveOnly: true})
	if err != nil {
		return nil
	}
	known := make(map[string]bool, len(owned))
	for _, o := range owned {
		known[o.UpstreamID] = true
	}
	var lost []adapters.ActiveOrder
	for i := len(list) - 1; i >= 0; i-- { // platforms list in purchase order
		a := list[i]
		if known[a.UpstreamID] || !matches(a.Country, country) || !matches(a.Service, service) {
			continue
		}
		lost = append(lost, a)
	}
	return lost
}

// matches reports whether a listed field fits the wanted one; either
// empty ("the platform does not say", "any") fits.
func matches(listed, want string) bool { return listed == "" || want == "" || listed == want }

// purchaseOf turns a found order into a Purchase; the price is the
// platform's listed one, the best we know.
func (g *Service) purchaseOf(ctx context.Context, p *platform.Platform, r BuyRequest, a adapters.ActiveOrder) adapters.Purchase {
	pur := adapters.Purchase{UpstreamID: a.UpstreamID, Phone: a.Phone, Price: adapters.Money{Currency: p.Currency}}
	if o, ok := g.router.OfferFor(ctx, p, r.Country, r.Service); ok {
		pur.Price = o.Price
	}
	return pur
}
