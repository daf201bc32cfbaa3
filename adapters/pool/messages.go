package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"smsgate/adapters"
	"smsgate/adapters/pool/lease"
	"sort"
	"strconv"
	"strings"
	"time"
)

// watermark reads the leased number and returns the time from which
// messages are the lease's: now (less the skew allowance), but after
// anything already there (polling: from the second of the newest one, the
// copies of that second kept as seen; see dropEdge). With callbacks on, what it read is stored with
// the pushed messages, so a late callback of it is known for what it is.
func (p *Pool) watermark(ctx context.Context, l lease.Lease) (time.Time, error) {
	after := l.Since.Add(-skew)
	n, err := p.numberFor(ctx, l.Phone)
	if err != nil {
		return time.Time{}, err
	}
	since := after.Truncate(time.Second)
	if p.pushing() {
		since = l.Since.Add(-pushWindow)
	}
	msgs, err := p.o.Source.Messages(ctx, n, since)
	if err != nil {
		return time.Time{}, err
	}
	p.touch(l.ID)
	var latest time.Time
	for _, m := range msgs {
		if !m.At.Before(after) && m.At.After(latest) {
			latest = m.At
		}
	}
	if !p.pushing() && !latest.IsZero() {
		// Upstream times are whole seconds (TextNow, Receive-SMS): an SMS
		// that comes later in the second of the newest one here is stamped
		// no later than it. So the watermark is that second's start, and
		// the copies of this second read now are kept in the ledger as
		// seen (edge): they, and only they, are not the lease's.
		after = latest.Truncate(time.Second)
		for _, m := range msgs {
			if !m.At.Before(after) && m.At.Before(after.Add(time.Second)) {
				if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, l.Phone, lease.Message{From: m.From, Text: m.Text, At: m.At.UTC()}); err != nil {
					return time.Time{}, fmt.Errorf("%w: cannot store the number's messages: %v", adapters.ErrUnavailable, err)
				}
			}
		}
		return after, nil
	}
	if !latest.IsZero() {
		after = latest.Add(time.Millisecond)
	}
	if p.pushing() {
		have, err := p.stored(ctx, l.Phone, since)
		if err != nil {
			return time.Time{}, err
		}
		if err := p.store(ctx, l.Phone, msgs, have); err != nil {
			return time.Time{}, err
		}
	}
	return after, nil
}

// stored returns the phone's stored messages (pushed, and the polled
// copies kept beside them) at or after since.
func (p *Pool) stored(ctx context.Context, phone string, since time.Time) ([]Message, error) {
	rows, err := p.o.Store.PoolMessages(ctx, p.o.Code, phone, since)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read stored messages: %v", adapters.ErrUnavailable, err)
	}
	out := make([]Message, 0, len(rows))
	for _, m := range rows {
		out = append(out, Message{From: m.From, Text: m.Text, At: m.At, pushed: m.Pushed})
	}
	return out, nil
}

