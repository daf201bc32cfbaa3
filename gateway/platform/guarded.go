package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
	"smsgate/breaker"
)

// ErrBreakerOpen is what a call refused by an open breaker returns: the
// platform was not called, so it is safe to try another one.
var ErrBreakerOpen = fmt.Errorf("%w: %w", breaker.ErrOpen, adapters.ErrUnavailable)

// errRateLimited: our own outbound limit for the platform held the call
// back; the platform was not called, so another one may be tried.
var errRateLimited = fmt.Errorf("outbound rate limit: %w", adapters.ErrUnavailable)

// guarded puts a platform's breaker and metrics around every call of its
// adapter. It is itself an adapters.Platform, so the order service and the
// poller need not know about either.
type guarded struct {
	code  string
	inner adapters.Platform
	b     *breaker.Breaker
	m     Recorder
	limit Limiter
	// onAuth is told when the platform refuses our credentials (an alert).
	onAuth func(err error)
	// book takes the penalties the platform answers; activity counts
	// purchases and cancels.
	book     *PenaltyBook
	activity *Activity
}

var _ adapters.Platform = (*guarded)(nil)

func (g *guarded) Code() string { return g.code }

// run asks the breaker, calls f and reports the classified result.
func (g *guarded) run(op string, f func() error) error {
	return g.runPair(nil, op, "", "", f)
}

func (g *guarded) runCtx(ctx context.Context, op string, f func() error) error {
	return g.runPair(ctx, op, "", "", f)
}

// clientOps are a client's own changes to its order: over the outbound
// rate they wait for a token (briefly) instead of failing, since nothing
// else could serve them.
var clientOps = map[string]bool{"ready": true, "finish": true, "cancel": true, "another": true, "ban": true}

// runPair is the guard around one call (about country/service, for a
// purchase). A penalty answer is booked (routing skips what it covers)
// and is no failure for the breaker (adapters.PlatformFault).
func (g *guarded) runPair(ctx context.Context, op, country, service string, f func() error) error {
	if g.limit != nil && !g.limit.Take() {
		waited := false
		if clientOps[op] && ctx != nil {
			waited = g.waitToken(ctx)
		}
		if !waited {
			// Over our outbound rate: the platform was not called (not a fault).
			g.m.Upstream(g.code, op, "rate_limited", 0)
			return fmt.Errorf("%s %s: %w", g.code, op, errRateLimited)
		}
	}
	done, err := g.b.Allow()
	if err != nil {
		g.m.Upstream(g.code, op, "breaker_open", 0)
		return fmt.Errorf("%s %s: %w", g.code, op, ErrBreakerOpen)
	}
	start := time.Now()
	err = f()
	done(err)
	g.m.Upstream(g.code, op, resultOf(err), time.Since(start).Seconds())
	if pe, ok := adapters.AsPenalty(err); ok && g.book != nil {
		g.book.Note(pe, country, service)
	}
	if errors.Is(err, adapters.ErrAuth) && g.onAuth != nil {
		g.onAuth(err)
	}
	return err
}

// waitToken waits (at most 2 s, within ctx) for an outbound token.
func (g *guarded) waitToken(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return g.limit.Wait(ctx) == nil
}

// resultOf is an error's metric label.
func resultOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, new(*adapters.PenaltyError)):
		return "penalised"
	case errors.Is(err, adapters.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, adapters.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, adapters.ErrAuth):
		return "auth"
	case errors.Is(err, adapters.ErrNoNumbers):
		return "no_numbers"
	case errors.Is(err, adapters.ErrNoBalance):
		return "no_balance"
	case errors.Is(err, adapters.ErrPriceTooHigh):
		return "price_too_high"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "refused"
}

func (g *guarded) Balance(ctx context.Context) (m adapters.Money, err error) {
	err = g.run("balance", func() error { m, err = g.inner.Balance(ctx); return err })
	return m, err
}

