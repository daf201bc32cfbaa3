package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// ErrInsufficientFunds: the tenant's wallet cannot hold the price.
var ErrInsufficientFunds = ledger.ErrInsufficientFunds

// errNoHold: a wallet tenant cannot buy where the price is unknown (there
// is nothing to hold).
var errNoHold = errors.New("price unknown: nothing to hold")

// openIntent writes the purchase intent for candidate c, holding the
// tenant price in a wallet tenant's wallet.
func (g *Service) openIntent(ctx context.Context, t *tenant.Tenant, r BuyRequest, c route.Candidate) (ledger.Intent, error) {
	now := g.now().UTC()
	in := ledger.Intent{Tenant: t.Name, Platform: c.Platform.Code, Country: r.Country, Service: r.Service,
		Currency: t.Currency, State: ledger.IntentOpen, CreatedAt: now, UpdatedAt: now}
	if t.Wallet {
		if c.BasePrice < 0 {
			return in, fmt.Errorf("%s: %w", c.Platform.Code, errNoHold)
		}
		price, err := g.pricer.TenantPrice(t, adapters.Money{Micros: c.BasePrice, Currency: g.fx.Base()})
		if err != nil || price.Micros <= 0 {
			return in, fmt.Errorf("%s: %w", c.Platform.Code, errNoHold)
		}
		in.Hold, in.Currency = price.Micros, price.Currency
	}
	err := g.store.OpenIntent(ctx, &in)
	if in.Hold > 0 {
		g.wallets.moved(t.Name)
	}
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return in, fmt.Errorf("tenant %s cannot hold %s %s: %w", t.Name,
				adapters.FormatDecimal(in.Hold, 2), in.Currency, ErrInsufficientFunds)
		}
		return in, fmt.Errorf("cannot record purchase intent: %w", err)
	}
	return in, nil
}

// closeIntent ends an intent that has no order, giving its hold back
// (and queuing orphan's cancel, in the same transaction). It runs even
// when the request's context has ended: a failure leaves the intent open
// for the intent pass, which decides again.
func (g *Service) closeIntent(in ledger.Intent, state ledger.IntentState, orphan *ledger.Action) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if orphan != nil {
		orphan.State, orphan.CreatedAt, orphan.UpdatedAt, orphan.NextAt = ledger.ActionPending, in.UpdatedAt, in.UpdatedAt, g.now().UTC()
	}
	err := g.store.CloseIntent(ctx, in.ID, state, orphan, g.now().UTC())
	if in.Hold > 0 {
		g.wallets.moved(in.Tenant)
	}
	if err != nil {
		if !errors.Is(err, ledger.ErrNotFound) {
			g.log.Error("cannot close purchase intent; the intent pass will", zap.Int64("intent", in.ID), zap.Error(err))
		}
		return
	}
	if orphan != nil {
		g.queued()
	}
}

// intentBatch bounds the intents one pass looks at.
const intentBatch = 200

// ReconcileIntents settles the purchase intents left open longer than the
// grace — a process died between a platform's answer and the commit, or
// a purchase's outcome was lost. For each platform it lists the active
// orders no ledger order has; a number for an intent's pair that was
// already unowned at the previous pass (a grace or more ago, when every
// purchase then in flight had recorded its number or failed) is that
// intent's: its cancel is queued and the intent closed. An intent nothing
// matches is given up after the reconcile window. Numbers are cancelled
// only for our own intents, one per intent: an account shared with other
// tools keeps its other orders.
func (g *Service) ReconcileIntents(ctx context.Context) {
	now := g.now().UTC()
	stale, err := g.store.StaleIntents(ctx, now.Add(-g.intentGrace), intentBatch)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("cannot list open purchase intents", zap.Error(err))
		}
		return
	}
	byPlatform := map[string][]ledger.Intent{}
	for _, in := range stale {
		byPlatform[in.Platform] = append(byPlatform[in.Platform], in)
	}
	seen := map[string]time.Time{}
	for code, ins := range byPlatform {
		lost := g.unowned(ctx, code)
		g.passMu.Lock()
		for _, a := range lost {
			k := code + "|" + a.UpstreamID
			first, ok := g.sightings[k]
			if !ok {
				first = now
			}
			seen[k] = first
		}
		g.passMu.Unlock()
		for _, in := range ins {
			g.settleIntent(in, lost, seen, now)
		}
	}
	g.passMu.Lock()
	g.sightings = seen
	g.passMu.Unlock()
}

