package ledger

import (
	"context"
	"errors"
	"time"

	"smsgate/adapters"
)

// Pool platforms (TextNow accounts, numbers rented by the month) own their
// numbers; the gateway hands them out itself. Who holds which number, and
// for which service a number was used lately, lives here next to the
// orders: so it survives a restart, and instances sharing the ledger never
// lease one number twice.

// ErrNoFreeNumber: none of the candidate numbers can be leased now.
var ErrNoFreeNumber = errors.New("no free number in the pool")

// Lease is one number of a pool platform handed out for one service. It is
// active until EndedAt is set.
type Lease struct {
	ID       int64 // assigned by the store; unique, positive, increasing
	Platform string
	Phone    string
	Service  string // canonical service code
	Country  string // ISO alpha-2 lower case
	// Since: messages received before it are not the lease's (they came
	// before the number was handed out).
	Since time.Time
	// After: codes received before it were delivered already; moved when
	// the client asks for another code. Equal to Since at first.
	After     time.Time
	CreatedAt time.Time
	// ExpiresAt: a lease still active after it is stale (its order was lost
	// or ended without telling the pool); the next Lease call ends it.
	ExpiresAt time.Time
	EndedAt   time.Time      // zero while active
	Outcome   adapters.State // how it ended (finished, cancelled, expired, banned); "" while active
	// BlockedUntil: after the end, the number is not leased again for
	// Service before this time (cooldown after a use, quarantine after a
	// ban). Zero: not blocked.
	BlockedUntil time.Time
}

// Active reports whether the lease has not ended.
func (l *Lease) Active() bool { return l.EndedAt.IsZero() }

// LeaseRequest asks for one number.
type LeaseRequest struct {
	Platform string
	// Candidates are the phones that may be leased, in order of preference;
	// the first one that is free is taken.
	Candidates []string
	Service    string
	Country    string
	Now        time.Time // the lease's CreatedAt, Since and After
	TTL        time.Duration
	// StaleBlock: a stale lease (active past its ExpiresAt) is ended as
	// expired, blocking its number for its service until its ExpiresAt plus
	// StaleBlock (it may have delivered a code nobody recorded).
	StaleBlock time.Duration
}

// PoolMessage is an SMS an upstream pushed to the gateway for a pool number.
type PoolMessage struct {
	From string
	Text string
	At   time.Time
}

// PoolStore keeps pool leases and pushed messages. SQLite and Postgres
// implement it; a pool platform asks the ledger for it with a type assertion.
type PoolStore interface {
	// Lease atomically takes the first candidate that has no active lease
	// (of any service; stale ones are ended first, see StaleBlock) and no
	// lease for r.Service whose BlockedUntil is after r.Now, and records an
	// active lease on it expiring at r.Now+r.TTL. ErrNoFreeNumber when none
	// qualifies. Two concurrent calls (in any process sharing the store)
	// never get the same phone while its lease is active.
	Lease(ctx context.Context, r LeaseRequest) (Lease, error)
	// GetLease returns the platform's lease with that id, or ErrNotFound.
	GetLease(ctx context.Context, platform string, id int64) (Lease, error)
	// MoveLease sets an active lease's After (another code was asked for).
	// ErrNotFound if no such lease; an ended lease is left as it is.
	MoveLease(ctx context.Context, platform string, id int64, after time.Time) error
	// EndLease ends an active lease at `at` with outcome, blocking its number
	// for its service until blockedUntil (zero: not blocked), and returns
	// it. Ending an ended lease changes nothing and returns it as it is.
	// ErrNotFound if no such lease.
	EndLease(ctx context.Context, platform string, id int64, outcome adapters.State, at, blockedUntil time.Time) (Lease, error)
	// Leases lists the platform's leases that are active or whose
	// BlockedUntil is after now, oldest first.
	Leases(ctx context.Context, platform string, now time.Time) ([]Lease, error)
	// AddPoolMessage stores a pushed message for the platform's phone.
	// Messages more than a day older than m.At for that phone are dropped.
	AddPoolMessage(ctx context.Context, platform, phone string, m PoolMessage) error
	// PoolMessages returns the pushed messages of the platform's phone
	// received at or after since, oldest first.
	PoolMessages(ctx context.Context, platform, phone string, since time.Time) ([]PoolMessage, error)
}
