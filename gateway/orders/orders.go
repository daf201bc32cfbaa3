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
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/lifetime"
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
// only with a recorded order.
func (g *Service) buyAt(ctx context.Context, t *tenant.Tenant, r BuyRequest, strategy string, c route.Candidate, spends bool,
	req adapters.BuyRequest) (ledger.Order, step, error) {
	p := c.Platform
	releaseBalance := func() {
		if spends {
			g.market.Book().Release(p.Code, c.Cost)
			spends = false
		}
	}
	ticket := p.Buys().Start()
	cctx, ccancel := p.CallCtx(ctx)
	pur, err := p.Adapter.Buy(cctx, req)
	ccancel()
	if err == nil {
		g.claimed.add(p.Code, pur.UpstreamID) // ours, even before the ledger has it
		p.Buys().Finish(ticket)
		g.metrics.Routed(strategy, p.Code)
		g.debit(ctx, p, r, pur.Price) // before the reservation goes: the book never shows the money twice
		releaseBalance()
		o, err := g.record(ctx, t, r, p, pur)
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
		return g.afterUnknown(ctx, t, r, p, err)
	}
	g.caps.Release(platform.Key(p.Code))
	if !adapters.Retryable(err) {
		return ledger.Order{}, stepStop, err
	}
	return ledger.Order{}, stepNext, err
}

// afterUnknown follows a purchase whose outcome is unknown: never re-buy
// blindly, look on this platform first. The platform's slot stays only
// with the number found.
func (g *Service) afterUnknown(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, err error) (ledger.Order, step, error) {
	g.log.Warn("purchase outcome unknown; reconciling before any other platform",
		zap.String("platform", p.Code), zap.String("tenant", t.Name), zap.Error(err))
	o, found, rerr := g.reconcile(ctx, t, r, p)
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

// record commits the purchase; if the commit fails the number is cancelled
// upstream so nobody pays for an order the client never saw. That includes
// a commit refused as ErrDuplicateUpstream (another active order has this
// upstream id: two demo simulators counting from the same id, or two
// instances both recording one lost purchase): the number is not shown,
// and the cancel goes to the platform we bought it from.
func (g *Service) record(ctx context.Context, t *tenant.Tenant, r BuyRequest, p *platform.Platform, pur adapters.Purchase) (ledger.Order, error) {
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
		IdempotencyKey: r.IdempotencyKey,
	}
	if err := g.store.Create(ctx, &o); err != nil {
		g.log.Error("cannot record purchase; cancelling upstream",
			zap.String("platform", p.Code), zap.String("upstream_id", pur.UpstreamID), zap.Error(err))
		g.bg.Go(func(ctx context.Context) { g.cancelOrphan(ctx, p, pur.UpstreamID) })
		if errors.Is(err, ledger.ErrConflict) {
			return ledger.Order{}, ErrDuplicateOrder
		}
		return ledger.Order{}, fmt.Errorf("cannot record order: %w", err)
	}
	g.cacheOrder(&o, true)
	g.market.DropBalance(p)
	g.log.Info("order bought", zap.Int64("id", o.ID), zap.String("tenant", t.Name),
		zap.String("platform", p.Code), zap.String("country", o.Country), zap.String("service", o.Service))
	g.wake()
	return o, nil
}

// finishLater tells the platform an order is finished once it answers,
// trying for the order's lifetime (after which the platform has closed it).
// It gives up when the gateway stops.
func (g *Service) finishLater(ctx context.Context, p *platform.Platform, upstreamID string) {
	lifetime.Retry(ctx, g.now, g.now().Add(p.Lifetime), g.orphanRetry, true, func(ctx context.Context) bool {
		cctx, cancel := p.CallCtx(ctx)
		err := p.Adapter.Finish(cctx, upstreamID)
		cancel()
		return err == nil || !errors.Is(err, adapters.ErrUnavailable) // done, or the platform answered something final
	})
}

