package ledgertest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// testReschedule: a list poll moves the next poll of the orders it found
// unchanged in one statement. Only orders still active and still due
// move (one a writer rescheduled meanwhile keeps its time), nothing else
// of the order changes, its version included, and on a shared store the
// write releases Claim's lease.
func testReschedule(t *testing.T, s ledger.Store) {
	r, ok := s.(ledger.Rescheduler)
	if !ok {
		t.Fatalf("%T is not a ledger.Rescheduler", s)
	}
	ctx := context.Background()
	now := base.Add(time.Hour)
	mk := func(st adapters.State, nextPoll time.Duration) ledger.Order {
		o := NewOrder("t1")
		o.State = st
		o.NextPollAt = now.Add(nextPoll)
		return create(t, s, o)
	}
	due1 := mk(adapters.StateWaiting, -2*time.Second)
	due2 := mk(adapters.StateRetryWaiting, 0)
	moved := mk(adapters.StateCodeReceived, time.Hour) // a code arrived after the list was read
	ended := mk(adapters.StateFinished, -time.Second)
	other := mk(adapters.StateWaiting, -time.Second) // not in the list round
	if l, ok := s.(ledger.Leaser); ok {
		if got := claim(t, l, "a", now, time.Hour, 10); len(got) != 3 {
			t.Fatalf("claimed %d orders; want 3", len(got))
		}
	}
	next := now.Add(5 * time.Second)
	n, err := r.Reschedule(ctx, []int64{due1.ID, due2.ID, moved.ID, ended.ID}, next, now)
	if err != nil || n != 2 {
		t.Fatalf("Reschedule = %d, %v; want 2 moved", n, err)
	}
	for _, c := range []struct {
		o    ledger.Order
		next time.Time
	}{{due1, next}, {due2, next}, {moved, moved.NextPollAt}, {ended, ended.NextPollAt}, {other, other.NextPollAt}} {
		want := c.o
		want.NextPollAt = c.next
		if d := Diff(want, get(t, s, c.o.ID)); d != "" {
			t.Errorf("order %d after Reschedule:\n%s", c.o.ID, d)
		}
	}
	// A version unchanged: the writer that read the order before still
	// writes it.
	due1.UpdatedAt = now
	if err := s.Update(ctx, &due1); err != nil {
		t.Fatalf("Update after Reschedule: %v", err)
	}
	if l, ok := s.(ledger.Leaser); ok {
		// Their lease is gone: once due again, anyone claims them (other
		// is still a's).
		got := claim(t, l, "b", next, time.Hour, 10)
		if want := []int64{due1.ID, due2.ID}; !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("claim after Reschedule: got ids %v; want %v", ids(got), want)
		}
	}
	if n, err := r.Reschedule(ctx, nil, next, now); err != nil || n != 0 {
		t.Fatalf("Reschedule of nothing = %d, %v", n, err)
	}
}
