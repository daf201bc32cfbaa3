package smspva

import (
	"slices"
	"sync"
	"time"

	"smsgate/adapters"
)

// memo is what the client remembers about orders because SMS-PVA forgets
// it: a closed order answers 410 even after a code was delivered, and there
// is no finish call, so the codes seen and a local finish must be kept here
// to report the right terminal state. It is a cache, not a ledger: after a
// restart a closed order reads as expired and the gateway's ledger, which
// holds the codes, turns that into finished (gateway applyUpdate).
//
// Entries idle for maxIdle are swept at most once a minute: orders live
// 10 minutes and each clearsms extends one by about as much, while the
// poller touches every live order every few seconds.
type memo struct {
	mu        sync.Mutex // guards everything below
	orders    map[string]*memoOrder
	lastSweep time.Time
}

type memoOrder struct {
	sms     []adapters.SMS // every SMS seen, oldest first
	retry   bool           // clearsms succeeded since the last new SMS
	end     adapters.State // terminal state decided here ("" while open)
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

func (o *memoOrder) update(st adapters.State) adapters.Update {
	return adapters.Update{State: st, SMS: slices.Clone(o.sms)}
}

// ended returns the terminal state decided locally, if any.
func (m *memo) ended(id string, now time.Time) (adapters.Update, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok || o.end == "" {
		return adapters.Update{}, false
	}
	o.touched = now
	return o.update(o.end), true
}

// received merges what the platform shows (its current SMS) into the order.
// An SMS equal to one seen before is that SMS again: while a retry is
// pending, the new one has not come yet. (A new SMS identical to an old
// one is lost that way; its code is the one already known.)
func (m *memo) received(id string, shown []adapters.SMS, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	fresh := false
	for _, s := range shown {
		if slices.ContainsFunc(o.sms, func(old adapters.SMS) bool { return old.Code == s.Code && old.Text == s.Text }) {
			continue
		}
		s.ReceivedAt = now.UTC() // first seen: stable across polls
		o.sms = append(o.sms, s)
		fresh = true
	}
	if fresh {
		o.retry = false
	}
	if o.retry {
		return o.update(adapters.StateRetryWaiting)
	}
	return o.update(adapters.StateCodeReceived)
}

// waiting is the platform showing no SMS: before the first code that is
// waiting; after one it can only mean the SMS was cleared for another.
func (m *memo) waiting(id string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	if len(o.sms) > 0 {
		return o.update(adapters.StateRetryWaiting)
	}
	return o.update(adapters.StateWaiting)
}

// closed is the platform's 410. It does not say why, so the state comes
// from what we know: our own finish or cancel, else finished when a code
// was seen (the order closed as a success), else expired.
func (m *memo) closed(id string, now time.Time) adapters.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.get(id, now)
	if o.end == "" {
		o.end = adapters.StateExpired
		if len(o.sms) > 0 {
			o.end = adapters.StateFinished
		}
	}
	return o.update(o.end)
}

// end records a terminal state decided by our own call.
func (m *memo) end(id string, st adapters.State, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id, now).end = st
}

// retry records a successful clearsms.
func (m *memo) retry(id string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(id, now).retry = true
}
