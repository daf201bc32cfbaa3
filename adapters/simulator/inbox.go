package simulator

import (
	"fmt"
	"sort"
	"time"
)

// The inbox is the other half of a simulated upstream: long-lived numbers
// the account holds (a TextNow account's own number, a number rented by
// the month) and the SMS they receive. Pool platforms read it; nothing is
// sold, so stock, prices and orders play no part.

// InboxNumber is one long-lived number the simulated account holds.
type InboxNumber struct {
	Phone   string // digits with the country calling code, no '+'
	Country string // ISO alpha-2 lower case
	// Account owns the number where the upstream has several accounts
	// (TextNow: one number per account); "" otherwise.
	Account string
	// ExpiresAt ends a rental; zero = no end.
	ExpiresAt time.Time
}

// InboxSMS is one message a number received.
type InboxSMS struct {
	ID   int64 // increasing over the whole market, and with At per number
	From string
	Text string
	At   time.Time
	// Service is who the simulator sent the SMS for: the service whose
	// code it carries (RequestCode, the numbers' own traffic), "" for noise
	// and for injected messages. Never on the wire: it is the test's truth.
	Service string
	Code    string // the code in it as plain digits; "" for noise and injected messages
}

type inbox struct {
	numbers  map[string]InboxNumber
	messages map[string][]InboxSMS
	autoAt   map[string]time.Time // last automatic message per number
	pending  []pendingSMS         // service SMS asked for by RequestCode, not due yet
	nextID   int64
	onSMS    []func(InboxNumber, InboxSMS)
}

// pendingSMS is a service's code on its way to a number.
type pendingSMS struct {
	phone, service string
	at             time.Time
}

func (m *Market) inboxLocked() *inbox {
	if m.box == nil {
		m.box = &inbox{numbers: map[string]InboxNumber{}, messages: map[string][]InboxSMS{}, autoAt: map[string]time.Time{}, nextID: 5000000000}
	}
	return m.box
}

// AddNumber puts a number in the account (replacing one with the same
// phone). Automatic messages (Config.InboxEvery) start from now.
func (m *Market) AddNumber(n InboxNumber) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.inboxLocked()
	b.numbers[n.Phone] = n
	if _, ok := b.autoAt[n.Phone]; !ok {
		b.autoAt[n.Phone] = m.clock.Now()
	}
}

// RemoveNumber takes a number out of the account (a rental ended early).
func (m *Market) RemoveNumber(phone string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.inboxLocked().numbers, phone)
}

// Numbers lists the account's numbers by phone.
func (m *Market) Numbers() []InboxNumber {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.inboxLocked()
	out := make([]InboxNumber, 0, len(b.numbers))
	for _, n := range b.numbers {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Phone < out[j].Phone })
	return out
}

// Number returns the account's number with that phone.
func (m *Market) Number(phone string) (InboxNumber, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.inboxLocked().numbers[phone]
	return n, ok
}

// OnInboxSMS registers f to run (outside the market's lock) for every
// message a number receives: a skin that calls its client back uses it.
func (m *Market) OnInboxSMS(f func(InboxNumber, InboxSMS)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.inboxLocked()
	b.onSMS = append(b.onSMS, f)
}

// Inject delivers an SMS to phone now.
func (m *Market) Inject(phone, from, text string) (InboxSMS, error) {
	m.mu.Lock()
	b := m.inboxLocked()
	n, ok := b.numbers[phone]
	if !ok {
		m.mu.Unlock()
		return InboxSMS{}, fmt.Errorf("simulator: no number %s in the account", phone)
	}
	fired := m.autoSMSLocked(m.clock.Now())
	s := m.appendSMSLocked(phone, from, text, m.clock.Now())
	hooks := append([]func(InboxNumber, InboxSMS){}, b.onSMS...)
	m.mu.Unlock()
	m.fire(hooks, fired)
	for _, h := range hooks {
		h(n, s)
	}
	return s, nil
}

