package route

import (
	"fmt"
	"math"
	"time"

	"smsgate/adapters"
	"smsgate/gateway/platform"
)

// Blocked is the penalty that keeps purchases of country/service off p
// now, if any: one the platform gave (its book), or its recent success
// rate under its min_success_rate.
func (g *Router) Blocked(p *platform.Platform, country, service string) (platform.Penalty, bool) {
	if b := p.Penalties(); b != nil {
		if pen, ok := b.Blocked(country, service); ok {
			return pen, true
		}
	}
	return g.floor(p)
}

// floor is the penalty of a platform whose recent success rate, over at
// least its minimum sample, is below its min_success_rate. It lasts until
// the record, decaying, falls under the minimum sample (no new orders
// arrive while it is routed away), so the platform is tried again then.
func (g *Router) floor(p *platform.Platform) (platform.Penalty, bool) {
	if p.MinSuccessRate <= 0 {
		return platform.Penalty{}, false
	}
	delivered, total := g.est.Platform(p.Code)
	sample := float64(max(p.MinSuccessSample, 1))
	if total < sample || delivered/total >= p.MinSuccessRate {
		return platform.Penalty{}, false
	}
	// total · 2^(−t/halfLife) = sample  ⇒  t = halfLife · log2(total/sample)
	left := time.Duration(float64(platformHalfLife) * math.Log2(total/sample))
	return platform.Penalty{
		Scope: adapters.ScopeAccount,
		Reason: fmt.Sprintf("recent success rate %.1f%% below min_success_rate %.1f%% (%.0f recent orders)",
			delivered/total*100, p.MinSuccessRate*100, total),
		Until: g.est.now().Add(left).Add(time.Second).Truncate(time.Second),
	}, true
}

// Standing is what routing knows of a platform's behaviour: the
// penalties in force and its recent success and cancel rates.
type Standing struct {
	Penalties []platform.Penalty
	// RecentOrders: ended orders, decayed (half-life one hour).
	RecentOrders float64
	// SuccessRate: of those, the share that delivered a code (-1: none).
	SuccessRate float64
	// CancelRate: cancels sent upstream per purchase, decayed alike (-1:
	// no purchase).
	CancelRate float64
	// Estimates: per country × service with a record, what the success
	// and value strategies believe of the platform.
	Estimates []PairEstimate
}

// Standing is p's standing now.
func (g *Router) Standing(p *platform.Platform) Standing {
	st := Standing{Penalties: []platform.Penalty{}, SuccessRate: -1, CancelRate: -1}
	if pen, ok := g.floor(p); ok {
		st.Penalties = append(st.Penalties, pen)
	}
	if b := p.Penalties(); b != nil {
		st.Penalties = append(st.Penalties, b.Active()...)
	}
	delivered, total := g.est.Platform(p.Code)
	st.RecentOrders = total
	if total > 0 {
		st.SuccessRate = delivered / total
	}
	st.Estimates = g.est.Pairs(p.Code)
	if buys, cancels := p.Activity().Recent(); buys > 0 {
		st.CancelRate = cancels / buys
	}
	return st
}
