package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"smsgate/internal/redistest"
	"smsgate/limits"
)

// newClient is one gateway instance's client, closed with the test.
func newClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	rdb, err := limits.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestRedisSharedAcrossInstances: breaker A trips; breaker B, of another
// instance (own object, own Redis client), refuses within SharedPoll and
// reports open; when the opening passes, each probes once and closes.
func TestRedisSharedAcrossInstances(t *testing.T) {
	url, prefix := redistest.URL(t)
	const poll = 100 * time.Millisecond
	open := 500 * time.Millisecond
	// One clock for both instances, at the wall time: the key's expiry in
	// Redis is wall time too.
	clk := &fakeClock{t: time.Now()}
	var changesA, changesB changes
	a := New("plat", Settings{ConsecutiveFailures: 1, OpenTimeout: open, Shared: NewRedisShared(newClient(t, url), prefix),
		SharedPoll: poll, Now: clk.now, OnChange: changesA.add})
	defer a.Close()
	b := New("plat", Settings{ConsecutiveFailures: 1, OpenTimeout: open, Shared: NewRedisShared(newClient(t, url), prefix),
		SharedPoll: poll, Now: clk.now, OnChange: changesB.add})
	defer b.Close()
	if err := call(t, b, nil); err != nil {
		t.Fatal(err)
	}
	settle(t, b)

	call(t, a, unavailable)
	until := a.Snapshot().OpenUntil
	changesA.wait(t, 1) // told once published
	// Within a poll B has not looked yet, and lets calls through.
	clk.add(poll / 2)
	if err := call(t, b, nil); err != nil {
		t.Fatalf("B before its next poll: %v", err)
	}
	// At its next poll it reads A's opening and refuses.
	clk.add(poll / 2)
	b.Snapshot()
	settle(t, b)
	if err := call(t, b, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("B a poll after A tripped: %v; want ErrOpen", err)
	}
	s := b.Snapshot()
	if s.State != Open || s.OpenUntil.Sub(until).Abs() > time.Millisecond {
		t.Fatalf("B: %+v; want open until A's %s", s, until)
	}

	clk.mu.Lock()
	clk.t = until.Add(time.Millisecond)
	clk.mu.Unlock()
	for name, br := range map[string]*Breaker{"A": a, "B": b} {
		probe, err := br.Allow()
		if err != nil {
			t.Fatalf("%s: probe after the opening: %v", name, err)
		}
		if err := call(t, br, nil); !errors.Is(err, ErrOpen) {
			t.Fatalf("%s: a second call while probing = %v; want ErrOpen", name, err)
		}
		probe(nil)
		if err := call(t, br, nil); err != nil {
			t.Fatalf("%s: after a good probe: %v", name, err)
		}
		if s := br.Snapshot(); s.State != Closed {
			t.Fatalf("%s: after a good probe: %s", name, s.State)
		}
	}
	first := changesB.wait(t, 1)[0]
	if first.OpenFor <= 0 || first.OpenFor > open {
		t.Fatalf("B followed an opening of %s; want at most A's %s", first.OpenFor, open)
	}
	wantChanges(t, &changesB,
		Change{From: Closed, To: Open, Shared: true, OpenFor: first.OpenFor},
		Change{From: Open, To: HalfOpen, Shared: true},
		Change{From: HalfOpen, To: Closed, Shared: true})
}

// TestRedisSharedKey: the key's format and expiry, and a shorter opening
// never replaces a longer one.
func TestRedisSharedKey(t *testing.T) {
	url, prefix := redistest.URL(t)
	rdb := newClient(t, url)
	sh := NewRedisShared(rdb, prefix)
	ctx := context.Background()
	if u, err := sh.OpenUntil(ctx, "p"); err != nil || !u.IsZero() {
		t.Fatalf("nothing published: %s, %v; want zero, nil", u, err)
	}
	long := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	for _, until := range []time.Time{long, long.Add(-30 * time.Second), time.Now().Add(-time.Second)} {
		if err := sh.PublishOpen(ctx, "p", until); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := sh.OpenUntil(ctx, "p"); err != nil || !u.Equal(long) {
		t.Fatalf("open until %s, %v; want the longest, %s", u, err, long)
	}
	v, _ := rdb.Get(ctx, prefix+"breaker:p").Int64()
	ttl, _ := rdb.PTTL(ctx, prefix+"breaker:p").Result()
	if v != long.UnixMilli() || ttl <= 59*time.Second || ttl > time.Minute {
		t.Fatalf("key %d, ttl %s; want %d (unix ms), about a minute", v, ttl, long.UnixMilli())
	}
	if err := sh.PublishOpen(ctx, "q", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, prefix+"breaker:q").Result(); n != 0 {
		t.Fatal("an opening already over was written")
	}
}

// TestRedisDown needs no Redis: with the hot-path client pointed at a
// Redis that refuses or hangs, calls are answered from local state at once
// and a local trip still opens and closes the breaker.
func TestRedisDown(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"refused", "127.0.0.1:1"},
		{"hung", redistest.Hung(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := limits.NewRedisClient(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			sh := NewRedisShared(rdb, "x:")
			base := 20 * time.Millisecond
			clk := &fakeClock{t: time.Now()}
			b := New("p", Settings{ConsecutiveFailures: 2, OpenTimeout: base, Shared: sh, SharedPoll: time.Millisecond, Now: clk.now})
			defer b.Close()

			var slowest time.Duration
			timed := func(err error) error {
				start := time.Now()
				got := call(t, b, err)
				slowest = max(slowest, time.Since(start))
				return got
			}
			for i := 0; i < 50; i++ {
				if err := timed(nil); err != nil {
					t.Fatalf("call %d with Redis down: %v", i, err)
				}
				clk.add(time.Millisecond) // the next call starts a poll if none is out
			}
			timed(unavailable)
			timed(unavailable) // trips; the publication fails in the background
			if err := timed(nil); !errors.Is(err, ErrOpen) {
				t.Fatalf("after a local trip with Redis down: %v", err)
			}
			if s := b.Snapshot(); s.State != Open {
				t.Fatalf("snapshot after a local trip: %s", s.State)
			}
			clk.add(base + 5*time.Millisecond)
			if err := timed(nil); err != nil {
				t.Fatalf("probe with Redis down: %v", err)
			}
			settle(t, b) // the poll out now has failed (at most sharedTimeout)
			if sh.Errors() == 0 {
				t.Fatal("no Redis error counted")
			}
			t.Logf("slowest call %s with Redis down; %d redis errors", slowest, sh.Errors())
			if slowest > time.Second {
				t.Fatalf("a call took %s with Redis down", slowest)
			}
		})
	}
}
