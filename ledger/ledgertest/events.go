package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// RunEvents runs the order-event contract (ledger.Events, the webhook
// actions written with events, and the outbox queries the webhook worker
// uses) as subtests. open is as for Run. ConcurrentEvents races on one
// store here; a shared store's test runs it across two stores too.
func RunEvents(t *testing.T, open func(t *testing.T) ledger.Store) {
	runCases(t, open, (*testing.T).Fatalf, []contractCase[ledger.Store]{
		{"CreateAndApplyWriteEvents", testEventsWritten},
		{"SequencePerTenant", testEventsPerTenant},
		{"EventsAfter", testEventsAfter},
		{"WebhookActionsOnlyWithTheFlag", testEventWebhooks},
		{"RolledBackWritesNoEventAndBurnsNoSeq", testEventRollback},
		{"LeaseActionsKinds", testLeaseActionsKinds},
		{"EarlierPending", testEarlierPending},
		{"ActionsOfPages", testActionsOf},
		{"EventsAfterClose", testEventsAfterClose},
		{"ConcurrentEvents", func(t *testing.T, s ledger.Store) { ConcurrentEvents(t, s, s) }},
	})
}

// eventsAfter is every event of the tenant after seq after.
func eventsAfter(t *testing.T, s ledger.Events, tenant string, after int64) []ledger.Event {
	t.Helper()
	got, err := s.EventsAfter(context.Background(), tenant, after, 1000)
	if err != nil {
		t.Fatalf("EventsAfter(%s, %d): %v", tenant, after, err)
	}
	return got
}

func seqs(es []ledger.Event) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// seqRange is from, from+1, …, to (nil when to < from).
func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func lastEvent(t *testing.T, s ledger.Events, tenant string) int64 {
	t.Helper()
	n, err := s.LastEvent(context.Background(), tenant)
	if err != nil {
		t.Fatalf("LastEvent(%s): %v", tenant, err)
	}
	return n
}

func apply(t *testing.T, s ledger.Store, o *ledger.Order, c ledger.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), o, c); err != nil {
		t.Fatalf("Apply(%d): %v", o.ID, err)
	}
}

// wantEvent is the event a store writes for o as it stands.
func wantEvent(o ledger.Order, seq int64, kind ledger.EventKind, at time.Time, code, text string) ledger.Event {
	return ledger.Event{Seq: seq, Tenant: o.Tenant, OrderID: o.ID, Kind: kind, At: ms(at), State: o.State,
		Phone: o.Phone, Country: o.Country, Service: o.Service, Platform: o.Platform, Price: o.TenantPrice,
		Code: code, Text: text}
}