// unowned lists p's active orders that no active ledger order has; nil
// when the platform cannot list or does not answer.
func (g *Service) unowned(ctx context.Context, code string) []adapters.ActiveOrder {
	p, ok := g.byCode[code]
	if !ok {
		return nil
	}
	l, ok := lister(p)
	if !ok {
		return nil
	}
	lctx, cancel := p.CallCtx(ctx)
	defer cancel()
	return g.findLost(lctx, l, p, "", "")
}

// settleIntent decides one stale intent; lost is its platform's unowned
// numbers (taken ones are removed from seen), seen when each was first
// seen unowned.
func (g *Service) settleIntent(in ledger.Intent, lost []adapters.ActiveOrder, seen map[string]time.Time, now time.Time) {
	for _, a := range lost {
		k := in.Platform + "|" + a.UpstreamID
		first, ok := seen[k]
		if !ok || now.Sub(first) < g.intentGrace || !matches(a.Country, in.Country) || !matches(a.Service, in.Service) {
			continue
		}
		delete(seen, k) // one number per intent
		giveUp := now.Add(giveUpSlack)
		if p, ok := g.byCode[in.Platform]; ok {
			giveUp = now.Add(p.Lifetime + giveUpSlack)
		}
		in.UpdatedAt = now
		g.closeIntent(in, ledger.IntentOrphan, &ledger.Action{Tenant: in.Tenant, Platform: in.Platform,
			UpstreamID: a.UpstreamID, Kind: ledger.ActCancel, GiveUpAt: giveUp})
		g.metrics.Reconciled(in.Platform, "cancelled_late")
		g.log.Warn("number bought but never recorded; cancelling", zap.Int64("intent", in.ID),
			zap.String("platform", in.Platform), zap.String("upstream_id", a.UpstreamID))
		return
	}
	if now.Sub(in.CreatedAt) < g.reconcileFor {
		return // look again at the next pass
	}
	in.UpdatedAt = now
	g.closeIntent(in, ledger.IntentUnknown, nil)
	g.metrics.Reconciled(in.Platform, "not_found")
	if _, ok := g.byCode[in.Platform]; ok {
		if _, ok := lister(g.byCode[in.Platform]); !ok {
			g.log.Error("purchase outcome never known and the platform cannot list active orders: check it by hand",
				zap.Int64("intent", in.ID), zap.String("platform", in.Platform))
		}
	}
}

// RunAction runs one outbox action against its platform: nil when done,
// an error marked final when the platform answered that it will not (the
// order is gone or in a state that refuses it), any other error to try
// again later.
func (g *Service) RunAction(ctx context.Context, a ledger.Action) error {
	p, ok := g.byCode[a.Platform]
	if !ok {
		return final(fmt.Errorf("platform %s no longer configured", a.Platform))
	}
	call, err := g.actionCall(p, a)
	if err != nil {
		return final(err)
	}
	cctx, cancel := p.CallCtx(ctx)
	defer cancel()
	err = call(cctx, a.UpstreamID)
	if err == nil {
		return nil
	}
	if errors.Is(err, adapters.ErrNoActivation) || errors.Is(err, adapters.ErrBadState) {
		return final(err)
	}
	return err
}

// actionCall is the adapter call of an action kind.
func (g *Service) actionCall(p *platform.Platform, a ledger.Action) (func(context.Context, string) error, error) {
	switch a.Kind {
	case ledger.ActCancel:
		return p.Adapter.Cancel, nil
	case ledger.ActFinish:
		return p.Adapter.Finish, nil
	case ledger.ActAnother:
		return p.Adapter.RequestAnother, nil
	case ledger.ActBan:
		if b, ok := p.Adapter.(adapters.Banner); ok {
			return b.Ban, nil
		}
	}
	return nil, fmt.Errorf("%s cannot run a %s action", p.Code, a.Kind)
}
