package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// poolStore is a Store that is also a PoolStore.
type poolStore interface {
	ledger.Store
	ledger.PoolStore
}

const poolPlatform = "pool"

// poolNow is when the pool tests lease, awkward like base.
var poolNow = base.Add(time.Hour)

// LeaseReq returns a request of the pool test platform for service over
// candidates at now, with a 20-minute TTL and a one-hour stale block.
func LeaseReq(service string, now time.Time, candidates ...string) ledger.LeaseRequest {
	return ledger.LeaseRequest{
		Platform:   poolPlatform,
		Candidates: candidates,
		Service:    service,
		Country:    "us",
		Now:        now,
		TTL:        20 * time.Minute,
		StaleBlock: time.Hour,
	}
}

func lease(t *testing.T, s ledger.PoolStore, r ledger.LeaseRequest) ledger.Lease {
	t.Helper()
	l, err := s.Lease(context.Background(), r)
	if err != nil {
		t.Fatalf("Lease(%s, %s, %v at %v): %v", r.Platform, r.Service, r.Candidates, r.Now, err)
	}
	return l
}

// tryLease returns the leased phone, or "" on ErrNoFreeNumber.
func tryLease(t *testing.T, s ledger.PoolStore, r ledger.LeaseRequest) string {
	t.Helper()
	l, err := s.Lease(context.Background(), r)
	if errors.Is(err, ledger.ErrNoFreeNumber) {
		return ""
	}
	if err != nil {
		t.Fatalf("Lease(%s, %s, %v at %v): %v", r.Platform, r.Service, r.Candidates, r.Now, err)
	}
	return l.Phone
}

func getLease(t *testing.T, s ledger.PoolStore, platform string, id int64) ledger.Lease {
	t.Helper()
	l, err := s.GetLease(context.Background(), platform, id)
	if err != nil {
		t.Fatalf("GetLease(%s, %d): %v", platform, id, err)
	}
	return l
}

func endLease(t *testing.T, s ledger.PoolStore, l ledger.Lease, outcome adapters.State, at, blockedUntil time.Time) ledger.Lease {
	t.Helper()
	ended, err := s.EndLease(context.Background(), l.Platform, l.ID, outcome, at, blockedUntil)
	if err != nil {
		t.Fatalf("EndLease(%d): %v", l.ID, err)
	}
	return ended
}

// LeaseDiff is Diff for leases.
func LeaseDiff(want, got ledger.Lease) string {
	var d string
	for _, c := range []struct {
		name string
		t    time.Time
	}{{"Since", got.Since}, {"After", got.After}, {"CreatedAt", got.CreatedAt}, {"ExpiresAt", got.ExpiresAt}, {"EndedAt", got.EndedAt}, {"BlockedUntil", got.BlockedUntil}} {
		if !c.t.IsZero() && c.t.Location() != time.UTC {
			d += fmt.Sprintf("%s location %v; want UTC\n", c.name, c.t.Location())
		}
	}
	w, g := normalizeLease(want), normalizeLease(got)
	if !reflect.DeepEqual(w, g) {
		d += fmt.Sprintf("got  %+v\nwant %+v\n", g, w)
	}
	return d
}

func normalizeLease(l ledger.Lease) ledger.Lease {
	for _, p := range []*time.Time{&l.Since, &l.After, &l.CreatedAt, &l.ExpiresAt, &l.EndedAt, &l.BlockedUntil} {
		*p = ms(*p)
	}
	return l
}

func leaseIDs(leases []ledger.Lease) []int64 {
	out := make([]int64, len(leases))
	for i, l := range leases {
		out[i] = l.ID
	}
	return out
}

func testLeaseIDs(t *testing.T, s poolStore) {
	var last int64
	for i := range 5 {
		l := lease(t, s, LeaseReq("tg", poolNow, fmt.Sprintf("1555000%04d", i)))
		if l.ID <= 0 || l.ID <= last {
			t.Fatalf("Lease #%d: id %d after %d; want positive and increasing", i, l.ID, last)
		}
		last = l.ID
	}
}

