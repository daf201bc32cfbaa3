package ordermemo

import (
	"testing"
	"time"

	"smsgate/adapters"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// Add keeps each SMS once, at its first sighting, and a new one ends a
// pending retry.
func TestAdd(t *testing.T) {
	m := New()
	a := adapters.SMS{Code: "1111", Text: "code 1111"}
	b := adapters.SMS{Code: "2222", Text: "code 2222"}
	add := func(at time.Time, shown ...adapters.SMS) (fresh bool, o Order) {
		m.Update("1", at, func(e *Order) adapters.Update {
			fresh, o = e.Add(shown, at), *e
			return adapters.Update{}
		})
		return fresh, o
	}
	if fresh, o := add(t0, a); !fresh || len(o.SMS) != 1 || !o.SMS[0].ReceivedAt.Equal(t0) {
		t.Fatalf("first sighting: fresh %v, %+v", fresh, o)
	}
	m.SetRetry("1", t0)
	if fresh, o := add(t0.Add(time.Minute), a); fresh || len(o.SMS) != 1 || !o.SMS[0].ReceivedAt.Equal(t0) || !o.Retry {
		t.Fatalf("the same SMS again: fresh %v, %+v; want it kept at its first sighting, retry pending", fresh, o)
	}
	if fresh, o := add(t0.Add(2*time.Minute), a, b); !fresh || len(o.SMS) != 2 || o.Retry {
		t.Fatalf("a new SMS: fresh %v, %+v; want two SMS, retry over", fresh, o)
	}
}

// Closed reads the end from what is known; a recorded end wins.
func TestClosed(t *testing.T) {
	m := New()
	if u := m.Closed("quiet", t0); u.State != adapters.StateExpired {
		t.Fatalf("closed without a code: %s; want expired", u.State)
	}
	m.Update("coded", t0, func(o *Order) adapters.Update {
		o.Add([]adapters.SMS{{Code: "1234", Text: "1234"}}, t0)
		return adapters.Update{}
	})
	if !m.HasCode("coded") || m.HasCode("quiet") {
		t.Fatal("HasCode disagrees with what was seen")
	}
	if u := m.Closed("coded", t0); u.State != adapters.StateFinished || len(u.SMS) != 1 {
		t.Fatalf("closed after a code: %+v; want finished with the code", u)
	}
	m.End("mine", adapters.StateCancelled, t0)
	if u := m.Closed("mine", t0); u.State != adapters.StateCancelled {
		t.Fatalf("closed after our cancel: %s; want cancelled", u.State)
	}
	if u, ok := m.Ended("coded", t0); !ok || u.State != adapters.StateFinished {
		t.Fatalf("ended = %+v, %v; want finished, remembered", u, ok)
	}
}

// Ended creates no entry; entries idle for two hours are swept.
func TestEndedAndSweep(t *testing.T) {
	m := New()
	if _, ok := m.Ended("unknown", t0); ok || len(m.orders) != 0 {
		t.Fatalf("Ended of an unknown id: %v, %d entries", ok, len(m.orders))
	}
	m.End("1", adapters.StateFinished, t0)
	m.Update("2", t0.Add(2*time.Hour), func(o *Order) adapters.Update { return o.As(adapters.StateWaiting) })
	if _, ok := m.orders["1"]; ok {
		t.Fatal("an entry idle for two hours was kept")
	}
	if _, ok := m.orders["2"]; !ok {
		t.Fatal("the entry just touched was swept")
	}
}
