package pool

import (
	"context"
	"fmt"
	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"sort"
	"time"
)

// Offers lists, per country, how many numbers are free for the service
// now, at the pool's price. Every catalogue service is offered: any sender
// can text a number.
func (p *Pool) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	views, err := p.view(ctx)
	if err != nil {
		return nil, p.errorf("offers", err)
	}
	var services []string
	if service != "" {
		services = []string{service}
	} else {
		for _, s := range catalog.Services() {
			services = append(services, s.Code)
		}
	}
	var countries []string
	seen := map[string]bool{}
	for _, v := range views {
		if v.Country != "" && !seen[v.Country] && (country == "" || v.Country == country) {
			seen[v.Country] = true
			countries = append(countries, v.Country)
		}
	}
	sort.Strings(countries)
	now := p.now()
	var out []adapters.Offer
	for _, c := range countries {
		for _, s := range services {
			n := 0
			for _, v := range views {
				if v.Country == c && v.freeFor(s, now) {
					n++
				}
			}
			out = append(out, adapters.Offer{Country: c, Service: s, Price: adapters.Money{Micros: p.o.Price, Currency: p.o.Currency}, Count: n})
		}
	}
	return out, nil
}

// Countries lists the countries of the pool's numbers.
func (p *Pool) Countries(ctx context.Context) ([]string, error) {
	inv, err := p.numbers(ctx)
	if err != nil {
		return nil, p.errorf("countries", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range inv {
		if n.Country != "" && !seen[n.Country] {
			seen[n.Country] = true
			out = append(out, n.Country)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Block is a service a number is kept from until a time.
type Block struct {
	Service string    `json:"service"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"` // cooldown | quarantine
}

// NumberView is one pool number as an operator sees it.
type NumberView struct {
	Phone   string `json:"phone"`
	Country string `json:"country"`
	Account string `json:"account,omitempty"`
	// State: idle, leased, or down ("needs_login", "gone"); cooldowns and
	// quarantines are per service, in Blocks.
	State       string     `json:"state"`
	Down        string     `json:"down,omitempty"`
	LeaseID     int64      `json:"lease_id,omitempty"`
	LeasedFor   string     `json:"leased_for,omitempty"` // service of the active lease
	LeasedSince *time.Time `json:"leased_since,omitempty"`
	ExpiresAt   *time.Time `json:"rental_expires_at,omitempty"`
	Blocks      []Block    `json:"blocks"`
}

func (v NumberView) freeFor(service string, now time.Time) bool {
	if v.State != "idle" {
		return false
	}
	for _, b := range v.Blocks {
		if b.Service == service && b.Until.After(now) {
			return false
		}
	}
	return true
}

// Numbers lists the pool's numbers with their state, for operators.
func (p *Pool) Numbers(ctx context.Context) ([]NumberView, error) {
	return p.view(ctx)
}

func (p *Pool) view(ctx context.Context) ([]NumberView, error) {
	inv, err := p.numbers(ctx)
	if err != nil {
		return nil, err
	}
	now := p.now()
	leases, err := p.o.Store.Leases(ctx, p.o.Code, now)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot list leases: %v", adapters.ErrUnavailable, err)
	}
	views := make([]NumberView, 0, len(inv))
	index := map[string]int{}
	for _, n := range inv {
		v := NumberView{Phone: n.Phone, Country: n.Country, Account: n.Account, State: "idle", Blocks: []Block{}}
		if d := p.downReason(n); d != "" {
			v.State, v.Down = "down", d
		}
		if !n.ExpiresAt.IsZero() {
			t := n.ExpiresAt
			v.ExpiresAt = &t
		}
		if n.Phone != "" {
			index[n.Phone] = len(views)
		}
		views = append(views, v)
	}
	for _, l := range leases {
		i, ok := index[l.Phone]
		if !ok {
			continue
		}
		v := &views[i]
		if l.Active() && now.Before(l.ExpiresAt) {
			if v.State == "idle" {
				v.State = "leased"
			}
			since := l.Since
			v.LeaseID, v.LeasedFor, v.LeasedSince = l.ID, l.Service, &since
			continue
		}
		if l.BlockedUntil.After(now) {
			reason := "cooldown"
			if l.Outcome == adapters.StateBanned {
				reason = "quarantine"
			}
			v.Blocks = append(v.Blocks, Block{Service: l.Service, Until: l.BlockedUntil, Reason: reason})
		}
	}
	return views, nil
}