func testLeaseRoundTrip(t *testing.T, s poolStore) {
	ctx := context.Background()
	r := LeaseReq("tg", base, "15550001", "15550002")
	r.Country = "gb"
	got := lease(t, s, r)
	want := ledger.Lease{
		ID: got.ID, Platform: poolPlatform, Phone: "15550001", Service: "tg", Country: "gb",
		Since: base, After: base, CreatedAt: base, ExpiresAt: base.Add(r.TTL),
	}
	if d := LeaseDiff(want, got); d != "" {
		t.Errorf("Lease:\n%s", d)
	}
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, got.ID)); d != "" {
		t.Errorf("GetLease of an active lease:\n%s", d)
	}
	if !got.Active() {
		t.Errorf("new lease not active: %+v", got)
	}

	// Every field set: moved, then ended with a block.
	want.After = base.Add(3 * time.Minute)
	if err := s.MoveLease(ctx, poolPlatform, got.ID, want.After); err != nil {
		t.Fatalf("MoveLease: %v", err)
	}
	want.EndedAt, want.Outcome, want.BlockedUntil = base.Add(4*time.Minute), adapters.StateBanned, base.Add(72*time.Hour)
	ended := endLease(t, s, got, want.Outcome, want.EndedAt, want.BlockedUntil)
	if d := LeaseDiff(want, ended); d != "" {
		t.Errorf("EndLease:\n%s", d)
	}
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, got.ID)); d != "" {
		t.Errorf("GetLease of an ended lease:\n%s", d)
	}
}

func testFirstFreeCandidate(t *testing.T, s poolStore) {
	candidates := []string{"c", "a", "b"}
	for i, want := range []string{"c", "a", "b", ""} {
		if got := tryLease(t, s, LeaseReq("tg", poolNow, candidates...)); got != want {
			t.Errorf("Lease #%d over %v: got %q; want %q (\"\" = ErrNoFreeNumber)", i, candidates, got, want)
		}
	}
	if _, err := s.Lease(context.Background(), LeaseReq("tg", poolNow)); !errors.Is(err, ledger.ErrNoFreeNumber) {
		t.Errorf("Lease over no candidates: got %v; want ErrNoFreeNumber", err)
	}
}

func testActiveLeaseHoldsPhone(t *testing.T, s poolStore) {
	lease(t, s, LeaseReq("tg", poolNow, "a"))
	for _, c := range []struct {
		service    string
		candidates []string
		want       string
	}{
		{"wa", []string{"a", "b"}, "b"},
		{"tg", []string{"a"}, ""},
		{"vk", []string{"a"}, ""},
	} {
		if got := tryLease(t, s, LeaseReq(c.service, poolNow.Add(time.Minute), c.candidates...)); got != c.want {
			t.Errorf("Lease for %s over %v while a is leased for tg: got %q; want %q", c.service, c.candidates, got, c.want)
		}
	}
}

// testBlockedUntil: a lease of "a" for tg ends at poolNow; then one more
// Lease over [a, b]. Each case uses a platform of its own.
func testBlockedUntil(t *testing.T, s poolStore) {
	blocked := poolNow.Add(time.Hour)
	for i, c := range []struct {
		name         string
		outcome      adapters.State
		blockedUntil time.Time
		service      string
		at           time.Time
		want         string
	}{
		{"same service just before the block ends", adapters.StateFinished, blocked, "tg", blocked.Add(-time.Millisecond), "b"},
		{"same service when the block ends", adapters.StateFinished, blocked, "tg", blocked, "a"},
		{"another service during the block", adapters.StateBanned, blocked, "wa", poolNow, "a"},
		{"cancelled, not blocked", adapters.StateCancelled, time.Time{}, "tg", poolNow, "a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			platform := fmt.Sprintf("%s-%d", poolPlatform, i)
			r := LeaseReq("tg", poolNow, "a")
			r.Platform = platform
			endLease(t, s, lease(t, s, r), c.outcome, poolNow, c.blockedUntil)
			r = LeaseReq(c.service, c.at, "a", "b")
			r.Platform = platform
			if got := tryLease(t, s, r); got != c.want {
				t.Errorf("Lease for %s at end%+v: got %q; want %q", c.service, c.at.Sub(poolNow), got, c.want)
			}
		})
	}
}