func testEventsWritten(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if n := lastEvent(t, s, "t1"); n != 0 {
		t.Errorf("LastEvent of a tenant without events: %d; want 0", n)
	}
	o := create(t, s, NewOrder("t1"))
	bought := o
	o.State, o.UpdatedAt = adapters.StateCodeReceived, base.Add(time.Minute)
	o.Codes = []ledger.Code{{Code: "123456", Text: "Telegram code 123456", ReceivedAt: o.UpdatedAt}}
	apply(t, s, &o, ledger.Change{Events: []ledger.EventNote{{Kind: ledger.EventCode, Code: "123456", Text: "Telegram code 123456"}}})
	coded := o
	o.State, o.UpdatedAt, o.Phone = adapters.StateFinished, base.Add(2*time.Minute), "79990000000"
	// Code and Text belong to EventCode only.
	apply(t, s, &o, ledger.Change{Events: []ledger.EventNote{{Kind: ledger.EventAnother}, {Kind: ledger.EventFinished, Code: "x", Text: "y"}}})
	want := []ledger.Event{
		wantEvent(bought, 1, ledger.EventBought, base, "", ""),
		wantEvent(coded, 2, ledger.EventCode, base.Add(time.Minute), "123456", "Telegram code 123456"),
		wantEvent(o, 3, ledger.EventAnother, base.Add(2*time.Minute), "", ""),
		wantEvent(o, 4, ledger.EventFinished, base.Add(2*time.Minute), "", ""),
	}
	got := eventsAfter(t, s, "t1", 0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\ngot  %+v\nwant %+v", got, want)
	}
	for _, e := range got {
		if e.At.Location() != time.UTC {
			t.Errorf("event %d: At in %v; want UTC", e.Seq, e.At.Location())
		}
	}
	for _, w := range want {
		if e, err := s.Event(ctx, "t1", w.Seq); err != nil || !reflect.DeepEqual(e, w) {
			t.Errorf("Event(t1, %d) = %+v, %v; want %+v", w.Seq, e, err, w)
		}
	}
	if _, err := s.Event(ctx, "t1", 5); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Event(t1, 5): %v; want ErrNotFound", err)
	}
	if n := lastEvent(t, s, "t1"); n != 4 {
		t.Errorf("LastEvent = %d; want 4", n)
	}
	if as, err := s.Actions(ctx, o.ID); err != nil || len(as) != 0 {
		t.Errorf("actions without Webhook: %+v, %v; want none", as, err)
	}
	// An Update writes no event.
	o.UpdatedAt = base.Add(3 * time.Minute)
	if err := s.Update(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if n := lastEvent(t, s, "t1"); n != 4 {
		t.Errorf("LastEvent after an Update = %d; want 4", n)
	}
}

// testEventsPerTenant: two tenants' events interleave in time; each has
// its own sequence from 1 without gaps and sees only its own orders.
func testEventsPerTenant(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	orders := map[string][]int64{}
	for i, tenant := range []string{"a", "b", "a", "a", "b", "c", "a"} {
		o := NewOrder(tenant)
		o.Phone = fmt.Sprintf("7900%07d", i)
		o = create(t, s, o)
		orders[tenant] = append(orders[tenant], o.ID)
	}
	for tenant, ids := range orders {
		got := eventsAfter(t, s, tenant, 0)
		if !reflect.DeepEqual(seqs(got), seqRange(1, int64(len(ids)))) {
			t.Errorf("tenant %s: seqs %v; want 1..%d", tenant, seqs(got), len(ids))
		}
		for i, e := range got {
			if e.Tenant != tenant || e.OrderID != ids[i] || e.Kind != ledger.EventBought {
				t.Errorf("tenant %s event %d: %+v; want its order %d bought", tenant, e.Seq, e, ids[i])
			}
		}
		if n := lastEvent(t, s, tenant); n != int64(len(ids)) {
			t.Errorf("LastEvent(%s) = %d; want %d", tenant, n, len(ids))
		}
	}
	if _, err := s.Event(ctx, "b", 3); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Event(b, 3) (a seq only a has): %v; want ErrNotFound", err)
	}
	if got := eventsAfter(t, s, "nobody", 0); len(got) != 0 {
		t.Errorf("a tenant without orders: %+v", got)
	}
}

func testEventsAfter(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	o := create(t, s, NewOrder("t1"))
	for i := range 9 {
		o.UpdatedAt = base.Add(time.Duration(i+1) * time.Second)
		apply(t, s, &o, ledger.Change{Events: []ledger.EventNote{{Kind: ledger.EventAnother}}})
	}
	for k := int64(0); k <= 11; k++ {
		if got := eventsAfter(t, s, "t1", k); !reflect.DeepEqual(seqs(got), seqRange(k+1, 10)) {
			t.Errorf("EventsAfter(%d): %v; want %v", k, seqs(got), seqRange(k+1, 10))
		}
	}
	for _, c := range []struct {
		after int64
		limit int
		want  []int64
	}{{2, 3, []int64{3, 4, 5}}, {8, 5, []int64{9, 10}}, {0, 0, nil}, {0, -1, nil}, {-5, 1, []int64{1}}} {
		got, err := s.EventsAfter(ctx, "t1", c.after, c.limit)
		if err != nil || !reflect.DeepEqual(seqs(got), c.want) {
			t.Errorf("EventsAfter(%d, limit %d): %v, %v; want %v", c.after, c.limit, seqs(got), err, c.want)
		}
	}
}

