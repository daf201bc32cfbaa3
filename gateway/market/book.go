package market

import "sync"

// BalanceBook is what routing knows of each platform's balance, in the
// platform's currency, so that it is never staler than the purchase in
// hand: the last read, less what every purchase since has cost (debited
// the moment the platform sells), plus refunds of orders cancelled since,
// and less what purchases in flight may cost (reserved before the call,
// so concurrent buyers do not all count the same money). A platform that
// answers NO_BALANCE has nothing until its next read. Reads happen on the
// health interval and whenever the balance API's cache refills.
type BalanceBook struct {
	mu sync.Mutex
	m  map[string]*bookEntry // by platform code; guarded by mu
}

type bookEntry struct {
	known    bool
	micros   int64 // estimate: last read − debits + credits since
	reserved int64 // expected cost of purchases in flight
	total    int64 // every debit so far: a read that raced a purchase is corrected by it
}

func (b *BalanceBook) entry(code string) *bookEntry {
	if b.m == nil {
		b.m = map[string]*bookEntry{}
	}
	e := b.m[code]
	if e == nil {
		e = &bookEntry{}
		b.m[code] = e
	}
	return e
}

// Spent is the debit total, to pass to read for a read starting now.
func (b *BalanceBook) Spent(code string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entry(code).total
}

// Read records a balance read that started when the debit total was
// since. Purchases debited during the read may or may not be in micros;
// they are taken off again, so the estimate errs low, never high.
func (b *BalanceBook) Read(code string, micros, since int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.known = true
	e.micros = micros - (e.total - since)
}

// Reserve sets cost aside for a purchase about to be sent, or reports that
// the known balance cannot pay it (cost 0, price unknown: nothing left at
// all). An unknown balance reserves and lets the platform decide, as does
// force.
func (b *BalanceBook) Reserve(code string, cost int64, force bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	if e.known && !force {
		left := e.micros - e.reserved
		if left < cost || left <= 0 {
			return false
		}
	}
	e.reserved += cost
	return true
}

// Release gives back a reservation once the purchase has answered (after
// debit, when it sold).
func (b *BalanceBook) Release(code string, cost int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entry(code).reserved -= cost
}

// Debit takes a sold number's price off at once.
func (b *BalanceBook) Debit(code string, cost int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.total += cost
	e.micros -= cost
}

// Credit adds a refund back.
func (b *BalanceBook) Credit(code string, amount int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entry(code).micros += amount
}

// Empty records a NO_BALANCE answer: nothing left until the next read.
func (b *BalanceBook) Empty(code string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	e.known, e.micros = true, 0
}

// Available is the balance not yet set aside, and whether it is known.
func (b *BalanceBook) Available(code string) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(code)
	return e.micros - e.reserved, e.known
}
