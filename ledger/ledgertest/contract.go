// Package ledgertest is the contract every ledger.Store must pass.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// base is an awkward instant on purpose: not UTC, with nanoseconds, so that
// the UTC conversion and millisecond truncation are exercised.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.FixedZone("MSK", 3*3600))

// upstreamSeq numbers NewOrder's upstream ids: a store refuses two active
// orders of one platform with the same one.
var upstreamSeq atomic.Int64

// NewOrder returns a fully populated active order for tenant, with an
// upstream id of its own; tests change what they need.
func NewOrder(tenant string) ledger.Order {
	return ledger.Order{
		Tenant:     tenant,
		Platform:   "alpha",
		UpstreamID: fmt.Sprintf("up-%d", upstreamSeq.Add(1)),
		Phone:      "79001234567",
		Country:    "ru",
		Service:    "tg",
		Operator:   "mts",
		Price:      adapters.Money{Micros: 12_500_000, Currency: "RUB"},
		BasePrice:  adapters.Money{Micros: 135_000, Currency: "USD"},
		State:      adapters.StateWaiting,
		// What the tenant pays: the cost with a markup, in its currency.
		TenantPrice:     adapters.Money{Micros: 15_000_000, Currency: "RUB"},
		TenantPriceBase: adapters.Money{Micros: 162_000, Currency: "USD"},
		CreatedAt:       base,
		UpdatedAt:       base.Add(time.Second),
		ExpiresAt:       base.Add(20 * time.Minute),
		NextPollAt:      base.Add(5 * time.Second),
	}
}

// Diff describes how got differs from want at the precision a Store keeps
// (milliseconds, UTC; an empty code list equals a nil one), or returns "".
// It also reports non-zero times that come back in a location other than UTC.
func Diff(want, got ledger.Order) string {
	var d string
	for _, c := range []struct {
		name string
		t    time.Time
	}{{"CreatedAt", got.CreatedAt}, {"UpdatedAt", got.UpdatedAt}, {"ExpiresAt", got.ExpiresAt}, {"NextPollAt", got.NextPollAt}} {
		if !c.t.IsZero() && c.t.Location() != time.UTC {
			d += fmt.Sprintf("%s location %v; want UTC\n", c.name, c.t.Location())
		}
	}
	for i, c := range got.Codes {
		if !c.ReceivedAt.IsZero() && c.ReceivedAt.Location() != time.UTC {
			d += fmt.Sprintf("Codes[%d].ReceivedAt location %v; want UTC\n", i, c.ReceivedAt.Location())
		}
	}
	w, g := normalize(want), normalize(got)
	if !reflect.DeepEqual(w, g) {
		d += fmt.Sprintf("got  %+v\nwant %+v\n", g, w)
	}
	return d
}

func normalize(o ledger.Order) ledger.Order {
	o.CreatedAt = ms(o.CreatedAt)
	o.UpdatedAt = ms(o.UpdatedAt)
	o.ExpiresAt = ms(o.ExpiresAt)
	o.NextPollAt = ms(o.NextPollAt)
	if len(o.Codes) == 0 {
		o.Codes = nil
	} else {
		codes := make([]ledger.Code, len(o.Codes))
		for i, c := range o.Codes {
			c.ReceivedAt = ms(c.ReceivedAt)
			codes[i] = c
		}
		o.Codes = codes
	}
	return o
}

// ms truncates to the millisecond in UTC, dropping the monotonic reading, so
// that reflect.DeepEqual compares instants.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func create(t *testing.T, s ledger.Store, o ledger.Order) ledger.Order {
	t.Helper()
	if err := s.Create(context.Background(), &o); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return o
}

func get(t *testing.T, s ledger.Store, id int64) ledger.Order {
	t.Helper()
	o, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	return o
}