func testStaleLease(t *testing.T, s poolStore) {
	r := LeaseReq("tg", poolNow, "a")
	first := lease(t, s, r)
	expires := first.ExpiresAt

	// Just before ExpiresAt the lease holds.
	if got := tryLease(t, s, LeaseReq("wa", expires.Add(-time.Millisecond), "a")); got != "" {
		t.Errorf("Lease just before ExpiresAt: got %q; want ErrNoFreeNumber", got)
	}
	if l := getLease(t, s, poolPlatform, first.ID); !l.Active() {
		t.Errorf("lease ended before its ExpiresAt: %+v", l)
	}

	// At ExpiresAt it is stale: the next Lease ends it as expired, blocking
	// the phone for tg until ExpiresAt+StaleBlock, even though that Lease
	// (for tg too) finds nothing.
	if got := tryLease(t, s, LeaseReq("tg", expires, "a")); got != "" {
		t.Errorf("Lease for the stale lease's service: got %q; want ErrNoFreeNumber", got)
	}
	want := first
	want.EndedAt, want.Outcome, want.BlockedUntil = expires, adapters.StateExpired, expires.Add(r.StaleBlock)
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, first.ID)); d != "" {
		t.Errorf("stale lease after the next Lease:\n%s", d)
	}
	// Other services may have the phone at once.
	if got := tryLease(t, s, LeaseReq("wa", expires.Add(time.Second), "a")); got != "a" {
		t.Errorf("Lease for another service after the stale lease ended: got %q; want a", got)
	}

	// A Lease for another service ends a stale lease and takes its phone
	// in one call.
	r = LeaseReq("tg", poolNow, "b")
	second := lease(t, s, r)
	at := second.ExpiresAt.Add(time.Minute)
	if got := tryLease(t, s, LeaseReq("vk", at, "b")); got != "b" {
		t.Errorf("Lease for another service over a stale lease: got %q; want b", got)
	}
	want = second
	want.EndedAt, want.Outcome, want.BlockedUntil = at, adapters.StateExpired, second.ExpiresAt.Add(r.StaleBlock)
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, second.ID)); d != "" {
		t.Errorf("stale lease ended by another service's Lease:\n%s", d)
	}
}

func testPlatformScope(t *testing.T, s poolStore) {
	ctx := context.Background()
	mine := lease(t, s, LeaseReq("tg", poolNow, "a"))
	// Each platform owns its numbers: the same phone is free elsewhere.
	r := LeaseReq("tg", poolNow, "a")
	r.Platform = "other"
	theirs := lease(t, s, r)
	if theirs.Phone != "a" {
		t.Fatalf("Lease on another platform: got %q; want a", theirs.Phone)
	}

	for _, c := range []struct {
		name     string
		platform string
		id       int64
	}{
		{"another platform's lease", "other", mine.ID},
		{"unknown id", poolPlatform, theirs.ID + 1000},
	} {
		if _, err := s.GetLease(ctx, c.platform, c.id); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("GetLease of %s: got %v; want ErrNotFound", c.name, err)
		}
		if err := s.MoveLease(ctx, c.platform, c.id, poolNow.Add(time.Minute)); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("MoveLease of %s: got %v; want ErrNotFound", c.name, err)
		}
		if _, err := s.EndLease(ctx, c.platform, c.id, adapters.StateFinished, poolNow.Add(time.Minute), time.Time{}); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("EndLease of %s: got %v; want ErrNotFound", c.name, err)
		}
	}
	// None of those touched the lease.
	if d := LeaseDiff(mine, getLease(t, s, poolPlatform, mine.ID)); d != "" {
		t.Errorf("lease after calls through another platform:\n%s", d)
	}
	got, err := s.Leases(ctx, "other", poolNow)
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	if want := []int64{theirs.ID}; !reflect.DeepEqual(leaseIDs(got), want) {
		t.Errorf("Leases of the other platform: got ids %v; want %v", leaseIDs(got), want)
	}
}

