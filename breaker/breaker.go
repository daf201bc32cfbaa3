// Package breaker keeps one circuit breaker per platform over gobreaker v2:
// which errors count as failures, an open time that grows with repeated
// trips (as Envoy's outlier ejection does), state changes reported in
// order, outside the breaker's lock, and openings shared between gateway
// instances (shared.go).
package breaker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"smsgate/adapters"
)

// ErrOpen: the platform's breaker is open (or its half-open probe budget is
// used); the platform was not called. Router: try the next platform.
var ErrOpen = errors.New("circuit breaker open")

// Settings of one breaker. Zero fields take the defaults in comments.
type Settings struct {
	ConsecutiveFailures int           // trip after this many failures in a row; default 5
	FailureRatio        float64       // or this share of failures…; default 0.5
	MinRequests         int           // …once the window holds this many calls; default 20
	Interval            time.Duration // rolling window of the closed state; default 60s
	OpenTimeout         time.Duration // first open period; default 30s
	MaxOpenTimeout      time.Duration // cap of OpenTimeout × trips; default 300s
	HalfOpenRequests    int           // probes while half-open; default 1
	// Now is the breaker's clock: open times, half-open and the shared
	// openings all read it (gobreaker's own timer is not used), so tests
	// reach any state by moving it; default time.Now.
	Now func() time.Time
	// OnChange is told every state change, in order, from a goroutine of
	// the breaker's own (never under its lock). May be nil.
	OnChange func(Change)
	// Shared carries openings between gateway instances: this breaker
	// publishes its own and refuses calls while another instance's is in
	// force. nil: local only. Its deadlines are wall-clock, so with Shared
	// set Now must be the wall clock too.
	Shared Shared
	// SharedPoll: Shared is read at most this often (in the background;
	// calls never wait for it); default 200ms.
	SharedPoll time.Duration
}

// State is a breaker state: "closed", "half-open" or "open".
type State string

const (
	Closed   State = "closed"
	HalfOpen State = "half-open"
	Open     State = "open"
)

// Change is one state transition.
type Change struct {
	Name     string
	From, To State
	Trips    int           // consecutive trips so far (1 on a first opening)
	OpenFor  time.Duration // when To is Open: how long it stays open
	At       time.Time
	// Shared marks a change of the opening followed from other instances
	// (Settings.Shared), not of the local breaker: opened elsewhere, probing
	// here after it passed, closed or reopened by that probe.
	Shared bool
}

// Breaker guards one platform. Safe for concurrent use.
type Breaker struct {
	name string
	set  Settings
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]

	mu        sync.Mutex // guards the fields below; taken inside gobreaker's lock, never around it
	trips     int
	openUntil time.Time
	closedAt  time.Time
	follow    follow // another instance's opening (shared.go)
	// halfOpenDue: gobreaker went half-open (it does at once: its own
	// timer is a nanosecond) while openUntil still holds; the change is
	// reported when the injected clock passes openUntil.
	halfOpenDue bool

	changes   chan event
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup // the deliver goroutine; Close waits
	polls     sync.WaitGroup // shared polls in flight (shared.go); Close waits
}

// event is a change on its way to the delivery goroutine.
type event struct {
	Change
	publish bool // an opening found here: share it (Settings.Shared)
}

// New builds a breaker named after its platform.
func New(name string, s Settings) *Breaker {
	if s.ConsecutiveFailures <= 0 {
		s.ConsecutiveFailures = 5
	}
	if s.FailureRatio <= 0 {
		s.FailureRatio = 0.5
	}
	if s.MinRequests <= 0 {
		s.MinRequests = 20
	}
	if s.Interval <= 0 {
		s.Interval = 60 * time.Second
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 30 * time.Second
	}
	if s.MaxOpenTimeout < s.OpenTimeout {
		s.MaxOpenTimeout = 10 * s.OpenTimeout
	}
	if s.HalfOpenRequests <= 0 {
		s.HalfOpenRequests = 1
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.SharedPoll <= 0 {
		s.SharedPoll = 200 * time.Millisecond
	}
	b := &Breaker{name: name, set: s, changes: make(chan event, 64), done: make(chan struct{})}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(s.HalfOpenRequests),
		Interval:    s.Interval,
		// Ten buckets make the closed-state counts a rolling window.
		BucketPeriod: s.Interval / 10,
		// The open time is enforced in Allow through openUntil, on the
		// injected clock; gobreaker's own timer (wall clock) must never
		// hold a call back after that, so it lets go at once.
		Timeout: time.Nanosecond,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if int(c.ConsecutiveFailures) >= s.ConsecutiveFailures {
				return true
			}
			return int(c.Requests) >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(c.Requests)
		},
		IsSuccessful:  func(err error) bool { return !Failure(err) },
		IsExcluded:    Excluded,
		OnStateChange: b.onStateChange,
	})
	b.wg.Add(1)
	go b.deliver()
	return b
}

// Failure reports whether err counts against the platform: only its own
// faults (unavailable, our account refused). A business answer such as "no
// numbers" is a healthy platform saying no.
func Failure(err error) bool { return err != nil && adapters.PlatformFault(err) }

// Excluded reports results that say nothing about the platform: the caller
// went away or ran out of its own time budget before the platform answered.
func Excluded(err error) bool { return errors.Is(err, context.Canceled) }

