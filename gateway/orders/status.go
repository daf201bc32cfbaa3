package orders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/market"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

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

// clientEvents maps a status to its event.
var clientEvents = map[int]Event{StatusReady: EvReady, StatusAnother: EvAnother, StatusFinish: EvFinish,
	StatusCancel: EvCancel, StatusBan: EvBan}

// staleRetries bounds how often a change is decided again after another
// writer (another instance) changed the order first.
const staleRetries = 3

// SetStatus applies a client's status change through the state machine:
// refused before any upstream call when the order's state does not take
// it; otherwise the platform is told (never failed over) and the change
// recorded. A platform that cannot be reached does not stop a finish,
// cancel, retry request or ban: the change lands with the call queued in
// the outbox, which makes it once the platform answers again.
func (g *Service) SetStatus(ctx context.Context, t *tenant.Tenant, id int64, status int) (ledger.Order, error) {
	ev, ok := clientEvents[status]
	if !ok {
		return ledger.Order{}, fmt.Errorf("status %d: %w", status, adapters.ErrBadState)
	}
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
	rule, ok := Next(o.State, ev)
	if !ok {
		return o, fmt.Errorf("order %d is %s: %w", id, o.State, adapters.ErrBadState)
	}
	call, err := g.clientCall(p, o, rule.Call)
	if err != nil {
		return o, err
	}
	cctx, cancel := p.CallCtx(ctx)
	err = call(cctx, o.UpstreamID)
	cancel()
	var c ledger.Change
	if err != nil {
		if !errors.Is(err, adapters.ErrUnavailable) || rule.Call == callReady {
			return o, err
		}
		// The client's decision cannot wait for the platform: record it
		// now and owe the call.
		g.log.Warn("platform unreachable; change recorded, call queued",
			zap.Int64("id", o.ID), zap.String("platform", p.Code), zap.String("call", string(rule.Call)), zap.Error(err))
		c.Actions = append(c.Actions, ledger.Action{Kind: rule.Call})
	}
	for try := 0; ; try++ {
		err = g.transit(ctx, &o, p, c, time.Time{}, ev)
		if !errors.Is(err, ledger.ErrStale) || try == staleRetries {
			break
		}
		if o, err = g.store.Get(ctx, id); err != nil {
			break
		}
	}
	if err != nil {
		return o, fmt.Errorf("cannot record status: %w", err)
	}
	return o, nil
}

// clientCall is the upstream call of a client event on o.
func (g *Service) clientCall(p *platform.Platform, o ledger.Order, kind ledger.ActionKind) (func(context.Context, string) error, error) {
	switch kind {
	case callReady:
		return p.Adapter.Ready, nil
	case ledger.ActFinish:
		return p.Adapter.Finish, nil
	case ledger.ActCancel:
		return p.Adapter.Cancel, nil
	case ledger.ActAnother:
		if a, ok := p.Adapter.(adapters.AnotherAfter); ok && len(o.Codes) > 0 {
			last := o.Codes[len(o.Codes)-1].ReceivedAt
			return func(ctx context.Context, id string) error { return a.RequestAnotherAfter(ctx, id, last) }, nil
		}
		return p.Adapter.RequestAnother, nil
	case ledger.ActBan:
		if b, ok := p.Adapter.(adapters.Banner); ok {
			return b.Ban, nil
		}
	}
	return nil, fmt.Errorf("order %d: %s cannot %s: %w", o.ID, p.Code, kind, adapters.ErrBadState)
}

// transit is the one way an order's state changes: the events go through
// the state machine in order, and the new state, the wallet movement and
// the actions owed are written in one ledger transaction (c may carry
// actions already owed). The order's lock is held. An event the state
// refuses is ErrBadState with nothing written; ErrStale means another
// writer changed the order first (read it again and decide again).
// nextPoll is when an order still active is checked next; zero: a poll
// interval from now when the state changed, else as it was.
func (g *Service) transit(ctx context.Context, o *ledger.Order, p *platform.Platform, c ledger.Change, nextPoll time.Time, evs ...Event) error {
	prev := *o
	now := g.now().UTC()
	for _, ev := range evs {
		if err := apply(o, ev, &c); err != nil {
			*o = prev
			return err
		}
		if ev == EvAnother {
			o.CodesSeen = len(o.Codes)
		}
	}
	o.UpdatedAt = now
	switch {
	case !o.State.Active():
		o.NextPollAt = time.Time{}
	case o.State == adapters.StateCodeReceived:
		// The client has its code: nothing to ask the platform until it
		// wants another (a late second SMS is fetched then), except the
		// backstop when our lifetime ends.
		o.NextPollAt = o.ExpiresAt.Add(lifetimeSlack)
	case !nextPoll.IsZero():
		o.NextPollAt = nextPoll
	case o.State != prev.State || o.NextPollAt.IsZero():
		o.NextPollAt = now.Add(p.PollInterval)
	}
	for i := range c.Actions {
		c.Actions[i].CreatedAt, c.Actions[i].UpdatedAt, c.Actions[i].NextAt = now, now, now
		c.Actions[i].GiveUpAt = o.ExpiresAt.Add(giveUpSlack)
	}
	c.Events = append(c.Events, changeEvents(&prev, o, evs)...)
	c.Webhook = len(c.Events) > 0 && g.hooked(o.Tenant)
	if err := g.save(ctx, o, c); err != nil {
		*o = prev
		return err
	}
	if len(c.Events) > 0 {
		g.published(o.Tenant)
		if c.Webhook {
			g.queued()
		}
	}
	if len(prev.Codes) == 0 && len(o.Codes) > 0 && o.State.Active() {
		g.outcomes.Coded(o.ID) // it waits no more; its end counts it
	}
	if prev.State.Active() && !o.State.Active() {
		g.ended(o)
	}
	if len(c.Actions) > 0 {
		g.queued()
	}
	if o.State != prev.State || len(o.Codes) != len(prev.Codes) {
		g.Notify(o.ID)
		g.log.Info("order status", zap.Int64("id", o.ID), zap.String("state", string(o.State)))
	}
	return nil
}

