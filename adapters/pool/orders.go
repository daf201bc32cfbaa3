package pool

import (
	"context"
	"errors"
	"fmt"
	"smsgate/adapters"
	"smsgate/adapters/pool/lease"
	"time"
)

// Check reads the leased number's new messages.
func (p *Pool) Check(ctx context.Context, upstreamID string) (adapters.Update, error) {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return adapters.Update{}, p.errorf("check", err)
	}
	if !l.Active() {
		return adapters.Update{State: l.Outcome}, nil
	}
	if !p.now().Before(l.ExpiresAt) {
		l, err = p.end(ctx, l, adapters.StateExpired)
		if err != nil {
			return adapters.Update{}, p.errorf("check", err)
		}
		return adapters.Update{State: adapters.StateExpired}, nil
	}
	msgs, err := p.read(ctx, l, false)
	if reason := DownReason(err); reason != "" {
		// The number cannot be read any more: tell the client now rather
		// than let it wait out the lifetime for a code that cannot come.
		p.markDown(l.Phone, reason)
		if _, err := p.end(ctx, l, adapters.StateCancelled); err != nil {
			return adapters.Update{}, p.errorf("check", err)
		}
		return adapters.Update{State: adapters.StateCancelled}, nil
	}
	// One account backing off is not the platform failing: report what
	// could be read (nothing new, at worst) and poll again later.
	if errors.Is(err, ErrThrottled) {
		p.markThrottled(l.Phone)
	} else if err != nil {
		return adapters.Update{}, p.errorf("check", err)
	}
	sms := p.codes(l, msgs)
	if len(sms) > 0 {
		return adapters.Update{State: adapters.StateCodeReceived, SMS: sms}, nil
	}
	return adapters.Update{State: adapters.StateWaiting}, nil
}

// end ends a lease with outcome, blocking the number for the service as the
// outcome requires: a use cools down, a ban quarantines, an order that saw
// no code frees the number at once.
func (p *Pool) end(ctx context.Context, l lease.Lease, outcome adapters.State) (lease.Lease, error) {
	now := p.now()
	var until time.Time
	switch outcome {
	case adapters.StateFinished:
		until = now.Add(p.o.Cooldown)
	case adapters.StateBanned:
		until = now.Add(p.o.Quarantine)
	case adapters.StateCancelled, adapters.StateExpired:
		// No code was used, but the service may still send one for the
		// abandoned attempt: keep the number from it a while.
		until = now.Add(p.o.CancelCooldown)
	}
	p.forget(l.ID)
	l, err := p.o.Store.EndLease(ctx, p.o.Code, l.ID, outcome, now, until)
	if err != nil {
		return l, fmt.Errorf("%w: cannot end the lease: %v", adapters.ErrUnavailable, err)
	}
	return l, nil
}

// Ready is a no-op: nobody upstream waits for it.
func (p *Pool) Ready(ctx context.Context, upstreamID string) error {
	_, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("ready", err)
	}
	return nil
}

// Finish ends the lease as a use: the number cools down for the service.
func (p *Pool) Finish(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "finish", upstreamID, adapters.StateFinished)
}

// Cancel ends the lease with the number free again at once.
func (p *Pool) Cancel(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "cancel", upstreamID, adapters.StateCancelled)
}

// Ban ends the lease and quarantines the number for the service: the
// service refused it, so offering it there again only wastes orders.
func (p *Pool) Ban(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "ban", upstreamID, adapters.StateBanned)
}

func (p *Pool) endBy(ctx context.Context, op, upstreamID string, outcome adapters.State) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf(op, err)
	}
	if !l.Active() {
		if l.Outcome == outcome {
			return nil // said twice
		}
		return p.errorf(op, fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	if _, err := p.end(ctx, l, outcome); err != nil {
		return p.errorf(op, err)
	}
	return nil
}

// RequestAnother keeps the number and moves the watermark past the codes
// it can see now: only a later message is the next code. The gateway uses
// RequestAnotherAfter, which knows which codes the client has.
func (p *Pool) RequestAnother(ctx context.Context, upstreamID string) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("another", err)
	}
	if !l.Active() {
		return p.errorf("another", fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	msgs, err := p.read(ctx, l, true)
	if err != nil {
		return p.errorf("another", err)
	}
	last := time.Time{}
	for _, s := range p.codes(l, msgs) {
		last = s.ReceivedAt
	}
	return p.moveAfter(ctx, l, last)
}

// RequestAnotherAfter keeps the number and moves the watermark past last,
// the time of the newest code the client has: a code that arrived since
// (and was not delivered yet) is still the next one.
func (p *Pool) RequestAnotherAfter(ctx context.Context, upstreamID string, last time.Time) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("another", err)
	}
	if !l.Active() {
		return p.errorf("another", fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	return p.moveAfter(ctx, l, last)
}

func (p *Pool) moveAfter(ctx context.Context, l lease.Lease, last time.Time) error {
	if last.IsZero() {
		return nil
	}
	after := last.Add(time.Millisecond)
	if !after.After(l.After) {
		return nil
	}
	if err := p.o.Store.MoveLease(ctx, p.o.Code, l.ID, after); err != nil {
		return p.errorf("another", fmt.Errorf("%w: cannot move the lease: %v", adapters.ErrUnavailable, err))
	}
	return nil
}
