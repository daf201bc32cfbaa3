// Package orders is the order service: Buy (route, try the candidates
// within one deadline, record before answering, reconcile an unknown
// outcome), SetStatus (the transitions a client may ask for), reads
// through the order cache, and the background upstream work an order
// leaves behind (orphan cancels, late finishes), owned by the gateway's
// lifetime group.
package orders

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/market"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// BuyRequest is a tenant's purchase after protocol parsing.
type BuyRequest struct {
	Country  string
	Service  string
	Operator string
	MaxPrice adapters.Money // tenant currency; zero = none
	Strategy string
	Platform string // pinned platform, "" = route
	// Failover lets a pinned purchase move on to other platforms when the
	// pinned one cannot sell.
	Failover bool
	// IdempotencyKey makes a repeat return ErrDuplicateOrder (legacy
	// getNumberV2 orderId).
	IdempotencyKey string
}

// Route is what routing needs of the purchase.
func (r BuyRequest) Route() route.Request {
	return route.Request{Country: r.Country, Service: r.Service, MaxPrice: r.MaxPrice, Strategy: r.Strategy,
		Platform: r.Platform, Failover: r.Failover}
}

// Buy routes a purchase by strategy, tries the candidates in order within
// one deadline, and records the number in the ledger before returning it.
// Only answers known to have bought nothing move on to the next platform;
// an unknown outcome is reconciled on that platform, never re-bought
// elsewhere (that could sell the client two numbers).
func (g *Service) Buy(ctx context.Context, t *tenant.Tenant, r BuyRequest) (ledger.Order, error) {
	if r.IdempotencyKey != "" {
		if _, err := g.store.GetByIdempotencyKey(ctx, t.Name, r.IdempotencyKey); err == nil {
			return ledger.Order{}, ErrDuplicateOrder
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return ledger.Order{}, fmt.Errorf("cannot check order id: %w", err)
		}
	}
	// A wallet with nothing available cannot hold any price: refused
	// before routing asks any platform for offers. The cached figure
	// spares the ledger a read per purchase; only a refusal is confirmed
	// against the ledger (the figure may lag a top-up on another instance).
	if t.Wallet && g.emptyWallet(ctx, t) {
		return ledger.Order{}, fmt.Errorf("tenant %s has nothing available: %w", t.Name, ErrInsufficientFunds)
	}
	// The tenant's active-order cap: a slot is taken now and given back when
	// the order ends (or at once if nothing is bought).
	if !g.caps.TryAcquire(tenant.Key(t.Name), t.MaxActive) {
		return ledger.Order{}, ErrTenantActiveLimit
	}
	bought := false
	defer func() {
		if !bought {
			g.caps.Release(tenant.Key(t.Name))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, g.routing.Deadline)
	defer cancel()
	plan, err := g.router.Route(ctx, t, r.Route())
	if err != nil {
		return ledger.Order{}, err
	}
	o, err := g.tryCandidates(ctx, t, r, plan)
	bought = err == nil
	return o, err
}

// step is what a purchase does after asking one platform.
type step int

const (
	stepNext step = iota // try the next candidate
	stepStop             // a final refusal: ask no other platform
	stepDone             // sold (or failed in a way that ends the purchase)
)

// tryCandidates asks the plan's platforms in order. max_attempts bounds
// the platforms asked; one passed over without a call (its balance known
// short, its cap reached) does not count. A platform whose known balance
// is short is put off to the end rather than dropped: the book errs low,
// and the platform itself has the last word when nothing else sold.
func (g *Service) tryCandidates(ctx context.Context, t *tenant.Tenant, r BuyRequest, plan route.Plan) (ledger.Order, error) {
	var errs []error
	attempts := 0
	cands := slices.Clone(plan.Candidates)
	for i := 0; i < len(cands); i++ {
		c := cands[i]
		if max := g.routing.MaxAttempts; r.Platform == "" && max > 0 && attempts >= max {
			break
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("purchase deadline passed: %w", adapters.ErrUnavailable))
			break
		}
		p := c.Platform
		if i > 0 {
			g.metrics.Failover(cands[i-1].Platform.Code)
		}
		req := adapters.BuyRequest{Country: r.Country, Service: r.Service, Operator: r.Operator}
		if r.MaxPrice.Micros > 0 {
			// The tenant's max price is for its price, markup included:
			// the platform is asked for what leaves room for the markup.
			mp, fits, err := t.UpstreamMax(g.fx, r.MaxPrice, p.Currency)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Code, adapters.ErrUnavailable))
				continue
			}
			if !fits {
				errs = append(errs, fmt.Errorf("%s: the markup alone is above the max price: %w", p.Code, adapters.ErrPriceTooHigh))
				continue
			}
			req.MaxPrice = mp
		}
		// Set the price aside in the book before asking, so buyers in
		// flight together do not all count on the same money.
		spends := market.SpendsBalance(p)
		if spends && !g.market.Book().Reserve(p.Code, c.Cost, c.PutOff) {
			c.PutOff = true
			cands = append(cands, c)
			continue
		}
		if !g.caps.TryAcquire(platform.Key(p.Code), p.MaxActive) {
			if spends {
				g.market.Book().Release(p.Code, c.Cost)
			}
			errs = append(errs, fmt.Errorf("%s: at its active-order cap: %w", p.Code, adapters.ErrNoNumbers))
			continue
		}
		attempts++
		o, st, err := g.buyAt(ctx, t, r, plan.Strategy, c, spends, req)
		if st == stepDone {
			return o, err
		}
		errs = append(errs, err)
		if st == stepStop {
			break
		}
	}
	return ledger.Order{}, g.combine(errs, t)
}

