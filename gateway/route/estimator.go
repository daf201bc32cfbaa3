package route

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"smsgate/config"
	"smsgate/ledger"
)

// Estimator keeps, per platform × country × service, what routing
// believes of a number bought there: the probability that it delivers a
// code (a Beta posterior over decayed counts of ended orders) and the
// delay to the code (decayed statistics of the log of the delay of
// delivered orders). Evidence fades with a half-life, so the last hour
// weighs most; a platform whose last orders are inconsistent with its
// record restarts the record from them (change detection), so a fall is
// noticed within a few orders; a faded record falls back to the pair's
// long-run rate rather than to the prior of a new platform. It also keeps
// each platform's record over every pair (what a vendor's success floor
// reads).
type Estimator struct {
	now      func() time.Time
	halfLife time.Duration
	maxEv    float64 // evidence cap of a pair
	share    bool    // Refresh runs: remember counted order ids

	mu sync.Mutex
	m  map[pairKey]*decayed // guarded by mu
	// byPlatform is each platform's record over every pair; guarded by mu.
	byPlatform map[string]*decayed
	// seen holds the ledger ids counted, with when they ended, so that an
	// order counted locally and then read back from the ledger (or read
	// by two overlapping refreshes) counts once; guarded by mu.
	seen map[int64]time.Time
	// synced is when the last successful Refresh began (zero: never);
	// guarded by mu.
	synced time.Time

	// Waiting numbers (pending.go), guarded by mu: per pair, in purchase
	// order; by order id; and the last ends heard of orders not (yet)
	// waiting, so that a purchase reported after its end is not left
	// waiting (endedRing bounds them).
	pend      map[pairKey]*pendingPair
	waiting   map[int64]*pendingOrder
	ended     map[int64]bool
	endedRing [256]int64
	endedPos  int
	// probe: the interval of probes of stale pairs (Probe); 0 = none.
	probe time.Duration
}

type pairKey struct{ platform, country, service string }

// decayed is a record whose weights all decay from at.
type decayed struct {
	// hl is the record's half-life: the estimator's for a pair,
	// platformHalfLife for a platform's record over every pair.
	hl               time.Duration
	delivered, total float64
	// The delay of delivered orders with a known delay: total weight, and
	// weighted sums of ln(seconds) and of its square.
	dw, ds1, ds2 float64
	at           time.Time
	// recent holds the pair's last outcomes, newest in bit 0 (1 =
	// delivered), nRecent of them (at most 64): the short window that
	// change detection holds against the record.
	recent  uint64
	nRecent int
	// slowDelivered, slowTotal: the pair's record over slowHalfLives
	// half-lives, uncapped and never restarted — what the pair is like in
	// the long run, which the prior of a faded record is drawn towards.
	slowDelivered, slowTotal float64
	// sinceTotal, sinceDelivered: the slow record since the last change
	// detected — what the pair has been in its present regime, over
	// slowHalfLives half-lives. Up to longRunWeight orders of it join the
	// prior (estimateOf), so a pair bought seldom is not thought to be
	// anything at all again each time its short record fades.
	sinceTotal, sinceDelivered float64
	// restarts counts change detections (tests).
	restarts int
}

// The delivery prior: a platform with no record delivers 70 % of the
// time, worth 5 orders of evidence, so a new platform still gets traffic
// and one bad order does not sink it.
const (
	priorRate   = 0.7
	priorWeight = 5.0
)

// The delay prior: a median of 30 s with a log-spread of 1 (two thirds of
// codes between 11 s and 82 s), worth 2 delivered orders, so that the
// first few delays move the estimate and a pair with none still has one.
const (
	priorDelayMedian = 30 * time.Second
	priorDelaySigma  = 1.0
	priorDelayWeight = 2.0
)

// DefaultMaxEvidence is the evidence cap of a pair (EstimatorOptions).
// With change detection to follow a change, the cap only keeps a steady
// record from growing without bound: 200 orders make a posterior of
// 0.9 about ±0.02 wide, so a platform at 0.9 is not put in doubt by its
// own record's noise (at 20, ±0.07 let a cheap 0.4 platform's draws win
// one order in ten).
const DefaultMaxEvidence = 200