func ids(orders []ledger.Order) []int64 {
	out := make([]int64, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

func testCreateIDs(t *testing.T, s ledger.Store) {
	var last int64
	for i := range 5 {
		o := NewOrder("t1")
		o.ID = 999 // ignored: the store assigns ids
		if err := s.Create(context.Background(), &o); err != nil {
			t.Fatalf("Create #%d: %v", i, err)
		}
		if o.ID <= 0 || o.ID <= last {
			t.Fatalf("Create #%d: id %d after %d; want positive and increasing", i, o.ID, last)
		}
		last = o.ID
	}
}

func testRoundTrip(t *testing.T, s ledger.Store) {
	full := NewOrder("t1")
	full.State = adapters.StateCodeReceived
	full.Codes = []ledger.Code{
		{Code: "123456", Text: "Your code is 123456", From: "Telegram", ReceivedAt: base.Add(time.Minute)},
		{Code: "654321", Text: "Код: 654321 — не сообщайте никому", From: "+79990000000", ReceivedAt: base.Add(2 * time.Minute)},
	}
	full.CodesSeen = 1
	full.IdempotencyKey = "req-1"
	full.Price = adapters.Money{Micros: -1, Currency: "EUR"} // sign and single micro survive
	full = create(t, s, full)
	if d := Diff(full, get(t, s, full.ID)); d != "" {
		t.Errorf("full order:\n%s", d)
	}

	// The zero values must come back as zero values, not as 1970 or "[]".
	minimal := create(t, s, ledger.Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting})
	got := get(t, s, minimal.ID)
	if d := Diff(minimal, got); d != "" {
		t.Errorf("minimal order:\n%s", d)
	}
	if !got.CreatedAt.IsZero() || !got.NextPollAt.IsZero() || len(got.Codes) != 0 || !got.Price.IsZero() {
		t.Errorf("minimal order: got %+v; want zero times, no codes, zero money", got)
	}
}

func testGetUnknown(t *testing.T, s ledger.Store) {
	o := create(t, s, NewOrder("t1"))
	for _, id := range []int64{o.ID + 1000, 0, -1} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Get(%d): got %v; want ErrNotFound", id, err)
		}
	}
}

func testUpdate(t *testing.T, s ledger.Store) {
	o := create(t, s, NewOrder("t1"))
	other := create(t, s, NewOrder("t1"))

	o.State = adapters.StateCodeReceived
	o.Codes = []ledger.Code{{Code: "4242", Text: "code 4242", From: "WhatsApp", ReceivedAt: base.Add(3 * time.Minute)}}
	o.CodesSeen = 1
	o.UpdatedAt = base.Add(3 * time.Minute)
	o.ExpiresAt = base.Add(30 * time.Minute)
	o.NextPollAt = base.Add(4 * time.Minute)
	o.UpstreamID = "up-456"
	o.Phone = "79007654321"
	if err := s.Update(context.Background(), &o); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if o.Version != 1 {
		t.Errorf("Version after the first Update: %d; want 1", o.Version)
	}
	if d := Diff(o, get(t, s, o.ID)); d != "" {
		t.Errorf("after Update:\n%s", d)
	}

	// Finish it: no longer active, NextPollAt cleared.
	o.State = adapters.StateFinished
	o.NextPollAt = time.Time{}
	if err := s.Update(context.Background(), &o); err != nil {
		t.Fatalf("Update to finished: %v", err)
	}
	if d := Diff(o, get(t, s, o.ID)); d != "" {
		t.Errorf("after second Update:\n%s", d)
	}

	// Only the mutable fields are written.
	changed := o
	changed.Tenant, changed.Platform, changed.Country, changed.Service, changed.Operator = "t2", "beta", "kz", "wa", "beeline"
	changed.Price = adapters.Money{Micros: 1, Currency: "XXX"}
	changed.BasePrice = adapters.Money{Micros: 2, Currency: "XXX"}
	changed.CreatedAt = base.Add(time.Hour)
	changed.IdempotencyKey = "sneaky"
	changed.TenantPrice = adapters.Money{Micros: 3, Currency: "XXX"}
	changed.TenantPriceBase = adapters.Money{Micros: 4, Currency: "XXX"}
	changed.Wallet = ledger.WalletCaptured // only a movement changes it
	changed.IntentID = 99
	if err := s.Update(context.Background(), &changed); err != nil {
		t.Fatalf("Update of immutable fields: %v", err)
	}
	if changed.Version != o.Version+1 {
		t.Errorf("Version after Update: %d; want %d", changed.Version, o.Version+1)
	}
	o.Version = changed.Version // the one field that write changed
	if d := Diff(o, get(t, s, o.ID)); d != "" {
		t.Errorf("Update wrote immutable fields:\n%s", d)
	}

	// The other order is untouched.
	if d := Diff(other, get(t, s, other.ID)); d != "" {
		t.Errorf("Update changed another order:\n%s", d)
	}
}