// buyAt asks one platform, its balance reserved (when it spends one) and
// its active-order slot taken: the reservation always goes, the slot stays
// only with a recorded order. A purchase intent (with the tenant's wallet
// hold) is written first, so a number bought by a process that dies
// before recording it is found and cancelled after the restart.
func (g *Service) buyAt(ctx context.Context, t *tenant.Tenant, r BuyRequest, strategy string, c route.Candidate, spends bool,
	req adapters.BuyRequest) (ledger.Order, step, error) {
	p := c.Platform
	releaseBalance := func() {
		if spends {
			g.market.Book().Release(p.Code, c.Cost)
			spends = false
		}
	}
	in, err := g.openIntent(ctx, t, r, c)
	if err != nil {
		releaseBalance()
		g.caps.Release(platform.Key(p.Code))
		if errors.Is(err, ErrInsufficientFunds) || errors.Is(err, errNoHold) {
			return ledger.Order{}, stepNext, err // a cheaper platform may still fit
		}
		return ledger.Order{}, stepDone, err
	}
	ticket := p.Buys().Start()
	cctx, ccancel := p.CallCtx(ctx)
	pur, err := p.Adapter.Buy(cctx, req)
	ccancel()
	if err == nil {
		p.Buys().Finish(ticket)
		g.metrics.Routed(strategy, p.Code)
		g.debit(ctx, p, r, pur.Price) // before the reservation goes: the book never shows the money twice
		releaseBalance()
		o, err := g.record(ctx, t, r, p, pur, in)
		if err != nil {
			g.caps.Release(platform.Key(p.Code))
		}
		return o, stepDone, err
	}
	p.Buys().Finish(ticket)
	noBalance := spends && errors.Is(err, adapters.ErrNoBalance)
	releaseBalance()
	if noBalance {
		g.market.Book().Empty(p.Code) // until the next read; later buyers go elsewhere first
	}
	if errors.Is(err, adapters.ErrOutcomeUnknown) {
		return g.afterUnknown(ctx, t, r, p, in, err)
	}
	g.closeIntent(in, ledger.IntentAborted, nil)
	g.caps.Release(platform.Key(p.Code))
	if !adapters.Retryable(err) {
		return ledger.Order{}, stepStop, err
	}
	return ledger.Order{}, stepNext, err
}

