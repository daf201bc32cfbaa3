package route

import (
	"math"
	"time"
)

// Pending orders as evidence.
//
// The estimator hears of an order when it ends, but an order ends much
// sooner when it delivers (the code comes in seconds) than when it does
// not (the client waits its give_up, minutes, then cancels). Counting
// ended orders alone, a platform is first seen through its successes: a
// cheap 40 % platform looks like 12–0 until its first give-ups come in,
// and a platform whose delivery just fell keeps its record for minutes.
// So the estimator also learns of each purchase when it happens (Bought)
// and holds the numbers still waiting against their pair: a number that
// has waited longer than a delivered one would almost surely have is
// likely one that will never deliver.
//
// A waiting number of age t is censored data: P(no code yet | it will
// deliver) = S(t), the survival of the pair's estimated log-normal delay,
// so it is undelivered with probability w = (1−p) / ((1−p) + p·S(t)). It
// counts as w of a failure and 1−w of a delivery (the E-step of EM over
// the censored likelihood; the estimate iterates p a few times), once it
// is older than the pair's median delay — a younger number says little
// and would only narrow the posterior. S(t) is taken at a few levels
// (pendingLevels): each pair keeps its waiting numbers in purchase order,
// with a moving pointer per level past which they have waited longer than
// that quantile of the delay; a number counts with the S of the last level
// it passed (an upper bound of S(t), so w is never overstated). Each
// number passes each level once: O(levels) per purchase, end and
// estimate, whatever the number of waiting orders.
//
// A waiting number stops counting when its order ends (Observe, which
// counts it as what it became), when its first code comes (Coded), or at
// its lifetime (Bought's until: the order cannot still be waiting then).
// After a restart the orders bought before it are simply unknown until
// they end: only purchases made by this process, since it started, are
// held as waiting.

// pendingLevels are the survival levels S a waiting number is counted at:
// once its age passes the pair's delay quantile 1−S. The first, 0.5, is
// the median (where counting starts); the last, 0.01, is where a number
// still waiting is all but surely undelivered.
var pendingLevels = [...]float64{0.5, 0.25, 0.1, 0.05, 0.02, 0.01}

// pendingZ[k] is the standard normal quantile 1−pendingLevels[k]: a
// number has passed level k once ln(age) > μ + σ·z.
var pendingZ = [len(pendingLevels)]float64{0, 0.6745, 1.2816, 1.6449, 2.0537, 2.3263}

// maxPending bounds the waiting numbers kept per pair (the oldest go
// first): a bound on memory whatever the lifetimes given.
const maxPending = 10_000

// pendingEMRounds is how many times the estimate refines p through the
// waiting numbers' weights (each round moves p most of the way to the
// fixed point; the weights are bounded, so a few rounds suffice).
const pendingEMRounds = 4

// Purchase is a number bought, as the estimator learns of it.
type Purchase struct {
	// Order is the ledger id; the end (Observe) or first code (Coded) of
	// the same id retires it. 0 is ignored.
	Order                      int64
	Platform, Country, Service string
	// At is when it was bought (zero = now); Until when it stops counting
	// even if no end was heard (the order's lifetime; zero = At +
	// DefaultPendingLifetime).
	At, Until time.Time
}

// DefaultPendingLifetime is how long a waiting number counts when its
// purchase did not say (Purchase.Until).
const DefaultPendingLifetime = 20 * time.Minute

// pendingOrder is one waiting number.
type pendingOrder struct {
	id        int64
	at, until time.Time
	level     int  // how many pendingLevels it has passed
	done      bool // retired: ended, coded or expired
	pair      *pendingPair
}

// pendingPair is a pair's waiting numbers, oldest first.
type pendingPair struct {
	q    []*pendingOrder // q[head:] are live or not yet trimmed
	head int
	// next[k] is the index in q of the first order that has not passed
	// level k: next[0] >= next[1] >= … >= head (older orders pass first).
	next [len(pendingLevels)]int
	// n[k]: live orders that passed exactly k levels.
	n [len(pendingLevels) + 1]int
	// lastBought: the last purchase on the pair (probes).
	lastBought time.Time
	// probeAt: when the last probe was claimed; probe: the order id of
	// the probe bought, while it waits (0 none).
	probeAt time.Time
	probe   int64
	// probeClaimed: a probe was claimed and its purchase not yet seen.
	probeClaimed bool
	// moves counts the level pointers' steps (tests: amortised O(1)).
	moves int
	// again: the last probe delivered; the pair is due another now.
	again bool
	// failedProbes: probes in a row that failed (the interval doubles
	// with each, up to maxProbeBackoff).
	failedProbes int
}

