// Package pool is a Platform over numbers the gateway owns rather than
// buys: TextNow accounts (one free number each) and numbers rented by the
// month (Receive-SMS). Such upstreams sell no activations, so the pool
// does what a marketplace would: it hands a number out to one order at a
// time, reads the number's incoming SMS for the code, and takes it back.
//
// Who holds which number lives in the ledger (Store), so leases
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
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"smsgate/adapters"
)

// Options configures a pool platform. Zero fields take the defaults in
// their comments.
type Options struct {
	Code   string // platform code; required
	Source Source // the upstream reader; required
	Store  Store  // where leases live; required
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
