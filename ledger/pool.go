package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"smsgate/adapters/pool/lease"
	"time"

	"smsgate/adapters"
)

// Pool platforms (TextNow accounts, numbers rented by the month) own their
// numbers; the gateway hands them out itself. Who holds which number, and
// for which service a number was used lately, lives here next to the
// orders: so it survives a restart, and instances sharing the ledger never
// lease one number twice.

// The pool records are the lease package's (the pool declares its store
// over them; the ledger implements it).
type (
	Lease        = lease.Lease
	LeaseRequest = lease.Request
	PoolMessage  = lease.Message
)

// ErrNoFreeNumber: none of the candidate numbers can be leased now.
var ErrNoFreeNumber = lease.ErrNoFreeNumber

// errNoLease is the ledger's ErrNotFound for a lease, which a pool knows
// as lease.ErrNotFound.
var errNoLease = fmt.Errorf("%w: %w", ErrNotFound, lease.ErrNotFound)

// PoolStore keeps pool leases and pushed messages. SQLite and Postgres
// implement it (poolstore.go); a pool platform asks the ledger for it with a type assertion.
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

// What follows serves the implementation in poolstore.go.

// validate checks a LeaseRequest before any store is touched.
func validateLease(r *LeaseRequest) error {
	switch {
	case r.Platform == "":
		return errors.New("empty platform")
	case r.TTL <= 0:
		return fmt.Errorf("TTL %v is not positive", r.TTL)
	case r.StaleBlock < 0:
		return fmt.Errorf("stale block %v is negative", r.StaleBlock)
	case r.Now.IsZero():
		// Stored as 0, which reads back as "no time".
		return errors.New("zero Now")
	case len(r.Candidates) == 0:
		return ErrNoFreeNumber
	}
	for _, phone := range r.Candidates {
		if phone == "" {
			return errors.New("empty candidate phone")
		}
	}
	return nil
}

// insertArgs are the arguments of poolSQL.insert for phone.
func leaseInsertArgs(r *LeaseRequest, phone string) []any {
	now := toMillis(r.Now)
	return []any{r.Platform, phone, r.Service, r.Country, now, now, now, toMillis(r.Now.Add(r.TTL))}
}

// endStaleArgs are the arguments of poolSQL.endStale.
func leaseEndStaleArgs(r *LeaseRequest) []any {
	now := toMillis(r.Now)
	return []any{now, string(adapters.StateExpired), r.StaleBlock.Milliseconds(), r.Platform, now}
}

// validEnd checks EndLease's arguments. A zero at would be stored as 0,
// which is what marks a lease active.
func validEnd(outcome adapters.State, at time.Time) error {
	if !outcome.Valid() || outcome.Active() {
		return fmt.Errorf("outcome %q is not a final state", outcome)
	}
	if at.IsZero() {
		return errors.New("zero end time")
	}
	return nil
}

// validMessage checks AddPoolMessage's arguments.
func validMessage(platform, phone string, m PoolMessage) error {
	switch {
	case platform == "" || phone == "":
		return fmt.Errorf("empty platform (%q) or phone (%q)", platform, phone)
	case m.At.IsZero():
		return errors.New("zero message time")
	}
	return nil
}

// poolMessageRetention: AddPoolMessage drops a phone's messages older than
// this before the new one. A code is useful for minutes; a day leaves room
// for a clock that is off and for looking back at what came.
const poolMessageRetention = 24 * time.Hour

// leaseColumns is the column list scanLease reads, in its order.
const leaseColumns = "id, platform, phone, service, country, since, after, created_at, expires_at, ended_at, outcome, blocked_until"

// poolSQL holds the pool statements of one dialect. A lease is active while
// ended_at = 0; the literal lets the planner use the partial unique index
// on (platform, phone), whose predicate a bound parameter cannot imply.
type poolSQL struct {
	endStale, busy, insert, get, move, end, list, prune, addMessage, messages string
}