// changeEvents are the order events a transition from prev to o records
// after the codes' (Observe adds one per new code to the Change): the
// client's request for another, then the end the order reached.
func changeEvents(prev, o *ledger.Order, evs []Event) []ledger.EventNote {
	var out []ledger.EventNote
	if slices.Contains(evs, EvAnother) {
		out = append(out, ledger.EventNote{Kind: ledger.EventAnother})
	}
	if o.State != prev.State && !o.State.Active() {
		if k, ok := endEvents[o.State]; ok {
			out = append(out, ledger.EventNote{Kind: k})
		}
	}
	return out
}

// endEvents is the event of each state an order ends in.
var endEvents = map[adapters.State]ledger.EventKind{
	adapters.StateFinished:  ledger.EventFinished,
	adapters.StateCancelled: ledger.EventCancelled,
	adapters.StateExpired:   ledger.EventExpired,
	adapters.StateBanned:    ledger.EventBanned,
}

// lifetimeSlack is how long past its expiry an order the platform never
// closed is ended by our own clock.
const lifetimeSlack = time.Minute

// giveUpSlack is how long after an order's expiry the outbox keeps trying
// what it owes the platform: by then the platform has closed the order
// by itself.
const giveUpSlack = 10 * time.Minute

// save writes o with c to the ledger and the read cache.
func (g *Service) save(ctx context.Context, o *ledger.Order, c ledger.Change) error {
	err := g.store.Apply(ctx, o, c)
	if o.Wallet != ledger.WalletNone {
		g.wallets.moved(o.Tenant)
	}
	if err != nil {
		g.forgetOrder(o.ID)
		return err
	}
	g.cacheOrder(o, false)
	return nil
}

// ended is what an order's end releases (called once per order).
func (g *Service) ended(o *ledger.Order) {
	g.caps.Release(tenant.Key(o.Tenant))
	g.caps.Release(platform.Key(o.Platform))
	g.outcomes.Observe(outcomeOf(o))
	if len(o.Codes) == 0 {
		if p, ok := g.byCode[o.Platform]; ok {
			g.market.DropBalance(p) // refunded
			g.refunded(p, o)
		}
	}
}

// outcomeOf is an ended order as the router's estimator learns from it:
// whether a code came and after how long, and when the order ended (its
// last write, which the ledger's copy carries too).
func outcomeOf(o *ledger.Order) route.Outcome {
	out := route.Outcome{Order: o.ID, Platform: o.Platform, Country: o.Country, Service: o.Service,
		Delivered: len(o.Codes) > 0, At: o.UpdatedAt}
	if out.Delivered && !o.Codes[0].ReceivedAt.IsZero() {
		out.Delay = o.Codes[0].ReceivedAt.Sub(o.CreatedAt)
	}
	return out
}

// Observe records what a platform reported (o fresh from the store, its
// lock held): new codes are merged, the update becomes events for the
// state machine, and the order is written with its next poll time (next,
// counted by the caller from when the platform was asked). now is the
// time of the answer. It reports whether the state or the codes changed.
func (g *Service) Observe(ctx context.Context, o *ledger.Order, p *platform.Platform, u adapters.Update, next, now time.Time) (bool, error) {
	codes, state := len(o.Codes), o.State
	var c ledger.Change
	for _, m := range u.SMS {
		if g.isNewSMS(o, m, u.State) {
			at := m.ReceivedAt
			if at.IsZero() {
				at = now
			}
			o.Codes = append(o.Codes, ledger.Code{Code: m.Code, Text: m.Text, From: m.From, ReceivedAt: at.UTC()})
			c.Events = append(c.Events, ledger.EventNote{Kind: ledger.EventCode, Code: m.Code, Text: m.Text})
		}
	}
	if err := g.transit(ctx, o, p, c, next, upstreamEvents(o, u, now)...); err != nil {
		return false, err
	}
	return o.State != state || len(o.Codes) != codes, nil
}

// upstreamEvents turns a platform's report (its codes already merged into
// o) into the state machine's events, in the order they happened.
func upstreamEvents(o *ledger.Order, u adapters.Update, now time.Time) []Event {
	var evs []Event
	state := o.State
	if len(o.Codes) > o.CodesSeen && (state == adapters.StateWaiting || state == adapters.StateRetryWaiting) {
		evs = append(evs, EvCode)
		state = adapters.StateCodeReceived
	}
	hadCode := len(o.Codes) > 0
	switch u.State {
	case adapters.StateFinished:
		evs = append(evs, EvClosed)
	case adapters.StateCancelled, adapters.StateExpired:
		switch {
		case hadCode:
			evs = append(evs, EvClosed)
		case u.State == adapters.StateExpired || !now.Before(o.ExpiresAt):
			evs = append(evs, EvExpired)
		default:
			evs = append(evs, EvCancelled)
		}
	case adapters.StateBanned:
		evs = append(evs, EvBanned)
	default:
		// Still open upstream: our lifetime is the backstop.
		if state.Active() && !now.Before(o.ExpiresAt.Add(lifetimeSlack)) {
			evs = append(evs, EvLifetime)
		}
	}
	return evs
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