// Change detection (detect).
const (
	// changeThreshold is the likelihood ratio, in nats, past which the
	// last orders are held inconsistent with the record. A tail exceeds c
	// by chance with probability about e^−c; with up to 64 tails tested
	// per order, 8 keeps false restarts of a steady platform to about one
	// in several thousand orders, and a fall from 0.9 to 0.2 is declared
	// after 4 to 6 orders.
	changeThreshold = 8.0
	// minChangeRecord: a record of fewer orders is not held against; it
	// is mostly prior and moves with each order anyway.
	minChangeRecord = 10.0
	// minChangeWindow: a tail shorter than this is not a change (one
	// failure of a 0.99 platform would be 4.6 nats).
	minChangeWindow = 2
)

// platformHalfLife is the half-life of a platform's record over every
// pair (Platform): what a vendor's success floor counts is its last hour
// or so, whatever routing's [routing] half_life.
const platformHalfLife = time.Hour

// Return to the long-run rate (detect).
const (
	// returnThreshold is the log-likelihood ratio, in nats, past which
	// the last orders are held to be the pair back at its long-run rate.
	// From a record of 0.2 or 0.3 and a long run of 0.9, 3 deliveries in
	// a row pass it (4.5 and 3.3 nats) and 2 do not; at 0.2, luck passes
	// it about once in 125 orders. Measured on bench routing (seeds 1–20
	// and 101–120 at 16 clients), orders until a recovered platform was
	// back: the GLR alone 387–519; 4 nats 132–238; 3 nats 122–154; 2 nats
	// 111–147, but 2 deliveries in a row at 0.2 come once in 25 tails, and
	// a first version of this test at 2 nats slowed leaving a fallen
	// platform at 8 clients to 67 orders (false returns).
	returnThreshold = 3.0
	// returnMinGap: the test runs only for a record this far below its
	// long-run rate (a steady pair is left to the GLR).
	returnMinGap = 0.2
)

// longRunWeight caps the orders of the pair's present regime that join
// its prior (decayed.sinceTotal). Measured on bench routing (value's
// cancels per code against the oracle's at 16 clients over 40 seeds, at
// 8 and at 4 clients over 20): 0 gave 1.11–1.14×, 1.17×, 1.29×; 10 gave
// 1.11–1.12×, 1.15×, 1.22×; 20 was no better and slowed the fall of a
// platform that drifted (49 orders at 16 clients).
const longRunWeight = 10.0

// slowHalfLives is how many half-lives the long-run record of a pair
// spans: long enough to remember what a platform has been through a bad
// hour, short enough to follow what it becomes over a day.
const slowHalfLives = 8

// Sharing through the ledger (Refresh).
const (
	// syncOverlap re-reads this much before the last refresh: an order
	// another instance ended just before it may commit just after, and
	// instances' clocks differ by a little. Ids dedupe the re-read.
	syncOverlap = time.Minute
	// loadHalfLives is how far back the first Refresh reads: orders older
	// than 8 half-lives weigh under 1/256 of a new one.
	loadHalfLives = 8
	// syncLimit bounds the orders one Refresh reads (the newest are kept).
	syncLimit = 100_000
)

