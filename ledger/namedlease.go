package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// acquireLeaseSQL takes the named lease when it is free, expired or the
// owner's own, in one statement on both dialects: the INSERT creates it;
// on a conflict the UPDATE moves it only under the WHERE clause, and
// RowsAffected tells whether we hold it. Two owners at once: PostgreSQL
// makes the second wait for the first's row and then evaluates the WHERE
// clause against it (the lease is live and not its own: no row); SQLite
// has one writer. ?1 name, ?2 owner, ?3 until, ?4 now (unix ms).
const acquireLeaseSQL = "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)" +
	" ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until" +
	" WHERE leases.owner = excluded.owner OR leases.until < ?"

// AcquireLease takes or renews the lease called name for owner until
// now+ttl, and reports whether owner holds it: it does when the lease was
// free, had expired (until < now: its holder stopped renewing it) or was
// already owner's. While another owner's lease is live nothing changes.
// Leases name work that one instance of several does at a time, such as a
// platform's list round ("list:<code>").
func (s *store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" {
		return false, errors.New("cannot acquire lease: empty name or owner")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("cannot acquire lease %s: ttl %v is not positive", name, ttl)
	}
	if err := s.enter(); err != nil {
		return false, fmt.Errorf("cannot acquire lease %s: %w", name, err)
	}
	defer s.calls.Done()
	res, err := s.w.ExecContext(ctx, bindAll(s.d, acquireLeaseSQL), name, owner, toMillis(now.Add(ttl)), toMillis(now))
	if err != nil {
		return false, fmt.Errorf("cannot acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cannot acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up owner's lease called name, if owner holds it, so
// that another owner can take it at once instead of after it expires (a
// gateway stopping hands its list rounds over). Another owner's lease is
// left alone.
func (s *store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot release lease %s: %w", name, err)
	}
	defer s.calls.Done()
	if _, err := s.w.ExecContext(ctx, bindAll(s.d, "DELETE FROM leases WHERE name = ? AND owner = ?"), name, owner); err != nil {
		return fmt.Errorf("cannot release lease %s: %w", name, err)
	}
	return nil
}