func testUpdateUnknown(t *testing.T, s ledger.Store) {
	o := create(t, s, NewOrder("t1"))
	o.ID += 1000
	if err := s.Update(context.Background(), &o); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Update(unknown id): got %v; want ErrNotFound", err)
	}
}

func testIdempotencyKey(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	a := NewOrder("t1")
	a.IdempotencyKey = "k1"
	a = create(t, s, a)

	dup := NewOrder("t1")
	dup.IdempotencyKey = "k1"
	if err := s.Create(ctx, &dup); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("Create with a used key: got %v; want ErrConflict", err)
	}
	if dup.ID != 0 {
		t.Errorf("Create with a used key set ID %d; want 0", dup.ID)
	}

	// The same key for another tenant is another request.
	b := NewOrder("t2")
	b.IdempotencyKey = "k1"
	b = create(t, s, b)

	// No key never conflicts.
	e1 := create(t, s, NewOrder("t1"))
	e2 := create(t, s, NewOrder("t1"))

	// The conflict left the store as it was.
	all, err := s.List(ctx, ledger.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := ids(all), []int64{e2.ID, e1.ID, b.ID, a.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("orders after a conflict: got ids %v; want %v", got, want)
	}
}

// testDuplicateUpstream: a second active order for a platform's upstream
// id is refused with ErrDuplicateUpstream naming both, and changes
// nothing; the same id on another platform, an empty id, and an id whose
// earlier order has ended are all fine.
func testDuplicateUpstream(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	first := NewOrder("t1")
	first.UpstreamID = "777001"
	first = create(t, s, first)

	for _, st := range []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting} {
		dup := NewOrder("t2") // another tenant: the upstream activation is the same
		dup.UpstreamID, dup.State = "777001", st
		err := s.Create(ctx, &dup)
		if !errors.Is(err, ledger.ErrDuplicateUpstream) {
			t.Fatalf("Create(%s, same platform and upstream id): got %v; want ErrDuplicateUpstream", st, err)
		}
		if errors.Is(err, ledger.ErrConflict) {
			t.Errorf("duplicate upstream id reported as an idempotency conflict: %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "alpha") || !strings.Contains(msg, "777001") {
			t.Errorf("error %q does not name the platform and the upstream id", msg)
		}
		if dup.ID != 0 {
			t.Errorf("refused Create set ID %d; want 0", dup.ID)
		}
	}
	if all, err := s.List(ctx, ledger.Filter{}); err != nil || len(all) != 1 {
		t.Fatalf("after refused duplicates: %d orders (err %v); want 1", len(all), err)
	}
	if d := Diff(first, get(t, s, first.ID)); d != "" {
		t.Errorf("first order changed:\n%s", d)
	}

	other := NewOrder("t1")
	other.Platform, other.UpstreamID = "beta", "777001"
	create(t, s, other)
	for range 2 {
		blank := NewOrder("t1")
		blank.UpstreamID = ""
		create(t, s, blank)
	}
	ended := NewOrder("t1")
	ended.UpstreamID, ended.State = "777001", adapters.StateFinished
	create(t, s, ended)

	// Update may not give an active order another's id either.
	second := create(t, s, NewOrder("t1"))
	second.UpstreamID = "777001"
	if err := s.Update(ctx, &second); !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("Update to an active order's upstream id: got %v; want ErrDuplicateUpstream", err)
	}

	// Once the first order has ended, its id may be sold again (a rental
	// platform's id names a number, which comes back).
	first.State, first.NextPollAt = adapters.StateExpired, time.Time{}
	if err := s.Update(ctx, &first); err != nil {
		t.Fatalf("Update to expired: %v", err)
	}
	again := NewOrder("t1")
	again.UpstreamID = "777001"
	create(t, s, again)
	if err := s.Update(ctx, &second); !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("Update to the new active order's upstream id: got %v; want ErrDuplicateUpstream", err)
	}
}

