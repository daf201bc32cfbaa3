package breaker

import (
	"context"
	"time"
)

// Shared carries breaker openings between gateway instances. Only the
// decision is shared ("platform X is open until T"); each instance keeps
// its own gobreaker, so a purchase never waits on a distributed lock
// (LIBRARIES.md §1.1). Implementations must answer within ctx.
type Shared interface {
	// PublishOpen says name is open until until. It must never shorten an
	// opening another instance published.
	PublishOpen(ctx context.Context, name string, until time.Time) error
	// OpenUntil is the latest opening of name still in force, or the zero
	// time.
	OpenUntil(ctx context.Context, name string) (time.Time, error)
}

// sharedTimeout is the outer bound of one call to Shared; the Redis
// client's own timeouts (tens of ms on the hot path) normally end it first.
// Calls run in the background (poll, deliver), so a slow Redis delays what
// this instance learns and its OnChange deliveries, never a caller.
const sharedTimeout = time.Second

// follow is the opening this breaker follows from another instance, a
// small state machine beside gobreaker's: open until a deadline, then
// probing (HalfOpenRequests calls, as a local half-open would let through),
// then closed again or reopened by a failed probe. All fields are guarded
// by Breaker.mu.
type follow struct {
	phase      followPhase
	until      time.Time // followOpen: refuse calls before it
	gen        uint64    // bumped on each phase change; older probe results are ignored
	probesLeft int       // followProbing: probes still to admit
	probesOK   int       // followProbing: successful probes so far

	polledAt time.Time // the last poll of Shared started then
	polling  bool      // a poll is in flight
}

type followPhase int

const (
	followNone followPhase = iota
	followOpen
	followProbing
)

// pollLocked starts a background read of Shared when the last one is older
// than SharedPoll. The caller goes on with what is known already.
func (b *Breaker) pollLocked(now time.Time) {
	f := &b.follow
	if b.set.Shared == nil || f.polling || now.Sub(f.polledAt) < b.set.SharedPoll {
		return
	}
	f.polling, f.polledAt = true, now
	select {
	case <-b.done:
		f.polling = false // closed: no new goroutine to wait for
		return
	default:
	}
	b.polls.Add(1)
	go b.poll()
}

func (b *Breaker) poll() {
	defer b.polls.Done()
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	until, err := b.set.Shared.OpenUntil(ctx, b.name)
	cancel()
	now := b.set.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.follow.polling = false
	if err != nil {
		return // local state only; an opening learnt earlier still holds
	}
	b.observeLocked(until, now)
}

// publish shares an opening found here. Errors are dropped: the other
// instances then find the outage themselves.
func (b *Breaker) publish(until time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	_ = b.set.Shared.PublishOpen(ctx, b.name, until)
	cancel()
}

// observeLocked follows a shared opening that outlasts this breaker's own:
// one published by another instance. Our own publication reads back at
// most equal to openUntil (Redis keeps milliseconds), so it changes
// nothing.
func (b *Breaker) observeLocked(until, now time.Time) {
	f := &b.follow
	if !until.After(now) || !until.After(b.openUntil) {
		return
	}
	var from State
	switch f.phase {
	case followOpen:
		f.until = later(f.until, until) // extended elsewhere: nothing to report
		return
	case followProbing:
		from = HalfOpen // another instance's probe failed first
	default:
		from = Closed
	}
	f.phase, f.until = followOpen, until
	f.gen++
	b.emitLocked(Change{Name: b.name, From: from, To: Open, Trips: b.trips, OpenFor: until.Sub(now), At: now, Shared: true}, false)
}

// admitLocked decides a call against the followed opening: refused while
// it is in force, then admitted as one of the probes, then freely.
func (b *Breaker) admitLocked(now time.Time) (probe bool, gen uint64, ok bool) {
	f := &b.follow
	switch f.phase {
	case followNone:
		return false, 0, true
	case followOpen:
		if now.Before(f.until) {
			return false, 0, false
		}
		f.phase, f.probesLeft, f.probesOK = followProbing, b.set.HalfOpenRequests, 0
		f.gen++
		b.emitLocked(Change{Name: b.name, From: Open, To: HalfOpen, Trips: b.trips, At: now, Shared: true}, false)
	}
	if f.probesLeft == 0 {
		return false, 0, false
	}
	f.probesLeft--
	return true, f.gen, true
}

// unprobe gives back a probe slot the local breaker refused.
func (b *Breaker) unprobe(gen uint64) {
	b.mu.Lock()
	if f := &b.follow; f.gen == gen && f.phase == followProbing {
		f.probesLeft++
	}
	b.mu.Unlock()
}

// probed takes a probe's result, classified as for gobreaker. The local
// breaker has already seen it.
func (b *Breaker) probed(gen uint64, err error) {
	now := b.set.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	f := &b.follow
	if f.gen != gen || f.phase != followProbing {
		return // reopened meanwhile: this answer is from an older round
	}
	switch {
	case Excluded(err):
		f.probesLeft++ // says nothing about the platform: let another probe in
	case !Failure(err):
		if f.probesOK++; f.probesOK < b.set.HalfOpenRequests {
			return
		}
		f.phase = followNone
		f.gen++
		b.closedAt = now
		b.emitLocked(Change{Name: b.name, From: HalfOpen, To: Closed, Trips: b.trips, At: now, Shared: true}, false)
	case now.Before(b.openUntil):
		// This failure tripped the local breaker, which reported and
		// published its own opening and now owns the outage.
		f.phase = followNone
		f.gen++
	default:
		// Still down as seen from here: reopen, on this breaker's ladder,
		// and tell the other instances.
		d := b.tripLocked(now, false)
		f.phase, f.until = followOpen, now.Add(d)
		f.gen++
		b.emitLocked(Change{Name: b.name, From: HalfOpen, To: Open, Trips: b.trips, OpenFor: d, At: now, Shared: true}, true)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
