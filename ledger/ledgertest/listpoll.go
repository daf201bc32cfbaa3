package ledgertest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// listStore is what a list poller asks of the ledger besides Store
// (gateway/poller declares the same at its end).
type listStore interface {
	ledger.Store
	ledger.Rescheduler
	ByUpstream(ctx context.Context, platform string, ids []string) ([]ledger.Order, error)
	ActiveUpstreamIDs(ctx context.Context, platform string) ([]string, error)
	FirstAwaitingPoll(ctx context.Context, platform string) (time.Time, bool, error)
	AwaitingBefore(ctx context.Context, platform string, t time.Time) ([]string, error)
}

// leaseStore has named leases (ledger's AcquireLease).
type leaseStore interface {
	ledger.Store
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// RunListPoll runs the contract of the list poller's ledger queries and
// of named leases as subtests. open is as for Run.
func RunListPoll(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Fatalf, []contractCase[listStore]{
		{"ByUpstream", testByUpstream},
		{"AwaitingCode", testAwaitingCode},
		{"Backstop", testBackstop},
	})
	runCases(t, open, (*testing.T).Fatalf, []contractCase[leaseStore]{
		{"LeaseRenewExpiry", testLeaseRenewExpiry},
		{"LeaseRace", testLeaseRace},
		{"LeaseRelease", testLeaseRelease},
		{"LeaseArguments", testLeaseArguments},
	})
}

// testByUpstream: the active orders of one platform by upstream id, in
// batches larger than one statement takes; ended orders, other platforms'
// orders and unknown ids are left out. ActiveUpstreamIDs lists the same.
func testByUpstream(t *testing.T, s listStore) {
	ctx := context.Background()
	mk := func(platform, upstream string, st adapters.State) ledger.Order {
		o := NewOrder("t1")
		o.Platform, o.UpstreamID, o.State = platform, upstream, st
		return create(t, s, o)
	}
	want := map[string]ledger.Order{}
	var ask []string
	for i := 0; i < 1203; i++ { // three statements' worth
		id := fmt.Sprintf("a-%d", i)
		want[id] = mk("alpha", id, []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting}[i%3])
		ask = append(ask, id)
	}
	mk("alpha", "ended", adapters.StateFinished)
	mk("beta", "a-1", adapters.StateWaiting) // same upstream id, other platform
	ask = append(ask, "ended", "unknown")
	got, err := s.ByUpstream(ctx, "alpha", ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ByUpstream returned %d orders; want %d", len(got), len(want))
	}
	for _, o := range got {
		if d := Diff(want[o.UpstreamID], o); d != "" {
			t.Fatalf("ByUpstream order %s:\n%s", o.UpstreamID, d)
		}
	}
	if got, err := s.ByUpstream(ctx, "alpha", nil); err != nil || len(got) != 0 {
		t.Fatalf("ByUpstream of no id = %v, %v", ids(got), err)
	}
	up, err := s.ActiveUpstreamIDs(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(up)
	wantIDs := slices.Sorted(func(yield func(string) bool) {
		for id := range want {
			if !yield(id) {
				return
			}
		}
	})
	if !reflect.DeepEqual(up, wantIDs) {
		t.Fatalf("ActiveUpstreamIDs: %d ids; want the %d active ones", len(up), len(wantIDs))
	}
}

