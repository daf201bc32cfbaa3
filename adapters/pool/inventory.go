package pool

import (
	"context"
	"errors"
	"smsgate/adapters"
	"time"
)

// retryRead is how long a failed inventory read is not retried: callers
// meanwhile get the previous inventory, or the failure.
const retryRead = 10 * time.Second

// numbers returns the inventory, re-reading it when it is older than
// Refresh. A failed re-read serves the previous inventory if there is one:
// numbers do not vanish because the upstream hiccuped.
func (p *Pool) numbers(ctx context.Context) ([]Number, error) {
	p.mu.Lock()
	inv, at, failedAt, readErr := p.inventory, p.readAt, p.failedAt, p.readErr
	p.mu.Unlock()
	now := p.now()
	if !at.IsZero() && now.Sub(at) < p.o.Refresh {
		return inv, nil
	}
	if !failedAt.IsZero() && now.Sub(failedAt) < retryRead {
		if !at.IsZero() && !errors.Is(readErr, adapters.ErrAuth) {
			return inv, nil
		}
		return nil, readErr
	}
	v, err, _ := p.flight.Do("numbers", func() (any, error) {
		return p.o.Source.Numbers(ctx)
	})
	if err != nil {
		p.mu.Lock()
		p.failedAt, p.readErr = p.now(), err
		p.mu.Unlock()
		if !at.IsZero() && !errors.Is(err, adapters.ErrAuth) {
			return inv, nil
		}
		return nil, err
	}
	var fresh []Number
	for _, n := range v.([]Number) {
		if len(p.o.Only) > 0 {
			c, ok := p.o.Only[n.Phone]
			if !ok {
				continue
			}
			if c != "" {
				n.Country = c
			}
		}
		fresh = append(fresh, n)
	}
	p.mu.Lock()
	p.inventory, p.readAt, p.failedAt, p.readErr = fresh, p.now(), time.Time{}, nil
	for _, n := range fresh {
		if n.Phone != "" {
			p.known[n.Phone] = n
		}
	}
	// A new read is the source's word on every number: a rental that came
	// back, an account an operator logged in again.
	p.down = map[string]string{}
	p.mu.Unlock()
	return fresh, nil
}

// state is a number's usability now: "" when it may be leased.
func (p *Pool) downReason(n Number) string {
	if n.Down != "" {
		return n.Down
	}
	if n.Phone == "" {
		return DownNeedsLogin
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down[n.Phone]
}

// markDown takes a number out until the next inventory read.
func (p *Pool) markDown(phone, reason string) {
	p.mu.Lock()
	p.down[phone] = reason
	p.mu.Unlock()
}

// number is the known number with that phone.
func (p *Pool) number(phone string) (Number, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.known[phone]
	return n, ok
}

// throttleFor is how long a number whose account backs off is left out of
// purchases: reading it would fail at once, and each try costs a lease.
const throttleFor = 30 * time.Second

func (p *Pool) markThrottled(phone string) {
	p.mu.Lock()
	p.throttled[phone] = p.now().Add(throttleFor)
	p.mu.Unlock()
}

func (p *Pool) isThrottled(phone string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	until, ok := p.throttled[phone]
	if ok && !now.Before(until) {
		delete(p.throttled, phone)
		return false
	}
	return ok
}