// live is how many of the pair's numbers are waiting.
func (pp *pendingPair) live() int {
	n := 0
	for _, c := range pp.n {
		n += c
	}
	return n
}

// Bought registers a number bought: it waits, and counts against its
// pair as it ages, until its order ends or its first code comes.
func (e *Estimator) Bought(p Purchase) {
	if p.Order == 0 {
		return
	}
	if p.At.IsZero() {
		p.At = e.now()
	}
	if p.Until.IsZero() || !p.Until.After(p.At) {
		p.Until = p.At.Add(DefaultPendingLifetime)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.waiting[p.Order]; dup {
		return
	}
	if e.ended[p.Order] {
		// Its end was heard first (the poller can end an order before
		// the purchase's goroutine reports it): nothing waits.
		return
	}
	k := pairKey{p.Platform, p.Country, p.Service}
	pp := e.pend[k]
	if pp == nil {
		pp = &pendingPair{}
		e.pend[k] = pp
	}
	e.trim(pp, p.At)
	if pp.live() >= maxPending {
		e.retire(pp.q[pp.head])
		e.trim(pp, p.At)
	}
	o := &pendingOrder{id: p.Order, at: p.At, until: p.Until, pair: pp}
	pp.q = append(pp.q, o)
	pp.n[0]++
	e.waiting[p.Order] = o
	if p.At.After(pp.lastBought) {
		pp.lastBought = p.At
	}
	if pp.probeClaimed {
		pp.probeClaimed, pp.probe = false, p.Order
	}
}

// Coded retires a waiting number whose first code came: it waits no
// more, and its order counts as delivered when it ends.
func (e *Estimator) Coded(order int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o := e.waiting[order]; o != nil {
		e.probed(o, true)
		e.retire(o)
		e.trim(o.pair, e.now())
	}
}

// probed notes how a probe ended (e.mu held): one that delivered makes
// its pair due another probe at once — a platform that is back is seen
// to be back within a few probes, in seconds rather than intervals —
// while one that failed waits out the interval. Failures cost cancels;
// deliveries are what the client wanted anyway.
func (e *Estimator) probed(o *pendingOrder, delivered bool) {
	if o.done || o.pair.probe != o.id {
		return
	}
	o.pair.again = delivered
	if delivered {
		o.pair.failedProbes = 0
	} else {
		o.pair.failedProbes = min(o.pair.failedProbes+1, maxProbeBackoff)
	}
}

// maxProbeBackoff: a probe that fails doubles the pair's probe interval,
// up to 2^maxProbeBackoff times probe, so a platform that stays down
// costs half the cancels. Measured on bench routing: a longer backoff
// (4×, 8×) delays the return of a recovered platform by more than the
// cancels it saves are worth, in time to code and in cancels per code.
const maxProbeBackoff = 1

// retire takes a waiting number out of its pair's counts (e.mu held).
func (e *Estimator) retire(o *pendingOrder) {
	if o.done {
		return
	}
	o.done = true
	o.pair.n[o.level]--
	delete(e.waiting, o.id)
	if o.pair.probe == o.id {
		o.pair.probe = 0
	}
}

// endedPending retires the waiting number of an order that ended (e.mu
// held); an end heard before its purchase is remembered briefly, so the
// late Bought does not leave it waiting.
func (e *Estimator) endedPending(order int64, delivered bool, at time.Time) {
	if order == 0 {
		return
	}
	if o := e.waiting[order]; o != nil {
		e.probed(o, delivered)
		e.retire(o)
		e.trim(o.pair, at)
		return
	}
	if old := e.endedRing[e.endedPos]; old != 0 {
		delete(e.ended, old)
	}
	e.endedRing[e.endedPos] = order
	e.ended[order] = true
	e.endedPos = (e.endedPos + 1) % len(e.endedRing)
}

// trim drops retired and expired numbers from the head of the pair's
// queue and compacts it: amortised O(1) per number.
func (e *Estimator) trim(pp *pendingPair, now time.Time) {
	for pp.head < len(pp.q) {
		o := pp.q[pp.head]
		if !o.done && now.Before(o.until) {
			break
		}
		e.retire(o)
		pp.q[pp.head] = nil
		pp.head++
	}
	for k := range pp.next {
		pp.next[k] = max(pp.next[k], pp.head)
	}
	if pp.head > 32 && pp.head*2 > len(pp.q) {
		n := copy(pp.q, pp.q[pp.head:])
		clear(pp.q[n:])
		pp.q = pp.q[:n]
		for k := range pp.next {
			pp.next[k] -= pp.head
		}
		pp.head = 0
	}
}

// advance moves the pair's level pointers past the numbers that have
// waited longer than each level's delay quantile (log-normal μ, σ of the
// pair's delay): each number passes each level once.
func (e *Estimator) advance(pp *pendingPair, now time.Time, mu, sigma float64) {
	e.trim(pp, now)
	for k := range pp.next {
		limit := len(pp.q)
		if k > 0 {
			limit = pp.next[k-1]
		}
		tau := time.Duration(math.Min(math.Exp(mu+sigma*pendingZ[k]), 1e6) * float64(time.Second))
		cut := now.Add(-tau) // bought at or before cut: waited past the quantile
		for pp.next[k] < limit {
			o := pp.q[pp.next[k]]
			if !o.done {
				if o.at.After(cut) {
					break
				}
				pp.n[o.level]--
				o.level = k + 1
				pp.n[o.level]++
			}
			pp.next[k]++
			pp.moves++
		}
	}
}

// withPending adds a pair's waiting numbers to its record's posterior
// (alpha, beta): each number past level k is w_k(p) of a failure and
// 1−w_k(p) of a delivery, p refined by a few EM rounds. It returns the
// new posterior and the waiting numbers counted.
func withPending(alpha, beta float64, pp *pendingPair) (a, b, counted float64) {
	if pp == nil {
		return alpha, beta, 0
	}
	for k := 1; k < len(pp.n); k++ {
		counted += float64(pp.n[k])
	}
	if counted == 0 {
		return alpha, beta, 0
	}
	p := alpha / (alpha + beta)
	fail := 0.0
	for range pendingEMRounds {
		fail = 0
		for k := 1; k < len(pp.n); k++ {
			if pp.n[k] == 0 {
				continue
			}
			s := pendingLevels[k-1]
			fail += float64(pp.n[k]) * (1 - p) / ((1 - p) + p*s)
		}
		p = (alpha + counted - fail) / (alpha + beta + counted)
	}
	return alpha + counted - fail, beta + fail, counted
}

// Probes.
//
// Thompson sampling explores a pair in proportion to the chance that it
// is the best; a pair whose record was restarted low (its delivery fell)
// is drawn so seldom that when it recovers, the recovery is seen late or
// never — the record fades back towards the pair's long-run rate only
// over half-lives. A probe bounds that: a pair not bought for a probe
// interval, with no number of it waiting, is ranked first for one
// purchase. At most one probe per pair per interval (a claim counts even
// if the purchase went elsewhere; the interval doubles after a failed
// probe, maxProbeBackoff), never a second while any number of the pair
// waits; one that delivered makes the pair due again at once (probed).
// The cost is at most one order per stale pair per interval, and a pair
// that routing uses anyway is never stale. The router only probes a pair
// that could rank first (Router.probe). Everything here follows the
// injected clock and the order of calls: a run is deterministic.

// ClaimProbe returns the index in platforms of the pair (platform,
// country, service) to probe now, claimed, or −1: of those stale (not
// bought for the probe interval, none waiting, no probe waiting), the
// one bought longest ago. A pair first seen here starts its interval now.
func (e *Estimator) ClaimProbe(platforms []string, country, service string) int {
	if e.probe <= 0 || len(platforms) == 0 {
		return -1
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	best, bestAt := -1, time.Time{}
	for i, p := range platforms {
		k := pairKey{p, country, service}
		pp := e.pend[k]
		if pp == nil {
			pp = &pendingPair{lastBought: now}
			e.pend[k] = pp
			continue
		}
		e.trim(pp, now)
		last := pp.lastBought
		if pp.probeAt.After(last) {
			last = pp.probeAt
		}
		if pp.probe != 0 || pp.live() > 0 || (now.Sub(last) < e.probe<<pp.failedProbes && !pp.again) {
			continue
		}
		if best < 0 || last.Before(bestAt) {
			best, bestAt = i, last
		}
	}
	if best >= 0 {
		pp := e.pend[pairKey{platforms[best], country, service}]
		pp.probeAt, pp.probeClaimed, pp.again = now, true, false
	}
	return best
}