func testEndLeaseTwice(t *testing.T, s poolStore) {
	l := lease(t, s, LeaseReq("tg", poolNow, "a"))
	first := endLease(t, s, l, adapters.StateFinished, poolNow.Add(time.Minute), poolNow.Add(time.Hour))
	want := l
	want.EndedAt, want.Outcome, want.BlockedUntil = poolNow.Add(time.Minute), adapters.StateFinished, poolNow.Add(time.Hour)
	if d := LeaseDiff(want, first); d != "" {
		t.Errorf("first EndLease:\n%s", d)
	}
	// Ending again changes nothing and returns the lease as it is.
	again := endLease(t, s, l, adapters.StateBanned, poolNow.Add(2*time.Minute), poolNow.Add(48*time.Hour))
	if d := LeaseDiff(want, again); d != "" {
		t.Errorf("second EndLease:\n%s", d)
	}
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, l.ID)); d != "" {
		t.Errorf("GetLease after the second EndLease:\n%s", d)
	}
}

func testMoveLease(t *testing.T, s poolStore) {
	ctx := context.Background()
	l := lease(t, s, LeaseReq("tg", poolNow, "a"))
	want := l
	want.After = poolNow.Add(2 * time.Minute)
	if err := s.MoveLease(ctx, poolPlatform, l.ID, want.After); err != nil {
		t.Fatalf("MoveLease: %v", err)
	}
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, l.ID)); d != "" {
		t.Errorf("after MoveLease (only After changes):\n%s", d)
	}
	want = endLease(t, s, l, adapters.StateFinished, poolNow.Add(3*time.Minute), time.Time{})
	// An ended lease is left as it is.
	if err := s.MoveLease(ctx, poolPlatform, l.ID, poolNow.Add(4*time.Minute)); err != nil {
		t.Errorf("MoveLease of an ended lease: %v; want nil", err)
	}
	if d := LeaseDiff(want, getLease(t, s, poolPlatform, l.ID)); d != "" {
		t.Errorf("MoveLease changed an ended lease:\n%s", d)
	}
}

func testLeases(t *testing.T, s poolStore) {
	ctx := context.Background()
	now := poolNow.Add(time.Hour) // when Leases is asked
	mk := func(phone string) ledger.Lease {
		r := LeaseReq("tg", poolNow, phone)
		r.TTL = 2 * time.Hour // not stale at now
		return lease(t, s, r)
	}
	end := func(l ledger.Lease, blockedUntil time.Time) {
		endLease(t, s, l, adapters.StateFinished, poolNow.Add(time.Minute), blockedUntil)
	}
	active := mk("a")
	blocked := mk("b")
	end(blocked, now.Add(time.Millisecond))
	end(mk("c"), time.Time{})                 // not blocked
	end(mk("d"), now)                         // block over at now
	end(mk("e"), poolNow.Add(30*time.Minute)) // block over before now
	r := LeaseReq("tg", poolNow, "f")
	r.Platform = "other"
	lease(t, s, r)
	active2 := mk("g")

	got, err := s.Leases(ctx, poolPlatform, now)
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	want := []ledger.Lease{active, getLease(t, s, poolPlatform, blocked.ID), active2}
	if !reflect.DeepEqual(leaseIDs(got), leaseIDs(want)) {
		t.Fatalf("Leases: got ids %v; want %v (active and still blocked, oldest first)", leaseIDs(got), leaseIDs(want))
	}
	for i := range got {
		if d := LeaseDiff(want[i], got[i]); d != "" {
			t.Errorf("Leases[%d]:\n%s", i, d)
		}
	}
	if got, err := s.Leases(ctx, "nobody", now); err != nil || len(got) != 0 {
		t.Errorf("Leases of a platform without leases: got %v, %v; want none, nil", leaseIDs(got), err)
	}
}

