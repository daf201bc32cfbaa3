package platform

import (
	"math"
	"sort"
	"sync"
	"time"

	"smsgate/adapters"
)

// Penalty is a time a platform (or one of its service × country pairs) is
// not routed to, and why: the platform punished us (ban, channel limit,
// 429), or its recent success rate is under the configured floor.
type Penalty struct {
	Scope   string    `json:"scope"` // adapters.ScopeAccount or adapters.ScopePair
	Country string    `json:"country,omitempty"`
	Service string    `json:"service,omitempty"`
	Reason  string    `json:"reason"`
	Until   time.Time `json:"until"`
}

// DefaultPenaltyBackoff is how long a penalty that tells no time lasts
// (CHANNELS_LIMIT, a 429 without Retry-After) when the platform's
// penalty_backoff is not set.
const DefaultPenaltyBackoff = 30 * time.Second

// maxPenalty bounds any one penalty, so a garbled date cannot shut a
// platform out for ever.
const maxPenalty = 7 * 24 * time.Hour

// PenaltyBook holds one platform's penalties on the gateway's clock.
type PenaltyBook struct {
	now     func() time.Time
	backoff time.Duration

	mu      sync.Mutex
	account Penalty               // zero Until: none; guarded by mu
	pairs   map[[2]string]Penalty // country, service → penalty; guarded by mu
}

func newPenaltyBook(now func() time.Time, backoff time.Duration) *PenaltyBook {
	if now == nil {
		now = time.Now
	}
	if backoff <= 0 {
		backoff = DefaultPenaltyBackoff
	}
	return &PenaltyBook{now: now, backoff: backoff, pairs: map[[2]string]Penalty{}}
}

// Note books the penalty pe, met by a call about country/service ("" for
// calls about no pair): it ends RetryAfter from now, else at the
// platform's Until, else after the backoff. A pair penalty that names no
// pair and comes from a call about none covers the account. A longer
// penalty already booked for the same scope stays.
func (b *PenaltyBook) Note(pe *adapters.PenaltyError, country, service string) Penalty {
	now := b.now()
	until := now.Add(b.backoff)
	switch {
	case pe.RetryAfter > 0:
		until = now.Add(pe.RetryAfter)
	case pe.Until.After(now):
		until = pe.Until
	}
	until = minTime(until, now.Add(maxPenalty))
	p := Penalty{Scope: adapters.ScopeAccount, Reason: pe.Reason, Until: until}
	if pe.Scope == adapters.ScopePair {
		p.Country, p.Service = pe.Country, pe.Service
		if p.Country == "" && p.Service == "" {
			p.Country, p.Service = country, service
		}
		if p.Country != "" || p.Service != "" {
			p.Scope = adapters.ScopePair
		} else {
			p.Country, p.Service = "", ""
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Scope == adapters.ScopeAccount {
		if p.Until.After(b.account.Until) {
			b.account = p
		}
		return b.account
	}
	k := [2]string{p.Country, p.Service}
	if old, ok := b.pairs[k]; !ok || p.Until.After(old.Until) {
		b.pairs[k] = p
	}
	return b.pairs[k]
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Blocked is the penalty in force now for a purchase of country/service
// (the account's first), if any.
func (b *PenaltyBook) Blocked(country, service string) (Penalty, bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.account.Until) {
		return b.account, true
	}
	if p, ok := b.pairs[[2]string{country, service}]; ok && now.Before(p.Until) {
		return p, true
	}
	return Penalty{}, false
}

// Active lists the penalties in force now (the account's first, then the
// pairs by country and service), forgetting those that ended.
func (b *PenaltyBook) Active() []Penalty {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Penalty{}
	if now.Before(b.account.Until) {
		out = append(out, b.account)
	}
	var pairs []Penalty
	for k, p := range b.pairs {
		if !now.Before(p.Until) {
			delete(b.pairs, k)
			continue
		}
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].Country != pairs[j].Country {
			return pairs[i].Country < pairs[j].Country
		}
		return pairs[i].Service < pairs[j].Service
	})
	return append(out, pairs...)
}

// Activity counts a platform's recent purchases and cancels (ours: a
// client's or an expiry's cancel sent upstream), decayed with a half-life
// of an hour, for its cancel rate: what a platform's rating (5SIM) reads.
type Activity struct {
	now func() time.Time

	mu            sync.Mutex
	buys, cancels float64   // guarded by mu
	at            time.Time // when they were last decayed; guarded by mu
}

// activityHalfLife is how fast old purchases and cancels count less.
const activityHalfLife = time.Hour

func (a *Activity) add(buy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.decay()
	if buy {
		a.buys++
	} else {
		a.cancels++
	}
}

func (a *Activity) decay() {
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	if a.at.IsZero() {
		a.at = now
		return
	}
	if now.After(a.at) {
		f := math.Exp2(-float64(now.Sub(a.at)) / float64(activityHalfLife))
		a.buys *= f
		a.cancels *= f
		a.at = now
	}
}

// Recent is the decayed purchases and cancels now.
func (a *Activity) Recent() (buys, cancels float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.decay()
	return a.buys, a.cancels
}