// newPoolSQL renders the statements in d. The stale leases to end are
// picked with d.skipLocked(): where instances lease at once, concurrent
// Lease calls then never wait for (or deadlock on) each other's stale
// rows; one that skips a row sees its phone still active and passes it
// over.
func newPoolSQL(d dialect) poolSQL {
	arg, lock := d.arg, d.skipLocked()
	return poolSQL{
		// $1 now, $2 'expired', $3 stale block (ms), $4 platform, $5 now.
		endStale: "UPDATE pool_leases SET ended_at = " + arg(1) + ", outcome = " + arg(2) +
			", blocked_until = expires_at + " + arg(3) + " WHERE id IN (SELECT id FROM pool_leases WHERE platform = " +
			arg(4) + " AND ended_at = 0 AND expires_at <= " + arg(5) + lock + ")",
		// Phones not to lease: held by anyone, or cooling down for the service.
		// Two SELECTs rather than one with OR, so each reads its own index
		// (the active-lease one, the service block one) instead of every
		// lease the platform ever had. $1 platform, $2 service, $3 now,
		// $4 platform again ("?" placeholders cannot repeat).
		busy: "SELECT phone FROM pool_leases WHERE platform = " + arg(1) + " AND service = " + arg(2) +
			" AND blocked_until > " + arg(3) + " UNION SELECT phone FROM pool_leases WHERE platform = " + arg(4) + " AND ended_at = 0",
		// No row when the phone has an active lease: the partial unique
		// index is the only constraint that can conflict.
		insert: "INSERT INTO pool_leases (platform, phone, service, country, since, after, created_at, expires_at) VALUES (" +
			arg(1) + ", " + arg(2) + ", " + arg(3) + ", " + arg(4) + ", " + arg(5) + ", " + arg(6) + ", " + arg(7) + ", " + arg(8) +
			") ON CONFLICT DO NOTHING RETURNING " + leaseColumns,
		get:  "SELECT " + leaseColumns + " FROM pool_leases WHERE platform = " + arg(1) + " AND id = " + arg(2),
		move: "UPDATE pool_leases SET after = " + arg(1) + " WHERE platform = " + arg(2) + " AND id = " + arg(3) + " AND ended_at = 0",
		end: "UPDATE pool_leases SET ended_at = " + arg(1) + ", outcome = " + arg(2) + ", blocked_until = " + arg(3) +
			" WHERE platform = " + arg(4) + " AND id = " + arg(5) + " AND ended_at = 0 RETURNING " + leaseColumns,
		// Active leases UNION blocking ones, each from its own index (an OR
		// would read every lease the platform ever had). $1 platform, $2
		// platform again, $3 now.
		list: "SELECT " + leaseColumns + " FROM pool_leases WHERE platform = " + arg(1) + " AND ended_at = 0 UNION SELECT " +
			leaseColumns + " FROM pool_leases WHERE platform = " + arg(2) + " AND blocked_until > " + arg(3) + " ORDER BY id",
		prune:      "DELETE FROM pool_messages WHERE platform = " + arg(1) + " AND phone = " + arg(2) + " AND at < " + arg(3),
		addMessage: "INSERT INTO pool_messages (platform, phone, sender, text, at, pushed) VALUES (" + arg(1) + ", " + arg(2) + ", " + arg(3) + ", " + arg(4) + ", " + arg(5) + ", " + arg(6) + ")",
		messages: "SELECT sender, text, at, pushed FROM pool_messages WHERE platform = " + arg(1) + " AND phone = " + arg(2) +
			" AND at >= " + arg(3) + " ORDER BY at, id",
	}
}

// scanLease reads one leaseColumns row; no row is ErrNotFound.
func scanLease(r rowScanner) (Lease, error) {
	var (
		l                                                   Lease
		outcome                                             string
		since, after, created, expires, ended, blockedUntil int64
	)
	err := r.Scan(&l.ID, &l.Platform, &l.Phone, &l.Service, &l.Country,
		&since, &after, &created, &expires, &ended, &outcome, &blockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, errNoLease
	}
	if err != nil {
		return Lease{}, err
	}
	l.Since, l.After, l.CreatedAt, l.ExpiresAt = fromMillis(since), fromMillis(after), fromMillis(created), fromMillis(expires)
	l.EndedAt, l.BlockedUntil = fromMillis(ended), fromMillis(blockedUntil)
	l.Outcome = adapters.State(outcome)
	return l, nil
}

// scanPhone reads poolSQL.busy's answer.
func scanPhone(r rowScanner) (string, error) {
	var phone string
	err := r.Scan(&phone)
	return phone, err
}

func scanPoolMessage(r rowScanner) (PoolMessage, error) {
	var (
		m      PoolMessage
		at     int64
		pushed int64
	)
	if err := r.Scan(&m.From, &m.Text, &at, &pushed); err != nil {
		return PoolMessage{}, err
	}
	m.At, m.Pushed = fromMillis(at), pushed != 0
	return m, nil
}

// boolInt stores a bool as 0/1 (an INTEGER in SQLite, where the column is
// declared the same way in PostgreSQL for one SQL text).
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
