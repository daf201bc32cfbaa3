// Package ordermemo remembers, for platforms that keep no order history,
// what they showed of each order: the SMS delivered and how the order
// ended. Once such a platform forgets an order (GetSMSCode's "mobile
// number not found!", SMS-PVA's 410) it no longer says whether a code came
// or who ended it, and the memo answers instead. It is a cache, not a
// ledger: after a restart an ended order reads as expired, and the
// gateway's ledger, which holds the codes, turns that into finished
// (gateway applyUpdate).
package ordermemo

import (
	"slices"
	"sync"
	"time"

	"smsgate/adapters"
)

// Entries idle for maxIdle are swept at most once a minute: the poller
// touches every live order every few seconds, and orders on these
// platforms live minutes, not hours.
const (
	maxIdle   = time.Hour
	maxOrders = 200_000 // beyond this after a sweep, start afresh
)

// Memo is the memory of one client. Safe for concurrent use.
type Memo struct {
	mu        sync.Mutex // guards everything below
	orders    map[string]*Order
	lastSweep time.Time
}

// Order is what is remembered of one order. It is only read and written
// inside Update and the Memo's methods, under the memo's lock.
type Order struct {
	SMS   []adapters.SMS // every SMS seen, oldest first
	End   adapters.State // terminal state known here ("" while open)
	Retry bool           // another SMS was asked for and no new one has come
	// touched is when the order was last asked about, for the sweep.
	touched time.Time
}

// New returns an empty Memo.
func New() *Memo { return &Memo{orders: map[string]*Order{}} }

// get returns id's entry, creating it, and sweeps idle entries now and
// then; m.mu held.
func (m *Memo) get(id string, now time.Time) *Order {
	if now.Sub(m.lastSweep) > time.Minute {
		m.lastSweep = now
		for k, o := range m.orders {
			if now.Sub(o.touched) > maxIdle {
				delete(m.orders, k)
			}
		}
		if len(m.orders) > maxOrders {
			m.orders = map[string]*Order{}
		}
	}
	o := m.orders[id]
	if o == nil {
		o = &Order{}
		m.orders[id] = o
	}
	o.touched = now
	return o
}

// Update runs f on id's entry (created if absent) under the memo's lock
// and returns what f returns: the adapter reads its platform's answer
// into the order and says what state that means. f must not call m.
func (m *Memo) Update(id string, now time.Time, f func(o *Order) adapters.Update) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f(m.get(id, now))
}

// As is the order in state st, with a copy of its SMS: the caller may keep
// the update while the memo goes on appending.
func (o *Order) As(st adapters.State) adapters.Update {
	return adapters.Update{State: st, SMS: slices.Clone(o.SMS)}
}

// Add records the SMS of shown not seen before (same code and text), as
// received now: the platforms tell no time, and the first sighting stays
// stable across polls, so the gateway sees each SMS once. A new SMS ends a
// Retry. Add reports whether any SMS was new. (A new SMS identical to an
// old one is taken for it; its code is the one already known.)
func (o *Order) Add(shown []adapters.SMS, now time.Time) bool {
	fresh := false
	for _, s := range shown {
		if slices.ContainsFunc(o.SMS, func(old adapters.SMS) bool { return old.Code == s.Code && old.Text == s.Text }) {
			continue
		}
		s.ReceivedAt = now.UTC()
		o.SMS = append(o.SMS, s)
		fresh = true
	}
	if fresh {
		o.Retry = false
	}
	return fresh
}

// Ended returns id's terminal state, if one is known, without creating an
// entry.
func (m *Memo) Ended(id string, now time.Time) (adapters.Update, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok || o.End == "" {
		return adapters.Update{}, false
	}
	o.touched = now
	return o.As(o.End), true
}

// HasCode reports whether an SMS was seen for id.
func (m *Memo) HasCode(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	return ok && len(o.SMS) > 0
}

// End records a terminal state decided by our own call (finish, cancel).
func (m *Memo) End(id string, st adapters.State, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id, now).End = st
}

// SetRetry records that another SMS was asked for on id.
func (m *Memo) SetRetry(id string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id, now).Retry = true
}

// Closed is the platform saying the order is gone without saying why. The
// state comes from what is known: our own finish or cancel, else finished
// when a code was seen (the order closed as a success, charged), else
// expired. It is remembered.
func (m *Memo) Closed(id string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	if o.End == "" {
		o.End = adapters.StateExpired
		if len(o.SMS) > 0 {
			o.End = adapters.StateFinished
		}
	}
	return o.As(o.End)
}