// cancelOrphan cancels a number the ledger could not record. Platforms
// refuse cancels in their first minutes, so it keeps trying for the
// order's lifetime, or until the gateway stops.
func (g *Service) cancelOrphan(ctx context.Context, p *platform.Platform, upstreamID string) {
	done := lifetime.Retry(ctx, g.now, g.now().Add(p.Lifetime), g.orphanRetry, false, func(ctx context.Context) bool {
		cctx, cancel := p.CallCtx(ctx)
		err := p.Adapter.Cancel(cctx, upstreamID)
		cancel()
		return err == nil || errors.Is(err, adapters.ErrNoActivation) || errors.Is(err, adapters.ErrBadState)
	})
	if done || ctx.Err() != nil {
		return
	}
	g.log.Error("orphan order could not be cancelled", zap.String("platform", p.Code), zap.String("upstream_id", upstreamID))
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
	kinds := []error{adapters.ErrNoNumbers, adapters.ErrNoBalance, adapters.ErrBadService, adapters.ErrBadCountry, adapters.ErrPriceTooHigh}
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

// Status values of SetStatus (the legacy protocol's numbers).
const (
	StatusReady   = 1
	StatusAnother = 3
	StatusFinish  = 6
	StatusCancel  = 8
	// StatusBan is the unified API's "ban": the service refused the number.
	// Only platforms with a ban call take it (adapters.Banner: pools, 5SIM,
	// SMS-PVA, GetSMSCode); the legacy protocol has no such status.
	StatusBan = 100
)

// SetStatus applies a client's status change: checked against the ledger
// state first (no upstream call for a transition that cannot happen), then
// sent to the owning platform (never failed over), then recorded.
func (g *Service) SetStatus(ctx context.Context, t *tenant.Tenant, id int64, status int) (ledger.Order, error) {
	mu := g.Lock(id)
	mu.Lock()
	defer mu.Unlock()
	o, err := g.Order(ctx, t, id)
	if err != nil {
		return o, err
	}
	p, ok := g.byCode[o.Platform]
	if !ok {
		return o, fmt.Errorf("order %d: platform %s no longer configured: %w", id, o.Platform, adapters.ErrUnavailable)
	}
	call, next, err := transition(o, p, status)
	if err != nil {
		return o, err
	}
	cctx, cancel := p.CallCtx(ctx)
	err = call(cctx, o.UpstreamID)
	cancel()
	if err != nil && status == StatusFinish && errors.Is(err, adapters.ErrUnavailable) {
		// The client has its code and says it is done: that cannot fail
		// because the platform is down. The charge is kept either way (the
		// platform closes a coded order by itself when its window ends), so
		// record it now and tell the platform when it answers again.
		g.log.Warn("platform unreachable for finish; finished locally, retrying upstream",
			zap.Int64("id", o.ID), zap.String("platform", p.Code), zap.Error(err))
		up := o.UpstreamID
		g.bg.Go(func(ctx context.Context) { g.finishLater(ctx, p, up) })
		err = nil
	}
	if err != nil {
		return o, err
	}
	if next != o.State {
		prev := o.State
		o.State = next
		o.UpdatedAt = g.now().UTC()
		if next.Active() {
			o.NextPollAt = o.UpdatedAt.Add(p.PollInterval)
			o.CodesSeen = len(o.Codes)
		} else {
			o.NextPollAt = time.Time{}
		}
		if err := g.Save(ctx, &o, prev); err != nil {
			return o, fmt.Errorf("cannot record status: %w", err)
		}
		g.Notify(o.ID)
		g.log.Info("order status", zap.Int64("id", o.ID), zap.String("state", string(o.State)))
	}
	return o, nil
}

// transition is the client's status change of o: the upstream call to
// make and the state after it, or ErrBadState when the order's state does
// not allow it (no upstream call for a transition that cannot happen).
func transition(o ledger.Order, p *platform.Platform, status int) (call func(context.Context, string) error, next adapters.State, err error) {
	next = o.State
	switch status {
	case StatusReady:
		if o.State != adapters.StateWaiting && o.State != adapters.StateRetryWaiting {
			return nil, "", adapters.ErrBadState
		}
		call = p.Adapter.Ready
	case StatusAnother:
		if o.State != adapters.StateCodeReceived {
			return nil, "", adapters.ErrBadState
		}
		call, next = p.Adapter.RequestAnother, adapters.StateRetryWaiting
		if a, ok := p.Adapter.(adapters.AnotherAfter); ok && len(o.Codes) > 0 {
			last := o.Codes[len(o.Codes)-1].ReceivedAt
			call = func(ctx context.Context, id string) error { return a.RequestAnotherAfter(ctx, id, last) }
		}
	case StatusFinish:
		if o.State != adapters.StateCodeReceived && o.State != adapters.StateRetryWaiting {
			return nil, "", adapters.ErrBadState
		}
		call, next = p.Adapter.Finish, adapters.StateFinished
	case StatusCancel:
		if o.State != adapters.StateWaiting {
			return nil, "", adapters.ErrBadState
		}
		call, next = p.Adapter.Cancel, adapters.StateCancelled
	case StatusBan:
		b, ok := p.Adapter.(adapters.Banner)
		if !ok || !o.State.Active() {
			return nil, "", adapters.ErrBadState
		}
		call, next = b.Ban, adapters.StateBanned
	default:
		return nil, "", adapters.ErrBadState
	}
	return call, next, nil
}

// Save writes an order (its lock held) to the ledger and the read cache.
// When it just ended (prev active, now not) its tenant's and platform's
// active-order slots are released, the delivery statistics learn the
// outcome, and a refund makes the cached balance stale.
func (g *Service) Save(ctx context.Context, o *ledger.Order, prev adapters.State) error {
	if err := g.store.Update(ctx, o); err != nil {
		g.forgetOrder(o.ID)
		return err
	}
	g.cacheOrder(o, false)
	if prev.Active() && !o.State.Active() {
		g.ended(o)
	}
	return nil
}

// ended is what an order's end releases (called once per order).
func (g *Service) ended(o *ledger.Order) {
	g.caps.Release(tenant.Key(o.Tenant))
	g.caps.Release(platform.Key(o.Platform))
	g.outcomes.Record(o.Platform, o.Country, o.Service, len(o.Codes) > 0)
	if len(o.Codes) == 0 {
		if p, ok := g.byCode[o.Platform]; ok {
			g.market.DropBalance(p) // refunded
			g.refunded(p, o)
		}
	}
}

// ApplyUpdate merges what a platform reported into the order (o is fresh
// from the store, its lock held) and says whether anything changed. asked
// is when the platform was asked (the next poll counts from it), now is
// the time of the answer.
func (g *Service) ApplyUpdate(o *ledger.Order, p *platform.Platform, u adapters.Update, asked, now time.Time) bool {
	changed := false
	for _, m := range u.SMS {
		if g.isNewSMS(o, m, u.State) {
			at := m.ReceivedAt
			if at.IsZero() {
				at = now
			}
			o.Codes = append(o.Codes, ledger.Code{Code: m.Code, Text: m.Text, From: m.From, ReceivedAt: at.UTC()})
			changed = true
		}
	}
	next := o.State
	switch u.State {
	case adapters.StateWaiting:
		// Nothing new; a platform that forgot a retry request stays as we know it.
	case adapters.StateCodeReceived:
		if len(o.Codes) > o.CodesSeen || o.State == adapters.StateWaiting {
			next = adapters.StateCodeReceived
		}
	case adapters.StateRetryWaiting:
		if o.State == adapters.StateWaiting {
			next = adapters.StateCodeReceived
		}
	case adapters.StateFinished:
		next = adapters.StateFinished
	case adapters.StateCancelled, adapters.StateExpired:
		switch {
		case len(o.Codes) > 0:
			// The platform closed an order that had a code: a success.
			next = adapters.StateFinished
		case u.State == adapters.StateExpired || !now.Before(o.ExpiresAt):
			next = adapters.StateExpired
		default:
			next = adapters.StateCancelled
		}
	case adapters.StateBanned:
		next = adapters.StateBanned
	}
	if next == adapters.StateCodeReceived && len(o.Codes) == 0 {
		next = o.State // a code state without a code is garbage; keep polling
	}
	if next != o.State {
		o.State = next
		changed = true
	}
	if o.State.Active() && !now.Before(o.ExpiresAt.Add(time.Minute)) {
		// The platform never closed it: our lifetime is the backstop.
		if len(o.Codes) > 0 {
			o.State = adapters.StateFinished
		} else {
			o.State = adapters.StateExpired
		}
		changed = true
	}
	if o.State.Active() {
		o.NextPollAt = asked.Add(p.PollInterval)
	} else {
		o.NextPollAt = time.Time{}
	}
	o.UpdatedAt = now
	return changed
}

// isNewSMS reports whether m is not yet in o.Codes. Platforms that report
// only the latest code repeat it on every poll; after a retry request the
// same code text can legitimately arrive again, which the state tells.
func (g *Service) isNewSMS(o *ledger.Order, m adapters.SMS, st adapters.State) bool {
	if m.Code == "" && m.Text == "" {
		return false
	}
	if o.State == adapters.StateRetryWaiting && st == adapters.StateCodeReceived && len(o.Codes) == o.CodesSeen {
		last := o.Codes[len(o.Codes)-1]
		return !(last.Code == m.Code && last.Text == m.Text && !m.ReceivedAt.IsZero() && last.ReceivedAt.Equal(m.ReceivedAt.UTC()))
	}
	for _, c := range o.Codes {
		if c.Code == m.Code && (c.Text == m.Text || m.Text == "" || m.Text == m.Code) {
			return false
		}
	}
	return true
}

// refunded puts an order's price back on the book when the order ended in
// a way that refunds at once (cancelled, banned without a code). An expiry
// is refunded at the platform's own time, which may be before a read that
// already counted it; it waits for the next read instead.
func (g *Service) refunded(p *platform.Platform, o *ledger.Order) {
	if !market.SpendsBalance(p) || (o.State != adapters.StateCancelled && o.State != adapters.StateBanned) {
		return
	}
	if m, ok := g.market.InCurrency(o.Price, p.Currency); ok && m > 0 {
		g.market.Book().Credit(p.Code, m)
	}
}