// Buy refuses, without a call, a purchase a penalty covers (buyers routed
// before it was booked), and counts the purchases made.
func (g *guarded) Buy(ctx context.Context, r adapters.BuyRequest) (p adapters.Purchase, err error) {
	if g.book != nil {
		if pen, blocked := g.book.Blocked(r.Country, r.Service); blocked {
			g.m.Upstream(g.code, "buy", "penalised", 0)
			return p, fmt.Errorf("%s buy: %w", g.code, &adapters.PenaltyError{Scope: pen.Scope, Country: pen.Country,
				Service: pen.Service, Until: pen.Until, Reason: pen.Reason + " (booked)"})
		}
	}
	err = g.runPair(ctx, "buy", r.Country, r.Service, func() error { p, err = g.inner.Buy(ctx, r); return err })
	if err == nil && g.activity != nil {
		g.activity.add(true)
	}
	return p, err
}

func (g *guarded) Check(ctx context.Context, id string) (u adapters.Update, err error) {
	err = g.run("check", func() error { u, err = g.inner.Check(ctx, id); return err })
	return u, err
}

func (g *guarded) Ready(ctx context.Context, id string) error {
	return g.runCtx(ctx, "ready", func() error { return g.inner.Ready(ctx, id) })
}

func (g *guarded) Finish(ctx context.Context, id string) error {
	return g.runCtx(ctx, "finish", func() error { return g.inner.Finish(ctx, id) })
}

func (g *guarded) Cancel(ctx context.Context, id string) error {
	err := g.runCtx(ctx, "cancel", func() error { return g.inner.Cancel(ctx, id) })
	if err == nil && g.activity != nil {
		g.activity.add(false)
	}
	return err
}

func (g *guarded) RequestAnother(ctx context.Context, id string) error {
	return g.runCtx(ctx, "another", func() error { return g.inner.RequestAnother(ctx, id) })
}

func (g *guarded) Offers(ctx context.Context, service, country string) (o []adapters.Offer, err error) {
	err = g.run("offers", func() error { o, err = g.inner.Offers(ctx, service, country); return err })
	return o, err
}

func (g *guarded) Countries(ctx context.Context) (c []string, err error) {
	err = g.run("countries", func() error { c, err = g.inner.Countries(ctx); return err })
	return c, err
}

// Ban goes through the breaker like the other order calls; a platform that
// cannot take a ban (not an adapters.Banner) refuses it as a bad status.
func (g *guarded) Ban(ctx context.Context, id string) error {
	b, ok := g.inner.(adapters.Banner)
	if !ok {
		return fmt.Errorf("%s ban: %w", g.code, adapters.ErrBadState)
	}
	return g.runCtx(ctx, "ban", func() error { return b.Ban(ctx, id) })
}

// RequestAnotherAfter passes the client's newest code on to a platform
// that wants it (adapters.AnotherAfter), else asks plainly.
func (g *guarded) RequestAnotherAfter(ctx context.Context, id string, last time.Time) error {
	a, ok := g.inner.(adapters.AnotherAfter)
	if !ok {
		return g.RequestAnother(ctx, id)
	}
	return g.runCtx(ctx, "another", func() error { return a.RequestAnotherAfter(ctx, id, last) })
}

// PollActive is one list round (adapters.ListPoller) through the breaker
// and the outbound limit (one token for the round, its pages included). A
// platform without a list answers errors.ErrUnsupported without a call.
func (g *guarded) PollActive(ctx context.Context) (list []adapters.ActiveUpdate, err error) {
	lp, ok := g.inner.(adapters.ListPoller)
	if !ok {
		return nil, fmt.Errorf("%s poll list: %w", g.code, errors.ErrUnsupported)
	}
	err = g.runCtx(ctx, "poll_list", func() error { list, err = lp.PollActive(ctx); return err })
	return list, err
}

var _ adapters.ListPoller = (*guarded)(nil)
