package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// RunMoney runs the money contract (ledger.Money: versioned writes,
// wallets and their journal, purchase intents, the outbox, batches) as
// subtests. open is as for Run. The concurrent cases race on one store
// here; a shared store's test runs them across two stores too
// (ConcurrentReservations, ConcurrentApply, ConcurrentActionLeases).
func RunMoney(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Fatalf, []contractCase[ledger.Store]{
		{"MoneyFieldsRoundTrip", testMoneyRoundTrip},
		{"CreateClosesIntent", testCreateClosesIntent},
		{"ApplyVersion", testApplyVersion},
		{"ApplyMovesWalletOnce", testApplyMovesWallet},
		{"ApplyWritesActions", testApplyActions},
		{"ApplyRollsBackAsAWhole", testApplyRollback},
		{"OpenIntent", testOpenIntent},
		{"CloseIntent", testCloseIntent},
		{"StaleIntents", testStaleIntents},
		{"Enqueue", testEnqueue},
		{"LeaseActions", testLeaseActions},
		{"SettleAction", testSettleAction},
		{"AdjustWallet", testAdjustWallet},
		{"JournalPages", testJournalPages},
		{"Batches", testBatches},
		{"OutcomesRevenue", testOutcomesRevenue},
		{"MoneyAfterClose", testMoneyAfterClose},
		{"ConcurrentReservations", func(t *testing.T, s ledger.Store) { ConcurrentReservations(t, s, s) }},
		{"ConcurrentApply", func(t *testing.T, s ledger.Store) { ConcurrentApply(t, s, s) }},
		{"ConcurrentActionLeases", func(t *testing.T, s ledger.Store) { ConcurrentActionLeases(t, s, s) }},
	})
}

// rub is amount micro-roubles, the wallets' currency in these tests.
func rub(micros int64) adapters.Money { return adapters.Money{Micros: micros, Currency: "RUB"} }

// fund tops the tenant's wallet up by micros.
func fund(t *testing.T, s ledger.Money, tenant string, micros int64) ledger.Wallet {
	t.Helper()
	w, err := s.AdjustWallet(context.Background(), tenant, "RUB", ledger.EntryTopup, micros, "test", base)
	if err != nil {
		t.Fatalf("top-up of %s by %d: %v", tenant, micros, err)
	}
	return w
}

func wallet(t *testing.T, s ledger.Money, tenant string) ledger.Wallet {
	t.Helper()
	w, err := s.Wallet(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Wallet(%s): %v", tenant, err)
	}
	return w
}

func openIntent(t *testing.T, s ledger.Money, tenant string, hold int64) ledger.Intent {
	t.Helper()
	in := ledger.Intent{Tenant: tenant, Platform: "alpha", Country: "ru", Service: "tg", Hold: hold, Currency: "RUB", CreatedAt: base}
	if err := s.OpenIntent(context.Background(), &in); err != nil {
		t.Fatalf("OpenIntent(%s, hold %d): %v", tenant, hold, err)
	}
	return in
}

// reservedOrder buys an order as a wallet tenant does: an intent holding
// the price, then the order that closes it, reserved.
func reservedOrder(t *testing.T, s ledger.Store, tenant string, price int64) ledger.Order {
	t.Helper()
	in := openIntent(t, s, tenant, price)
	o := NewOrder(tenant)
	o.TenantPrice, o.Wallet, o.IntentID = rub(price), ledger.WalletReserved, in.ID
	return create(t, s, o)
}

// journalAll reads the tenant's whole journal, newest first, a few rows a
// page so that paging is exercised.
func journalAll(t *testing.T, s ledger.Money, tenant string) []ledger.Entry {
	t.Helper()
	var all []ledger.Entry
	var before int64
	for {
		page, err := s.Journal(context.Background(), tenant, before, 7)
		if err != nil {
			t.Fatalf("Journal(%s, %d): %v", tenant, before, err)
		}
		all = append(all, page...)
		if len(page) < 7 {
			return all
		}
		before = page[len(page)-1].ID
	}
}

// checkBooks: the journal sums to the wallet, to the micro-unit, and
// available is not negative. It returns the sums by kind.
func checkBooks(t *testing.T, s ledger.Money, tenant string) map[ledger.EntryKind]int64 {
	t.Helper()
	sums := make(map[ledger.EntryKind]int64)
	for _, e := range journalAll(t, s, tenant) {
		sums[e.Kind] += e.Amount
	}
	w := wallet(t, s, tenant)
	balance := sums[ledger.EntryTopup] + sums[ledger.EntryAdjust] - sums[ledger.EntryCapture]
	reserved := sums[ledger.EntryReserve] - sums[ledger.EntryCapture] - sums[ledger.EntryRelease]
	if w.Balance != balance || w.Reserved != reserved {
		t.Errorf("wallet of %s: balance %d, reserved %d; the journal sums to %d, %d (%v)", tenant, w.Balance, w.Reserved, balance, reserved, sums)
	}
	if w.Available() < 0 {
		t.Errorf("wallet of %s: available %d", tenant, w.Available())
	}
	return sums
}