// webhooks is the order's webhook actions, oldest first.
func webhooks(t *testing.T, s ledger.Money, orderID int64) []ledger.Action {
	t.Helper()
	as, err := s.Actions(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Action
	for _, a := range as {
		if a.Kind == ledger.ActWebhook {
			out = append(out, a)
		}
	}
	return out
}

func testEventWebhooks(t *testing.T, s ledger.Store) {
	plain := create(t, s, NewOrder("t1")) // seq 1, no webhook
	if got := webhooks(t, s, plain.ID); len(got) != 0 {
		t.Errorf("Create without Webhook queued %+v", got)
	}
	o := NewOrder("t1")
	o.Webhook = true
	o = create(t, s, o) // seq 2
	at := ms(base)
	want := []ledger.Action{{OrderID: o.ID, Tenant: "t1", Platform: "alpha", Kind: ledger.ActWebhook,
		State: ledger.ActionPending, Payload: "2", CreatedAt: at, UpdatedAt: at, NextAt: at}}
	check := func(what string) {
		t.Helper()
		got := webhooks(t, s, o.ID)
		for i := range got {
			if i < len(want) {
				want[i].ID = got[i].ID
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", what, got, want)
		}
	}
	check("Create with Webhook")

	o.State, o.UpdatedAt = adapters.StateCodeReceived, base.Add(time.Minute)
	apply(t, s, &o, ledger.Change{Events: []ledger.EventNote{{Kind: ledger.EventCode, Code: "1"}}}) // seq 3, no webhook
	check("Apply without Webhook")
	o.State, o.UpdatedAt = adapters.StateFinished, base.Add(2*time.Minute)
	apply(t, s, &o, ledger.Change{Webhook: true, Events: []ledger.EventNote{{Kind: ledger.EventCode, Code: "2"}, {Kind: ledger.EventFinished}}})
	at = ms(o.UpdatedAt)
	for _, seq := range []string{"4", "5"} {
		want = append(want, ledger.Action{OrderID: o.ID, Tenant: "t1", Platform: "alpha", Kind: ledger.ActWebhook,
			State: ledger.ActionPending, Payload: seq, CreatedAt: at, UpdatedAt: at, NextAt: at})
	}
	check("Apply with Webhook")
	apply(t, s, &o, ledger.Change{Webhook: true}) // no events: no webhooks
	check("Apply with Webhook and no events")
	for _, a := range webhooks(t, s, o.ID) {
		seq, _ := strconv.ParseInt(a.Payload, 10, 64)
		if e, err := s.Event(context.Background(), "t1", seq); err != nil || e.OrderID != o.ID {
			t.Errorf("webhook %d names event %s: %+v, %v", a.ID, a.Payload, e, err)
		}
	}
}

// testEventRollback: a Create or Apply that fails writes none of its
// events or webhooks, and the next event takes the next seq: none was
// burnt.
func testEventRollback(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	first := create(t, s, NewOrder("t1")) // seq 1
	o := create(t, s, NewOrder("t1"))     // seq 2
	notes := []ledger.EventNote{{Kind: ledger.EventFinished}}

	bad := o
	bad.UpstreamID = first.UpstreamID
	if err := s.Apply(ctx, &bad, ledger.Change{Webhook: true, Events: notes}); !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("Apply to a taken upstream id: %v; want ErrDuplicateUpstream", err)
	}
	stale := o
	stale.Version = 7
	if err := s.Apply(ctx, &stale, ledger.Change{Webhook: true, Events: notes}); !errors.Is(err, ledger.ErrStale) {
		t.Fatalf("Apply over a moved version: %v; want ErrStale", err)
	}
	if err := s.Apply(ctx, &o, ledger.Change{Events: []ledger.EventNote{{Kind: "exploded"}}}); err == nil {
		t.Fatal("Apply with an unknown event kind: nil error")
	}
	dup := NewOrder("t1")
	dup.UpstreamID, dup.Webhook = first.UpstreamID, true
	if err := s.Create(ctx, &dup); !errors.Is(err, ledger.ErrDuplicateUpstream) {
		t.Fatalf("Create of a duplicate: %v; want ErrDuplicateUpstream", err)
	}
	in := openIntent(t, s, "t1", 0)
	if err := s.CloseIntent(ctx, in.ID, ledger.IntentAborted, nil, base); err != nil {
		t.Fatal(err)
	}
	late := NewOrder("t1")
	late.IntentID, late.Webhook = in.ID, true
	if err := s.Create(ctx, &late); !errors.Is(err, ledger.ErrStale) {
		t.Fatalf("Create closing a closed intent: %v; want ErrStale", err)
	}
	if n := lastEvent(t, s, "t1"); n != 2 {
		t.Errorf("LastEvent after failed writes = %d; want 2", n)
	}
	if got := eventsAfter(t, s, "t1", 2); len(got) != 0 {
		t.Errorf("failed writes wrote events %+v", got)
	}
	if got := webhooks(t, s, o.ID); len(got) != 0 {
		t.Errorf("failed Apply queued webhooks %+v", got)
	}
	o.State = adapters.StateFinished
	apply(t, s, &o, ledger.Change{Events: notes})
	if got := eventsAfter(t, s, "t1", 0); !reflect.DeepEqual(seqs(got), []int64{1, 2, 3}) {
		t.Errorf("seqs after the failures: %v; want 1, 2, 3", seqs(got))
	}
}

func testLeaseActionsKinds(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	ids := map[ledger.ActionKind]int64{}
	for i, k := range []ledger.ActionKind{ledger.ActCancel, ledger.ActWebhook, ledger.ActFinish, ledger.ActWebhook} {
		orderID := int64(100 + i)
		if err := s.Enqueue(ctx, ledger.Action{OrderID: orderID, Tenant: "t1", Kind: k, NextAt: now}); err != nil {
			t.Fatal(err)
		}
		as, err := s.Actions(ctx, orderID)
		if err != nil || len(as) != 1 {
			t.Fatalf("Actions(%d): %v, %v", orderID, as, err)
		}
		if _, ok := ids[k]; !ok {
			ids[k] = as[0].ID
		}
	}
	lease := func(owner string, kinds ...ledger.ActionKind) []ledger.ActionKind {
		t.Helper()
		got, err := s.LeaseActions(ctx, owner, now, time.Minute, 10, kinds...)
		if err != nil {
			t.Fatalf("LeaseActions(%v): %v", kinds, err)
		}
		var out []ledger.ActionKind
		for _, a := range got {
			out = append(out, a.Kind)
		}
		return out
	}
	for _, c := range []struct {
		kinds []ledger.ActionKind
		want  []ledger.ActionKind
	}{
		{[]ledger.ActionKind{ledger.ActBan}, nil},
		{[]ledger.ActionKind{ledger.ActWebhook}, []ledger.ActionKind{ledger.ActWebhook, ledger.ActWebhook}},
		{[]ledger.ActionKind{ledger.ActWebhook, ledger.ActFinish}, []ledger.ActionKind{ledger.ActFinish}},
		{nil, []ledger.ActionKind{ledger.ActCancel}}, // every kind: what is left
	} {
		if got := lease(fmt.Sprint(c.kinds), c.kinds...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("LeaseActions(kinds %v): %v; want %v", c.kinds, got, c.want)
		}
	}
}

func testEarlierPending(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	o := NewOrder("t1")
	o.Webhook = true
	o = create(t, s, o)
	o.State, o.UpdatedAt = adapters.StateFinished, base.Add(time.Minute)
	apply(t, s, &o, ledger.Change{Webhook: true, Events: []ledger.EventNote{{Kind: ledger.EventAnother}, {Kind: ledger.EventFinished}},
		Actions: []ledger.Action{{Kind: ledger.ActFinish}}})
	other := NewOrder("t1")
	other.Webhook = true
	other = create(t, s, other)
	// Orphans (order 0) of two tenants: t2's earlier one does not hold t1's.
	if err := s.Enqueue(ctx, ledger.Action{Tenant: "t2", Kind: ledger.ActWebhook}, ledger.Action{Tenant: "t1", Kind: ledger.ActWebhook},
		ledger.Action{Tenant: "t1", Kind: ledger.ActWebhook}); err != nil {
		t.Fatal(err)
	}
	hooks := webhooks(t, s, o.ID)
	orphans := webhooks(t, s, 0)
	if len(hooks) != 3 || len(orphans) != 3 {
		t.Fatalf("%d webhooks, %d orphans; want 3 and 3", len(hooks), len(orphans))
	}
	earlier := func(a ledger.Action) bool {
		t.Helper()
		ok, err := s.EarlierPending(ctx, a)
		if err != nil {
			t.Fatalf("EarlierPending(%d): %v", a.ID, err)
		}
		return ok
	}
	for _, c := range []struct {
		name string
		a    ledger.Action
		want bool
	}{
		{"first of its order (a finish with a lower id does not count)", hooks[0], false},
		{"second of its order", hooks[1], true},
		{"third of its order", hooks[2], true},
		{"first of another order (the first order's are earlier)", webhooks(t, s, other.ID)[0], false},
		{"t2's orphan", orphans[0], false},
		{"t1's first orphan (t2's is earlier)", orphans[1], false},
		{"t1's second orphan", orphans[2], true},
	} {
		if got := earlier(c.a); got != c.want {
			t.Errorf("%s: EarlierPending = %v; want %v", c.name, got, c.want)
		}
	}
	// Once the first is done, the second is first.
	leased, err := s.LeaseActions(ctx, "w", base.Add(time.Hour), time.Minute, 1, ledger.ActWebhook)
	if err != nil || len(leased) != 1 || leased[0].ID != hooks[0].ID {
		t.Fatalf("lease of the first webhook: %+v, %v", leased, err)
	}
	leased[0].State, leased[0].Attempts = ledger.ActionDone, 1
	if err := s.SettleAction(ctx, "w", leased[0]); err != nil {
		t.Fatal(err)
	}
	if earlier(hooks[1]) || !earlier(hooks[2]) {
		t.Errorf("after the first was done: EarlierPending(second) = %v, (third) = %v; want false, true", earlier(hooks[1]), earlier(hooks[2]))
	}
}

func testActionsOf(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	var mine []int64
	for i := range 7 {
		tenant := "t1"
		if i%3 == 1 {
			tenant = "t2"
		}
		o := NewOrder(tenant)
		o.Webhook = true
		o = create(t, s, o)
		if err := s.Enqueue(ctx, ledger.Action{OrderID: o.ID, Tenant: tenant, Kind: ledger.ActCancel}); err != nil {
			t.Fatal(err)
		}
		if tenant == "t1" {
			mine = append(mine, webhooks(t, s, o.ID)[0].ID)
		}
	}
	var got []int64
	before := int64(0)
	for page := 0; ; page++ {
		as, err := s.ActionsOf(ctx, "t1", ledger.ActWebhook, before, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) > 2 || page > len(mine) {
			t.Fatalf("page %d: %d actions; want at most 2, and an end", page, len(as))
		}
		if len(as) == 0 {
			break
		}
		for _, a := range as {
			if a.Tenant != "t1" || a.Kind != ledger.ActWebhook {
				t.Errorf("ActionsOf(t1, webhook) returned %+v", a)
			}
			got = append(got, a.ID)
		}
		before = as[len(as)-1].ID
	}
	want := make([]int64, len(mine))
	for i, id := range mine {
		want[len(mine)-1-i] = id
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pages: %v; want %v (newest first)", got, want)
	}
	if as, err := s.ActionsOf(ctx, "t1", ledger.ActWebhook, 0, 0); err != nil || len(as) != 0 {
		t.Errorf("limit 0: %v, %v", as, err)
	}
}

func testEventsAfterClose(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"EventsAfter":    second(s.EventsAfter(ctx, "t1", 0, 1)),
		"Event":          second(s.Event(ctx, "t1", 1)),
		"LastEvent":      second(s.LastEvent(ctx, "t1")),
		"EarlierPending": second(s.EarlierPending(ctx, ledger.Action{ID: 1})),
		"ActionsOf":      second(s.ActionsOf(ctx, "t1", ledger.ActWebhook, 0, 1)),
	} {
		if !errors.Is(err, ledger.ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
}

// ConcurrentEvents: writers on both stores create orders and apply
// changes with events for one tenant (and another tenant's writer runs
// meanwhile), while a reader on b follows the tenant with EventsAfter(last)
// as a stream does. The reader must get every seq exactly once and in
// order, and never see a gap: seq k+1 visible before k committed, even if
// k shows up later, is a failure.
func ConcurrentEvents(t *testing.T, a, b ledger.Store) {
	const (
		writers = 4
		applies = 20
		tenant  = "stream"
	)
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		s := []ledger.Store{a, b}[w%2]
		wg.Go(func() {
			<-start
			o := NewOrder(tenant)
			o.Webhook = w == 0
			if err := s.Create(ctx, &o); err != nil {
				t.Errorf("writer %d: Create: %v", w, err)
				return
			}
			o.State = adapters.StateCodeReceived
			for i := range applies {
				o.UpdatedAt = base.Add(time.Duration(i) * time.Millisecond)
				notes := []ledger.EventNote{{Kind: ledger.EventCode, Code: strconv.Itoa(i)}}
				if i%3 == 0 {
					notes = append(notes, ledger.EventNote{Kind: ledger.EventAnother})
				}
				if err := s.Apply(ctx, &o, ledger.Change{Events: notes, Webhook: w == 1}); err != nil {
					t.Errorf("writer %d: Apply %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Go(func() { // another tenant writes meanwhile
		<-start
		for range applies {
			if err := b.Create(ctx, ptr(NewOrder("elsewhere"))); err != nil {
				t.Errorf("other tenant: Create: %v", err)
				return
			}
		}
	})
	perWriter := int64(1 + applies + (applies+2)/3)
	total := writers * perWriter
	done := make(chan struct{})
	var seen int64
	var readErr error
	var reader sync.WaitGroup
	reader.Go(func() { seen, readErr = followEvents(ctx, b, tenant, total, done) })
	close(start)
	wg.Wait()
	close(done)
	reader.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if seen != total {
		t.Errorf("the reader saw %d events; want %d", seen, total)
	}
	if n := lastEvent(t, a, tenant); n != total {
		t.Errorf("LastEvent = %d; want %d", n, total)
	}
	if n := lastEvent(t, a, "elsewhere"); n != applies {
		t.Errorf("the other tenant's LastEvent = %d; want %d", n, applies)
	}
}

func ptr[T any](v T) *T { return &v }

// followEvents reads the tenant's events as a stream does, from seq 0,
// until it has seen want of them or, once done is closed, a read returns
// nothing new. It fails on any seq other than the one after the last.
func followEvents(ctx context.Context, s ledger.Events, tenant string, want int64, done <-chan struct{}) (int64, error) {
	var last int64
	finished := false
	for last < want {
		select {
		case <-done:
			finished = true
		default:
		}
		es, err := s.EventsAfter(ctx, tenant, last, 7)
		if err != nil {
			return last, err
		}
		for _, e := range es {
			if e.Seq != last+1 || e.Tenant != tenant {
				return last, fmt.Errorf("after seq %d the reader got seq %d of tenant %s: a gap or a repeat", last, e.Seq, e.Tenant)
			}
			last = e.Seq
		}
		if len(es) == 0 && finished {
			break
		}
	}
	return last, nil
}