// testConcurrentDuplicateUpstream: of several orders for one upstream id
// created at once (one SQLite batch, or racing PostgreSQL inserts),
// exactly one is stored.
func testConcurrentDuplicateUpstream(t *testing.T, s ledger.Store) {
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := NewOrder(fmt.Sprintf("t%d", i))
			o.UpstreamID = "race-1"
			errs[i] = s.Create(context.Background(), &o)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ledger.ErrDuplicateUpstream):
			t.Errorf("Create #%d: %v; want nil or ErrDuplicateUpstream", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d creates of one upstream id succeeded; want 1", ok, n)
	}
}

func testGetByIdempotencyKey(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	a := NewOrder("t1")
	a.IdempotencyKey = "k1"
	a = create(t, s, a)
	b := NewOrder("t2")
	b.IdempotencyKey = "k1"
	b.Phone = "79000000002"
	b = create(t, s, b)
	create(t, s, NewOrder("t1")) // no key

	for _, want := range []ledger.Order{a, b} {
		got, err := s.GetByIdempotencyKey(ctx, want.Tenant, "k1")
		if err != nil {
			t.Fatalf("GetByIdempotencyKey(%s, k1): %v", want.Tenant, err)
		}
		if d := Diff(want, got); d != "" {
			t.Errorf("GetByIdempotencyKey(%s, k1):\n%s", want.Tenant, d)
		}
	}
	for _, c := range []struct{ tenant, key string }{
		{"t1", "k2"}, // unknown key
		{"t3", "k1"}, // another tenant's key
		{"t1", ""},   // empty means none, even though t1 has keyless orders
	} {
		if _, err := s.GetByIdempotencyKey(ctx, c.tenant, c.key); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("GetByIdempotencyKey(%q, %q): got %v; want ErrNotFound", c.tenant, c.key, err)
		}
	}
}

