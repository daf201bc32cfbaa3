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
	ID   int64 // increasing over the whole market
	From string
	Text string
	At   time.Time
}

type inbox struct {
	numbers  map[string]InboxNumber
	messages map[string][]InboxSMS
	autoAt   map[string]time.Time // last automatic message per number
	nextID   int64
	onSMS    []func(InboxNumber, InboxSMS)
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

// autoSenders are who the automatic messages come from, in turn.
var autoSenders = []string{"Telegram", "WhatsApp", "Google"}

// autoSMSLocked writes the automatic messages due by now (Config.InboxEvery):
// a demo pool then sees codes arrive without anyone injecting them. The
// messages are written lazily, when the inbox is next looked at, with the
// times they were due.
func (m *Market) autoSMSLocked(now time.Time) []firedSMS {
	every := m.cfg.InboxEvery
	b := m.box
	if every <= 0 || b == nil {
		return nil
	}
	var fired []firedSMS
	phones := make([]string, 0, len(b.numbers))
	for p := range b.numbers {
		phones = append(phones, p)
	}
	sort.Strings(phones)
	for _, p := range phones {
		for at := b.autoAt[p].Add(every); !at.After(now); at = at.Add(every) {
			from := autoSenders[int(b.nextID)%len(autoSenders)]
			s := m.appendSMSLocked(p, from, fmt.Sprintf("%s code: %s. Do not give this code to anyone.", from, m.drawCode()), at)
			b.autoAt[p] = at
			fired = append(fired, firedSMS{b.numbers[p], s})
		}
	}
	return fired
}
