// Package route decides where a purchase goes: the candidates (enabled
// platforms that sell within the max price, minus open breakers and
// platforms over their outbound rate), ordered by the strategy, and the
// delivery statistics the success and value strategies read.
package route

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/gateway/market"
	"smsgate/gateway/platform"
	"smsgate/gateway/tenant"
)

// Strategies a purchase can be routed by.
var Strategies = []string{"price", "success", "balance", "random", "priority", "value"}

// ErrBadStrategy: the request named a strategy that does not exist.
var ErrBadStrategy = errors.New("unknown routing strategy")

// Candidate is one platform the router may try, with what it knew.
type Candidate struct {
	Platform  *platform.Platform
	BasePrice int64   // offer price in base currency micro-units; -1 unknown
	Count     int     // stock; -1 unknown
	Balance   int64   // last known balance in base micro-units; -1 unknown
	Rate      float64 // estimated delivery probability (posterior mean)
	// Evidence: the decayed count of ended orders behind Rate.
	Evidence float64
	// LongRun: the pair's long-run delivery rate (Estimate.LongRun), and
	// the orders behind it.
	LongRun, LongRunEvidence float64
	// Delay: the expected delay to the code of a delivered order.
	Delay time.Duration
	// Draw: the delivery probability drawn from the posterior (Thompson
	// sampling) that success and value ranked by; 0 for other strategies.
	Draw  float64
	Score float64 // the strategy's sort key: lower is tried first
	// Probe: the pair was not bought for a probe interval; it is tried
	// first, whatever its score, to see whether it is still what its
	// record says ([routing] probe).
	Probe bool
	// Cost is the offer price in the platform's currency (0 unknown): what
	// a purchase there sets aside of its balance.
	Cost int64
	// Broke: the platform pays from a balance that is known not to cover
	// cost; it is tried after the others.
	Broke bool
	// PutOff: Buy found the balance short when about to ask, and moved the
	// platform to the end of its list, where it is asked regardless.
	PutOff bool

	alpha, beta float64 // the delivery posterior Draw comes from
}

// Plan is a routing decision: the strategy used and the platforms to try,
// best first.
type Plan struct {
	Strategy string
	// Country and Service: the pair planned for.
	Country, Service string
	Candidates       []Candidate
	// Skipped says why platforms were left out (platform → reason).
	Skipped map[string]string
}