// entryKinds lists the kinds of entries, in their order.
func entryKinds(es []ledger.Entry) []ledger.EntryKind {
	out := make([]ledger.EntryKind, len(es))
	for i, e := range es {
		out[i] = e.Kind
	}
	return out
}

func testMoneyRoundTrip(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	fund(t, s, "w1", 100_000_000)
	in := openIntent(t, s, "w1", 15_000_000)
	o := NewOrder("w1")
	o.Wallet, o.IntentID, o.IdempotencyKey = ledger.WalletReserved, in.ID, "k1"
	o.NextPollAt = base
	o = create(t, s, o)
	if o.Version != 0 {
		t.Errorf("Version after Create: %d; want 0", o.Version)
	}
	if d := Diff(o, get(t, s, o.ID)); d != "" {
		t.Errorf("Get:\n%s", d)
	}
	byKey, err := s.GetByIdempotencyKey(ctx, "w1", "k1")
	if err != nil || Diff(o, byKey) != "" {
		t.Errorf("GetByIdempotencyKey: %v\n%s", err, Diff(o, byKey))
	}
	list, err := s.List(ctx, ledger.Filter{Tenant: "w1"})
	if err != nil || len(list) != 1 || Diff(o, list[0]) != "" {
		t.Errorf("List: %d orders, %v", len(list), err)
	}
	due, err := s.Due(ctx, base, 10)
	if err != nil || len(due) != 1 || Diff(o, due[0]) != "" {
		t.Errorf("Due: %d orders, %v", len(due), err)
	}
	// A version given to Create is stored as it is (a copy of an order).
	v := NewOrder("w1")
	v.Version = 7
	if got := get(t, s, create(t, s, v).ID); got.Version != 7 {
		t.Errorf("Version stored by Create: %d; want 7", got.Version)
	}
}

func testCreateClosesIntent(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	in := openIntent(t, s, "t1", 0)
	o := NewOrder("t1")
	o.IntentID = in.ID
	o = create(t, s, o)
	got, err := s.Intent(ctx, in.ID)
	if err != nil || got.State != ledger.IntentBought || got.OrderID != o.ID {
		t.Fatalf("intent after Create: %+v, %v; want bought by order %d", got, err, o.ID)
	}

	aborted := openIntent(t, s, "t1", 0)
	if err := s.CloseIntent(ctx, aborted.ID, ledger.IntentAborted, nil, base); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		intent int64
	}{
		{"an intent already bought", in.ID},
		{"an aborted intent", aborted.ID},
		{"no such intent", aborted.ID + 1000},
	} {
		dup := NewOrder("t1")
		dup.IntentID, dup.IdempotencyKey = c.intent, "again"
		if err := s.Create(ctx, &dup); !errors.Is(err, ledger.ErrStale) {
			t.Errorf("%s: Create: %v; want ErrStale", c.name, err)
		}
		if dup.ID != 0 {
			t.Errorf("%s: refused Create set ID %d", c.name, dup.ID)
		}
		// No order row remains: its key is still free.
		if _, err := s.GetByIdempotencyKey(ctx, "t1", "again"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("%s: the refused order exists: %v", c.name, err)
		}
	}
	if got, err := s.Intent(ctx, in.ID); err != nil || got.OrderID != o.ID {
		t.Errorf("bought intent after a refused Create: %+v, %v", got, err)
	}
	if all, err := s.List(ctx, ledger.Filter{}); err != nil || len(all) != 1 {
		t.Errorf("orders: %d, %v; want 1", len(all), err)
	}
}

func testApplyVersion(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	o := create(t, s, NewOrder("t1"))
	stale := o
	o.State = adapters.StateCodeReceived
	if err := s.Apply(ctx, &o, ledger.Change{}); err != nil || o.Version != 1 {
		t.Fatalf("Apply: %v, version %d; want nil, 1", err, o.Version)
	}
	stale.State = adapters.StateCancelled
	if err := s.Update(ctx, &stale); !errors.Is(err, ledger.ErrStale) {
		t.Fatalf("Update of a copy read before the Apply: %v; want ErrStale", err)
	}
	if stale.Version != 0 {
		t.Errorf("a refused Update moved the version to %d", stale.Version)
	}
	if d := Diff(o, get(t, s, o.ID)); d != "" {
		t.Errorf("a stale Update wrote:\n%s", d)
	}
	// Read again, decide again.
	fresh := get(t, s, o.ID)
	fresh.State = adapters.StateFinished
	if err := s.Update(ctx, &fresh); err != nil || fresh.Version != 2 {
		t.Errorf("Update of a fresh read: %v, version %d; want nil, 2", err, fresh.Version)
	}
	gone := NewOrder("t1")
	gone.ID = fresh.ID + 1000
	if err := s.Apply(ctx, &gone, ledger.Change{}); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Apply of an absent order: %v; want ErrNotFound", err)
	}
	if err := s.Apply(ctx, &fresh, ledger.Change{Move: "steal"}); err == nil {
		t.Error("Apply with an unknown movement: nil error")
	}
}