func testList(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	mk := func(tenant, platform string, st adapters.State) ledger.Order {
		o := NewOrder(tenant)
		o.Platform = platform
		o.State = st
		return create(t, s, o)
	}
	a1 := mk("A", "alpha", adapters.StateWaiting)
	b1 := mk("B", "alpha", adapters.StateWaiting)
	a2 := mk("A", "beta", adapters.StateFinished)
	a3 := mk("A", "alpha", adapters.StateCodeReceived)
	a4 := mk("A", "beta", adapters.StateRetryWaiting)
	b2 := mk("B", "beta", adapters.StateCancelled)
	a5 := mk("A", "alpha", adapters.StateExpired)

	for _, c := range []struct {
		name string
		f    ledger.Filter
		want []ledger.Order
	}{
		{"tenant", ledger.Filter{Tenant: "A"}, []ledger.Order{a5, a4, a3, a2, a1}},
		{"other tenant", ledger.Filter{Tenant: "B"}, []ledger.Order{b2, b1}},
		{"unknown tenant", ledger.Filter{Tenant: "C"}, nil},
		{"every tenant", ledger.Filter{}, []ledger.Order{a5, b2, a4, a3, a2, b1, a1}},
		{"active only", ledger.Filter{Tenant: "A", ActiveOnly: true}, []ledger.Order{a4, a3, a1}},
		{"platform", ledger.Filter{Tenant: "A", Platform: "alpha"}, []ledger.Order{a5, a3, a1}},
		{"platform, every tenant", ledger.Filter{Platform: "beta"}, []ledger.Order{b2, a4, a2}},
		{"active on a platform", ledger.Filter{Tenant: "A", Platform: "beta", ActiveOnly: true}, []ledger.Order{a4}},
		{"limit keeps the newest", ledger.Filter{Tenant: "A", Limit: 2}, []ledger.Order{a5, a4}},
		{"limit above the count", ledger.Filter{Tenant: "B", Limit: 10}, []ledger.Order{b2, b1}},
	} {
		got, err := s.List(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: List(%+v): %v", c.name, c.f, err)
		}
		if !reflect.DeepEqual(ids(got), ids(c.want)) {
			t.Errorf("%s: List(%+v): got ids %v; want %v", c.name, c.f, ids(got), ids(c.want))
			continue
		}
		for i := range got {
			if d := Diff(c.want[i], got[i]); d != "" {
				t.Errorf("%s: List(%+v)[%d]:\n%s", c.name, c.f, i, d)
			}
		}
	}
}

func testDue(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	mk := func(st adapters.State, nextPoll time.Duration) ledger.Order {
		o := NewOrder("t1")
		o.State = st
		o.NextPollAt = now.Add(nextPoll)
		return create(t, s, o)
	}
	late := mk(adapters.StateWaiting, -2*time.Second)
	future := mk(adapters.StateWaiting, time.Second)
	latest := mk(adapters.StateCodeReceived, -3*time.Second)
	exactlyNow := mk(adapters.StateRetryWaiting, 0)
	mk(adapters.StateFinished, -5*time.Second)  // not active
	mk(adapters.StateCancelled, -4*time.Second) // not active
	mk(adapters.StateExpired, -time.Second)     // not active
	late2 := mk(adapters.StateWaiting, -time.Second)

	for _, c := range []struct {
		name  string
		now   time.Time
		limit int
		want  []ledger.Order
	}{
		{"soonest first", now, 10, []ledger.Order{latest, late, late2, exactlyNow}},
		{"limit", now, 2, []ledger.Order{latest, late}},
		{"later", now.Add(time.Second), 10, []ledger.Order{latest, late, late2, exactlyNow, future}},
		{"nothing due yet", now.Add(-time.Hour), 10, nil},
	} {
		got, err := s.Due(ctx, c.now, c.limit)
		if err != nil {
			t.Fatalf("%s: Due: %v", c.name, err)
		}
		if !reflect.DeepEqual(ids(got), ids(c.want)) {
			t.Errorf("%s: Due(now%+v, %d): got ids %v; want %v", c.name, c.now.Sub(now), c.limit, ids(got), ids(c.want))
			continue
		}
		for i := range got {
			if d := Diff(c.want[i], got[i]); d != "" {
				t.Errorf("%s: Due[%d]:\n%s", c.name, i, d)
			}
		}
	}

	// Finishing an order takes it off the schedule.
	latest.State = adapters.StateFinished
	latest.NextPollAt = time.Time{}
	if err := s.Update(ctx, &latest); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err := s.Due(ctx, now, 10)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if want := []int64{late.ID, late2.ID, exactlyNow.ID}; !reflect.DeepEqual(ids(got), want) {
		t.Errorf("Due after finishing one: got ids %v; want %v", ids(got), want)
	}
}