// afterUnknown follows a purchase whose outcome is unknown: never re-buy
// blindly, look on this platform first. The platform's slot stays only
// with the number found. Not found, the intent stays open: the periodic
// intent pass cancels the number if it shows up later, and gives the
// wallet hold back when it decides.
func (g *Service) afterUnknown(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, in ledger.Intent, err error) (ledger.Order, step, error) {
	g.log.Warn("purchase outcome unknown; reconciling before any other platform",
		zap.String("platform", p.Code), zap.String("tenant", t.Name), zap.Error(err))
	o, found, rerr := g.reconcile(ctx, t, r, p, in)
	if found {
		g.debit(ctx, p, r, o.Price) // the lost purchase was made: it cost money
	}
	if found && rerr == nil {
		return o, stepDone, nil
	}
	g.caps.Release(platform.Key(p.Code))
	if rerr != nil {
		return ledger.Order{}, stepDone, rerr
	}
	return ledger.Order{}, stepNext, err
}

// debit takes a sold number off the book: its price in the platform's
// currency, or the offer's when the platform did not say.
func (g *Service) debit(ctx context.Context, p *platform.Platform, r BuyRequest, price adapters.Money) {
	if !market.SpendsBalance(p) {
		return
	}
	cost, ok := g.market.InCurrency(price, p.Currency)
	if !ok || cost <= 0 {
		o, found := g.router.OfferFor(ctx, p, r.Country, r.Service)
		if !found {
			return
		}
		if cost, ok = g.market.InCurrency(o.Price, p.Currency); !ok {
			return
		}
	}
	g.market.Book().Debit(p.Code, cost)
}

// record commits the purchase with its intent. If the commit fails the
// number is never shown: its cancel is queued in the outbox with the
// intent's close (one transaction), and if even that cannot be written
// the intent stays open for the intent pass to find. That includes a
// commit refused as ErrDuplicateUpstream (another active order has this
// upstream id): the cancel goes to the platform we bought it from. A
// commit refused as ErrStale means the intent pass already decided the
// number's fate.
func (g *Service) record(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, pur adapters.Purchase, in ledger.Intent) (ledger.Order, error) {
	o, err := g.newOrder(t, r, p, pur, in)
	if err == nil {
		o.Webhook = t.Hooked()
		err = g.store.Create(ctx, &o)
	}
	if err != nil {
		g.log.Error("cannot record purchase; cancelling upstream",
			zap.String("platform", p.Code), zap.String("upstream_id", pur.UpstreamID), zap.Error(err))
		if !errors.Is(err, ledger.ErrStale) {
			g.closeIntent(in, ledger.IntentOrphan, &ledger.Action{Tenant: t.Name, Platform: p.Code, UpstreamID: pur.UpstreamID,
				Kind: ledger.ActCancel, GiveUpAt: g.now().UTC().Add(p.Lifetime + giveUpSlack)})
		}
		if errors.Is(err, ledger.ErrConflict) {
			return ledger.Order{}, ErrDuplicateOrder
		}
		return ledger.Order{}, fmt.Errorf("cannot record order: %w", err)
	}
	g.cacheOrder(&o, true)
	g.market.DropBalance(p)
	g.bought(&o)
	g.log.Info("order bought", zap.Int64("id", o.ID), zap.String("tenant", t.Name),
		zap.String("platform", p.Code), zap.String("country", o.Country), zap.String("service", o.Service))
	return o, nil
}

