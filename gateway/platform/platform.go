// Package platform is a routed upstream: its adapter behind a breaker,
// an outbound rate limit and metrics (the guard), its live settings (config
// plus admin overrides) and the purchases in flight on it.
package platform

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"smsgate/adapters"
	"smsgate/breaker"
	"smsgate/limits"
)

// Platform is one configured upstream as the gateway routes to it.
type Platform struct {
	Code         string
	Name         string // display name; default Code
	Adapter      adapters.Platform
	Priority     int // lower first
	Weight       int
	Currency     string
	PollInterval time.Duration // default 5s
	// Lifetime is how long an order lives without a code if the adapter
	// does not say; default 20m.
	Lifetime time.Duration
	Timeout  time.Duration // per upstream call; default 10s
	Enabled  bool
	// BalanceAlert: alert when the balance (platform currency, micro-units)
	// falls below it; 0 = never.
	BalanceAlert int64
	// Rate is the outbound requests/s to the platform (every call: buys,
	// polls, health checks); <= 0 unlimited.
	Rate float64
	// MaxActive caps the platform's concurrent active orders; 0 unlimited.
	MaxActive int
	// OffersTTL, when shorter than [cache] prices, is how long this
	// platform's offers are reused: a pool computes its own from the ledger,
	// and its stock changes with every lease.
	OffersTTL time.Duration
	// PenaltyBackoff is how long a penalty that tells no time lasts
	// (CHANNELS_LIMIT, a 429 without Retry-After); default 30s.
	PenaltyBackoff time.Duration
	// MinSuccessRate (0..1; 0 = off): while the platform's recent success
	// rate, over at least MinSuccessSample ended orders (default 20), is
	// below it, the router routes away (a penalty), before a vendor's own
	// floor blocks the account.
	MinSuccessRate   float64
	MinSuccessSample int

	penalties *PenaltyBook // set by Wire
	activity  Activity
	live      atomic.Pointer[Settings] // enabled/priority/weight in force (config + admin override)
	breaker   *breaker.Breaker         // set by Wire
	limiter   Limiter                  // nil = unlimited
	buys      BuyTracker               // purchases in flight, for reconciliation
	raw       adapters.Platform        // Adapter before Wire put the guard around it
}

// Settings are a platform's routing settings that the admin API may
// change at run time.
type Settings struct {
	Enabled  bool `json:"enabled"`
	Priority int  `json:"priority"`
	Weight   int  `json:"weight"`
}

// Current is the platform's settings in force now.
func (p *Platform) Current() Settings {
	if s := p.live.Load(); s != nil {
		return *s
	}
	return Settings{Enabled: p.Enabled, Priority: p.Priority, Weight: p.Weight}
}

// Configured is the platform's settings from the configuration.
func (p *Platform) Configured() Settings {
	return Settings{Enabled: p.Enabled, Priority: p.Priority, Weight: p.Weight}
}

// Limiter says whether a platform may be sent another request now
// (Ready peeks; Take spends a token; Wait spends one, waiting for it
// within ctx).
type Limiter interface {
	Ready() bool
	Take() bool
	Wait(ctx context.Context) error
}

// rateLimiter is a platform's outbound token bucket.
type rateLimiter struct {
	rates limits.Rates
	key   string
	rate  float64
}

func (l rateLimiter) burst() int {
	if l.rate < 1 {
		return 1
	}
	return int(l.rate)
}

func (l rateLimiter) Ready() bool {
	if l.rate <= 0 {
		return true
	}
	if pk, ok := l.rates.(interface {
		Peek(string, float64, int) bool
	}); ok {
		return pk.Peek(l.key, l.rate, l.burst())
	}
	return true
}

func (l rateLimiter) Take() bool {
	ok, _ := l.rates.Allow(l.key, l.rate, l.burst())
	return ok
}

