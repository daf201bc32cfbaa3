package breaker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memShared is a Shared in memory: what several instances would see
// through one Redis.
type memShared struct {
	mu    sync.Mutex
	m     map[string]time.Time
	reads int
	fail  bool
}

func newMemShared() *memShared { return &memShared{m: map[string]time.Time{}} }

func (s *memShared) PublishOpen(_ context.Context, name string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("down")
	}
	if until.After(s.m[name]) {
		s.m[name] = until
	}
	return nil
}

func (s *memShared) OpenUntil(_ context.Context, name string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail {
		return time.Time{}, errors.New("down")
	}
	return s.m[name], nil
}

func (s *memShared) get(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name]
}

func (s *memShared) set(name string, until time.Time) {
	s.mu.Lock()
	s.m[name] = until
	s.mu.Unlock()
}

func (s *memShared) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// settle waits until b's background poll of Shared, if any, has landed.
// A poll is added to b.polls before the call that started it returns; no
// other goroutine may start one meanwhile (a listener calling Snapshot
// could: such a test ends with Close).
func settle(t *testing.T, b *Breaker) {
	t.Helper()
	b.polls.Wait()
}

func sharedBreaker(clk *fakeClock, sh Shared, ch *changes) *Breaker {
	return New("p", Settings{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second, MaxOpenTimeout: 90 * time.Second,
		Shared: sh, SharedPoll: time.Second, Now: clk.now, OnChange: ch.add})
}

func wantChanges(t *testing.T, ch *changes, want ...Change) {
	t.Helper()
	got := ch.wait(t, len(want))
	if len(got) != len(want) {
		t.Fatalf("changes %+v; want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.From != w.From || g.To != w.To || g.Shared != w.Shared || g.OpenFor != w.OpenFor {
			t.Fatalf("change %d: %s→%s shared=%v for %s; want %s→%s shared=%v for %s", i,
				g.From, g.To, g.Shared, g.OpenFor, w.From, w.To, w.Shared, w.OpenFor)
		}
	}
}

// TestFollowSharedOpening: another instance's opening closes this breaker
// too, then one probe goes through, and its success reopens the traffic.
func TestFollowSharedOpening(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sh := newMemShared()
	var ch changes
	b := sharedBreaker(clk, sh, &ch)
	defer b.Close()

	until := clk.now().Add(10 * time.Second)
	sh.set("p", until) // published by instance A
	call(t, b, nil)    // what B knows is up to a poll old: this one goes through
	settle(t, b)
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow during a shared opening = %v", err)
	}
	if s := b.Snapshot(); s.State != Open || !s.OpenUntil.Equal(until) || s.Trips != 0 {
		t.Fatalf("snapshot during a shared opening %+v; want open until %s, no trips here", s, until)
	}

	clk.add(10 * time.Second)
	probe, err := b.Allow()
	if err != nil {
		t.Fatalf("probe after the shared opening: %v", err)
	}
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("second call while the probe is out = %v; want ErrOpen", err)
	}
	if s := b.Snapshot(); s.State != HalfOpen {
		t.Fatalf("while probing: %s", s.State)
	}
	probe(noNumbers) // a business answer: the platform is healthy
	for i := 0; i < 3; i++ {
		if err := call(t, b, nil); err != nil {
			t.Fatalf("call %d after a good probe: %v", i, err)
		}
	}
	if s := b.Snapshot(); s.State != Closed {
		t.Fatalf("after a good probe: %s", s.State)
	}
	wantChanges(t, &ch,
		Change{From: Closed, To: Open, Shared: true, OpenFor: 10 * time.Second},
		Change{From: Open, To: HalfOpen, Shared: true},
		Change{From: HalfOpen, To: Closed, Shared: true})
}

// TestFollowedProbeFails: a failed probe after a shared opening reopens
// here on this breaker's ladder and publishes the new opening; a cancelled
// probe lets another one in.
func TestFollowedProbeFails(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sh := newMemShared()
	var ch changes
	b := New("p", Settings{ConsecutiveFailures: 3, OpenTimeout: 30 * time.Second,
		Shared: sh, SharedPoll: time.Second, Now: clk.now, OnChange: ch.add})
	defer b.Close()

	sh.set("p", clk.now().Add(5*time.Second))
	call(t, b, nil)
	settle(t, b)
	clk.add(5 * time.Second)

	probe, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	probe(context.Canceled)
	probe, err = b.Allow()
	if err != nil {
		t.Fatalf("after a cancelled probe: %v; want another probe", err)
	}
	probe(unavailable) // one failure: the local breaker (3 in a row) stays closed
	now := clk.now()
	s := b.Snapshot()
	if s.State != Open || !s.OpenUntil.Equal(now.Add(30*time.Second)) || s.Trips != 1 {
		t.Fatalf("after a failed probe %+v; want open for OpenTimeout, 1 trip", s)
	}
	ch.wait(t, 3) // a reopening is told once it is published
	if got := sh.get("p"); !got.Equal(now.Add(30 * time.Second)) {
		t.Fatalf("published %s; want the reopening until %s", got, now.Add(30*time.Second))
	}
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow after a failed probe = %v", err)
	}
	wantChanges(t, &ch,
		Change{From: Closed, To: Open, Shared: true, OpenFor: 5 * time.Second},
		Change{From: Open, To: HalfOpen, Shared: true},
		Change{From: HalfOpen, To: Open, Shared: true, OpenFor: 30 * time.Second})
}