// strategyFor picks the request's strategy, else the tenant's, else the
// configured one.
func (g *Router) strategyFor(t *tenant.Tenant, r Request) (string, error) {
	s := r.Strategy
	if s == "" {
		s = t.Strategy
	}
	if s == "" {
		s = g.cfg.Strategy
	}
	for _, k := range Strategies {
		if k == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w %q", ErrBadStrategy, s)
}

// Plan chooses the candidates for a purchase, at most max_attempts of them
// unless a platform is pinned: what Recommend shows.
func (g *Router) Plan(ctx context.Context, t *tenant.Tenant, r Request) (Plan, error) {
	plan, err := g.Route(ctx, t, r)
	if max := g.cfg.MaxAttempts; err == nil && r.Platform == "" && max > 0 && len(plan.Candidates) > max {
		plan.Candidates = plan.Candidates[:max]
	}
	return plan, err
}

// Route orders every candidate for a purchase. Platforms whose offers show
// no stock, or only above the max price, are left out, as are open
// breakers; a platform whose offers cannot be read stays in (it may well
// sell) after the ones that are known to. Platforms whose balance is known
// not to cover the price go last: a buy must not spend its attempts on
// them while another can sell (Buy counts attempts, not candidates).
func (g *Router) Route(ctx context.Context, t *tenant.Tenant, r Request) (Plan, error) {
	strategy, err := g.strategyFor(t, r)
	if err != nil {
		return Plan{}, err
	}
	usable := g.market.Usable(t)
	if r.Platform != "" {
		var pinned []*platform.Platform
		for _, p := range usable {
			if p.Code == r.Platform {
				pinned = append(pinned, p)
			}
		}
		if len(pinned) == 0 {
			return Plan{}, ErrBadPlatform
		}
		if r.Failover {
			// Pinned first, the rest by strategy after it.
			for _, p := range usable {
				if p.Code != r.Platform {
					pinned = append(pinned, p)
				}
			}
		}
		usable = pinned
	}
	// The max price is the tenant's: it is compared with tenant prices
	// (markup included), in the tenant's currency.
	var maxPrice int64
	if r.MaxPrice.Micros > 0 {
		m, err := g.fx.Convert(r.MaxPrice, t.Currency)
		if err != nil {
			return Plan{}, fmt.Errorf("max price: %w", err)
		}
		maxPrice = m.Micros
	}
	plan := Plan{Strategy: strategy, Country: r.Country, Service: r.Service, Skipped: map[string]string{}}
	var floor *adapters.PriceFloorError
	noStock, open, penalised := 0, 0, 0
	for _, p := range usable {
		c, skip, lowest := g.candidate(ctx, t, r, p, maxPrice)
		switch {
		case skip == "":
			plan.Candidates = append(plan.Candidates, c)
			continue
		case skip == skipOpen:
			open++
		case skip == skipNoStock:
			noStock++
		case skip == skipAbove:
			if lowest != nil && (floor == nil || lowest.Min.Micros < floor.Min.Micros) {
				floor = lowest
			}
		case strings.HasPrefix(skip, skipPenalty):
			penalised++
		}
		plan.Skipped[p.Code] = skip
	}
	g.order(&plan, r.Platform != "")
	if len(plan.Candidates) == 0 {
		switch {
		case floor != nil:
			return plan, floor
		case noStock > 0:
			return plan, fmt.Errorf("no stock on any platform: %w", adapters.ErrNoNumbers)
		case open > 0:
			return plan, fmt.Errorf("every platform's breaker is open: %w", platform.ErrBreakerOpen)
		case penalised > 0:
			// The platforms refuse us for a while: nothing to sell now.
			return plan, fmt.Errorf("every platform that sells %s/%s is penalised: %w", r.Country, r.Service, adapters.ErrNoNumbers)
		}
		return plan, fmt.Errorf("no platform sells %s/%s: %w", r.Country, r.Service, adapters.ErrNoNumbers)
	}
	return plan, nil
}

// Why a platform is left out of a plan (Plan.Skipped).
const (
	skipOpen    = "breaker open"
	skipRate    = "outbound rate limit"
	skipNoStock = "no stock"
	skipAbove   = "above max price"
	// skipPenalty starts the reason of a penalised platform: "penalised:
	// <reason> until <time>".
	skipPenalty = "penalised"
)

// penaltySkip is the Plan.Skipped reason of a penalty.
func penaltySkip(p platform.Penalty) string {
	return skipPenalty + ": " + p.Reason + " until " + p.Until.UTC().Format(time.RFC3339)
}

// candidate is what routing knows of p for the purchase, or why p is left
// out (and, above the max price, the tenant price it would take).
// maxPrice is in the tenant's currency; 0 = none.
func (g *Router) candidate(ctx context.Context, t *tenant.Tenant, r Request, p *platform.Platform, maxPrice int64) (Candidate, string, *adapters.PriceFloorError) {
	if p.BreakerOpen() {
		return Candidate{}, skipOpen, nil
	}
	if !p.Ready() {
		return Candidate{}, skipRate, nil
	}
	if pen, blocked := g.Blocked(p, r.Country, r.Service); blocked {
		return Candidate{}, penaltySkip(pen), nil
	}
	est := g.est.Estimate(p.Code, r.Country, r.Service)
	c := Candidate{Platform: p, BasePrice: -1, Count: -1, Balance: -1, Rate: est.P, Evidence: est.Evidence, LongRun: est.LongRun, LongRunEvidence: est.LongRunEvidence, Delay: est.DelayMean,
		alpha: est.Alpha, beta: est.Beta}
	avail, known := g.market.Available(p.Code)
	if known {
		if b, err := g.fx.ToBase(adapters.Money{Micros: max(avail, 0), Currency: p.Currency}); err == nil {
			c.Balance = b.Micros
		}
	}
	if o, ok := g.OfferFor(ctx, p, r.Country, r.Service); ok {
		c.Count = o.Count
		if b, err := g.fx.ToBase(o.Price); err == nil {
			c.BasePrice = b.Micros
		}
		if m, ok := g.market.InCurrency(o.Price, p.Currency); ok && m > 0 {
			c.Cost = m
		}
		if o.Count == 0 { // StockUnknown (-1) may well sell: it stays in
			return Candidate{}, skipNoStock, nil
		}
		if maxPrice > 0 {
			tp, err := t.Price(g.fx, o.Price)
			if err != nil {
				return Candidate{}, skipAbove, nil // a price that cannot be shown cannot be sold
			}
			if tp.Micros > maxPrice {
				return Candidate{}, skipAbove, &adapters.PriceFloorError{Min: tp}
			}
		}
	}
	c.Broke = known && market.SpendsBalance(p) && (avail < c.Cost || avail <= 0)
	return c, "", nil
}

// OfferFor reads one platform's offer for the pair, through the cache.
func (g *Router) OfferFor(ctx context.Context, p *platform.Platform, country, service string) (adapters.Offer, bool) {
	offers, err := g.market.PlatformOffers(ctx, p, country, service)
	if err != nil {
		return adapters.Offer{}, false
	}
	for _, o := range offers {
		if o.Country == country && o.Service == service {
			return o, true
		}
	}
	// The platform answered and does not list the pair: nothing to sell.
	return adapters.Offer{Country: country, Service: service}, true
}

// order sorts the candidates by the plan's strategy, those known unable
// to pay last; ties go by priority. With a pinned platform (and failover
// asked) the pinned one stays first.
func (g *Router) order(plan *Plan, pinned bool) {
	cs := plan.Candidates
	unknown := math.Inf(1)
	for i := range cs {
		c := &cs[i]
		switch plan.Strategy {
		case "priority":
			c.Score = float64(c.Platform.Current().Priority)
		case "price":
			c.Score = unknown
			if c.BasePrice >= 0 {
				c.Score = float64(c.BasePrice)
			}
		case "balance":
			c.Score = unknown
			if c.Balance >= 0 {
				c.Score = -float64(c.Balance)
			}
		case "success":
			// Thompson sampling: ranked by a draw from the posterior, a
			// platform is tried first in proportion to the chance that it
			// is the best, so one with little record is explored and one
			// whose delivery fell is left as soon as the record shows it.
			c.Draw = g.sampleBeta(c.alpha, c.beta)
			c.Score = -c.Draw
		case "value":
			c.Draw = g.sampleBeta(c.alpha, c.beta)
			c.Score = unknown
			if c.BasePrice >= 0 {
				c.Score = g.value(float64(c.BasePrice), c.Draw, c.Delay)
			}
		case "random":
			// Weighted shuffle (Efraimidis–Spirakis): u^(1/w), larger first.
			c.Score = -math.Pow(g.Random(), 1/float64(max(1, c.Platform.Current().Weight)))
		}
	}
	start := 0
	if pinned && len(cs) > 0 {
		start = 1
	}
	rest := cs[start:]
	if !pinned && (plan.Strategy == "success" || plan.Strategy == "value") {
		g.probe(plan, rest)
	}
	sort.SliceStable(rest, func(i, j int) bool {
		if rest[i].Broke != rest[j].Broke {
			return !rest[i].Broke
		}
		if rest[i].Score != rest[j].Score {
			return rest[i].Score < rest[j].Score
		}
		return rest[i].Platform.Current().Priority < rest[j].Platform.Current().Priority
	})
}

// probe ranks first a candidate whose pair is due a probe (Estimator
// ClaimProbe): one not bought for a probe interval, so that a platform
// whose delivery fell and came back is seen to be back. Only a pair that
// would rank first at its long-run rate is worth a probe — one whose
// record fell below what it has been, and whose return would matter; a
// platform that has always been poor is left to Thompson sampling (a
// probe would only buy it cancels). A candidate known unable to pay is
// never probed.
func (g *Router) probe(plan *Plan, cs []Candidate) {
	if g.cfg.Probe <= 0 || len(cs) < 2 {
		return
	}
	// The best as believed now (posterior means, not this purchase's
	// draws: whether a probe is worth it should not hang on the noise of
	// one draw).
	best := math.Inf(1)
	for i := range cs {
		c := &cs[i]
		switch {
		case c.Broke:
		case plan.Strategy == "value" && c.BasePrice >= 0:
			best = min(best, g.value(float64(c.BasePrice), c.Rate, c.Delay))
		case plan.Strategy == "success":
			best = min(best, -c.Rate)
		}
	}
	var codes []string
	var idx []int
	for i := range cs {
		c := &cs[i]
		if c.Broke {
			continue
		}
		// What the pair may well be: its long-run rate, or, for a pair
		// with little long-run record, the upper decile of its belief
		// now (one early failure must not bury a platform). A pair
		// with a long record that has always been poor is not probed:
		// its record fading would otherwise make it look hopeful again.
		p := c.LongRun
		if c.LongRunEvidence < probeFewOrders {
			a, b := c.alpha, c.beta
			p = max(p, a/(a+b)+probeZ*math.Sqrt(a*b/((a+b)*(a+b)*(a+b+1))))
		}
		p = min(p, 1)
		hope := -p // success: the draw it would have
		if plan.Strategy == "value" {
			if c.BasePrice < 0 {
				continue
			}
			hope = g.value(float64(c.BasePrice), p, c.Delay)
		}
		if hope < best {
			codes = append(codes, c.Platform.Code)
			idx = append(idx, i)
		}
	}
	if i := g.est.ClaimProbe(codes, plan.Country, plan.Service); i >= 0 {
		cs[idx[i]].Probe = true
		cs[idx[i]].Score = math.Inf(-1)
	}
}

// probeZ is the normal quantile of the upper decile (1.2816) of a pair's
// belief that probe hopes for, while its long-run record holds fewer
// than probeFewOrders orders.
const (
	probeZ         = 1.2816
	probeFewOrders = 10
)

// value is the expected cost of one delivered code, in base micro-units:
// the price (paid only for a delivered code: a number without one is
// cancelled and refunded) plus the waiting, priced at value_of_minute.
// Waiting per delivered code is the delay of a delivered number plus a
// give_up for each number that fails first, (1 − p) / p of them on
// average. A lower p is always worse: more waiting and more cancels,
// which vendors hold against an account.
func (g *Router) value(price, p float64, delay time.Duration) float64 {
	p = max(p, 1e-6)
	minutes := delay.Minutes() + g.cfg.GiveUp.Minutes()*(1-p)/p
	return price + g.cfg.ValueOfMinute*1e6*minutes
}

// sampleBeta draws from Beta(a, b) with the router's random source.
func (g *Router) sampleBeta(a, b float64) float64 {
	g.rngMu.Lock()
	defer g.rngMu.Unlock()
	x := sampleGamma(g.rng, a)
	y := sampleGamma(g.rng, b)
	if x+y == 0 {
		return a / (a + b)
	}
	return x / (x + y)
}

// sampleGamma draws from Gamma(k, 1) (Marsaglia and Tsang; for k < 1,
// Gamma(k+1)·U^(1/k)).
func sampleGamma(r *rand.Rand, k float64) float64 {
	if k <= 0 {
		return 0
	}
	if k < 1 {
		return sampleGamma(r, k+1) * math.Pow(1-r.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64() // (0, 1]
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// Random is a draw from the router's random source (also the poller's
// jitter).
func (g *Router) Random() float64 {
	g.rngMu.Lock()
	defer g.rngMu.Unlock()
	return g.rng.Float64()
}

// ErrBadPlatform: the request pinned a platform the tenant cannot use.
var ErrBadPlatform = platform.ErrUnknown

// Request is what routing needs of a purchase.
type Request struct {
	Country, Service string
	MaxPrice         adapters.Money // tenant currency; zero = none
	Strategy         string
	Platform         string // pinned platform, "" = route
	Failover         bool   // a pinned purchase may move on
}

// Market is what routing reads of the platforms (market.Market).
type Market interface {
	Usable(t *tenant.Tenant) []*platform.Platform
	PlatformOffers(ctx context.Context, p *platform.Platform, country, service string) ([]adapters.Offer, error)
	InCurrency(m adapters.Money, currency string) (int64, bool)
	Available(code string) (int64, bool)
}

// Router plans purchases.
type Router struct {
	cfg    config.Routing
	market Market
	fx     *fx.FX
	est    *Estimator

	rngMu sync.Mutex
	rng   *rand.Rand // guarded by rngMu
}

// New builds a router; rng drives the random strategy.
func New(cfg config.Routing, m Market, conv *fx.FX, rng *rand.Rand, now func() time.Time) *Router {
	// A config that skipped Validate (tests) gets the documented defaults.
	def := config.Defaults().Routing
	if cfg.HalfLife <= 0 {
		cfg.HalfLife = def.HalfLife
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = def.GiveUp
	}
	if !(cfg.ValueOfMinute > 0) {
		cfg.ValueOfMinute = def.ValueOfMinute
	}
	est := NewEstimator(EstimatorOptions{HalfLife: cfg.HalfLife, Share: cfg.Refresh > 0, Probe: cfg.Probe, Now: now})
	return &Router{cfg: cfg, market: m, fx: conv, est: est, rng: rng}
}

// Estimator is the delivery record the router reads.
func (g *Router) Estimator() *Estimator { return g.est }