func testPoolMessages(t *testing.T, s poolStore) {
	ctx := context.Background()
	add := func(platform, phone string, m ledger.PoolMessage) ledger.PoolMessage {
		t.Helper()
		if err := s.AddPoolMessage(ctx, platform, phone, m); err != nil {
			t.Fatalf("AddPoolMessage: %v", err)
		}
		m.At = ms(m.At)
		return m
	}
	t0 := poolNow
	m1 := add(poolPlatform, "a", ledger.PoolMessage{From: "Telegram", Text: "Telegram code 12345", At: t0})
	m2 := add(poolPlatform, "a", ledger.PoolMessage{From: "WhatsApp", Text: "Код: 654321 — не сообщайте", At: t0.Add(time.Minute), Pushed: true})
	m3 := add(poolPlatform, "a", ledger.PoolMessage{From: "+15550000", Text: "same instant, added later", At: t0.Add(time.Minute)})
	m4 := add(poolPlatform, "a", ledger.PoolMessage{Text: "no sender", At: t0.Add(2 * time.Minute)})
	b1 := add(poolPlatform, "b", ledger.PoolMessage{From: "x", Text: "for b", At: t0.Add(time.Minute)})
	add("other", "a", ledger.PoolMessage{From: "x", Text: "other platform", At: t0.Add(time.Minute)})

	check := func(name, phone string, since time.Time, want []ledger.PoolMessage) {
		t.Helper()
		got, err := s.PoolMessages(ctx, poolPlatform, phone, since)
		if err != nil {
			t.Fatalf("%s: PoolMessages: %v", name, err)
		}
		for i, m := range got {
			if m.At.Location() != time.UTC {
				t.Errorf("%s: message %d At location %v; want UTC", name, i, m.At.Location())
			}
			got[i].At = ms(m.At)
		}
		if len(got) != 0 || len(want) != 0 {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\ngot  %+v\nwant %+v", name, got, want)
			}
		}
	}
	for _, c := range []struct {
		name  string
		phone string
		since time.Time
		want  []ledger.PoolMessage
	}{
		{"since the zero time", "a", time.Time{}, []ledger.PoolMessage{m1, m2, m3, m4}},
		{"since an instant with messages", "a", t0.Add(time.Minute), []ledger.PoolMessage{m2, m3, m4}},
		{"since just after", "a", t0.Add(time.Minute + time.Millisecond), []ledger.PoolMessage{m4}},
		{"since after the last", "a", t0.Add(3 * time.Minute), nil},
		{"another phone", "b", time.Time{}, []ledger.PoolMessage{b1}},
		{"unknown phone", "c", time.Time{}, nil},
	} {
		check(c.name, c.phone, c.since, c.want)
	}

	// A message drops the phone's messages more than a day older than it;
	// exactly a day older stays.
	m5 := add(poolPlatform, "a", ledger.PoolMessage{From: "y", Text: "a day later", At: t0.Add(24 * time.Hour)})
	check("after a message a day later", "a", time.Time{}, []ledger.PoolMessage{m1, m2, m3, m4, m5})
	m6 := add(poolPlatform, "a", ledger.PoolMessage{From: "y", Text: "a day and a minute later", At: t0.Add(24*time.Hour + time.Minute)})
	check("after a message a day and a minute later", "a", time.Time{}, []ledger.PoolMessage{m2, m3, m4, m5, m6})
	check("another phone after pruning", "b", time.Time{}, []ledger.PoolMessage{b1})
}