// read returns the lease's number's messages from (about) the lease's
// start: the stored ones with callbacks on, and the upstream's own when
// polling is due (always without callbacks; every PushFallback with them,
// or when force). With what it could read, it returns the upstream's
// error, if any.
func (p *Pool) read(ctx context.Context, l lease.Lease, force bool) ([]Message, error) {
	var out []Message
	push := p.pushing()
	if push {
		var err error
		if out, err = p.stored(ctx, l.Phone, l.Since.Add(-pushWindow)); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	last, seen := p.lastRead[l.ID]
	p.mu.Unlock()
	if push && !force && seen && p.now().Sub(last) < p.o.PushFallback {
		return out, nil
	}
	n, err := p.numberFor(ctx, l.Phone)
	if err != nil {
		return out, err
	}
	since := l.Since.Add(-skew).Truncate(time.Second)
	if push {
		since = l.Since.Add(-pushWindow)
	}
	msgs, err := p.o.Source.Messages(ctx, n, since)
	if err != nil {
		return out, err
	}
	p.touch(l.ID)
	if !push {
		return p.dropEdge(ctx, l, msgs)
	}
	if push {
		// Kept with the pushed copies: a callback of the same SMS may come
		// later, and between fallback polls only the stored ones are read.
		if err := p.store(ctx, l.Phone, msgs, out); err != nil {
			return out, err
		}
	}
	return append(out, msgs...), nil
}

// dropEdge drops the copies the lease's number had when it was handed out
// in the watermark's own second (see watermark): they are stamped no
// earlier than the watermark, but they were there before the lease.
func (p *Pool) dropEdge(ctx context.Context, l lease.Lease, msgs []Message) ([]Message, error) {
	end := l.After.Add(time.Second)
	edge := false
	for _, m := range msgs {
		if !m.At.Before(l.After) && m.At.Before(end) {
			edge = true
			break
		}
	}
	if !edge {
		return msgs, nil
	}
	seen, err := p.stored(ctx, l.Phone, l.After)
	if err != nil {
		return nil, err
	}
	old := map[string]bool{}
	for _, m := range seen {
		if !m.pushed && m.At.Before(end) {
			old[copyKey(m)] = true
		}
	}
	return slices.DeleteFunc(msgs, func(m Message) bool { return old[copyKey(m)] }), nil
}

// store adds the polled messages not stored yet to the number's stored ones.
func (p *Pool) store(ctx context.Context, phone string, polled, stored []Message) error {
	have := make(map[string]bool, len(stored))
	for _, m := range stored {
		if !m.pushed {
			have[copyKey(m)] = true
		}
	}
	for _, m := range polled {
		if have[copyKey(m)] {
			continue
		}
		have[copyKey(m)] = true
		if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, phone, lease.Message{From: m.From, Text: m.Text, At: m.At.UTC()}); err != nil {
			return fmt.Errorf("%w: cannot store the number's messages: %v", adapters.ErrUnavailable, err)
		}
	}
	return nil
}

// numberFor is the known number for phone (with its account, for a source
// that reads per account). A process that does not know it yet (a restart,
// another instance) reads the inventory first. A number still not listed
// goes to the source by its phone alone, which knows best: a rental no
// longer on the account is gone, a TextNow account whose lookup failed is
// not known yet.
func (p *Pool) numberFor(ctx context.Context, phone string) (Number, error) {
	if n, ok := p.number(phone); ok {
		return n, nil
	}
	if _, err := p.numbers(ctx); err != nil {
		return Number{}, err
	}
	if n, ok := p.number(phone); ok {
		return n, nil
	}
	return Number{Phone: phone}, nil
}

// touch records that the lease's number was read upstream now. Marks of
// leases this process never ends (another instance did, or the gateway
// finished the order itself) are swept once they are past any lease's life.
func (p *Pool) touch(id int64) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastRead[id] = now
	if len(p.lastRead) > 1024 {
		for k, t := range p.lastRead {
			if now.Sub(t) > p.o.Lifetime+leaseGrace {
				delete(p.lastRead, k)
			}
		}
	}
}

func (p *Pool) forget(id int64) {
	p.mu.Lock()
	delete(p.lastRead, id)
	p.mu.Unlock()
}

func (p *Pool) pushing() bool {
	_, ok := p.o.Source.(Pusher)
	return ok && p.o.WebhookSecret != ""
}

func (p *Pool) lease(ctx context.Context, upstreamID string) (lease.Lease, error) {
	id, err := strconv.ParseInt(upstreamID, 10, 64)
	if err != nil || id <= 0 {
		return lease.Lease{}, fmt.Errorf("%w: %q", adapters.ErrNoActivation, upstreamID)
	}
	l, err := p.o.Store.GetLease(ctx, p.o.Code, id)
	if errors.Is(err, lease.ErrNotFound) {
		return l, fmt.Errorf("%w: %q", adapters.ErrNoActivation, upstreamID)
	}
	if err != nil {
		return l, fmt.Errorf("%w: cannot read the lease: %v", adapters.ErrUnavailable, err)
	}
	return l, nil
}

