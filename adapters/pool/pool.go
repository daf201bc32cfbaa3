// Package pool is a Platform over numbers the gateway owns rather than
// buys: TextNow accounts (one free number each) and numbers rented by the
// month (Receive-SMS). Such upstreams sell no activations, so the pool
// does what a marketplace would: it hands a number out to one order at a
// time, reads the number's incoming SMS for the code, and takes it back.
//
// Who holds which number lives in the ledger (ledger.PoolStore), so leases
// survive restarts and instances sharing a ledger never hand one number
// out twice. A number is not handed out again for the same service while
// its last use is fresh (cooldown), and never for a service that banned it
// (quarantine). Only messages that arrived after the number was handed out
// count: anything older belongs to someone else.
//
// What a pool needs from each upstream is small (Source): its numbers and
// a number's messages. textnow and receivesms implement it.
package pool

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/ledger"
)

// Options configures a pool platform. Zero fields take the defaults in
// their comments.
type Options struct {
	Code   string           // platform code; required
	Source Source           // the upstream reader; required
	Store  ledger.PoolStore // where leases live; required
	// Currency of Price; default "USD".
	Currency string
	// Price is what one activation costs, in micro-units of Currency (0 for
	// a free TextNow number; rent ÷ expected uses for a rental).
	Price int64
	// Lifetime of a lease without a code; default 20m. The lease is kept a
	// little longer in the ledger, so the gateway's own expiry ends it first.
	Lifetime time.Duration
	// Cooldown: after a number was used for a service (a code arrived), it is
	// not handed out for that service again for this long; default 24h.
	Cooldown time.Duration
	// CancelCooldown: after a cancelled (or expired) order, the number is
	// not handed out for the same service for this long; default Lifetime.
	// The service may still send a late SMS for the abandoned attempt, and
	// it must not reach the next holder.
	CancelCooldown time.Duration
	// Quarantine: after a service banned a number, it is not handed out for
	// that service for this long; default 720h.
	Quarantine time.Duration
	// Refresh: how often the inventory (Source.Numbers) is re-read; default 5m.
	Refresh time.Duration
	// Only, when not empty, limits the pool to these phones (digits);
	// a non-empty value sets the number's country.
	Only map[string]string
	// Senders limits, per service, who may send its code: a message counts
	// only if its sender contains one of these (case-insensitive). Services
	// not listed accept any sender the attribution allows. A listed sender
	// is also that service's for attribution: its SMS are never another
	// service's code.
	Senders map[string][]string
	// AcceptUnattributed: an SMS that names no known service (by sender or
	// wording) may be any order's code. Default false: only SMS attributable
	// to the order's service count (see Attributor).
	AcceptUnattributed bool
	// Patterns overrides the code pattern per service (see Extractor).
	Patterns map[string]string
	// WebhookSecret authenticates the upstream's callbacks (Pusher sources);
	// "" turns callbacks off.
	WebhookSecret string
	// PushFallback: with callbacks on, the upstream's messages are still read
	// at most this often per lease, in case a callback is lost; default 1m.
	PushFallback time.Duration
	Now          func() time.Time // default time.Now
}

// skew tolerates an upstream clock a little behind ours and message times
// truncated to the second: a message stamped up to this long before the
// lease still counts, unless the read at lease time saw it (see Buy).
const skew = 2 * time.Second

// pushWindow: with callbacks on, messages up to this long before a lease
// are read too. A callback has no time of its own (it is stamped on
// arrival), so a late callback of an SMS that came before the lease looks
// new; the earlier copy of the same text, read when the number was leased,
// unmasks it. A callback later than this is taken for a new SMS.
const pushWindow = 2 * time.Hour

// leaseGrace keeps a lease in the ledger past the order's lifetime, so the
// gateway's expiry (which cancels, and so ends the lease) always comes first.
const leaseGrace = 5 * time.Minute