// Wait takes a token, waiting as long as the bucket says one is due, until
// ctx ends. The wait is a timer, not a poll: the next try is when a token
// is due (Redis or in-memory alike tell how long).
func (l rateLimiter) Wait(ctx context.Context) error {
	for {
		ok, after := l.rates.Allow(l.key, l.rate, l.burst())
		if ok {
			return nil
		}
		t := time.NewTimer(max(after, time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Recorder counts upstream calls (ops.Metrics).
type Recorder interface {
	Upstream(platform, op, result string, seconds float64)
}

// Wiring is what Wire puts around a platform's adapter.
type Wiring struct {
	Breaker  breaker.Settings // OnChange and Shared included
	Rates    limits.Rates     // the outbound token buckets
	Recorder Recorder
	// OnAuth is told when the platform refuses our credentials.
	OnAuth func(code string, err error)
	// Now is the gateway's clock, for penalties and activity; default
	// time.Now.
	Now func() time.Time
}

// Wire fills the defaults (poll 5s, lifetime 20m, timeout 10s, weight 1),
// puts the live settings in force and wraps the adapter in its guard:
// breaker, outbound limit and metrics around every call.
func (p *Platform) Wire(w Wiring) {
	if p.PollInterval <= 0 {
		p.PollInterval = 5 * time.Second
	}
	if p.Lifetime <= 0 {
		p.Lifetime = 20 * time.Minute
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Weight <= 0 {
		p.Weight = 1
	}
	if p.MinSuccessSample <= 0 {
		p.MinSuccessSample = 20
	}
	now := w.Now
	if now == nil {
		now = time.Now
	}
	p.penalties = newPenaltyBook(now, p.PenaltyBackoff)
	p.activity = Activity{now: now}
	cur := p.Configured()
	p.live.Store(&cur)
	code := p.Code
	p.breaker = breaker.New(code, w.Breaker)
	p.limiter = rateLimiter{rates: w.Rates, key: Key(code), rate: p.Rate}
	if p.raw == nil { // not wired before
		p.raw = p.Adapter
	}
	var onAuth func(error)
	if w.OnAuth != nil {
		onAuth = func(err error) { w.OnAuth(code, err) }
	}
	p.Adapter = &guarded{code: code, inner: p.raw, b: p.breaker, m: w.Recorder, limit: p.limiter, onAuth: onAuth,
		book: p.penalties, activity: &p.activity}
}

// Penalties is the platform's penalty book (nil before Wire).
func (p *Platform) Penalties() *PenaltyBook { return p.penalties }

// Activity is the platform's recent purchases and cancels.
func (p *Platform) Activity() *Activity { return &p.activity }

// SetLive puts settings in force (an admin override).
func (p *Platform) SetLive(s Settings) { p.live.Store(&s) }

// Breaker is the platform's breaker (nil before Wire).
func (p *Platform) Breaker() *breaker.Breaker { return p.breaker }

// BreakerOpen reports whether the breaker refuses calls now.
func (p *Platform) BreakerOpen() bool {
	return p.breaker != nil && p.breaker.Snapshot().State == breaker.Open
}

// Ready reports whether the outbound limit would let a call through now.
func (p *Platform) Ready() bool { return p.limiter == nil || p.limiter.Ready() }

// Buys is the platform's purchases in flight.
func (p *Platform) Buys() *BuyTracker { return &p.buys }

// Raw is the platform's own adapter, without the guard: for what is not
// an upstream call through it (its optional interfaces).
func (p *Platform) Raw() adapters.Platform {
	if p.raw != nil {
		return p.raw
	}
	return p.Adapter
}

// CallCtx bounds one upstream call by the platform's timeout.
func (p *Platform) CallCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.Timeout)
}

// Key is the platform's key in rate and cap tables.
func Key(code string) string { return "platform:" + code }

// ErrUnknown: a request named a platform that does not exist or that the
// tenant may not use.
var ErrUnknown = errors.New("unknown or forbidden platform")
