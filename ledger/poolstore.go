package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"smsgate/adapters"
)

// Lease implements PoolStore in one write transaction: end stale leases,
// read the busy phones, then INSERT the first other candidate. Pool writes
// go to the writer, not through SQLite's group commit, which is for orders.
//
// With SQLite, the one writer connection serialises Lease calls, so the
// phones found busy stay busy until the INSERT. With PostgreSQL (READ
// COMMITTED) the busy set is a snapshot another instance may overtake, so
// the INSERT is what decides: against the partial unique index on active
// leases, an INSERT for a phone another transaction has just leased waits
// for that one's commit and then does nothing (ON CONFLICT DO NOTHING),
// and the next candidate is tried. A transaction waiting there has
// inserted nothing yet, so the waits cannot form a cycle.
//
// Stale leases are ended, and stay ended, even when no candidate is free.
// Should the answer get lost (ctx or connection gone while committing), the
// lease it recorded goes stale at its ExpiresAt like any forgotten lease.
func (s *store) Lease(ctx context.Context, r LeaseRequest) (Lease, error) {
	if err := validateLease(&r); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	defer s.calls.Done()
	var l Lease
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		l, err = s.lease(ctx, tx, r)
		return err
	})
	if err == nil && l.ID == 0 {
		err = ErrNoFreeNumber
	}
	if err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number of %s: %w", r.Platform, err)
	}
	return l, nil
}

// lease is Lease's transaction; a zero Lease when no candidate is free.
func (s *store) lease(ctx context.Context, tx *sql.Tx, r LeaseRequest) (Lease, error) {
	if _, err := tx.ExecContext(ctx, s.sql.pool.endStale, leaseEndStaleArgs(&r)...); err != nil {
		return Lease{}, fmt.Errorf("cannot end stale leases: %w", err)
	}
	rows, err := tx.QueryContext(ctx, s.sql.pool.busy, r.Platform, r.Service, toMillis(r.Now), r.Platform)
	if err != nil {
		return Lease{}, err
	}
	busy, err := readAll(rows, scanPhone)
	if err != nil {
		return Lease{}, err
	}
	for _, phone := range r.Candidates {
		if slices.Contains(busy, phone) {
			continue
		}
		l, err := scanLease(tx.QueryRowContext(ctx, s.sql.pool.insert, leaseInsertArgs(&r, phone)...))
		if errors.Is(err, ErrNotFound) {
			continue // another instance leased it since the busy query
		}
		return l, err
	}
	return Lease{}, nil
}

// inTx runs f in a write transaction, committed when f returns nil.
func (s *store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, s.d.txOptions())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// GetLease implements PoolStore.
func (s *store) GetLease(ctx context.Context, platform string, id int64) (Lease, error) {
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	l, err := scanLease(s.r.QueryRowContext(ctx, s.sql.pool.get, platform, id))
	if err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// MoveLease implements PoolStore.
func (s *store) MoveLease(ctx context.Context, platform string, id int64, after time.Time) error {
	if after.IsZero() {
		return fmt.Errorf("cannot move pool lease %d: zero time", id)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot move pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	err := affectedOne(s.w.ExecContext(ctx, s.sql.pool.move, toMillis(after), platform, id))
	if errors.Is(err, ErrNotFound) {
		// Ended (left as it is) or missing: leases are never deleted, so a
		// read tells which.
		_, err = scanLease(s.r.QueryRowContext(ctx, s.sql.pool.get, platform, id))
	}
	if err != nil {
		return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
	}
	return nil
}

// EndLease implements PoolStore.
func (s *store) EndLease(ctx context.Context, platform string, id int64, outcome adapters.State, at, blockedUntil time.Time) (Lease, error) {
	if err := validEnd(outcome, at); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	l, err := scanLease(s.w.QueryRowContext(ctx, s.sql.pool.end, toMillis(at), string(outcome), toMillis(blockedUntil), platform, id))
	if errors.Is(err, ErrNotFound) {
		// Ended already (returned as it is) or missing.
		l, err = scanLease(s.r.QueryRowContext(ctx, s.sql.pool.get, platform, id))
	}
	if err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// Leases implements PoolStore.
func (s *store) Leases(ctx context.Context, platform string, now time.Time) ([]Lease, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list pool leases: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, s.sql.pool.list, platform, platform, toMillis(now))
	if err == nil {
		var leases []Lease
		if leases, err = readAll(rows, scanLease); err == nil {
			return leases, nil
		}
	}
	return nil, fmt.Errorf("cannot list pool leases of %s: %w", platform, err)
}

// AddPoolMessage implements PoolStore.
func (s *store) AddPoolMessage(ctx context.Context, platform, phone string, m PoolMessage) error {
	if err := validMessage(platform, phone, m); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	defer s.calls.Done()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.sql.pool.prune, platform, phone, toMillis(m.At.Add(-poolMessageRetention))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.sql.pool.addMessage, platform, phone, m.From, m.Text, toMillis(m.At), boolInt(m.Pushed))
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot add pool message for %s %s: %w", platform, phone, err)
	}
	return nil
}

// PoolMessages implements PoolStore.
func (s *store) PoolMessages(ctx context.Context, platform, phone string, since time.Time) ([]PoolMessage, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read pool messages: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, s.sql.pool.messages, platform, phone, toMillis(since))
	if err == nil {
		var msgs []PoolMessage
		if msgs, err = readAll(rows, scanPoolMessage); err == nil {
			return msgs, nil
		}
	}
	return nil, fmt.Errorf("cannot read pool messages of %s %s: %w", platform, phone, err)
}