// testAwaitingCode: a platform awaits a code while it has a waiting or
// retry_waiting order (delivered and ended orders do not count);
// FirstAwaitingPoll is the soonest next poll among them, and
// AwaitingBefore lists those due by a time.
func testAwaitingCode(t *testing.T, s listStore) {
	ctx := context.Background()
	awaits := func(platform string, want time.Time) {
		t.Helper()
		got, ok, err := s.FirstAwaitingPoll(ctx, platform)
		if err != nil || ok != !want.IsZero() || !got.Equal(want) {
			t.Fatalf("FirstAwaitingPoll(%s) = %v, %v, %v; want %v", platform, got, ok, err, want)
		}
	}
	before := func(platform string, at time.Time, want ...string) {
		t.Helper()
		got, err := s.AwaitingBefore(ctx, platform, at)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("AwaitingBefore(%s, %v) = %v, %v; want %v", platform, at, got, err, want)
		}
	}
	now := base.Add(time.Hour).UTC().Truncate(time.Millisecond)
	mk := func(platform, up string, st adapters.State, next time.Duration) ledger.Order {
		o := NewOrder("t1")
		o.Platform, o.UpstreamID, o.State, o.NextPollAt = platform, up, st, now.Add(next)
		return create(t, s, o)
	}
	awaits("alpha", time.Time{})
	delivered := mk("alpha", "d", adapters.StateCodeReceived, -time.Hour)
	mk("alpha", "e", adapters.StateCancelled, 0)
	awaits("alpha", time.Time{}) // delivered and ended only
	before("alpha", now.Add(time.Hour))
	delivered.State, delivered.NextPollAt = adapters.StateRetryWaiting, now.Add(5*time.Second)
	if err := s.Update(ctx, &delivered); err != nil {
		t.Fatal(err)
	}
	mk("alpha", "late", adapters.StateWaiting, 20*time.Minute) // quiet: at its lifetime's end
	mk("alpha", "soon", adapters.StateWaiting, 2*time.Second)
	awaits("alpha", now.Add(2*time.Second))
	before("alpha", now.Add(5*time.Second), "d", "soon")
	before("alpha", now.Add(time.Second))
	awaits("beta", time.Time{})
	mk("beta", "b", adapters.StateWaiting, time.Second)
	awaits("beta", now.Add(time.Second))
	before("beta", now.Add(5*time.Second), "b")
}

// testBackstop: orders a list round found unchanged move to their own
// ExpiresAt in one statement; only active, due orders whose lifetime is
// ahead move, nothing else changes (not the version), and on a shared
// store their Claim lease is released.
func testBackstop(t *testing.T, s listStore) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	mk := func(st adapters.State, nextPoll, expires time.Duration) ledger.Order {
		o := NewOrder("t1")
		o.State, o.NextPollAt, o.ExpiresAt = st, now.Add(nextPoll), now.Add(expires)
		return create(t, s, o)
	}
	due1 := mk(adapters.StateWaiting, -time.Second, 10*time.Minute)
	due2 := mk(adapters.StateRetryWaiting, 0, 20*time.Minute)
	moved := mk(adapters.StateWaiting, time.Minute, 10*time.Minute)   // rescheduled by a writer since
	expired := mk(adapters.StateWaiting, -time.Second, -time.Second)  // past its lifetime: left for the poller
	ended := mk(adapters.StateFinished, -time.Second, 10*time.Minute) // not active
	other := mk(adapters.StateWaiting, -time.Second, 10*time.Minute)  // not asked
	if l, ok := s.(ledger.Leaser); ok {
		if got := claim(t, l, "a", now, time.Hour, 10); len(got) != 4 {
			t.Fatalf("claimed %d orders; want 4", len(got))
		}
	}
	n, err := s.Backstop(ctx, []int64{due1.ID, due2.ID, moved.ID, expired.ID, ended.ID}, now)
	if err != nil || n != 2 {
		t.Fatalf("Backstop = %d, %v; want 2 moved", n, err)
	}
	for _, c := range []struct {
		o    ledger.Order
		next time.Time
	}{{due1, due1.ExpiresAt}, {due2, due2.ExpiresAt}, {moved, moved.NextPollAt}, {expired, expired.NextPollAt},
		{ended, ended.NextPollAt}, {other, other.NextPollAt}} {
		want := c.o
		want.NextPollAt = c.next
		if d := Diff(want, get(t, s, c.o.ID)); d != "" {
			t.Errorf("order %d after Backstop:\n%s", c.o.ID, d)
		}
	}
	if l, ok := s.(ledger.Leaser); ok {
		// Their lease is gone: at their lifetime anyone claims them.
		got := claim(t, l, "b", due2.ExpiresAt, time.Hour, 10)
		if !slices.Contains(ids(got), due1.ID) || !slices.Contains(ids(got), due2.ID) {
			t.Fatalf("claim after Backstop: got ids %v; want %d and %d among them", ids(got), due1.ID, due2.ID)
		}
	}
	if n, err := s.Backstop(ctx, nil, now); err != nil || n != 0 {
		t.Fatalf("Backstop of nothing = %d, %v", n, err)
	}
}

