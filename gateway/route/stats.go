package route

import (
	"math"
	"sync"
	"time"
)

// Stats keeps each platform × country × service's recent delivery record
// (orders that ended with a code vs. without), decayed so that the last
// hour weighs most. It feeds the success and value strategies.
type Stats struct {
	now      func() time.Time
	halfLife time.Duration

	mu sync.Mutex
	m  map[string]*decayed // key platform|country|service; guarded by mu
	// byPlatform is each platform's record over every pair (its account's
	// success rate, what a vendor's floor reads); guarded by mu.
	byPlatform map[string]*decayed
}

type decayed struct {
	delivered, total float64
	at               time.Time
}

// The prior: a platform with no record is assumed to deliver 70% of the
// time, worth 5 orders of evidence, so a new platform still gets traffic
// and one bad order does not sink it.
const (
	priorRate   = 0.7
	priorWeight = 5.0
)

func newStats(now func() time.Time) *Stats {
	return &Stats{now: now, halfLife: time.Hour, m: map[string]*decayed{}, byPlatform: map[string]*decayed{}}
}

func statsKey(platform, country, service string) string {
	return platform + "|" + country + "|" + service
}

// Record adds one ended order.
func (s *Stats) Record(platform, country, service string, delivered bool) {
	s.RecordAt(platform, country, service, delivered, s.now())
}

// RecordAt adds one ended order as of at (loading history from the ledger).
func (s *Stats) RecordAt(platform, country, service string, delivered bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(s.m, statsKey(platform, country, service), delivered, at)
	s.add(s.byPlatform, platform, delivered, at)
}

func (s *Stats) add(m map[string]*decayed, k string, delivered bool, at time.Time) {
	d := m[k]
	if d == nil {
		d = &decayed{at: at}
		m[k] = d
	}
	s.decay(d, at)
	w := 1.0
	if at.Before(d.at) { // an older event counts less
		w = math.Exp2(-float64(d.at.Sub(at)) / float64(s.halfLife))
	}
	d.total += w
	if delivered {
		d.delivered += w
	}
}

func (s *Stats) decay(d *decayed, now time.Time) {
	if now.After(d.at) {
		f := math.Exp2(-float64(now.Sub(d.at)) / float64(s.halfLife))
		d.delivered *= f
		d.total *= f
		d.at = now
	}
}

// Rate is the estimated probability that an order there delivers a code.
func (s *Stats) Rate(platform, country, service string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.m[statsKey(platform, country, service)]
	if d == nil {
		return priorRate
	}
	s.decay(d, s.now())
	return (d.delivered + priorRate*priorWeight) / (d.total + priorWeight)
}

// Platform is a platform's recent record over every pair: the decayed
// count of ended orders and of those that delivered a code.
func (s *Stats) Platform(platform string) (delivered, total float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byPlatform[platform]
	if d == nil {
		return 0, 0
	}
	s.decay(d, s.now())
	return d.delivered, d.total
}

// HalfLife is how fast old orders count less.
func (s *Stats) HalfLife() time.Duration { return s.halfLife }
