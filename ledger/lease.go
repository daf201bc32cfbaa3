package ledger

import (
	"context"
	"time"
)

// Leaser is implemented by stores shared between gateway instances: each due
// order is polled by exactly one instance at a time.
//
// The poller of a shared store calls Claim instead of Store.Due, polls what
// it got, and ends each poll with Store.Update, which releases the lease.
// Due ignores leases.
type Leaser interface {
	// Claim returns at most limit active orders with NextPollAt <= now that no
	// other owner holds a live lease on, soonest first, and leases them to owner
	// until now+lease. A lease whose time passed is free again (its owner died).
	//
	// An order the owner itself still holds is not returned either: it is
	// being polled already. owner must not be empty and lease must be
	// positive; limit <= 0 returns nothing.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Order, error)
}
