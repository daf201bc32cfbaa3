package smspva

import (
	"testing"
	"time"

	"smsgate/adapters"
)

// The memory turns what SMS-PVA shows on each poll (its current SMS, or
// none) into the order's history and state.
func TestMemo(t *testing.T) {
	m := newMemo()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := adapters.SMS{Code: "1111", Text: "code 1111"}
	b := adapters.SMS{Code: "2222", Text: "code 2222"}
	c := adapters.SMS{Code: "3333", Text: "code 3333"}
	step := func(u adapters.Update, st adapters.State, n int) {
		t.Helper()
		if u.State != st || len(u.SMS) != n {
			t.Fatalf("update %+v; want %s with %d SMS", u, st, n)
		}
	}
	step(m.waiting("1", t0), adapters.StateWaiting, 0)
	// An array answer polled twice is the same two SMS, first seen at t0.
	step(m.received("1", []adapters.SMS{a, b}, t0), adapters.StateCodeReceived, 2)
	u := m.received("1", []adapters.SMS{a, b}, t0.Add(time.Minute))
	step(u, adapters.StateCodeReceived, 2)
	if !u.SMS[1].ReceivedAt.Equal(t0) {
		t.Fatalf("received at %v; want the first sighting %v", u.SMS[1].ReceivedAt, t0)
	}
	// clearsms: the old SMS shown again is not the new one.
	m.SetRetry("1", t0)
	step(m.received("1", []adapters.SMS{b}, t0), adapters.StateRetryWaiting, 2)
	step(m.waiting("1", t0), adapters.StateRetryWaiting, 2)
	step(m.received("1", []adapters.SMS{c}, t0), adapters.StateCodeReceived, 3)
	// 410 after codes: finished, for good.
	step(m.Closed("1", t0), adapters.StateFinished, 3)
	if u, ok := m.Ended("1", t0); !ok || u.State != adapters.StateFinished {
		t.Fatalf("ended = %+v, %v", u, ok)
	}
	// Our own cancel wins over the 410's guess.
	m.End("2", adapters.StateCancelled, t0)
	step(m.Closed("2", t0), adapters.StateCancelled, 0)
	step(m.Closed("3", t0), adapters.StateExpired, 0)
	// Idle entries are swept: the finished order is forgotten.
	m.waiting("4", t0.Add(2*time.Hour))
	if _, ok := m.Ended("1", t0.Add(2*time.Hour)); ok {
		t.Fatal("an entry idle for two hours was kept")
	}
}
