package route

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"smsgate/ledger"
)

// Estimator keeps, per platform × country × service, what routing
// believes of a number bought there: the probability that it delivers a
// code (a Beta posterior over decayed counts of ended orders) and the
// delay to the code (decayed statistics of the log of the delay of
// delivered orders). Evidence fades with a half-life, so the last hour
// weighs most and a platform that turned bad is noticed. It also keeps
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
}

type pairKey struct{ platform, country, service string }

// decayed is a record whose weights all decay from at.
type decayed struct {
	delivered, total float64
	// The delay of delivered orders with a known delay: total weight, and
	// weighted sums of ln(seconds) and of its square.
	dw, ds1, ds2 float64
	at           time.Time
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
const DefaultMaxEvidence = 20

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
	// ended; default 1h.
	HalfLife time.Duration
	// MaxEvidence caps the evidence of a pair (delivery and delay): past
	// it each new order pushes out an equal share of the old, so that the
	// estimate follows a change within about that many orders whatever
	// the order rate (the half-life alone forgets by time: at 1 order a
	// second an hour holds thousands). Default 20.
	MaxEvidence float64
	// Share: Refresh will run periodically (orders of other instances
	// through a shared ledger); the ids of counted orders are remembered
	// so none is counted twice.
	Share bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewEstimator builds an empty estimator.
func NewEstimator(o EstimatorOptions) *Estimator {
	if o.HalfLife <= 0 {
		o.HalfLife = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if !(o.MaxEvidence > 0) {
		o.MaxEvidence = DefaultMaxEvidence
	}
	return &Estimator{now: o.Now, halfLife: o.HalfLife, maxEv: o.MaxEvidence, share: o.Share, m: map[pairKey]*decayed{},
		byPlatform: map[string]*decayed{}, seen: map[int64]time.Time{}}
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
	add(e, e.m, pairKey{o.Platform, o.Country, o.Service}, o.Delivered, delay, o.At, e.maxEv)
	// The platform's record is not capped: a vendor's floor counts orders.
	add(e, e.byPlatform, o.Platform, o.Delivered, 0, o.At, math.Inf(1))
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

func add[K comparable](e *Estimator, m map[K]*decayed, k K, delivered bool, delaySeconds float64, at time.Time, maxEv float64) {
	d := m[k]
	if d == nil {
		d = &decayed{at: at}
		m[k] = d
	}
	e.decay(d, at)
	w := 1.0
	if at.Before(d.at) { // an older event counts less
		w = math.Exp2(-float64(d.at.Sub(at)) / float64(e.halfLife))
	}
	d.total += w
	if delivered {
		d.delivered += w
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

func (e *Estimator) decay(d *decayed, now time.Time) {
	if now.After(d.at) {
		f := math.Exp2(-float64(now.Sub(d.at)) / float64(e.halfLife))
		d.delivered *= f
		d.total *= f
		d.dw *= f
		d.ds1 *= f
		d.ds2 *= f
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
	d := e.m[pairKey{platform, country, service}]
	if d == nil {
		return estimateOf(&decayed{})
	}
	e.decay(d, e.now())
	return estimateOf(d)
}

func estimateOf(d *decayed) Estimate {
	a := d.delivered + priorRate*priorWeight
	b := d.total - d.delivered + (1-priorRate)*priorWeight
	b = max(b, 1e-9) // rounding of the decayed sums
	mu0 := math.Log(priorDelayMedian.Seconds())
	w := d.dw + priorDelayWeight
	mu := (d.ds1 + priorDelayWeight*mu0) / w
	second := (d.ds2 + priorDelayWeight*(mu0*mu0+priorDelaySigma*priorDelaySigma)) / w
	v := max(second-mu*mu, 0)
	return Estimate{
		Alpha: a, Beta: b, P: a / (a + b), Evidence: d.total,
		DelayMedian:   seconds(math.Exp(mu)),
		DelayMean:     seconds(math.Exp(mu + v/2)),
		DelayEvidence: d.dw,
	}
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
	for k, d := range e.m {
		if k.platform == platform {
			e.decay(d, now)
			out = append(out, PairEstimate{Country: k.country, Service: k.service, Estimate: estimateOf(d)})
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

// Platform is a platform's recent record over every pair: the decayed
// count of ended orders and of those that delivered a code.
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