// TestLocalTripPublishes: a local trip is published for the others, and
// reading it back here changes nothing.
func TestLocalTripPublishes(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sh := newMemShared()
	var ch changes
	b := sharedBreaker(clk, sh, &ch)
	defer b.Close()

	call(t, b, unavailable)
	until := b.Snapshot().OpenUntil
	ch.wait(t, 1) // an opening is told once it is published
	if got := sh.get("p"); !got.Equal(until) {
		t.Fatalf("published %s; want %s", got, until)
	}
	settle(t, b) // the first poll (started by the call) has landed
	clk.add(time.Second)
	b.Snapshot() // polls again, reading back our own opening
	settle(t, b)
	if n := sh.readCount(); n < 2 {
		t.Fatalf("%d reads of Shared; want the read-back", n)
	}
	b.Close() // tells every change made so far: a wrong one would show
	wantChanges(t, &ch, Change{From: Closed, To: Open, OpenFor: 30 * time.Second})
}

// TestSharedPollCache: the hot path reads Shared at most once per
// SharedPoll.
func TestSharedPollCache(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sh := newMemShared()
	var ch changes
	b := sharedBreaker(clk, sh, &ch)
	defer b.Close()
	for i := 0; i < 1000; i++ {
		call(t, b, nil)
		b.Snapshot()
	}
	settle(t, b)
	clk.add(999 * time.Millisecond)
	call(t, b, nil)
	settle(t, b)
	if n := sh.readCount(); n != 1 {
		t.Fatalf("%d reads of Shared within one SharedPoll; want 1", n)
	}
	clk.add(time.Millisecond)
	call(t, b, nil)
	settle(t, b)
	if n := sh.readCount(); n != 2 {
		t.Fatalf("%d reads after SharedPoll; want 2", n)
	}
}

// TestSharedDown: with Shared failing, the breaker runs on local state,
// and an opening learnt before the failure still holds.
func TestSharedDown(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sh := newMemShared()
	var ch changes
	b := sharedBreaker(clk, sh, &ch)
	defer b.Close()

	sh.set("p", clk.now().Add(5*time.Second))
	call(t, b, nil)
	settle(t, b)
	sh.mu.Lock()
	sh.fail = true
	sh.mu.Unlock()
	clk.add(time.Second)
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("learnt opening forgotten when Shared fails: %v", err)
	}
	settle(t, b)
	clk.add(4 * time.Second)
	if err := call(t, b, nil); err != nil {
		t.Fatalf("probe with Shared down: %v", err)
	}
	if err := call(t, b, nil); err != nil {
		t.Fatalf("after the probe: %v", err)
	}
	if err := call(t, b, unavailable); err != nil {
		t.Fatal(err)
	}
	if s := b.Snapshot(); s.State != Open || s.Trips != 1 {
		t.Fatalf("local trip with Shared down: %+v", s)
	}
}

// TestSharedConcurrentUse is for the race detector: callers, polls,
// publications and a listener reading snapshots.
func TestSharedConcurrentUse(t *testing.T) {
	sh := newMemShared()
	var b *Breaker
	b = New("p", Settings{ConsecutiveFailures: 3, OpenTimeout: time.Millisecond, Shared: sh, SharedPoll: time.Millisecond,
		OnChange: func(Change) { b.Snapshot() }})
	defer b.Close()
	other := New("p", Settings{ConsecutiveFailures: 1, OpenTimeout: 2 * time.Millisecond, Shared: sh, SharedPoll: time.Millisecond})
	defer other.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				var err error
				if i%3 == 0 {
					err = unavailable
				}
				call(t, b, err)
				if i%50 == 0 {
					call(t, other, unavailable)
				}
			}
		}()
	}
	wg.Wait()
	// Close, not settle: the listener's snapshots may still start polls,
	// and only Close stops new ones before it waits.
	b.Close()
}
