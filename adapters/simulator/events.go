package simulator

import (
	"container/heap"
	"time"
)

// Every change an order makes on its own (its SMS arrives, its lifetime
// ends, the market forgets it) happens at a known time, so the market keeps
// those times in a min-heap and an operation applies only what is due:
// O(log n) per event instead of a walk over every active order.

// order is the market's own record: the Order it shows, plus its place in
// the event queue. Its events live inside it, so scheduling allocates
// nothing.
type order struct {
	Order
	// nextCode is drawn when the SMS is scheduled, so codes do not depend
	// on the order in which due events happen to be applied.
	nextCode string
	// draw seeds the order's SMS outcomes in a realistic market
	// (realistic.go); 0 without a Model.
	draw uint64
	// sms is queued at NextSMSAt while an SMS is on its way.
	sms event
	// life is queued at ExpiresAt while the order is active, then at the
	// time the market forgets it (Config.Retention; not queued when 0).
	life event
}

func newOrder(o Order) *order {
	r := &order{Order: o}
	r.sms = event{o: r, index: -1}
	r.life = event{o: r, index: -1}
	return r
}

// event is a time at which its order may change. index is its place in the
// queue, -1 when it is not queued.
type event struct {
	// at is in Unix nanoseconds: cheaper to compare than a time.Time, and
	// the heap compares it about log2(n) times per change.
	at    int64
	o     *order
	index int
}

// queue is a min-heap of events by time (container/heap). Events at the
// same instant come out in no set order: what they do (an SMS with a code
// drawn in advance, an expiry, a refund) does not depend on it.
type queue []*event

func (q queue) Len() int { return len(q) }

func (q queue) Less(i, j int) bool { return q[i].at < q[j].at }

func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *queue) Push(x any) {
	e := x.(*event)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil // the order may be forgotten: do not keep it reachable
	e.index = -1
	*q = old[:n-1]
	return e
}

// set queues e at t, or moves it there if it is queued already.
func (q *queue) set(e *event, t time.Time) {
	e.at = t.UnixNano()
	if e.index >= 0 {
		heap.Fix(q, e.index)
		return
	}
	heap.Push(q, e)
}

// drop takes e out of the queue; a no-op when it is not queued.
func (q *queue) drop(e *event) {
	if e.index >= 0 {
		heap.Remove(q, e.index)
	}
}

// next is the earliest queued event, or nil.
func (q queue) next() *event {
	if len(q) == 0 {
		return nil
	}
	return q[0]
}

// settleDue applies every event due at now, earliest first; m.mu held.
// Each step takes the due event out of the queue or moves it past now.
func (m *Market) settleDue(now time.Time) {
	ns := now.UnixNano()
	for e := m.events.next(); e != nil && e.at <= ns; e = m.events.next() {
		o := e.o
		if e == &o.life && !o.State.Active() {
			// The order ended Retention ago: no one may look it up now.
			m.events.drop(e)
			delete(m.orders, o.ID)
			continue
		}
		m.settle(o, now)
		if e.index >= 0 && e.at <= ns {
			// settle left it due (it judged the time differently): move
			// it just past now rather than meet it again forever.
			m.events.set(e, now.Add(time.Nanosecond))
		}
	}
}

// scheduleSMS queues o's next SMS at NextSMSAt, or takes it out of the
// queue when none is coming; m.mu held, o active.
func (m *Market) scheduleSMS(o *order) {
	if o.NextSMSAt.IsZero() {
		m.events.drop(&o.sms)
		return
	}
	m.events.set(&o.sms, o.NextSMSAt)
}

// end takes o, which ended at t, out of the active orders and their
// events; the market forgets it Retention after t. m.mu held.
func (m *Market) end(o *order, t time.Time) {
	o.NextSMSAt = time.Time{}
	o.nextCode = ""
	delete(m.active, o.ID)
	m.live.remove(o)
	m.events.drop(&o.sms)
	if m.cfg.Retention > 0 {
		m.events.set(&o.life, t.Add(m.cfg.Retention))
	} else {
		m.events.drop(&o.life)
	}
}