func testApplyMovesWallet(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	fund(t, s, "w1", 100_000_000)
	a := reservedOrder(t, s, "w1", 30_000_000)
	b := reservedOrder(t, s, "w1", 20_000_000)
	if w := wallet(t, s, "w1"); w.Balance != 100_000_000 || w.Reserved != 50_000_000 {
		t.Fatalf("after two reservations: %+v", w)
	}
	staleA := a
	a.State = adapters.StateCodeReceived
	if err := s.Apply(ctx, &a, ledger.Change{Move: ledger.MoveCapture}); err != nil {
		t.Fatalf("capture: %v", err)
	}
	if a.Wallet != ledger.WalletCaptured || get(t, s, a.ID).Wallet != ledger.WalletCaptured {
		t.Errorf("after capture: order wallet %q, stored %q; want captured", a.Wallet, get(t, s, a.ID).Wallet)
	}
	// A copy read before the capture cannot release (or capture) again.
	if err := s.Apply(ctx, &staleA, ledger.Change{Move: ledger.MoveRelease}); !errors.Is(err, ledger.ErrStale) {
		t.Errorf("release through a stale copy: %v; want ErrStale", err)
	}
	if staleA.Wallet != ledger.WalletReserved {
		t.Errorf("a refused Apply changed the copy's wallet to %q", staleA.Wallet)
	}
	// Captured is final: another movement moves nothing.
	if err := s.Apply(ctx, &a, ledger.Change{Move: ledger.MoveRelease}); err != nil || a.Wallet != ledger.WalletCaptured {
		t.Errorf("release of a captured order: %v, wallet %q; want nil, captured", err, a.Wallet)
	}
	b.State = adapters.StateCancelled
	if err := s.Apply(ctx, &b, ledger.Change{Move: ledger.MoveRelease}); err != nil || b.Wallet != ledger.WalletReleased {
		t.Fatalf("release: %v, wallet %q", err, b.Wallet)
	}
	if w := wallet(t, s, "w1"); w.Balance != 70_000_000 || w.Reserved != 0 || w.Currency != "RUB" {
		t.Errorf("after capture and release: %+v; want balance 70, reserved 0", w)
	}
	// An operator-mode order moves nothing.
	plain := create(t, s, NewOrder("w1"))
	if err := s.Apply(ctx, &plain, ledger.Change{Move: ledger.MoveCapture}); err != nil || plain.Wallet != ledger.WalletNone {
		t.Errorf("capture of an operator-mode order: %v, wallet %q", err, plain.Wallet)
	}
	js := journalAll(t, s, "w1")
	want := []ledger.EntryKind{ledger.EntryRelease, ledger.EntryCapture, ledger.EntryReserve, ledger.EntryReserve, ledger.EntryTopup}
	if got := entryKinds(js); !reflect.DeepEqual(got, want) {
		t.Fatalf("journal: %v; want %v", got, want)
	}
	if e := js[1]; e.OrderID != a.ID || e.IntentID != a.IntentID || e.Amount != 30_000_000 || e.Currency != "RUB" || e.Tenant != "w1" {
		t.Errorf("capture entry: %+v; want order %d, intent %d, 30 RUB", e, a.ID, a.IntentID)
	}
	if e := js[0]; e.OrderID != b.ID || e.Amount != 20_000_000 {
		t.Errorf("release entry: %+v; want order %d, 20 RUB", e, b.ID)
	}
	checkBooks(t, s, "w1")
}

func testApplyActions(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	o := create(t, s, NewOrder("t1"))
	o.State, o.UpdatedAt = adapters.StateCancelled, base.Add(time.Minute)
	c := ledger.Change{Actions: []ledger.Action{
		{Kind: ledger.ActCancel, GiveUpAt: base.Add(time.Hour), OrderID: 999, Tenant: "nobody"}, // order fields are the order's
		{Kind: ledger.ActWebhook, Payload: `{"id":1}`, NextAt: base.Add(2 * time.Minute), CreatedAt: base},
	}}
	if err := s.Apply(ctx, &o, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Actions(ctx, o.ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("Actions: %d, %v; want 2", len(got), err)
	}
	at := ms(o.UpdatedAt)
	want := []ledger.Action{
		{ID: got[0].ID, OrderID: o.ID, Tenant: "t1", Platform: "alpha", UpstreamID: o.UpstreamID, Kind: ledger.ActCancel,
			State: ledger.ActionPending, CreatedAt: at, UpdatedAt: at, NextAt: at, GiveUpAt: ms(base.Add(time.Hour))},
		{ID: got[1].ID, OrderID: o.ID, Tenant: "t1", Platform: "alpha", UpstreamID: o.UpstreamID, Kind: ledger.ActWebhook,
			State: ledger.ActionPending, Payload: `{"id":1}`, CreatedAt: ms(base), UpdatedAt: at, NextAt: ms(base.Add(2 * time.Minute))},
	}
	if !reflect.DeepEqual(got, want) || got[0].ID >= got[1].ID {
		t.Errorf("Actions:\ngot  %+v\nwant %+v", got, want)
	}
	if other, err := s.Actions(ctx, o.ID+1); err != nil || len(other) != 0 {
		t.Errorf("another order's actions: %v, %v", other, err)
	}
	if err := s.Apply(ctx, &o, ledger.Change{Actions: []ledger.Action{{Kind: "dance"}}}); err == nil {
		t.Error("Apply with an unknown action kind: nil error")
	}
}

// testApplyRollback: an Apply that fails (here on a duplicate upstream id)
// writes none of its parts: no version, no movement, no action.
func testApplyRollback(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	fund(t, s, "w1", 50_000_000)
	first := create(t, s, NewOrder("w1"))
	o := reservedOrder(t, s, "w1", 10_000_000)
	o.UpstreamID = first.UpstreamID
	err := s.Apply(ctx, &o, ledger.Change{Move: ledger.MoveCapture, Actions: []ledger.Action{{Kind: ledger.ActFinish}}})
	if !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("Apply to a taken upstream id: %v; want ErrDuplicateUpstream", err)
	}
	if o.Version != 0 || o.Wallet != ledger.WalletReserved {
		t.Errorf("failed Apply changed the order: version %d, wallet %q", o.Version, o.Wallet)
	}
	if got := get(t, s, o.ID); got.Version != 0 || got.Wallet != ledger.WalletReserved {
		t.Errorf("failed Apply stored version %d, wallet %q", got.Version, got.Wallet)
	}
	if w := wallet(t, s, "w1"); w.Balance != 50_000_000 || w.Reserved != 10_000_000 {
		t.Errorf("failed Apply moved money: %+v", w)
	}
	if got, err := s.Actions(ctx, o.ID); err != nil || len(got) != 0 {
		t.Errorf("failed Apply inserted actions: %v, %v", got, err)
	}
	checkBooks(t, s, "w1")
}