func testPoolArguments(t *testing.T, s poolStore) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(r *ledger.LeaseRequest)
	}{
		{"empty platform", func(r *ledger.LeaseRequest) { r.Platform = "" }},
		{"zero TTL", func(r *ledger.LeaseRequest) { r.TTL = 0 }},
		{"negative TTL", func(r *ledger.LeaseRequest) { r.TTL = -time.Second }},
		{"negative stale block", func(r *ledger.LeaseRequest) { r.StaleBlock = -time.Second }},
		{"zero Now", func(r *ledger.LeaseRequest) { r.Now = time.Time{} }},
		{"empty candidate", func(r *ledger.LeaseRequest) { r.Candidates = []string{"", "a"} }},
	} {
		r := LeaseReq("tg", poolNow, "a")
		c.change(&r)
		if _, err := s.Lease(ctx, r); err == nil || errors.Is(err, ledger.ErrNoFreeNumber) {
			t.Errorf("Lease with %s: got %v; want an argument error", c.name, err)
		}
	}
	if got, err := s.Leases(ctx, poolPlatform, poolNow); err != nil || len(got) != 0 {
		t.Fatalf("Leases after refused calls: got %v, %v; want none", leaseIDs(got), err)
	}

	l := lease(t, s, LeaseReq("tg", poolNow, "a"))
	for _, c := range []struct {
		name    string
		outcome adapters.State
		at      time.Time
	}{
		{"an active outcome", adapters.StateWaiting, poolNow},
		{"an unknown outcome", "gone", poolNow},
		{"no outcome", "", poolNow},
		{"a zero time", adapters.StateFinished, time.Time{}},
	} {
		if _, err := s.EndLease(ctx, poolPlatform, l.ID, c.outcome, c.at, time.Time{}); err == nil {
			t.Errorf("EndLease with %s: got nil error", c.name)
		}
	}
	if err := s.MoveLease(ctx, poolPlatform, l.ID, time.Time{}); err == nil {
		t.Errorf("MoveLease to the zero time: got nil error")
	}
	if d := LeaseDiff(l, getLease(t, s, poolPlatform, l.ID)); d != "" {
		t.Errorf("lease after refused calls:\n%s", d)
	}

	for _, c := range []struct {
		name, platform, phone string
		at                    time.Time
	}{
		{"empty platform", "", "a", poolNow},
		{"empty phone", poolPlatform, "", poolNow},
		{"zero time", poolPlatform, "a", time.Time{}},
	} {
		if err := s.AddPoolMessage(ctx, c.platform, c.phone, ledger.PoolMessage{Text: "x", At: c.at}); err == nil {
			t.Errorf("AddPoolMessage with %s: got nil error", c.name)
		}
	}
	if got, err := s.PoolMessages(ctx, poolPlatform, "a", time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("PoolMessages after refused calls: got %v, %v; want none", got, err)
	}
}

// testConcurrentLeases: more callers than phones, all at once; each phone
// goes to exactly one of them.
func testConcurrentLeases(t *testing.T, s poolStore) {
	const callers = 32
	phones := []string{"p1", "p2", "p3", "p4", "p5"}
	got := make([]ledger.Lease, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			got[i], errs[i] = s.Lease(context.Background(), LeaseReq(fmt.Sprintf("s%d", i%3), poolNow, phones...))
		})
	}
	wg.Wait()
	holders := make(map[string]int)
	for i, err := range errs {
		switch {
		case err == nil:
			if prev, dup := holders[got[i].Phone]; dup {
				t.Errorf("callers %d and %d both leased %s", prev, i, got[i].Phone)
			}
			holders[got[i].Phone] = i
		case !errors.Is(err, ledger.ErrNoFreeNumber):
			t.Errorf("caller %d: %v; want a lease or ErrNoFreeNumber", i, err)
		}
	}
	if len(holders) != len(phones) {
		t.Errorf("%d phones leased (%v); want all %d", len(holders), holders, len(phones))
	}
	active, err := s.Leases(context.Background(), poolPlatform, poolNow)
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	if len(active) != len(phones) {
		t.Errorf("Leases: got %d; want %d", len(active), len(phones))
	}
}

func testPoolAfterClose(t *testing.T, s poolStore) {
	ctx := context.Background()
	l := lease(t, s, LeaseReq("tg", poolNow, "a"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"Lease", func() error { _, err := s.Lease(ctx, LeaseReq("tg", poolNow, "b")); return err }()},
		{"GetLease", func() error { _, err := s.GetLease(ctx, poolPlatform, l.ID); return err }()},
		{"MoveLease", s.MoveLease(ctx, poolPlatform, l.ID, poolNow.Add(time.Minute))},
		{"EndLease", func() error {
			_, err := s.EndLease(ctx, poolPlatform, l.ID, adapters.StateFinished, poolNow, time.Time{})
			return err
		}()},
		{"Leases", func() error { _, err := s.Leases(ctx, poolPlatform, poolNow); return err }()},
		{"AddPoolMessage", s.AddPoolMessage(ctx, poolPlatform, "a", ledger.PoolMessage{Text: "x", At: poolNow})},
		{"PoolMessages", func() error { _, err := s.PoolMessages(ctx, poolPlatform, "a", time.Time{}); return err }()},
	} {
		if !errors.Is(c.err, ledger.ErrClosed) {
			t.Errorf("%s after Close: got %v; want ErrClosed", c.name, c.err)
		}
	}
}