func acquire(t *testing.T, s leaseStore, name, owner string, now time.Time, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.AcquireLease(context.Background(), name, owner, now, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", name, owner, err)
	}
	return ok
}

// testLeaseRenewExpiry: the first owner takes a free lease; another owner
// is refused while it is live; renewing keeps it (and pushes its end);
// once it has expired the other owner takes it over, and the first is
// then refused. Leases of other names are independent.
func testLeaseRenewExpiry(t *testing.T, s leaseStore) {
	now, ttl := base, 15*time.Second
	steps := []struct {
		what        string
		owner       string
		at          time.Duration
		name        string
		wantHolding bool
	}{
		{"a takes the free lease", "a", 0, "list:p", true},
		{"b is refused while a's lease is live", "b", 10 * time.Second, "list:p", false},
		{"another name is free for b", "b", 10 * time.Second, "list:q", true},
		{"a renews before the end", "a", 14 * time.Second, "list:p", true},
		{"b is refused past a's first end: the renewal holds", "b", 20 * time.Second, "list:p", false},
		{"b is refused at the renewed end exactly", "b", 29 * time.Second, "list:p", false},
		{"b takes it over once it expired", "b", 30 * time.Second, "list:p", true},
		{"a, back, is refused", "a", 31 * time.Second, "list:p", false},
		{"b renews", "b", 40 * time.Second, "list:p", true},
	}
	for _, st := range steps {
		if got := acquire(t, s, st.name, st.owner, now.Add(st.at), ttl); got != st.wantHolding {
			t.Fatalf("%s: AcquireLease = %v; want %v", st.what, got, st.wantHolding)
		}
	}
}

// testLeaseRace: many owners asking for one free lease at once: exactly
// one holds it.
func testLeaseRace(t *testing.T, s leaseStore) {
	const owners = 8
	for round := 0; round < 5; round++ {
		name := fmt.Sprintf("list:race%d", round)
		var wg sync.WaitGroup
		held := make([]bool, owners)
		errs := make([]error, owners)
		start := make(chan struct{})
		for i := range owners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				held[i], errs[i] = s.AcquireLease(context.Background(), name, fmt.Sprintf("o%d", i), base, time.Minute)
			}()
		}
		close(start)
		wg.Wait()
		n := 0
		for i := range owners {
			if errs[i] != nil {
				t.Fatalf("owner %d: %v", i, errs[i])
			}
			if held[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d owners hold the lease; want exactly 1", name, n)
		}
	}
}

// testLeaseRelease: a released lease is free at once; releasing a lease
// one does not hold changes nothing.
func testLeaseRelease(t *testing.T, s leaseStore) {
	ctx := context.Background()
	if !acquire(t, s, "list:p", "a", base, time.Minute) {
		t.Fatal("a could not take the free lease")
	}
	if err := s.ReleaseLease(ctx, "list:p", "b"); err != nil {
		t.Fatal(err)
	}
	if acquire(t, s, "list:p", "b", base.Add(time.Second), time.Minute) {
		t.Fatal("b took a's live lease after releasing what it did not hold")
	}
	if err := s.ReleaseLease(ctx, "list:p", "a"); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, s, "list:p", "b", base.Add(2*time.Second), time.Minute) {
		t.Fatal("b could not take the lease a released")
	}
}

func testLeaseArguments(t *testing.T, s leaseStore) {
	ctx := context.Background()
	for _, c := range []struct {
		name, owner string
		ttl         time.Duration
	}{{"", "a", time.Second}, {"n", "", time.Second}, {"n", "a", 0}, {"n", "a", -time.Second}} {
		if ok, err := s.AcquireLease(ctx, c.name, c.owner, base, c.ttl); err == nil || ok {
			t.Errorf("AcquireLease(%q, %q, %v) = %v, %v; want an error", c.name, c.owner, c.ttl, ok, err)
		}
	}
}