func testOpenIntent(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	// Without a wallet there is nothing to hold, and nothing is recorded.
	in := ledger.Intent{Tenant: "w1", Platform: "alpha", Hold: 1, Currency: "RUB", CreatedAt: base}
	if err := s.OpenIntent(ctx, &in); !errors.Is(err, ledger.ErrInsufficientFunds) || in.ID != 0 {
		t.Fatalf("hold without a wallet: %v, id %d; want ErrInsufficientFunds", err, in.ID)
	}
	if _, err := s.Wallet(ctx, "w1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("a refused hold made a wallet: %v", err)
	}
	// No hold needs no wallet (operator mode).
	free := openIntent(t, s, "op", 0)
	got, err := s.Intent(ctx, free.ID)
	want := ledger.Intent{ID: free.ID, Tenant: "op", Platform: "alpha", Country: "ru", Service: "tg", Currency: "RUB",
		State: ledger.IntentOpen, CreatedAt: ms(base), UpdatedAt: ms(base)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Intent:\ngot  %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := s.Intent(ctx, free.ID+1000); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Intent(unknown): %v; want ErrNotFound", err)
	}

	fund(t, s, "w1", 10_000_000)
	held := openIntent(t, s, "w1", 6_000_000)
	if w := wallet(t, s, "w1"); w.Reserved != 6_000_000 || w.Available() != 4_000_000 {
		t.Errorf("after a hold of 6: %+v", w)
	}
	more := ledger.Intent{Tenant: "w1", Hold: 4_000_001, Currency: "RUB"}
	if err := s.OpenIntent(ctx, &more); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("hold above available: %v; want ErrInsufficientFunds", err)
	}
	usd := ledger.Intent{Tenant: "w1", Hold: 1, Currency: "USD"}
	if err := s.OpenIntent(ctx, &usd); err == nil || errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("hold in another currency: %v; want a currency error", err)
	}
	exact := openIntent(t, s, "w1", 4_000_000) // exactly what is left
	if w := wallet(t, s, "w1"); w.Available() != 0 {
		t.Errorf("after holding everything: %+v", w)
	}
	js := journalAll(t, s, "w1")
	if kinds := entryKinds(js); !reflect.DeepEqual(kinds, []ledger.EntryKind{ledger.EntryReserve, ledger.EntryReserve, ledger.EntryTopup}) {
		t.Fatalf("journal: %v", kinds)
	}
	if js[0].IntentID != exact.ID || js[1].IntentID != held.ID || js[1].Amount != 6_000_000 || js[1].OrderID != 0 {
		t.Errorf("reserve entries %+v; want intents %d, %d", js[:2], exact.ID, held.ID)
	}
	for _, bad := range []ledger.Intent{{Hold: 1, Currency: "RUB"}, {Tenant: "w1", Hold: -1, Currency: "RUB"}, {Tenant: "w1", Hold: 1}} {
		if err := s.OpenIntent(ctx, &bad); err == nil {
			t.Errorf("OpenIntent(%+v): nil error", bad)
		}
	}
	checkBooks(t, s, "w1")
}