// onStateChange runs under gobreaker's lock: bookkeeping and a
// non-blocking hand-off only (calling cb.State here would deadlock).
func (b *Breaker) onStateChange(_ string, from, to gobreaker.State) {
	now := b.set.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	c := Change{Name: b.name, From: state(from), To: state(to), At: now}
	if to == gobreaker.StateHalfOpen && now.Before(b.openUntil) {
		b.halfOpenDue = true // still open by our clock: told when it passes
		return
	}
	b.halfOpenDue = false
	switch to {
	case gobreaker.StateOpen:
		d := b.tripLocked(now, from == gobreaker.StateClosed)
		b.openUntil = now.Add(d)
		c.OpenFor = d
	case gobreaker.StateClosed:
		b.closedAt = now
	}
	c.Trips = b.trips
	b.emitLocked(c, to == gobreaker.StateOpen)
}

// tripLocked counts one more trip and returns how long this opening lasts:
// OpenTimeout × consecutive trips, capped. A trip from the closed state
// after a long healthy spell starts the ladder again.
func (b *Breaker) tripLocked(now time.Time, fromClosed bool) time.Duration {
	if fromClosed && !b.closedAt.IsZero() && now.Sub(b.closedAt) > b.set.MaxOpenTimeout {
		b.trips = 0
	}
	b.trips++
	return min(time.Duration(b.trips)*b.set.OpenTimeout, b.set.MaxOpenTimeout)
}

// emitLocked hands a change to the delivery goroutine without blocking
// (b.mu, and possibly gobreaker's lock, are held).
func (b *Breaker) emitLocked(c Change, publish bool) {
	select {
	case b.changes <- event{c, publish}:
	default: // a listener this far behind loses changes rather than stall calls
	}
}

// deliver publishes this instance's openings and tells OnChange, in order.
// It is the only place that writes to Shared: never under a lock, never on
// a caller's path.
func (b *Breaker) deliver() {
	defer b.wg.Done()
	for {
		select {
		case e := <-b.changes:
			if e.publish && b.set.Shared != nil {
				b.publish(e.At.Add(e.OpenFor))
			}
			b.tell(e.Change)
		case <-b.done:
			// Changes already made are still told (not published: the
			// gateway is stopping), so Close leaves no change unreported.
			for {
				select {
				case e := <-b.changes:
					b.tell(e.Change)
				default:
					return
				}
			}
		}
	}
}

func (b *Breaker) tell(c Change) {
	if b.set.OnChange != nil {
		b.set.OnChange(c)
	}
}

// Close stops reporting changes and waits for the breaker's goroutines.
func (b *Breaker) Close() {
	b.closeOnce.Do(func() {
		// Under mu, so no shared poll can start after this (pollLocked
		// checks done under mu before it adds to wg).
		b.mu.Lock()
		close(b.done)
		b.mu.Unlock()
	})
	b.polls.Wait()
	b.wg.Wait()
}

// halfOpenLocked reports a half-open that gobreaker reached while the
// breaker was still open by the injected clock, once that clock passes
// openUntil.
func (b *Breaker) halfOpenLocked(now time.Time) {
	if b.halfOpenDue && !now.Before(b.openUntil) {
		b.halfOpenDue = false
		b.emitLocked(Change{Name: b.name, From: Open, To: HalfOpen, Trips: b.trips, At: b.openUntil}, false)
	}
}

func state(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return Open
	case gobreaker.StateHalfOpen:
		return HalfOpen
	}
	return Closed
}

// Allow asks before calling the platform. On success the caller must call
// done exactly once with the call's classified result, after parsing the
// answer (a 200 with garbage is a failure). On ErrOpen, do not call.
//
// With Settings.Shared it also refuses while another instance's opening is
// in force, and once that passes lets HalfOpenRequests probes through
// before the rest, as a local half-open would.
func (b *Breaker) Allow() (done func(err error), err error) {
	now := b.set.Now()
	b.mu.Lock()
	b.pollLocked(now)
	if now.Before(b.openUntil) {
		b.mu.Unlock()
		return nil, ErrOpen
	}
	b.halfOpenLocked(now)
	probe, gen, ok := b.admitLocked(now)
	b.mu.Unlock()
	if !ok {
		return nil, ErrOpen
	}
	d, err := b.cb.Allow()
	if err != nil {
		if probe {
			b.unprobe(gen)
		}
		return nil, ErrOpen
	}
	if !probe {
		return d, nil
	}
	return func(err error) {
		d(err) // first: a local trip on this result takes over from the probe
		b.probed(gen, err)
	}, nil
}

// Snapshot is a breaker's state for health pages and metrics.
type Snapshot struct {
	State     State
	Trips     int
	OpenUntil time.Time // zero unless open
	Requests  uint32    // in the current window
	Failures  uint32
}

// Snapshot reads the state; an open breaker stays "open" until its grown
// open time passes, whatever gobreaker's own (shorter) timeout says. An
// opening followed from another instance reads "open" too, then
// "half-open" until its probe answers.
func (b *Breaker) Snapshot() Snapshot {
	st := state(b.cb.State())
	cn := b.cb.Counts()
	now := b.set.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pollLocked(now)
	b.halfOpenLocked(now)
	s := Snapshot{State: st, Trips: b.trips, Requests: cn.Requests, Failures: cn.TotalFailures}
	if now.Before(b.openUntil) {
		s.State = Open
		s.OpenUntil = b.openUntil
	}
	switch f := &b.follow; {
	case f.phase == followOpen && now.Before(f.until):
		s.State = Open
		s.OpenUntil = later(s.OpenUntil, f.until)
	case f.phase != followNone && s.State == Closed:
		s.State = HalfOpen
	}
	return s
}

// Name is the platform the breaker guards.
func (b *Breaker) Name() string { return b.name }
