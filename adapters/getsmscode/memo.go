package getsmscode

import (
	"slices"
	"sync"
	"time"

	"smsgate/adapters"
)

// memo is what the client remembers about held numbers because GetSMSCode
// has no order to ask about: once a number is released or its hold ends,
// getsms only says "mobile number not found!", so the codes seen and our
// own finish or cancel are kept here to report the right terminal state.
// It is a cache, not a ledger: after a restart an ended number reads as
// expired, and the gateway's ledger, which holds the codes, turns that into
// finished (gateway applyUpdate).
//
// Entries idle for maxIdle are swept at most once a minute; the poller
// touches every live order every few seconds.
type memo struct {
	mu        sync.Mutex // guards everything below
	orders    map[string]*memoOrder
	lastSweep time.Time
}

type memoOrder struct {
	sms     []adapters.SMS // every SMS seen, oldest first
	end     adapters.State // terminal state ("" while held)
	touched time.Time
}

const (
	maxIdle   = time.Hour
	maxOrders = 200_000 // beyond this after a sweep, start afresh
)

func newMemo() *memo { return &memo{orders: map[string]*memoOrder{}} }

// get returns id's entry, creating it; m.mu held.
func (m *memo) get(id string, now time.Time) *memoOrder {
	if now.Sub(m.lastSweep) > time.Minute {
		m.lastSweep = now
		for k, o := range m.orders {
			if now.Sub(o.touched) > maxIdle {
				delete(m.orders, k)
			}
		}
		if len(m.orders) > maxOrders {
			m.orders = map[string]*memoOrder{}
		}
	}
	o := m.orders[id]
	if o == nil {
		o = &memoOrder{}
		m.orders[id] = o
	}
	o.touched = now
	return o
}

// state is the open order's state from what was seen.
func (o *memoOrder) state() adapters.Update {
	st := adapters.StateWaiting
	if len(o.sms) > 0 {
		st = adapters.StateCodeReceived
	}
	if o.end != "" {
		st = o.end
	}
	return adapters.Update{State: st, SMS: slices.Clone(o.sms)}
}

// ended returns the terminal state, if one is known.
func (m *memo) ended(id string, now time.Time) (adapters.Update, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok || o.end == "" {
		return adapters.Update{}, false
	}
	o.touched = now
	return o.state(), true
}

// hasCode reports whether a code was seen for id.
func (m *memo) hasCode(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	return ok && len(o.sms) > 0
}

// received records the SMS getsms shows; a text seen before is that SMS
// again (its first-seen time stays, so the gateway sees it once).
func (m *memo) received(id, text string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	if !slices.ContainsFunc(o.sms, func(old adapters.SMS) bool { return old.Text == text }) {
		o.sms = append(o.sms, adapters.SMS{Code: extractCode(text), Text: text, ReceivedAt: now.UTC()})
	}
	return o.state()
}

// current is the state as last known: the platform said nothing new.
func (m *memo) current(id string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(id, now).state()
}

// gone is "mobile number not found!": the hold ended. Why is not said, so
// the state comes from what we know: our own finish or cancel, else
// finished when a code was seen, else expired.
func (m *memo) gone(id string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	if o.end == "" {
		o.end = adapters.StateExpired
		if len(o.sms) > 0 {
			o.end = adapters.StateFinished
		}
	}
	return o.state()
}

// end records a terminal state decided by our own call.
func (m *memo) end(id string, st adapters.State, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id, now).end = st
}