func testCloseIntent(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	fund(t, s, "w1", 10_000_000)
	aborted := openIntent(t, s, "w1", 3_000_000)
	orphan := openIntent(t, s, "w1", 2_000_000)
	unknown := openIntent(t, s, "w1", 0)
	now := base.Add(time.Hour)

	for _, bad := range []struct {
		name   string
		state  ledger.IntentState
		orphan *ledger.Action
	}{
		{"to open", ledger.IntentOpen, nil},
		{"to bought", ledger.IntentBought, nil},
		{"orphan without its cancel", ledger.IntentOrphan, nil},
		{"a cancel without an orphan", ledger.IntentAborted, &ledger.Action{UpstreamID: "u"}},
		{"a cancel without an upstream id", ledger.IntentOrphan, &ledger.Action{Kind: ledger.ActCancel}},
	} {
		if err := s.CloseIntent(ctx, aborted.ID, bad.state, bad.orphan, now); err == nil {
			t.Errorf("CloseIntent %s: nil error", bad.name)
		}
	}
	if err := s.CloseIntent(ctx, aborted.ID, ledger.IntentAborted, nil, now); err != nil {
		t.Fatal(err)
	}
	cancel := &ledger.Action{Kind: ledger.ActCancel, UpstreamID: "up-orphan", GiveUpAt: now.Add(time.Hour)}
	if err := s.CloseIntent(ctx, orphan.ID, ledger.IntentOrphan, cancel, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseIntent(ctx, unknown.ID, ledger.IntentUnknown, nil, now); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in       ledger.Intent
		state    ledger.IntentState
		upstream string
	}{{aborted, ledger.IntentAborted, ""}, {orphan, ledger.IntentOrphan, "up-orphan"}, {unknown, ledger.IntentUnknown, ""}} {
		got, err := s.Intent(ctx, c.in.ID)
		if err != nil || got.State != c.state || got.UpstreamID != c.upstream || !got.UpdatedAt.Equal(ms(now)) {
			t.Errorf("intent %d: %+v, %v; want %s, upstream %q, updated at %v", c.in.ID, got, err, c.state, c.upstream, ms(now))
		}
		// Closed is closed: a second close changes nothing.
		if err := s.CloseIntent(ctx, c.in.ID, ledger.IntentAborted, nil, now); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("second close of intent %d: %v; want ErrNotFound", c.in.ID, err)
		}
	}
	if w := wallet(t, s, "w1"); w.Reserved != 0 || w.Balance != 10_000_000 {
		t.Errorf("after closing every intent: %+v; want nothing reserved", w)
	}
	// The orphan's cancel: no order, the intent's tenant and platform.
	acts, err := s.Actions(ctx, 0)
	if err != nil || len(acts) != 1 {
		t.Fatalf("orphan actions: %v, %v", acts, err)
	}
	if a := acts[0]; a.Kind != ledger.ActCancel || a.UpstreamID != "up-orphan" || a.Tenant != "w1" || a.Platform != "alpha" ||
		a.State != ledger.ActionPending || !a.NextAt.Equal(ms(now)) || !a.GiveUpAt.Equal(ms(now.Add(time.Hour))) {
		t.Errorf("orphan cancel: %+v", a)
	}
	// A bought intent is not open either.
	bought := openIntent(t, s, "w1", 0)
	o := NewOrder("w1")
	o.IntentID = bought.ID
	create(t, s, o)
	if err := s.CloseIntent(ctx, bought.ID, ledger.IntentAborted, nil, now); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("close of a bought intent: %v; want ErrNotFound", err)
	}
	js := journalAll(t, s, "w1")
	if kinds := entryKinds(js[:2]); !reflect.DeepEqual(kinds, []ledger.EntryKind{ledger.EntryRelease, ledger.EntryRelease}) {
		t.Fatalf("journal: %v", entryKinds(js))
	}
	if js[0].IntentID != orphan.ID || js[0].Amount != 2_000_000 || js[1].IntentID != aborted.ID || js[1].OrderID != 0 {
		t.Errorf("release entries: %+v", js[:2])
	}
	checkBooks(t, s, "w1")
}

func testStaleIntents(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	mk := func(at time.Duration) ledger.Intent {
		in := ledger.Intent{Tenant: "t1", Platform: "alpha", CreatedAt: base.Add(at)}
		if err := s.OpenIntent(ctx, &in); err != nil {
			t.Fatal(err)
		}
		return in
	}
	b := mk(2 * time.Second)
	a := mk(time.Second)
	closed := mk(0)
	if err := s.CloseIntent(ctx, closed.ID, ledger.IntentUnknown, nil, base); err != nil {
		t.Fatal(err)
	}
	mk(time.Minute) // too young
	for _, c := range []struct {
		before time.Time
		limit  int
		want   []int64
	}{
		{base.Add(time.Minute), 10, []int64{a.ID, b.ID}},
		{base.Add(time.Minute), 1, []int64{a.ID}},
		{base.Add(2 * time.Second), 10, []int64{a.ID}}, // created before, not at
		{base, 10, nil},
		{base.Add(time.Hour), 0, nil},
	} {
		got, err := s.StaleIntents(ctx, c.before, c.limit)
		var ids []int64
		for _, in := range got {
			ids = append(ids, in.ID)
		}
		if err != nil || !reflect.DeepEqual(ids, c.want) {
			t.Errorf("StaleIntents(%v, %d): %v, %v; want %v", c.before.Sub(base), c.limit, ids, err, c.want)
		}
	}
}