func testConcurrentCreates(t *testing.T, s ledger.Store) {
	const n = 50
	orders := make([]ledger.Order, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			orders[i] = NewOrder(fmt.Sprintf("t%d", i%3))
			orders[i].Phone = fmt.Sprintf("7900%07d", i)
			if i%2 == 0 {
				orders[i].IdempotencyKey = fmt.Sprintf("k%d", i)
			}
			errs[i] = s.Create(context.Background(), &orders[i])
		})
	}
	wg.Wait()
	seen := make(map[int64]int)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Create #%d: %v", i, err)
		}
		if prev, dup := seen[orders[i].ID]; dup {
			t.Fatalf("Create #%d and #%d both got id %d", prev, i, orders[i].ID)
		}
		seen[orders[i].ID] = i
		if orders[i].ID <= 0 {
			t.Fatalf("Create #%d: id %d; want positive", i, orders[i].ID)
		}
	}
	for i := range orders {
		if d := Diff(orders[i], get(t, s, orders[i].ID)); d != "" {
			t.Errorf("order #%d:\n%s", i, d)
		}
	}
}

func testCreateCanceled(t *testing.T, s ledger.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := NewOrder("t1")
	if err := s.Create(ctx, &o); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a canceled context: got %v; want context.Canceled", err)
	}
	all, err := s.List(context.Background(), ledger.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(all) != 0 {
		t.Errorf("Create with a canceled context stored %d orders; want none", len(all))
	}
}