// Pool is a pool platform. Safe for concurrent use.
type Pool struct {
	o       Options
	extract *Extractor
	attr    *Attributor
	flight  singleflight.Group

	mu        sync.Mutex
	inventory []Number
	// known is every number any inventory read listed, by phone, never
	// forgotten: a lease's number is read through it even when the latest
	// read missed it (an account whose lookup failed this time).
	known     map[string]Number
	readAt    time.Time            // when the inventory was read; zero: never
	failedAt  time.Time            // when a read last failed; zero: not since the last success
	readErr   error                // that failure, served until the retry is due
	down      map[string]string    // phone → reason, numbers found down since the last read
	throttled map[string]time.Time // phone → until when its account backs off
	lastRead  map[int64]time.Time
	rng       *rand.Rand
}

// New builds a pool platform.
func New(o Options) (*Pool, error) {
	if o.Code == "" || o.Source == nil || o.Store == nil {
		return nil, errors.New("pool: code, source and store are required")
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 20 * time.Minute
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 24 * time.Hour
	}
	if o.Quarantine <= 0 {
		o.Quarantine = 720 * time.Hour
	}
	if o.CancelCooldown <= 0 {
		o.CancelCooldown = o.Lifetime
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.PushFallback <= 0 {
		o.PushFallback = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	codes, err := NewExtractor(o.Patterns)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", o.Code, err)
	}
	return &Pool{o: o, extract: codes, attr: NewAttributor(o.Senders), known: map[string]Number{}, down: map[string]string{}, throttled: map[string]time.Time{},
		lastRead: map[int64]time.Time{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}, nil
}

// Code is the platform code.
func (p *Pool) Code() string { return p.o.Code }

func (p *Pool) now() time.Time { return p.o.Now().UTC() }

func (p *Pool) errorf(op string, err error) error { return fmt.Errorf("%s %s: %w", p.o.Code, op, err) }

// Balance is the upstream account's balance where it has one, else zero.
// A source without a balance still answers for its numbers, so health
// checks mean something: ErrAuth when every number is down (every account
// needs a login), the inventory's read error when it cannot be read.
func (p *Pool) Balance(ctx context.Context) (adapters.Money, error) {
	if b, ok := p.o.Source.(Balancer); ok {
		m, err := b.Balance(ctx)
		if err != nil {
			return m, p.errorf("balance", err)
		}
		return m, nil
	}
	inv, err := p.numbers(ctx)
	if err != nil {
		return adapters.Money{}, p.errorf("balance", err)
	}
	for _, n := range inv {
		if p.downReason(n) == "" {
			return adapters.Money{Currency: p.o.Currency}, nil
		}
	}
	if len(inv) > 0 {
		return adapters.Money{}, p.errorf("balance", fmt.Errorf("%w: every number of the pool is down", adapters.ErrAuth))
	}
	return adapters.Money{Currency: p.o.Currency}, nil
}

// retryRead is how long a failed inventory read is not retried: callers
// meanwhile get the previous inventory, or the failure.
const retryRead = 10 * time.Second

// numbers returns the inventory, re-reading it when it is older than
// Refresh. A failed re-read serves the previous inventory if there is one:
// numbers do not vanish because the upstream hiccuped.
func (p *Pool) numbers(ctx context.Context) ([]Number, error) {
	p.mu.Lock()
	inv, at, failedAt, readErr := p.inventory, p.readAt, p.failedAt, p.readErr
	p.mu.Unlock()
	now := p.now()
	if !at.IsZero() && now.Sub(at) < p.o.Refresh {
		return inv, nil
	}
	if !failedAt.IsZero() && now.Sub(failedAt) < retryRead {
		if !at.IsZero() && !errors.Is(readErr, adapters.ErrAuth) {
			return inv, nil
		}
		return nil, readErr
	}
	v, err, _ := p.flight.Do("numbers", func() (any, error) {
		return p.o.Source.Numbers(ctx)
	})
	if err != nil {
		p.mu.Lock()
		p.failedAt, p.readErr = p.now(), err
		p.mu.Unlock()
		if !at.IsZero() && !errors.Is(err, adapters.ErrAuth) {
			return inv, nil
		}
		return nil, err
	}
	var fresh []Number
	for _, n := range v.([]Number) {
		if len(p.o.Only) > 0 {
			c, ok := p.o.Only[n.Phone]
			if !ok {
				continue
			}
			if c != "" {
				n.Country = c
			}
		}
		fresh = append(fresh, n)
	}
	p.mu.Lock()
	p.inventory, p.readAt, p.failedAt, p.readErr = fresh, p.now(), time.Time{}, nil
	for _, n := range fresh {
		if n.Phone != "" {
			p.known[n.Phone] = n
		}
	}
	// A new read is the source's word on every number: a rental that came
	// back, an account an operator logged in again.
	p.down = map[string]string{}
	p.mu.Unlock()
	return fresh, nil
}

// state is a number's usability now: "" when it may be leased.
func (p *Pool) downReason(n Number) string {
	if n.Down != "" {
		return n.Down
	}
	if n.Phone == "" {
		return DownNeedsLogin
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down[n.Phone]
}

// markDown takes a number out until the next inventory read.
func (p *Pool) markDown(phone, reason string) {
	p.mu.Lock()
	p.down[phone] = reason
	p.mu.Unlock()
}

// number is the known number with that phone.
func (p *Pool) number(phone string) (Number, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.known[phone]
	return n, ok
}

// throttleFor is how long a number whose account backs off is left out of
// purchases: reading it would fail at once, and each try costs a lease.
const throttleFor = 30 * time.Second

func (p *Pool) markThrottled(phone string) {
	p.mu.Lock()
	p.throttled[phone] = p.now().Add(throttleFor)
	p.mu.Unlock()
}

func (p *Pool) isThrottled(phone string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	until, ok := p.throttled[phone]
	if ok && !now.Before(until) {
		delete(p.throttled, phone)
		return false
	}
	return ok
}

// Buy leases a number for the service: one that is up, in the country,
// whose rental outlasts the lease, not held by another order, and not used
// for this service within the cooldown.
func (p *Pool) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	if _, ok := catalog.ServiceByCode(r.Service); !ok {
		return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: %q", adapters.ErrBadService, r.Service))
	}
	if r.MaxPrice.Micros > 0 && p.o.Price > r.MaxPrice.Micros {
		return adapters.Purchase{}, p.errorf("buy", &adapters.PriceFloorError{Min: adapters.Money{Micros: p.o.Price, Currency: p.o.Currency}})
	}
	inv, err := p.numbers(ctx)
	if err != nil {
		return adapters.Purchase{}, p.errorf("buy", err)
	}
	now := p.now()
	var candidates []string
	up, inCountry := 0, 0
	for _, n := range inv {
		if p.downReason(n) != "" {
			continue
		}
		up++
		if r.Country != "" && n.Country != r.Country {
			continue
		}
		inCountry++
		if !n.ExpiresAt.IsZero() && n.ExpiresAt.Before(now.Add(p.o.Lifetime+leaseGrace)) {
			continue // the rental ends before the lease would
		}
		if p.isThrottled(n.Phone, now) {
			continue
		}
		candidates = append(candidates, n.Phone)
	}
	switch {
	case up == 0 && len(inv) > 0:
		return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: every number of the pool is down (accounts need a new login?)", adapters.ErrAuth))
	case inCountry == 0:
		return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: no pool number in %q", adapters.ErrNoNumbers, r.Country))
	}
	// Spread the wear: a fixed order would burn the first numbers' cooldowns
	// for every service while the last ones idle.
	p.mu.Lock()
	p.rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	p.mu.Unlock()
	for len(candidates) > 0 {
		l, err := p.o.Store.Lease(ctx, ledger.LeaseRequest{
			Platform: p.o.Code, Candidates: candidates, Service: r.Service, Country: r.Country,
			Now: now, TTL: p.o.Lifetime + leaseGrace, StaleBlock: p.o.Cooldown,
		})
		if errors.Is(err, ledger.ErrNoFreeNumber) {
			return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: every number is busy or cooling down for %q", adapters.ErrNoNumbers, r.Service))
		}
		if err != nil {
			return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: cannot record the lease: %v", adapters.ErrUnavailable, err))
		}
		// Read the number once before handing it out: what is there now is
		// not ours, whatever its time stamp says.
		after, err := p.watermark(ctx, l)
		if err == nil {
			if err = p.o.Store.MoveLease(ctx, p.o.Code, l.ID, after); err == nil {
				return adapters.Purchase{
					UpstreamID: strconv.FormatInt(l.ID, 10), Phone: l.Phone,
					Price:     adapters.Money{Micros: p.o.Price, Currency: p.o.Currency},
					ExpiresAt: now.Add(p.o.Lifetime),
				}, nil
			}
		}
		// Not handed out: free the number at once (no cooldown, it was never shown).
		p.forget(l.ID)
		p.o.Store.EndLease(context.WithoutCancel(ctx), p.o.Code, l.ID, adapters.StateCancelled, p.now(), time.Time{}) //nolint:errcheck // the lease also expires on its own
		switch reason := DownReason(err); {
		case reason != "":
			p.markDown(l.Phone, reason)
		case errors.Is(err, ErrThrottled):
			// That account backs off; another number may be readable now.
			p.markThrottled(l.Phone)
		default:
			return adapters.Purchase{}, p.errorf("buy", err)
		}
		candidates = slices.DeleteFunc(candidates, func(x string) bool { return x == l.Phone })
	}
	return adapters.Purchase{}, p.errorf("buy", fmt.Errorf("%w: no free number is readable now", adapters.ErrNoNumbers))
}

// watermark reads the leased number and returns the time from which
// messages are the lease's: now (less the skew allowance), but after
// anything already there (polling: from the second of the newest one, the
// copies of that second kept as seen; see dropEdge). With callbacks on, what it read is stored with
// the pushed messages, so a late callback of it is known for what it is.
func (p *Pool) watermark(ctx context.Context, l ledger.Lease) (time.Time, error) {
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
				if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, l.Phone, ledger.PoolMessage{From: m.From, Text: m.Text, At: m.At.UTC()}); err != nil {
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
func (p *Pool) read(ctx context.Context, l ledger.Lease, force bool) ([]Message, error) {
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
func (p *Pool) dropEdge(ctx context.Context, l ledger.Lease, msgs []Message) ([]Message, error) {
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
		if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, phone, ledger.PoolMessage{From: m.From, Text: m.Text, At: m.At.UTC()}); err != nil {
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

func (p *Pool) lease(ctx context.Context, upstreamID string) (ledger.Lease, error) {
	id, err := strconv.ParseInt(upstreamID, 10, 64)
	if err != nil || id <= 0 {
		return ledger.Lease{}, fmt.Errorf("%w: %q", adapters.ErrNoActivation, upstreamID)
	}
	l, err := p.o.Store.GetLease(ctx, p.o.Code, id)
	if errors.Is(err, ledger.ErrNotFound) {
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
func (p *Pool) codes(l ledger.Lease, msgs []Message) []adapters.SMS {
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

// Check reads the leased number's new messages.
func (p *Pool) Check(ctx context.Context, upstreamID string) (adapters.Update, error) {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return adapters.Update{}, p.errorf("check", err)
	}
	if !l.Active() {
		return adapters.Update{State: l.Outcome}, nil
	}
	if !p.now().Before(l.ExpiresAt) {
		l, err = p.end(ctx, l, adapters.StateExpired)
		if err != nil {
			return adapters.Update{}, p.errorf("check", err)
		}
		return adapters.Update{State: adapters.StateExpired}, nil
	}
	msgs, err := p.read(ctx, l, false)
	if reason := DownReason(err); reason != "" {
		// The number cannot be read any more: tell the client now rather
		// than let it wait out the lifetime for a code that cannot come.
		p.markDown(l.Phone, reason)
		if _, err := p.end(ctx, l, adapters.StateCancelled); err != nil {
			return adapters.Update{}, p.errorf("check", err)
		}
		return adapters.Update{State: adapters.StateCancelled}, nil
	}
	// One account backing off is not the platform failing: report what
	// could be read (nothing new, at worst) and poll again later.
	if errors.Is(err, ErrThrottled) {
		p.markThrottled(l.Phone)
	} else if err != nil {
		return adapters.Update{}, p.errorf("check", err)
	}
	sms := p.codes(l, msgs)
	if len(sms) > 0 {
		return adapters.Update{State: adapters.StateCodeReceived, SMS: sms}, nil
	}
	return adapters.Update{State: adapters.StateWaiting}, nil
}

// end ends a lease with outcome, blocking the number for the service as the
// outcome requires: a use cools down, a ban quarantines, an order that saw
// no code frees the number at once.
func (p *Pool) end(ctx context.Context, l ledger.Lease, outcome adapters.State) (ledger.Lease, error) {
	now := p.now()
	var until time.Time
	switch outcome {
	case adapters.StateFinished:
		until = now.Add(p.o.Cooldown)
	case adapters.StateBanned:
		until = now.Add(p.o.Quarantine)
	case adapters.StateCancelled, adapters.StateExpired:
		// No code was used, but the service may still send one for the
		// abandoned attempt: keep the number from it a while.
		until = now.Add(p.o.CancelCooldown)
	}
	p.forget(l.ID)
	l, err := p.o.Store.EndLease(ctx, p.o.Code, l.ID, outcome, now, until)
	if err != nil {
		return l, fmt.Errorf("%w: cannot end the lease: %v", adapters.ErrUnavailable, err)
	}
	return l, nil
}

// Ready is a no-op: nobody upstream waits for it.
func (p *Pool) Ready(ctx context.Context, upstreamID string) error {
	_, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("ready", err)
	}
	return nil
}

// Finish ends the lease as a use: the number cools down for the service.
func (p *Pool) Finish(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "finish", upstreamID, adapters.StateFinished)
}

// Cancel ends the lease with the number free again at once.
func (p *Pool) Cancel(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "cancel", upstreamID, adapters.StateCancelled)
}

// Ban ends the lease and quarantines the number for the service: the
// service refused it, so offering it there again only wastes orders.
func (p *Pool) Ban(ctx context.Context, upstreamID string) error {
	return p.endBy(ctx, "ban", upstreamID, adapters.StateBanned)
}

func (p *Pool) endBy(ctx context.Context, op, upstreamID string, outcome adapters.State) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf(op, err)
	}
	if !l.Active() {
		if l.Outcome == outcome {
			return nil // said twice
		}
		return p.errorf(op, fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	if _, err := p.end(ctx, l, outcome); err != nil {
		return p.errorf(op, err)
	}
	return nil
}

// RequestAnother keeps the number and moves the watermark past the codes
// it can see now: only a later message is the next code. The gateway uses
// RequestAnotherAfter, which knows which codes the client has.
func (p *Pool) RequestAnother(ctx context.Context, upstreamID string) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("another", err)
	}
	if !l.Active() {
		return p.errorf("another", fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	msgs, err := p.read(ctx, l, true)
	if err != nil {
		return p.errorf("another", err)
	}
	last := time.Time{}
	for _, s := range p.codes(l, msgs) {
		last = s.ReceivedAt
	}
	return p.moveAfter(ctx, l, last)
}

// RequestAnotherAfter keeps the number and moves the watermark past last,
// the time of the newest code the client has: a code that arrived since
// (and was not delivered yet) is still the next one.
func (p *Pool) RequestAnotherAfter(ctx context.Context, upstreamID string, last time.Time) error {
	l, err := p.lease(ctx, upstreamID)
	if err != nil {
		return p.errorf("another", err)
	}
	if !l.Active() {
		return p.errorf("another", fmt.Errorf("%w: lease already %s", adapters.ErrBadState, l.Outcome))
	}
	return p.moveAfter(ctx, l, last)
}

func (p *Pool) moveAfter(ctx context.Context, l ledger.Lease, last time.Time) error {
	if last.IsZero() {
		return nil
	}
	after := last.Add(time.Millisecond)
	if !after.After(l.After) {
		return nil
	}
	if err := p.o.Store.MoveLease(ctx, p.o.Code, l.ID, after); err != nil {
		return p.errorf("another", fmt.Errorf("%w: cannot move the lease: %v", adapters.ErrUnavailable, err))
	}
	return nil
}

// Offers lists, per country, how many numbers are free for the service
// now, at the pool's price. Every catalogue service is offered: any sender
// can text a number.
func (p *Pool) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	views, err := p.view(ctx)
	if err != nil {
		return nil, p.errorf("offers", err)
	}
	var services []string
	if service != "" {
		services = []string{service}
	} else {
		for _, s := range catalog.Services() {
			services = append(services, s.Code)
		}
	}
	var countries []string
	seen := map[string]bool{}
	for _, v := range views {
		if v.Country != "" && !seen[v.Country] && (country == "" || v.Country == country) {
			seen[v.Country] = true
			countries = append(countries, v.Country)
		}
	}
	sort.Strings(countries)
	now := p.now()
	var out []adapters.Offer
	for _, c := range countries {
		for _, s := range services {
			n := 0
			for _, v := range views {
				if v.Country == c && v.freeFor(s, now) {
					n++
				}
			}
			out = append(out, adapters.Offer{Country: c, Service: s, Price: adapters.Money{Micros: p.o.Price, Currency: p.o.Currency}, Count: n})
		}
	}
	return out, nil
}

// Countries lists the countries of the pool's numbers.
func (p *Pool) Countries(ctx context.Context) ([]string, error) {
	inv, err := p.numbers(ctx)
	if err != nil {
		return nil, p.errorf("countries", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range inv {
		if n.Country != "" && !seen[n.Country] {
			seen[n.Country] = true
			out = append(out, n.Country)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Block is a service a number is kept from until a time.
type Block struct {
	Service string    `json:"service"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"` // cooldown | quarantine
}

// NumberView is one pool number as an operator sees it.
type NumberView struct {
	Phone   string `json:"phone"`
	Country string `json:"country"`
	Account string `json:"account,omitempty"`
	// State: idle, leased, or down ("needs_login", "gone"); cooldowns and
	// quarantines are per service, in Blocks.
	State       string     `json:"state"`
	Down        string     `json:"down,omitempty"`
	LeaseID     int64      `json:"lease_id,omitempty"`
	LeasedFor   string     `json:"leased_for,omitempty"` // service of the active lease
	LeasedSince *time.Time `json:"leased_since,omitempty"`
	ExpiresAt   *time.Time `json:"rental_expires_at,omitempty"`
	Blocks      []Block    `json:"blocks"`
}

func (v NumberView) freeFor(service string, now time.Time) bool {
	if v.State != "idle" {
		return false
	}
	for _, b := range v.Blocks {
		if b.Service == service && b.Until.After(now) {
			return false
		}
	}
	return true
}

// Numbers lists the pool's numbers with their state, for operators.
func (p *Pool) Numbers(ctx context.Context) ([]NumberView, error) {
	return p.view(ctx)
}

func (p *Pool) view(ctx context.Context) ([]NumberView, error) {
	inv, err := p.numbers(ctx)
	if err != nil {
		return nil, err
	}
	now := p.now()
	leases, err := p.o.Store.Leases(ctx, p.o.Code, now)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot list leases: %v", adapters.ErrUnavailable, err)
	}
	views := make([]NumberView, 0, len(inv))
	index := map[string]int{}
	for _, n := range inv {
		v := NumberView{Phone: n.Phone, Country: n.Country, Account: n.Account, State: "idle", Blocks: []Block{}}
		if d := p.downReason(n); d != "" {
			v.State, v.Down = "down", d
		}
		if !n.ExpiresAt.IsZero() {
			t := n.ExpiresAt
			v.ExpiresAt = &t
		}
		if n.Phone != "" {
			index[n.Phone] = len(views)
		}
		views = append(views, v)
	}
	for _, l := range leases {
		i, ok := index[l.Phone]
		if !ok {
			continue
		}
		v := &views[i]
		if l.Active() && now.Before(l.ExpiresAt) {
			if v.State == "idle" {
				v.State = "leased"
			}
			since := l.Since
			v.LeaseID, v.LeasedFor, v.LeasedSince = l.ID, l.Service, &since
			continue
		}
		if l.BlockedUntil.After(now) {
			reason := "cooldown"
			if l.Outcome == adapters.StateBanned {
				reason = "quarantine"
			}
			v.Blocks = append(v.Blocks, Block{Service: l.Service, Until: l.BlockedUntil, Reason: reason})
		}
	}
	return views, nil
}

// Kind is the webhook path segment of a pool whose upstream calls back
// ("" when it does not, or callbacks are off).
func (p *Pool) Kind() string {
	if !p.pushing() {
		return ""
	}
	return p.o.Source.(Pusher).Kind()
}

// ErrNotMine: a callback's secret is not this pool's.
var ErrNotMine = errors.New("callback secret does not match")

// ErrNotOurNumber: a callback with this pool's secret, for a number the
// pool does not hold (another pool on the same account may).
var ErrNotOurNumber = errors.New("callback for a number not in the pool")

// Callback takes one upstream callback: it checks the secret (query
// "secret" or header X-Webhook-Secret), stores the message in the ledger
// for whichever instance polls the order, and returns the upstream id of
// the lease the number is on now ("" when none) so the caller can check
// that order at once.
func (p *Pool) Callback(ctx context.Context, req *fasthttp.RequestCtx) (string, error) {
	if !p.pushing() {
		return "", ErrNotMine
	}
	got := req.QueryArgs().Peek("secret")
	if len(got) == 0 {
		got = req.Request.Header.Peek("X-Webhook-Secret")
	}
	// Compared as hashes: equal lengths, so the time taken tells nothing,
	// not even the secret's length.
	g, w := sha256.Sum256(got), sha256.Sum256([]byte(p.o.WebhookSecret))
	if subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return "", ErrNotMine
	}
	phone, m, err := p.o.Source.(Pusher).Callback(req)
	if err != nil {
		return "", fmt.Errorf("%s callback: %w", p.o.Code, err)
	}
	if m.At.IsZero() {
		m.At = p.now()
	}
	// The account calls back for every number it rents; only the pool's
	// are kept (the rest would only pile up in the ledger), and another
	// pool on the same account may own this one. An inventory that cannot
	// be read is an error (the upstream retries), not a "no".
	if _, ok := p.number(phone); !ok {
		if _, err := p.numbers(ctx); err != nil {
			return "", fmt.Errorf("%s callback: %w", p.o.Code, err)
		}
		if _, ok := p.number(phone); !ok {
			return "", ErrNotOurNumber
		}
	}
	if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, phone, ledger.PoolMessage{From: m.From, Text: m.Text, At: m.At.UTC(), Pushed: true}); err != nil {
		return "", fmt.Errorf("%s callback: cannot store the message: %w", p.o.Code, err)
	}
	leases, err := p.o.Store.Leases(ctx, p.o.Code, p.now())
	if err != nil {
		return "", nil // stored; the order's next poll finds it
	}
	for _, l := range leases {
		if l.Active() && l.Phone == phone {
			return strconv.FormatInt(l.ID, 10), nil
		}
	}
	return "", nil
}