// codes turns messages into the lease's SMS: at or after its watermark,
// the lease's service's (belongs), carrying a code; oldest first.
//
// With callbacks on, one SMS can have several copies: pushed ones, stamped
// when a callback came (an upstream may call back twice for one SMS), and
// the polled one, stamped when the upstream got it. Polled copies are the
// SMS; pushed copies of one text close together are one callback, and each
// is matched to a polled copy of its text stamped no later than it
// (allowing for skew), taking the earlier of the two times. So a late
// callback of an SMS from before the watermark (the previous holder's, or a
// code already delivered) is old however late it comes (up to pushWindow),
// a delivered code never comes back with another time, and the same text
// sent again later is a new SMS once its polled copy is read. A pushed copy
// with no polled one yet (the next read has not come) is the SMS until then.
func (p *Pool) codes(l lease.Lease, msgs []Message) []adapters.SMS {
	var polled, pushed []Message
	exact := map[string]bool{}
	for _, m := range msgs {
		k := copyKey(m)
		if m.pushed {
			k = "pushed\x00" + k
		}
		if exact[k] {
			continue // the same copy read twice (stored and read again)
		}
		exact[k] = true
		if m.pushed {
			pushed = append(pushed, m)
		} else {
			polled = append(polled, m)
		}
	}
	byTime := func(s []Message) {
		sort.SliceStable(s, func(i, j int) bool { return s[i].At.Before(s[j].At) })
	}
	byTime(polled)
	byTime(pushed)
	// Repeated callbacks of one SMS: one pushed copy per text per window.
	lastPush := map[string]time.Time{}
	callbacks := pushed[:0:0]
	for _, q := range pushed {
		k := textKey(q.Text)
		if t, ok := lastPush[k]; ok && q.At.Sub(t) < pushWindow {
			continue
		}
		lastPush[k] = q.At
		callbacks = append(callbacks, q)
	}
	sms := append([]Message(nil), polled...)
	matched := make([]bool, len(polled))
	for _, q := range callbacks {
		j := -1
		for i := len(polled) - 1; i >= 0; i-- {
			if !matched[i] && textKey(polled[i].Text) == textKey(q.Text) && !polled[i].At.After(q.At.Add(copySkew)) {
				j = i
				break
			}
		}
		if j < 0 {
			sms = append(sms, q)
			continue
		}
		matched[j] = true
		if q.At.Before(sms[j].At) {
			sms[j].At = q.At // the SMS is as old as its first copy
		}
	}
	byTime(sms)
	var out []adapters.SMS
	for _, m := range sms {
		if m.At.Before(l.After) || !p.belongs(l.Service, m) {
			continue
		}
		code := p.extract.Code(l.Service, m.Text)
		if code == "" {
			continue
		}
		out = append(out, adapters.SMS{Code: code, Text: m.Text, From: m.From, ReceivedAt: m.At})
	}
	return out
}

// copySkew is how much later than the pushed copy (our clock) the polled
// copy of one SMS (the upstream's clock) may be stamped.
const copySkew = 2 * time.Minute

// copyKey identifies one copy of an SMS: its text and time (to the
// millisecond, as the ledger keeps it).
func copyKey(m Message) string {
	return textKey(m.Text) + "\x00" + m.At.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// textKey identifies an SMS across its copies.
func textKey(text string) string { return strings.Join(strings.Fields(text), " ") }

// belongs reports whether m may be the code of an order for service: from
// an allowed sender, and attributable to the service — or to none, when
// the pool accepts unattributed SMS. An SMS that names another service
// never is: a pool number receives every service's SMS.
func (p *Pool) belongs(service string, m Message) bool {
	if !p.allowed(service, m.From) {
		return false
	}
	switch p.attr.Judge(service, m.From, m.Text) {
	case Own:
		return true
	case Unattributed:
		return p.o.AcceptUnattributed
	}
	return false
}

func (p *Pool) allowed(service, from string) bool {
	senders := p.o.Senders[service]
	if len(senders) == 0 {
		return true
	}
	from = strings.ToLower(from)
	for _, s := range senders {
		if strings.Contains(from, strings.ToLower(s)) {
			return true
		}
	}
	return false
}