func testAfterClose(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	o := create(t, s, NewOrder("t1"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fresh := NewOrder("t1")
	if err := s.Create(ctx, &fresh); err == nil {
		t.Errorf("Create after Close: got nil error, id %d", fresh.ID)
	}
	if _, err := s.Get(ctx, o.ID); err == nil {
		t.Errorf("Get after Close: got nil error")
	}
	if err := s.Update(ctx, &o); err == nil {
		t.Errorf("Update after Close: got nil error")
	}
	if _, err := s.List(ctx, ledger.Filter{}); err == nil {
		t.Errorf("List after Close: got nil error")
	}
	if _, err := s.Due(ctx, base, 10); err == nil {
		t.Errorf("Due after Close: got nil error")
	}
}

func testOutcomes(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	mk := func(tenant, platform, country string, at time.Time, state adapters.State, codeAfter time.Duration) {
		o := NewOrder(tenant)
		o.Platform, o.Country, o.CreatedAt, o.State = platform, country, at, state
		if codeAfter >= 0 {
			o.Codes = []ledger.Code{{Code: "1111", Text: "code 1111", ReceivedAt: at.Add(codeAfter)}}
		}
		if err := s.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	day := base.Truncate(24 * time.Hour)
	mk("a", "p1", "us", day.Add(time.Hour), adapters.StateFinished, 30*time.Second)
	mk("a", "p2", "us", day.Add(2*time.Hour), adapters.StateCancelled, -1)
	mk("a", "p1", "gb", day.Add(25*time.Hour), adapters.StateExpired, -1)
	mk("b", "p1", "us", day.Add(3*time.Hour), adapters.StateFinished, 10*time.Second)
	got, err := s.Outcomes(ctx, ledger.OutcomeFilter{From: day, To: day.Add(24 * time.Hour), Tenant: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID == 0 || got[0].Platform != "p1" || !got[0].Delivered || got[0].TimeToCode != 30*time.Second ||
		got[1].Delivered || got[1].TimeToCode != -1 || got[1].State != adapters.StateCancelled || got[0].BasePrice != 135_000 {
		t.Fatalf("outcomes of a on day 1: %+v", got)
	}
	if !got[0].CreatedAt.Equal(day.Add(time.Hour)) || got[0].CreatedAt.Location() != time.UTC {
		t.Fatalf("created at %v", got[0].CreatedAt)
	}
	for _, c := range []struct {
		f    ledger.OutcomeFilter
		want int
	}{
		{ledger.OutcomeFilter{From: day, To: day.Add(48 * time.Hour)}, 4},
		{ledger.OutcomeFilter{From: day, To: day.Add(48 * time.Hour), Platform: "p1"}, 3},
		{ledger.OutcomeFilter{From: day, To: day.Add(48 * time.Hour), Country: "gb"}, 1},
		{ledger.OutcomeFilter{From: day, To: day.Add(48 * time.Hour), Service: "wa"}, 0},
		{ledger.OutcomeFilter{From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour)}, 1},
	} {
		got, err := s.Outcomes(ctx, c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("Outcomes(%+v) = %d, %v; want %d", c.f, len(got), err, c.want)
		}
	}
}

// testEnded: Ended lists ended orders (never active ones) last written at
// or after since, newest first, with id, delay to the first code and the
// time they ended; limit keeps the newest.
func testEnded(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	mk := func(state adapters.State, endedAfter, codeAfter time.Duration) int64 {
		o := NewOrder("a")
		o.State, o.UpdatedAt = state, base.Add(endedAfter)
		if state.Active() {
			o.NextPollAt = base.Add(time.Hour)
		}
		if codeAfter >= 0 {
			o.Codes = []ledger.Code{{Code: "1111", Text: "code 1111", ReceivedAt: base.Add(codeAfter)}}
		}
		if err := s.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	old := mk(adapters.StateFinished, time.Minute, 20*time.Second)
	fin := mk(adapters.StateFinished, 3*time.Minute, 40*time.Second)
	mk(adapters.StateWaiting, 4*time.Minute, -1)
	mk(adapters.StateCodeReceived, 4*time.Minute, 30*time.Second)
	exp := mk(adapters.StateExpired, 5*time.Minute, -1)
	got, err := s.Ended(ctx, base.Add(2*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != exp || got[1].ID != fin {
		t.Fatalf("Ended since 2m: %+v; want orders %d, %d", got, exp, fin)
	}
	if g := got[1]; !g.Delivered || g.TimeToCode != 40*time.Second || !g.UpdatedAt.Equal(base.Add(3*time.Minute).Truncate(time.Millisecond)) ||
		g.Platform != "alpha" || g.Country != "ru" || g.Service != "tg" {
		t.Errorf("finished order: %+v", g)
	}
	if g := got[0]; g.Delivered || g.TimeToCode != -1 || g.State != adapters.StateExpired {
		t.Errorf("expired order: %+v", g)
	}
	if got, err := s.Ended(ctx, base, 1); err != nil || len(got) != 1 || got[0].ID != exp {
		t.Errorf("Ended limit 1: %+v, %v; want the newest, %d", got, err, exp)
	}
	if got, err := s.Ended(ctx, base, 10); err != nil || len(got) != 3 || got[2].ID != old {
		t.Errorf("Ended since base: %+v, %v; want 3 ending with %d", got, err, old)
	}
}

// testOverrides: admin overrides round-trip, replace, and delete.
func testOverrides(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	off, prio := false, 7
	if err := s.SetOverride(ctx, "p1", ledger.PlatformOverride{Enabled: &off, Priority: &prio, UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Overrides(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("overrides = %v, %v", got, err)
	}
	o := got["p1"]
	if o.Enabled == nil || *o.Enabled || o.Priority == nil || *o.Priority != 7 || o.Weight != nil || !o.UpdatedAt.Equal(base.Truncate(time.Millisecond)) {
		t.Fatalf("override = %+v", o)
	}
	w := 3
	if err := s.SetOverride(ctx, "p1", ledger.PlatformOverride{Weight: &w}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Overrides(ctx)
	if o := got["p1"]; o.Enabled != nil || o.Priority != nil || o.Weight == nil || *o.Weight != 3 {
		t.Fatalf("replaced override = %+v", o)
	}
	if err := s.SetOverride(ctx, "p1", ledger.PlatformOverride{}); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Overrides(ctx); len(got) != 0 {
		t.Fatalf("after removal: %v", got)
	}
}