func testEnqueue(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if err := s.Enqueue(ctx); err != nil {
		t.Errorf("Enqueue of nothing: %v", err)
	}
	err := s.Enqueue(ctx,
		ledger.Action{OrderID: 5, Kind: ledger.ActWebhook, State: ledger.ActionDone, CreatedAt: base}, // enqueued pending whatever it says
		ledger.Action{OrderID: 5, Kind: ledger.ActBan, CreatedAt: base, NextAt: base.Add(time.Minute)},
		ledger.Action{OrderID: 6, Kind: ledger.ActAnother, CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Actions(ctx, 5)
	if err != nil || len(got) != 2 || got[0].Kind != ledger.ActWebhook || got[1].Kind != ledger.ActBan ||
		got[0].State != ledger.ActionPending || !got[0].NextAt.Equal(ms(base)) || !got[1].NextAt.Equal(ms(base.Add(time.Minute))) {
		t.Errorf("Actions(5): %+v, %v", got, err)
	}
	// One bad action refuses them all.
	if err := s.Enqueue(ctx, ledger.Action{OrderID: 7, Kind: ledger.ActCancel}, ledger.Action{OrderID: 7}); err == nil {
		t.Error("Enqueue of an action without a kind: nil error")
	}
	pending, err := s.PendingActions(ctx)
	want := map[ledger.ActionKind]int{ledger.ActWebhook: 1, ledger.ActBan: 1, ledger.ActAnother: 1}
	if err != nil || !reflect.DeepEqual(pending, want) {
		t.Errorf("PendingActions: %v, %v; want %v", pending, err, want)
	}
}

// enqueueDue enqueues n cancels due at now minus 0..n-1 ms (the last one
// soonest) and returns their ids, soonest first.
func enqueueDue(t *testing.T, s ledger.Money, n int, now time.Time) []int64 {
	t.Helper()
	as := make([]ledger.Action, n)
	for i := range as {
		as[i] = ledger.Action{OrderID: int64(1000 + i), Kind: ledger.ActCancel, CreatedAt: base,
			NextAt: now.Add(-time.Duration(i) * time.Millisecond)}
	}
	if err := s.Enqueue(context.Background(), as...); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range as {
		got, err := s.Actions(context.Background(), int64(1000+i))
		if err != nil || len(got) != 1 {
			t.Fatalf("Actions(%d): %v, %v", 1000+i, got, err)
		}
		ids[n-1-i] = got[0].ID
	}
	return ids
}

func actionIDs(as []ledger.Action) []int64 {
	var out []int64
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func leaseActions(t *testing.T, s ledger.Money, owner string, now time.Time, lease time.Duration, limit int) []ledger.Action {
	t.Helper()
	got, err := s.LeaseActions(context.Background(), owner, now, lease, limit)
	if err != nil {
		t.Fatalf("LeaseActions(%s): %v", owner, err)
	}
	return got
}

func testLeaseActions(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	const lease = 30 * time.Second
	due := enqueueDue(t, s, 4, now)
	if err := s.Enqueue(ctx, ledger.Action{OrderID: 1, Kind: ledger.ActFinish, NextAt: now.Add(time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		owner string
		lease time.Duration
	}{{"", lease}, {"a", 0}, {"a", -time.Second}} {
		if _, err := s.LeaseActions(ctx, bad.owner, now, bad.lease, 10); err == nil {
			t.Errorf("LeaseActions(%q, %v): nil error", bad.owner, bad.lease)
		}
	}
	if got := leaseActions(t, s, "a", now, lease, 0); len(got) != 0 {
		t.Errorf("limit 0: %v", actionIDs(got))
	}
	first := leaseActions(t, s, "a", now, lease, 3)
	if !reflect.DeepEqual(actionIDs(first), due[:3]) {
		t.Fatalf("first lease: %v; want the 3 soonest %v", actionIDs(first), due[:3])
	}
	if got := leaseActions(t, s, "b", now, lease, 10); !reflect.DeepEqual(actionIDs(got), due[3:]) {
		t.Fatalf("second owner: %v; want %v (the rest that is due)", actionIDs(got), due[3:])
	}
	for _, c := range []struct {
		name  string
		owner string
		at    time.Duration
	}{{"another owner", "c", 0}, {"just before expiry", "c", lease - time.Millisecond}, {"the holder itself", "a", time.Second}} {
		if got := leaseActions(t, s, c.owner, now.Add(c.at), lease, 10); len(got) != 0 && got[0].Kind != ledger.ActFinish {
			t.Errorf("%s: %v; want none of the leased", c.name, actionIDs(got))
		}
	}
	// a died: its leases pass and c takes them (and the finish, due by now).
	got := leaseActions(t, s, "c", now.Add(lease), lease, 10)
	if ids := actionIDs(got); len(ids) != 4 || !reflect.DeepEqual(ids[:3], due[:3]) {
		t.Errorf("after the leases expired: %v; want %v and the finish", ids, due[:3])
	}
}

func testSettleAction(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	ids := enqueueDue(t, s, 3, now)
	got := leaseActions(t, s, "a", now, time.Minute, 10)
	if len(got) != 3 {
		t.Fatalf("leased %v", actionIDs(got))
	}
	retry, done, lost := got[0], got[1], got[2]
	retry.Attempts, retry.LastError, retry.NextAt, retry.UpdatedAt = 1, "platform down", now.Add(10*time.Second), now
	if err := s.SettleAction(ctx, "b", retry); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("settle by another owner: %v; want ErrNotFound", err)
	}
	if err := s.SettleAction(ctx, "", retry); err == nil {
		t.Error("settle with no owner: nil error")
	}
	bad := retry
	bad.State = "perhaps"
	if err := s.SettleAction(ctx, "a", bad); err == nil {
		t.Error("settle to an unknown state: nil error")
	}
	if err := s.SettleAction(ctx, "a", retry); err != nil {
		t.Fatal(err)
	}
	if err := s.SettleAction(ctx, "a", retry); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("second settle: %v; want ErrNotFound (the lease is dropped)", err)
	}
	done.State, done.Attempts, done.UpdatedAt = ledger.ActionDone, 1, now
	if err := s.SettleAction(ctx, "a", done); err != nil {
		t.Fatal(err)
	}
	lost.State, lost.LastError, lost.UpdatedAt = ledger.ActionGaveUp, "gave up", now
	if err := s.SettleAction(ctx, "a", lost); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Actions(ctx, retry.OrderID)
	if err != nil || len(stored) != 1 {
		t.Fatalf("Actions: %v, %v", stored, err)
	}
	want := retry
	want.NextAt, want.UpdatedAt = ms(retry.NextAt), ms(now)
	if !reflect.DeepEqual(stored[0], want) {
		t.Errorf("settled action:\ngot  %+v\nwant %+v", stored[0], want)
	}
	// The retry is due again at its NextAt, for anyone; the settled ones never.
	if got := leaseActions(t, s, "b", now.Add(9*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("before the retry is due: %v", actionIDs(got))
	}
	if got := leaseActions(t, s, "b", now.Add(time.Hour), time.Minute, 10); !reflect.DeepEqual(actionIDs(got), ids[:1]) {
		t.Errorf("later: %v; want only the retry %d", actionIDs(got), ids[0])
	}
	if p, err := s.PendingActions(ctx); err != nil || !reflect.DeepEqual(p, map[ledger.ActionKind]int{ledger.ActCancel: 1}) {
		t.Errorf("PendingActions: %v, %v", p, err)
	}
}

func testAdjustWallet(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if _, err := s.Wallet(ctx, "w1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Wallet of a tenant without one: %v; want ErrNotFound", err)
	}
	for _, bad := range []struct {
		tenant, currency string
		kind             ledger.EntryKind
		amount           int64
	}{
		{"w1", "RUB", ledger.EntryTopup, 0},
		{"w1", "RUB", ledger.EntryTopup, -5},
		{"w1", "RUB", ledger.EntryAdjust, 0},
		{"w1", "RUB", ledger.EntryCapture, 5}, // movements are the orders'
		{"w1", "RUB", ledger.EntryReserve, 5},
		{"", "RUB", ledger.EntryTopup, 5},
		{"w1", "", ledger.EntryTopup, 5},
	} {
		if _, err := s.AdjustWallet(ctx, bad.tenant, bad.currency, bad.kind, bad.amount, "", base); err == nil {
			t.Errorf("AdjustWallet(%+v): nil error", bad)
		}
	}
	// Taking from a wallet that does not exist takes from nothing.
	if _, err := s.AdjustWallet(ctx, "w1", "RUB", ledger.EntryAdjust, -1, "", base); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("negative adjust without a wallet: %v; want ErrInsufficientFunds", err)
	}
	if _, err := s.Wallet(ctx, "w1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("refused adjustments made a wallet: %v", err)
	}
	w, err := s.AdjustWallet(ctx, "w1", "RUB", ledger.EntryTopup, 10_000_000, "invoice 1", base)
	want := ledger.Wallet{Tenant: "w1", Currency: "RUB", Balance: 10_000_000, UpdatedAt: ms(base)}
	if err != nil || !reflect.DeepEqual(w, want) || !reflect.DeepEqual(wallet(t, s, "w1"), want) {
		t.Fatalf("first top-up: %+v, %v; want %+v", w, err, want)
	}
	if _, err := s.AdjustWallet(ctx, "w1", "USD", ledger.EntryTopup, 1, "", base); err == nil || errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("top-up in another currency: %v; want a currency error", err)
	}
	openIntent(t, s, "w1", 4_000_000)
	if _, err := s.AdjustWallet(ctx, "w1", "RUB", ledger.EntryAdjust, -6_000_001, "", base); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("adjust below the reserved: %v; want ErrInsufficientFunds", err)
	}
	later := base.Add(time.Hour)
	w, err = s.AdjustWallet(ctx, "w1", "RUB", ledger.EntryAdjust, -6_000_000, "refund", later)
	if err != nil || w.Balance != 4_000_000 || w.Reserved != 4_000_000 || w.Available() != 0 || !w.UpdatedAt.Equal(ms(later)) {
		t.Errorf("adjust down to the reserved: %+v, %v", w, err)
	}
	js := journalAll(t, s, "w1")
	if len(js) != 3 || js[0].Kind != ledger.EntryAdjust || js[0].Amount != -6_000_000 || js[0].Note != "refund" ||
		!js[0].At.Equal(ms(later)) || js[2].Note != "invoice 1" || js[2].Kind != ledger.EntryTopup {
		t.Errorf("journal: %+v", js)
	}
	checkBooks(t, s, "w1")
}