// EstimatorOptions configure an Estimator.
type EstimatorOptions struct {
	// HalfLife: an ended order counts half as much this long after it
	// ended; default [routing] half_life's.
	HalfLife time.Duration
	// MaxEvidence caps the evidence of a pair (delivery and delay): past
	// it each new order pushes out an equal share of the old, so that a
	// slow drift is followed within about that many orders whatever the
	// order rate (the half-life alone forgets by time: at 1 order a
	// second an hour holds thousands); a sudden change is followed sooner,
	// by change detection. Default DefaultMaxEvidence.
	MaxEvidence float64
	// Share: Refresh will run periodically (orders of other instances
	// through a shared ledger); the ids of counted orders are remembered
	// so none is counted twice.
	Share bool
	// Probe is the interval of probes: a pair not bought for this long,
	// with no number waiting, is offered to the router as a probe (Probe)
	// at most once per interval; 0 = no probes.
	Probe time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewEstimator builds an empty estimator.
func NewEstimator(o EstimatorOptions) *Estimator {
	if o.HalfLife <= 0 {
		o.HalfLife = config.Defaults().Routing.HalfLife
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if !(o.MaxEvidence > 0) {
		o.MaxEvidence = DefaultMaxEvidence
	}
	return &Estimator{now: o.Now, halfLife: o.HalfLife, maxEv: o.MaxEvidence, share: o.Share, m: map[pairKey]*decayed{},
		byPlatform: map[string]*decayed{}, seen: map[int64]time.Time{},
		pend: map[pairKey]*pendingPair{}, waiting: map[int64]*pendingOrder{}, ended: map[int64]bool{}, probe: o.Probe}
}

// Outcome is one ended order as the estimator learns from it.
type Outcome struct {
	// Order is the ledger id, which keeps the order from counting twice
	// (recorded here and read back from the ledger); 0 = none.
	Order                      int64
	Platform, Country, Service string
	Delivered                  bool
	// Delay: the first code's arrival minus the purchase; <= 0 = unknown
	// (the order still counts for the delivery probability).
	Delay time.Duration
	// At: when the order ended; zero = now.
	At time.Time
}

// Observe adds one ended order (an order id already counted is ignored).
func (e *Estimator) Observe(o Outcome) {
	if o.At.IsZero() {
		o.At = e.now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.observe(o)
}

func (e *Estimator) observe(o Outcome) {
	e.endedPending(o.Order, o.Delivered, o.At)
	if o.Order != 0 {
		if _, dup := e.seen[o.Order]; dup {
			return
		}
		if e.share && !e.synced.IsZero() {
			e.seen[o.Order] = o.At
		}
	}
	delay := 0.0
	if o.Delivered && o.Delay > 0 {
		delay = max(o.Delay.Seconds(), 1e-3)
	}
	add(e, e.m, pairKey{o.Platform, o.Country, o.Service}, o.Delivered, delay, o.At, e.halfLife, e.maxEv, true)
	// The platform's record is not capped: a vendor's floor counts orders.
	add(e, e.byPlatform, o.Platform, o.Delivered, 0, o.At, platformHalfLife, math.Inf(1), false)
}

// Record adds one order that ended now, without its id or delay (tests,
// imports).
func (e *Estimator) Record(platform, country, service string, delivered bool) {
	e.Observe(Outcome{Platform: platform, Country: country, Service: service, Delivered: delivered})
}

// RecordAt adds one order that ended at, without its id or delay.
func (e *Estimator) RecordAt(platform, country, service string, delivered bool, at time.Time) {
	e.Observe(Outcome{Platform: platform, Country: country, Service: service, Delivered: delivered, At: at})
}

func add[K comparable](e *Estimator, m map[K]*decayed, k K, delivered bool, delaySeconds float64, at time.Time, hl time.Duration, maxEv float64, detect bool) {
	d := m[k]
	if d == nil {
		d = &decayed{at: at, hl: hl}
		m[k] = d
	}
	e.decay(d, at)
	w := 1.0
	if at.Before(d.at) { // an older event counts less
		w = math.Exp2(-float64(d.at.Sub(at)) / float64(d.hl))
	}
	if detect {
		e.detect(d, delivered)
	}
	ws := math.Pow(w, 1.0/slowHalfLives) // its weight in the slow records
	d.total += w
	d.slowTotal += ws
	d.sinceTotal += ws
	if delivered {
		d.delivered += w
		d.slowDelivered += ws
		d.sinceDelivered += ws
	}
	if delaySeconds > 0 {
		l := math.Log(delaySeconds)
		d.dw += w
		d.ds1 += w * l
		d.ds2 += w * l * l
	}
	if d.total > maxEv {
		f := maxEv / d.total
		d.delivered *= f
		d.total *= f
	}
	if d.dw > maxEv {
		f := maxEv / d.dw
		d.dw *= f
		d.ds1 *= f
		d.ds2 *= f
	}
}

// detect adds an outcome to the pair's short window and restarts the
// record from the window's tail when that tail is inconsistent with the
// record. The record can then hold many orders — a steady, tight estimate
// — and still follow a platform whose delivery falls (or comes back)
// within a few orders, which a short record alone would do only by
// staying wide (and explored) all the time.
//
// The test is a generalized likelihood ratio: for each tail of the last k
// outcomes (k ≤ 64) with rate r, k·KL(r ‖ p), p the record's posterior
// mean; a change is declared when the largest exceeds changeThreshold
// (under no change, a tail's statistic exceeds c with probability about
// e^−c). The record restarts from that tail, as counted orders; the
// delay statistics are kept (a change of delivery says nothing of the
// delay of the codes that come). O(64) bit operations per outcome.
func (e *Estimator) detect(d *decayed, delivered bool) {
	d.recent <<= 1
	if delivered {
		d.recent |= 1
	}
	d.nRecent = min(d.nRecent+1, 64)
	est := estimateOf(d)
	p := est.P
	best, bestK, bestHits := 0.0, 0, 0
	hits := 0
	// A record of fewer than minChangeRecord orders is mostly prior and
	// moves with each order anyway: no GLR against it.
	for k := 1; k <= d.nRecent && d.total >= minChangeRecord; k++ {
		if d.recent>>(k-1)&1 == 1 {
			hits++
		}
		if k < minChangeWindow {
			continue
		}
		r := float64(hits) / float64(k)
		if g := float64(k) * klBernoulli(r, p); g > best {
			best, bestK, bestHits = g, k, hits
		}
	}
	// A return to the pair's long-run rate is a simple hypothesis, not
	// any rate: the log-likelihood ratio of a tail under the long-run
	// rate against the record before it passes returnThreshold after far
	// fewer orders than the GLR over every rate does its threshold. A
	// platform back at 0.9 from a record of 0.2 is seen in 3 deliveries
	// in a row rather than 6 to 9 (the GLR's bar rises as each delivery
	// lifts the record's mean), and the record need not hold
	// minChangeRecord orders: after a fall the pair is bought so seldom
	// that its record never gets there.
	if best <= changeThreshold {
		if k, h, g := returnTail(d, est, delivered); k > 0 {
			best, bestK, bestHits = changeThreshold+g, k, h
		}
	}
	if best > changeThreshold {
		// The record restarts from the tail; this outcome is added by
		// the caller, so the tail is counted without it.
		n := bestK - 1
		h := bestHits
		if delivered {
			h--
		}
		d.total, d.delivered = float64(n), float64(h)
		d.recent &= 1<<bestK - 1 // the window holds the tail only
		d.nRecent = bestK
		d.restarts++
		d.sinceTotal, d.sinceDelivered = 0, 0 // the old regime says nothing of the new
	}
}

// returnTail finds the tail of the pair's last outcomes (the newest,
// delivered, not yet in the record, whose estimate is est) that is likeliest the pair back at
// its long-run rate, if any passes returnThreshold: its length, its
// deliveries and its log-likelihood ratio; k = 0 if none. Each tail is
// held against the record as it was before the tail — the record less
// the tail's older outcomes — not against a record its own deliveries
// have already lifted (a record of 0.3 lifted to 0.45 by 5 deliveries
// would ask for a 6th, and a 7th, …).
func returnTail(d *decayed, est Estimate, delivered bool) (bestK, bestHits int, top float64) {
	m0 := est.LongRun
	if m0 <= est.P {
		return 0, 0, 0
	}
	newest := 0
	if delivered {
		newest = 1
	}
	top = returnThreshold
	hits := 0
	for k := 1; k <= d.nRecent; k++ {
		if d.recent>>(k-1)&1 == 1 {
			hits++
		}
		// The record before the tail: less the tail's k−1 older outcomes
		// (each counted about once: they are recent).
		a := est.Alpha - float64(hits-newest)
		b := est.Beta - float64(k-hits-(1-newest))
		if a <= 0 || b <= 0 || a+b < priorWeight {
			break // the tail reaches past what the record holds
		}
		q := a / (a + b)
		if k < minChangeWindow || m0 <= q+returnMinGap {
			continue
		}
		if g := float64(hits)*math.Log(m0/q) + float64(k-hits)*math.Log((1-m0)/(1-q)); g > top {
			bestK, bestHits, top = k, hits, g
		}
	}
	if bestK == 0 {
		return 0, 0, 0
	}
	return bestK, bestHits, top
}

// klBernoulli is the Kullback–Leibler divergence of Bernoulli(p) from
// Bernoulli(q).
func klBernoulli(p, q float64) float64 {
	q = min(max(q, 1e-9), 1-1e-9)
	kl := 0.0
	if p > 0 {
		kl += p * math.Log(p/q)
	}
	if p < 1 {
		kl += (1 - p) * math.Log((1-p)/(1-q))
	}
	return kl
}

func (e *Estimator) decay(d *decayed, now time.Time) {
	if now.After(d.at) {
		f := math.Exp2(-float64(now.Sub(d.at)) / float64(d.hl))
		d.delivered *= f
		d.total *= f
		d.dw *= f
		d.ds1 *= f
		d.ds2 *= f
		fs := math.Pow(f, 1.0/slowHalfLives)
		d.slowDelivered *= fs
		d.slowTotal *= fs
		d.sinceTotal *= fs
		d.sinceDelivered *= fs
		d.at = now
	}
}

// Estimate is what the estimator believes of one platform × country ×
// service now.
type Estimate struct {
	// Alpha, Beta: the Beta posterior of the delivery probability (prior
	// plus decayed delivered and undelivered counts).
	Alpha, Beta float64
	// P is the posterior mean, Alpha / (Alpha + Beta).
	P float64
	// Evidence is the decayed count of ended orders behind it (the prior
	// not included): how much the estimate rests on the pair's record.
	Evidence float64
	// LongRun is the pair's long-run delivery rate (slowHalfLives
	// half-lives, never restarted) shrunk to the prior: what a faded
	// record falls back to, and what a probe hopes to find again.
	LongRun float64
	// LongRunEvidence: the orders behind LongRun (decayed over
	// slowHalfLives half-lives).
	LongRunEvidence float64
	// Pending is how many numbers still waiting (bought, no code, not
	// ended) count in Alpha and Beta: those older than the pair's median
	// delay (pending.go).
	Pending float64
	// DelayMedian and DelayMean: the delay from purchase to the first
	// code of a delivered order, as a log-normal with the estimated
	// log-mean and log-spread (the mean carries the long tail).
	DelayMedian, DelayMean time.Duration
	// DelayEvidence is the decayed count of delivered orders with a known
	// delay behind the delay estimate.
	DelayEvidence float64
}

// Estimate is the estimate for the pair now (the prior for a pair with no
// record).
func (e *Estimator) Estimate(platform, country, service string) Estimate {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.estimate(pairKey{platform, country, service}, e.now())
}

// estimate is the pair's record with its waiting numbers (e.mu held).
func (e *Estimator) estimate(k pairKey, now time.Time) Estimate {
	d := e.m[k]
	if d == nil {
		d = &decayed{hl: e.halfLife}
	} else {
		e.decay(d, now)
	}
	est := estimateOf(d)
	if pp := e.pend[k]; pp != nil {
		mu, sigma := delayOf(d)
		e.advance(pp, now, mu, sigma)
		est.Alpha, est.Beta, est.Pending = withPending(est.Alpha, est.Beta, pp)
		est.P = est.Alpha / (est.Alpha + est.Beta)
	}
	return est
}

// longRunRate is the pair's long-run delivery rate shrunk to the prior.
func longRunRate(d *decayed) float64 {
	return (d.slowDelivered + priorRate*priorWeight) / (d.slowTotal + priorWeight)
}

func estimateOf(d *decayed) Estimate {
	// The prior of a pair with a record is its own long-run rate, shrunk
	// to priorRate by priorWeight: as the record fades the estimate falls
	// back to what the platform has been, not to the optimism owed to a
	// platform never tried — a platform that failed for hours is not
	// worth a fresh chance every hour.
	//
	// What the pair has been since its last change joins the prior, up
	// to longRunWeight orders: with the short record alone, a pair bought
	// seldom (a cheap platform that rarely delivers) fades back to a
	// posterior so wide that Thompson sampling buys it again and again,
	// each time a likely cancel. A change detected empties it: the old
	// regime says nothing of the new one.
	m0 := longRunRate(d)
	f := 0.0
	if d.sinceTotal > 0 {
		f = min(1, longRunWeight/d.sinceTotal)
	}
	a := d.delivered + m0*priorWeight + d.sinceDelivered*f
	b := d.total - d.delivered + (1-m0)*priorWeight + (d.sinceTotal-d.sinceDelivered)*f
	b = max(b, 1e-9) // rounding of the decayed sums
	mu, sigma := delayOf(d)
	v := sigma * sigma
	return Estimate{
		Alpha: a, Beta: b, P: a / (a + b), Evidence: d.total, LongRun: m0, LongRunEvidence: d.slowTotal,
		DelayMedian:   seconds(math.Exp(mu)),
		DelayMean:     seconds(math.Exp(mu + v/2)),
		DelayEvidence: d.dw,
	}
}

// delayOf is the log-normal of the pair's delay in seconds: the log-mean
// and log-spread of its delivered orders with the delay prior.
func delayOf(d *decayed) (mu, sigma float64) {
	mu0 := math.Log(priorDelayMedian.Seconds())
	w := d.dw + priorDelayWeight
	mu = (d.ds1 + priorDelayWeight*mu0) / w
	second := (d.ds2 + priorDelayWeight*(mu0*mu0+priorDelaySigma*priorDelaySigma)) / w
	return mu, math.Sqrt(max(second-mu*mu, 0))
}

func seconds(s float64) time.Duration {
	return time.Duration(min(s, float64(24*time.Hour/time.Second)) * float64(time.Second))
}

// Rate is the posterior mean of the pair's delivery probability.
func (e *Estimator) Rate(platform, country, service string) float64 {
	return e.Estimate(platform, country, service).P
}

// PairEstimate is one pair's estimate, for display.
type PairEstimate struct {
	Country, Service string
	Estimate
}

// Pairs lists the estimates of every pair of platform with a record, by
// country then service.
func (e *Estimator) Pairs(platform string) []PairEstimate {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var out []PairEstimate
	for k := range e.m {
		if k.platform == platform {
			out = append(out, PairEstimate{Country: k.country, Service: k.service, Estimate: e.estimate(k, now)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Country != out[j].Country {
			return out[i].Country < out[j].Country
		}
		return out[i].Service < out[j].Service
	})
	return out
}

// Platform is a platform's recent record over every pair (half-life
// platformHalfLife): the decayed count of ended orders and of those that
// delivered a code.
func (e *Estimator) Platform(platform string) (delivered, total float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.byPlatform[platform]
	if d == nil {
		return 0, 0
	}
	e.decay(d, e.now())
	return d.delivered, d.total
}

// HalfLife is how fast old orders count less.
func (e *Estimator) HalfLife() time.Duration { return e.halfLife }

// Ledger is where Refresh reads ended orders (ledger.Store).
type Ledger interface {
	Ended(ctx context.Context, since time.Time, limit int) ([]ledger.Outcome, error)
}

// Refresh reads from the ledger the orders that ended since the last
// refresh (less syncOverlap) and counts those not counted yet; the first
// call reads the last 8 half-lives (a restart). With several instances on
// one ledger, each one's estimates take in the others' orders within a
// refresh interval. It returns how many orders it counted, and whether it
// read its limit (older orders of the window were left out).
func (e *Estimator) Refresh(ctx context.Context, l Ledger) (counted int, full bool, err error) {
	start := e.now()
	e.mu.Lock()
	since := e.synced.Add(-syncOverlap)
	if e.synced.IsZero() {
		since = start.Add(-loadHalfLives * e.halfLife)
	}
	e.mu.Unlock()
	list, err := l.Ended(ctx, since, syncLimit)
	if err != nil {
		return 0, false, fmt.Errorf("cannot refresh delivery estimates: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.synced.IsZero() || e.synced.Before(start) {
		e.synced = start
	}
	for i := len(list) - 1; i >= 0; i-- { // oldest first
		o := list[i]
		if _, dup := e.seen[o.ID]; dup || o.ID == 0 {
			continue
		}
		counted++ // observe remembers the id (when sharing)
		e.observe(Outcome{Order: o.ID, Platform: o.Platform, Country: o.Country, Service: o.Service,
			Delivered: o.Delivered, Delay: o.TimeToCode, At: o.UpdatedAt})
	}
	// Ids that ended before the next refresh's window cannot come back.
	next := e.synced.Add(-syncOverlap)
	for id, at := range e.seen {
		if at.Before(next) || !e.share {
			delete(e.seen, id)
		}
	}
	return counted, len(list) == syncLimit, nil
}
