package orders

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/lifetime"
	"smsgate/gateway/platform"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// claims are upstream orders the gateway knows it owns but may not have in
// the ledger yet (bought a moment ago, or adopted by a reconciliation):
// a reconciliation never adopts them. Key: platform|upstream id.
type claims struct {
	mu sync.Mutex
	m  map[string]time.Time // guarded by mu
}

func (c *claims) add(platform, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]time.Time{}
	}
	k := platform + "|" + id
	if _, ok := c.m[k]; ok {
		return false
	}
	now := time.Now()
	for key, at := range c.m { // bounded: entries matter for minutes only
		if now.Sub(at) > time.Hour {
			delete(c.m, key)
		}
	}
	c.m[k] = now
	return true
}

func (c *claims) has(platform, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[platform+"|"+id]
	return ok
}

// lister is the platform's active-order list, bypassing its breaker (which
// has just counted the failure): reconciliation must look even then.
func lister(p *platform.Platform) (adapters.ActiveLister, bool) {
	l, ok := p.Raw().(adapters.ActiveLister)
	return l, ok
}

// reconcile deals with a purchase at p whose answer was lost. If the
// platform lists a new active order for the pair, it is the one we bought:
// it is recorded and given to the client (found). Otherwise nothing was
// bought as far as the platform shows, so the router may go on to the next
// platform, while the gateway keeps watching this one: a number that shows
// up later is recorded for the tenant (never lost) and cancelled (never
// paid for twice).
func (g *Service) reconcile(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform) (o ledger.Order, found bool, err error) {
	l, ok := lister(p)
	if !ok {
		g.metrics.Reconciled(p.Code, "unsupported")
		g.log.Error("purchase outcome unknown and the platform cannot list active orders: check it by hand",
			zap.String("platform", p.Code), zap.String("tenant", t.Name))
		return ledger.Order{}, false, fmt.Errorf("%s: purchase outcome unknown: %w", p.Code, adapters.ErrOutcomeUnknown)
	}
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		lctx, cancel := p.CallCtx(ctx)
		a, ok := g.findLost(lctx, l, p, r)
		cancel()
		if ok {
			g.metrics.Reconciled(p.Code, "adopted")
			g.log.Warn("lost purchase found on the platform; recorded", zap.String("platform", p.Code), zap.String("upstream_id", a.UpstreamID))
			o, err := g.record(ctx, t, r, p, g.purchaseOf(ctx, p, r, a))
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
	g.bg.Go(func(ctx context.Context) { g.watchLost(ctx, t, r, p, l) })
	return ledger.Order{}, false, nil
}

// watchLost keeps looking for the lost number; one that appears is
// recorded for the tenant and cancelled, so the account gets its money back.
// It gives up when the gateway stops.
func (g *Service) watchLost(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, l adapters.ActiveLister) {
	found := lifetime.Retry(ctx, g.now, g.now().Add(g.reconcileFor), g.orphanRetry, true, func(ctx context.Context) bool {
		cctx, cancel := p.CallCtx(ctx)
		a, ok := g.findLost(cctx, l, p, r)
		cancel()
		if !ok {
			return false
		}
		g.metrics.Reconciled(p.Code, "cancelled_late")
		cctx, cancel = p.CallCtx(ctx)
		o, err := g.record(cctx, t, r, p, g.purchaseOf(cctx, p, r, a))
		cancel()
		if err != nil {
			return true // record cancels upstream itself when it cannot commit
		}
		g.log.Warn("lost purchase appeared late; recorded and cancelling", zap.Int64("id", o.ID), zap.String("platform", p.Code))
		g.cancelRecorded(ctx, p, o.ID)
		return true
	})
	if !found && ctx.Err() == nil {
		g.metrics.Reconciled(p.Code, "not_found")
	}
}

// cancelRecorded cancels a recorded order upstream, retrying through the
// platform's cancel guard, and records the cancellation.
func (g *Service) cancelRecorded(ctx context.Context, p *platform.Platform, id int64) {
	lifetime.Retry(ctx, g.now, g.now().Add(p.Lifetime), g.orphanRetry, false, func(ctx context.Context) bool {
		cctx, cancel := p.CallCtx(ctx)
		defer cancel()
		mu := g.Lock(id)
		mu.Lock()
		defer mu.Unlock()
		o, err := g.store.Get(cctx, id)
		if err == nil && o.State == adapters.StateWaiting {
			if err = p.Adapter.Cancel(cctx, o.UpstreamID); err == nil {
				o.State, o.UpdatedAt, o.NextPollAt = adapters.StateCancelled, g.now().UTC(), time.Time{}
				err = g.Save(cctx, &o, adapters.StateWaiting)
			}
		}
		return err == nil || !o.State.Active() || errors.Is(err, adapters.ErrBadState)
	})
}

// findLost looks for an active order at p for the pair that the gateway
// does not already own.
func (g *Service) findLost(ctx context.Context, l adapters.ActiveLister, p *platform.Platform, r BuyRequest) (adapters.ActiveOrder, bool) {
	list, err := l.ActiveOrders(ctx)
	if err != nil || len(list) == 0 {
		return adapters.ActiveOrder{}, false
	}
	if !p.Buys().Settle(ctx) {
		return adapters.ActiveOrder{}, false
	}
	owned, err := g.store.List(ctx, ledger.Filter{Platform: p.Code, Limit: 2000})
	if err != nil {
		return adapters.ActiveOrder{}, false
	}
	known := make(map[string]bool, len(owned))
	for _, o := range owned {
		known[o.UpstreamID] = true
	}
	// Newest first: platforms list in purchase order.
	for i := len(list) - 1; i >= 0; i-- {
		a := list[i]
		if known[a.UpstreamID] || g.claimed.has(p.Code, a.UpstreamID) {
			continue
		}
		if (a.Country != "" && a.Country != r.Country) || (a.Service != "" && a.Service != r.Service) {
			continue
		}
		if g.claimed.add(p.Code, a.UpstreamID) {
			return a, true
		}
	}
	return adapters.ActiveOrder{}, false
}

// purchaseOf turns a found order into a Purchase; the price is the
// platform's listed one, the best we know.
func (g *Service) purchaseOf(ctx context.Context, p *platform.Platform, r BuyRequest, a adapters.ActiveOrder) adapters.Purchase {
	pur := adapters.Purchase{UpstreamID: a.UpstreamID, Phone: a.Phone, Price: adapters.Money{Currency: p.Currency}}
	if o, ok := g.router.OfferFor(ctx, p, r.Country, r.Service); ok {
		pur.Price = o.Price
	}
	return pur
}