func testJournalPages(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	for i := range 10 {
		fund(t, s, "w1", int64(i+1))
		fund(t, s, "w2", 100) // another tenant's rows interleave
	}
	all, err := s.Journal(ctx, "w1", 0, 100)
	if err != nil || len(all) != 10 {
		t.Fatalf("Journal: %d, %v", len(all), err)
	}
	for i, e := range all {
		if e.Amount != int64(10-i) || e.Tenant != "w1" || (i > 0 && e.ID >= all[i-1].ID) {
			t.Errorf("entry %d: %+v; want amount %d, newest first", i, e, 10-i)
		}
	}
	for _, c := range []struct {
		before int64
		limit  int
		want   []ledger.Entry
	}{
		{0, 3, all[:3]},
		{all[2].ID, 3, all[3:6]},
		{all[8].ID, 3, all[9:]},
		{all[9].ID, 3, nil},
		{0, 0, nil},
	} {
		got, err := s.Journal(ctx, "w1", c.before, c.limit)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Journal(before %d, %d): %+v, %v; want %+v", c.before, c.limit, got, err, c.want)
		}
	}
	if got := journalAll(t, s, "w1"); !reflect.DeepEqual(got, all) {
		t.Errorf("paged journal differs from the whole")
	}
	if got, err := s.Journal(ctx, "nobody", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("journal of a tenant without one: %v, %v", got, err)
	}
}