// newOrder is the ledger row of a purchase: the tenant's price is the
// wallet hold when there is one (what the tenant agreed to pay), else the
// tenant price of what the platform charged (one conversion, as offers
// are shown).
func (g *Service) newOrder(t *tenant.Tenant, r BuyRequest, p *platform.Platform, pur adapters.Purchase, in ledger.Intent) (ledger.Order, error) {
	now := g.now().UTC()
	base, err := g.fx.ToBase(pur.Price)
	if err != nil {
		base = adapters.Money{Currency: g.fx.Base()}
	}
	exp := pur.ExpiresAt
	if exp.IsZero() || exp.Before(now) {
		exp = now.Add(p.Lifetime)
	}
	o := ledger.Order{
		Tenant: t.Name, Platform: p.Code, UpstreamID: pur.UpstreamID, Phone: pur.Phone,
		Country: r.Country, Service: r.Service, Operator: pur.Operator,
		Price: pur.Price, BasePrice: base, State: adapters.StateWaiting,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: exp, NextPollAt: now.Add(p.PollInterval),
		IdempotencyKey: r.IdempotencyKey, IntentID: in.ID,
	}
	if in.Hold > 0 {
		o.TenantPrice = adapters.Money{Micros: in.Hold, Currency: in.Currency}
		o.Wallet = ledger.WalletReserved
	} else if o.TenantPrice, err = g.pricer.TenantPrice(t, pur.Price); err != nil {
		o.TenantPrice = adapters.Money{Currency: t.Currency}
	}
	if b, err := g.fx.ToBase(o.TenantPrice); err == nil {
		o.TenantPriceBase = b
	}
	return o, nil
}

// combine picks the most specific answer when every platform failed: a
// price floor (the lowest), then "no numbers" if any said so, then "no
// balance", "bad service/country" when all agree, else unavailable.
func (g *Service) combine(errs []error, t *tenant.Tenant) error {
	if len(errs) == 0 {
		return adapters.ErrNoNumbers
	}
	var floor *adapters.PriceFloorError
	count := map[error]int{}
	kinds := []error{ErrInsufficientFunds, adapters.ErrNoNumbers, adapters.ErrNoBalance, adapters.ErrBadService, adapters.ErrBadCountry, adapters.ErrPriceTooHigh}
	for _, err := range errs {
		var pf *adapters.PriceFloorError
		if errors.As(err, &pf) {
			// The floor is shown to the tenant: at its price.
			if m, cerr := t.Price(g.fx, pf.Min); cerr == nil && (floor == nil || m.Micros < floor.Min.Micros) {
				floor = &adapters.PriceFloorError{Min: m}
			}
		}
		for _, k := range kinds {
			if errors.Is(err, k) {
				count[k]++
			}
		}
	}
	switch {
	case floor != nil:
		return floor
	case count[ErrInsufficientFunds] > 0:
		return ErrInsufficientFunds // the tenant could buy with more money
	case count[adapters.ErrNoNumbers] > 0:
		return adapters.ErrNoNumbers
	case count[adapters.ErrPriceTooHigh] > 0:
		return adapters.ErrPriceTooHigh
	case count[adapters.ErrNoBalance] == len(errs):
		return adapters.ErrNoBalance
	case count[adapters.ErrBadService] == len(errs):
		return adapters.ErrBadService
	case count[adapters.ErrBadCountry] == len(errs):
		return adapters.ErrBadCountry
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("every platform failed: %w", errors.Join(errs...))
}

// Order returns the tenant's order; another tenant's id is ErrNoActivation,
// exactly like an unknown one.
func (g *Service) Order(ctx context.Context, t *tenant.Tenant, id int64) (ledger.Order, error) {
	o, err := g.Read(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && o.Tenant != t.Name) {
		return ledger.Order{}, adapters.ErrNoActivation
	}
	if err != nil {
		return ledger.Order{}, fmt.Errorf("cannot read order: %w", err)
	}
	return o, nil
}

// emptyWallet reports whether a wallet tenant has nothing available, as
// far as the ledger says; an error says "not known to be empty" (the hold
// at purchase has the last word).
func (g *Service) emptyWallet(ctx context.Context, t *tenant.Tenant) bool {
	if m, err := g.Spendable(ctx, t); err != nil || m.Micros > 0 {
		return false
	}
	w, err := g.Wallet(ctx, t)
	return err == nil && w.Available() <= 0
}