// FlushInbox writes the automatic messages due by now (they are otherwise
// written when an inbox is next read): an upstream that calls back must
// send them when they are due, not when someone looks.
func (m *Market) FlushInbox() {
	m.mu.Lock()
	if m.box == nil {
		m.mu.Unlock()
		return
	}
	fired := m.autoSMSLocked(m.clock.Now())
	hooks := append([]func(InboxNumber, InboxSMS){}, m.box.onSMS...)
	m.mu.Unlock()
	m.fire(hooks, fired)
}

// Inbox returns the messages phone received, oldest first.
func (m *Market) Inbox(phone string) []InboxSMS {
	m.mu.Lock()
	b := m.inboxLocked()
	fired := m.autoSMSLocked(m.clock.Now())
	out := append([]InboxSMS(nil), b.messages[phone]...)
	hooks := append([]func(InboxNumber, InboxSMS){}, b.onSMS...)
	m.mu.Unlock()
	m.fire(hooks, fired)
	return out
}

type firedSMS struct {
	n InboxNumber
	s InboxSMS
}

func (m *Market) fire(hooks []func(InboxNumber, InboxSMS), fired []firedSMS) {
	for _, f := range fired {
		for _, h := range hooks {
			h(f.n, f.s)
		}
	}
}

func (m *Market) appendSMSLocked(phone, from, text string, at time.Time) InboxSMS {
	b := m.box
	b.nextID++
	s := InboxSMS{ID: b.nextID, From: from, Text: text, At: at}
	b.messages[phone] = append(b.messages[phone], s)
	return s
}

// RequestCode is someone typing phone into service's sign-up form: the
// service sends its code to the number Config.CodeDelay later (never with
// a negative CodeDelay). A pool simulator calls it when it hands a number
// out, as a marketplace simulator sends an order's SMS.
func (m *Market) RequestCode(phone, service string) {
	if m.cfg.CodeDelay < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.inboxLocked()
	b.pending = append(b.pending, pendingSMS{phone: phone, service: service, at: m.clock.Now().Add(m.cfg.CodeDelay)})
}

// autoSMSLocked writes the messages due by now: the codes asked for with
// RequestCode, and every Config.InboxEvery one SMS of the numbers' own
// traffic (some service's code, now and then noise), so a demo pool sees
// codes arrive — most of them not for whoever holds the number. Messages
// are written lazily, when the inbox is next looked at, with the times
// they were due, in time order: a number's ids increase with its times.
func (m *Market) autoSMSLocked(now time.Time) []firedSMS {
	b := m.box
	if b == nil {
		return nil
	}
	type due struct {
		phone, service string
		at             time.Time
	}
	var list []due
	keep := b.pending[:0]
	for _, p := range b.pending {
		if p.at.After(now) {
			keep = append(keep, p)
			continue
		}
		list = append(list, due{phone: p.phone, service: p.service, at: p.at})
	}
	b.pending = keep
	if every := m.cfg.InboxEvery; every > 0 {
		phones := make([]string, 0, len(b.numbers))
		for p := range b.numbers {
			phones = append(phones, p)
		}
		sort.Strings(phones)
		for _, p := range phones {
			for at := b.autoAt[p].Add(every); !at.After(now); at = at.Add(every) {
				list = append(list, due{phone: p, at: at})
				b.autoAt[p] = at
			}
		}
	}
	// By time, then number; a requested code before traffic of the same instant.
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].at.Equal(list[j].at) {
			return list[i].at.Before(list[j].at)
		}
		return list[i].phone < list[j].phone
	})
	var fired []firedSMS
	for _, d := range list {
		n, ok := b.numbers[d.phone]
		if !ok {
			continue // the number left the account before its SMS came
		}
		var service, from, text, code string
		if d.service != "" {
			service = d.service
			from, text, code = m.serviceSMSLocked(service)
		} else {
			service, from, text, code = m.trafficSMSLocked()
		}
		s := m.appendSMSLocked(d.phone, from, text, d.at)
		s.Service, s.Code = service, code
		msgs := b.messages[d.phone]
		msgs[len(msgs)-1] = s
		fired = append(fired, firedSMS{n, s})
	}
	return fired
}
