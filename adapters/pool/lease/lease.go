// Package lease holds the records a number pool keeps in its store —
// leases, lease requests and pushed messages — so that the pool (which
// declares the store it needs) and the ledger (which implements it) share
// them without the pool importing the ledger.
package lease

import (
	"errors"
	"time"

	"smsgate/adapters"
)

// ErrNotFound: no lease with that id on that platform.
var ErrNotFound = errors.New("lease not found")

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

// Request asks for one number.
type Request struct {
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

// Message is an SMS of a pool number: pushed by the upstream, or a copy
// of one read from it, kept so that the two copies of one SMS are known as one.
type Message struct {
	From string
	Text string
	At   time.Time
	// Pushed: the message came by the upstream's callback (stamped on
	// arrival); false for a copy read from the upstream (its own time).
	Pushed bool
}