func testBatches(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if _, err := s.Batch(ctx, "t1", "b1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Batch(unknown): %v; want ErrNotFound", err)
	}
	if err := s.PutBatch(ctx, "t1", "b1", `{"orders":[1,2]}`, base); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBatch(ctx, "t1", "b1", `{"orders":[3]}`, base); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("second PutBatch: %v; want ErrConflict", err)
	}
	if err := s.PutBatch(ctx, "t2", "b1", `{"orders":[4]}`, base); err != nil {
		t.Errorf("another tenant's batch of the same key: %v", err)
	}
	for _, c := range []struct{ tenant, answer string }{{"t1", `{"orders":[1,2]}`}, {"t2", `{"orders":[4]}`}} {
		if got, err := s.Batch(ctx, c.tenant, "b1"); err != nil || got != c.answer {
			t.Errorf("Batch(%s, b1): %q, %v; want %q", c.tenant, got, err, c.answer)
		}
	}
}

func testOutcomesRevenue(t *testing.T, s ledger.Store) {
	o := NewOrder("t1")
	o.TenantPriceBase = adapters.Money{Micros: 170_000, Currency: "USD"}
	create(t, s, o)
	got, err := s.Outcomes(context.Background(), ledger.OutcomeFilter{From: base, To: base.Add(time.Second)})
	if err != nil || len(got) != 1 || got[0].Revenue != 170_000 || got[0].BasePrice != 135_000 {
		t.Errorf("Outcomes: %+v, %v; want revenue 170000, cost 135000", got, err)
	}
}

func testMoneyAfterClose(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := NewOrder("t1")
	in := ledger.Intent{Tenant: "t1"}
	for name, err := range map[string]error{
		"Apply":          s.Apply(ctx, &o, ledger.Change{}),
		"OpenIntent":     s.OpenIntent(ctx, &in),
		"CloseIntent":    s.CloseIntent(ctx, 1, ledger.IntentAborted, nil, base),
		"Enqueue":        s.Enqueue(ctx, ledger.Action{Kind: ledger.ActCancel}),
		"SettleAction":   s.SettleAction(ctx, "a", ledger.Action{ID: 1, State: ledger.ActionDone}),
		"PutBatch":       s.PutBatch(ctx, "t1", "k", "a", base),
		"LeaseActions":   second(s.LeaseActions(ctx, "a", base, time.Minute, 1)),
		"StaleIntents":   second(s.StaleIntents(ctx, base, 1)),
		"Intent":         second(s.Intent(ctx, 1)),
		"Actions":        second(s.Actions(ctx, 1)),
		"PendingActions": second(s.PendingActions(ctx)),
		"Wallet":         second(s.Wallet(ctx, "t1")),
		"AdjustWallet":   second(s.AdjustWallet(ctx, "t1", "RUB", ledger.EntryTopup, 1, "", base)),
		"Journal":        second(s.Journal(ctx, "t1", 0, 1)),
		"Batch":          second(s.Batch(ctx, "t1", "k")),
	} {
		if !errors.Is(err, ledger.ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
}

// second is a two-value call's error.
func second[T any](_ T, err error) error { return err }

// describe names a failing goroutine's call for the concurrent tests.
func describe(who string, i int) string { return fmt.Sprintf("%s #%d", who, i) }
