package pool

import (
	"context"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/pool/lease"
)

// Store keeps the pool's leases and pushed messages where every gateway
// instance sees them: the ledger implements it (SQLite, PostgreSQL).
type Store interface {
	// Lease atomically takes the first candidate that has no active lease
	// (of any service; stale ones are ended first, see StaleBlock) and no
	// lease for r.Service whose BlockedUntil is after r.Now, and records an
	// active lease on it expiring at r.Now+r.TTL. lease.ErrNoFreeNumber when none
	// qualifies. Two concurrent calls (in any process sharing the store)
	// never get the same phone while its lease is active.
	Lease(ctx context.Context, r lease.Request) (lease.Lease, error)
	// GetLease returns the platform's lease with that id, or an error that is lease.ErrNotFound.
	GetLease(ctx context.Context, platform string, id int64) (lease.Lease, error)
	// MoveLease sets an active lease's After (another code was asked for).
	// lease.ErrNotFound if no such lease; an ended lease is left as it is.
	MoveLease(ctx context.Context, platform string, id int64, after time.Time) error
	// EndLease ends an active lease at `at` with outcome, blocking its number
	// for its service until blockedUntil (zero: not blocked), and returns
	// it. Ending an ended lease changes nothing and returns it as it is.
	// lease.ErrNotFound if no such lease.
	EndLease(ctx context.Context, platform string, id int64, outcome adapters.State, at, blockedUntil time.Time) (lease.Lease, error)
	// Leases lists the platform's leases that are active or whose
	// BlockedUntil is after now, oldest first.
	Leases(ctx context.Context, platform string, now time.Time) ([]lease.Lease, error)
	// AddPoolMessage stores a pushed message for the platform's phone.
	// Messages more than a day older than m.At for that phone are dropped.
	AddPoolMessage(ctx context.Context, platform, phone string, m lease.Message) error
	// PoolMessages returns the pushed messages of the platform's phone
	// received at or after since, oldest first.
	PoolMessages(ctx context.Context, platform, phone string, since time.Time) ([]lease.Message, error)
}
