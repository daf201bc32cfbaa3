package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/pool/lease"
	"strconv"
	"time"
)

// Buy leases a number for the service: one that is up, in the country,
// whose rental outlasts the lease, not held by another order, and not used
// for this service within the cooldown.
func (p *Pool) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	if _, ok := catalog.ServiceByCode(r.Service); !ok {
		return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: %q", adapters.ErrBadService, r.Service))
	}
	if r.MaxPrice.Micros > 0 && p.o.Price > r.MaxPrice.Micros {
		return adapters.Purchase{}, p.errorf("buy", &adapters.PriceFloorError{Min: adapters.Money{Micros: p.o.Price, Currency: p.o.Currency}})
	}
	now := p.now()
	candidates, err := p.candidates(ctx, r.Country, now)
	if err != nil {
		return adapters.Purchase{}, p.errorf("buy", err)
	}
	// Spread the wear: a fixed order would burn the first numbers' cooldowns
	// for every service while the last ones idle.
	p.mu.Lock()
	p.rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	p.mu.Unlock()
	for len(candidates) > 0 {
		l, err := p.o.Store.Lease(ctx, lease.Request{
			Platform: p.o.Code, Candidates: candidates, Service: r.Service, Country: r.Country,
			Now: now, TTL: p.o.Lifetime + leaseGrace, StaleBlock: p.o.Cooldown,
		})
		if errors.Is(err, lease.ErrNoFreeNumber) {
			return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: every number is busy or cooling down for %q", adapters.ErrNoNumbers, r.Service))
		}
		if err != nil {
			return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: cannot record the lease: %v", adapters.ErrUnavailable, err))
		}
		// Read the number once before handing it out: what is there now is
		// not ours, whatever its time stamp says.
		after, err := p.watermark(ctx, l)
		if err == nil {
			if err = p.o.Store.MoveLease(ctx, p.o.Code, l.ID, after); err == nil {
				return adapters.Purchase{
					UpstreamID: strconv.FormatInt(l.ID, 10), Phone: l.Phone,
					Price:     adapters.Money{Micros: p.o.Price, Currency: p.o.Currency},
					ExpiresAt: now.Add(p.o.Lifetime),
				}, nil
			}
		}
		// Not handed out: free the number at once (no cooldown, it was never shown).
		p.forget(l.ID)
		p.o.Store.EndLease(context.WithoutCancel(ctx), p.o.Code, l.ID, adapters.StateCancelled, p.now(), time.Time{}) //nolint:errcheck // the lease also expires on its own
		switch reason := DownReason(err); {
		case reason != "":
			p.markDown(l.Phone, reason)
		case errors.Is(err, ErrThrottled):
			// That account backs off; another number may be readable now.
			p.markThrottled(l.Phone)
		default:
			return adapters.Purchase{}, p.errorf("buy", err)
		}
		candidates = slices.DeleteFunc(candidates, func(x string) bool { return x == l.Phone })
	}
	return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: no free number is readable now", adapters.ErrNoNumbers))
}

// candidates are the numbers a buy may lease now: up, in the country, with
// a rental that outlasts the lease, of an account not backing off.
func (p *Pool) candidates(ctx context.Context, country string, now time.Time) ([]string, error) {
	inv, err := p.numbers(ctx)
	if err != nil {
		return nil, err
	}
	var candidates []string
	up, inCountry := 0, 0
	for _, n := range inv {
		if p.downReason(n) != "" {
			continue
		}
		up++
		if country != "" && n.Country != country {
			continue
		}
		inCountry++
		if !n.ExpiresAt.IsZero() && n.ExpiresAt.Before(now.Add(p.o.Lifetime+leaseGrace)) {
			continue // the rental ends before the lease would
		}
		if p.isThrottled(n.Phone, now) {
			continue
		}
		candidates = append(candidates, n.Phone)
	}
	switch {
	case up == 0 && len(inv) > 0:
		return nil, fmt.Errorf("%w: every number of the pool is down (accounts need a new login?)", adapters.ErrAuth)
	case inCountry == 0:
		return nil, fmt.Errorf("%w: no pool number in %q", adapters.ErrNoNumbers, country)
	}
	return candidates, nil
}
