package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
)

var sqlitePool = newPoolSQL(sqliteArg, "")

// Lease implements PoolStore. Pool writes go to the writer connection in
// their own transactions, not through the group commit, which is for
// orders. The one writer connection serialises Lease calls, so the phones
// found busy stay busy until the INSERT; ON CONFLICT DO NOTHING is only a
// guard (see Postgres.Lease for where it matters).
//
// Stale leases are ended, and stay ended, even when no candidate is free.
func (s *SQLite) Lease(ctx context.Context, r LeaseRequest) (Lease, error) {
	if err := r.validate(); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	defer s.calls.Done()
	l, err := s.lease(ctx, r)
	if err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number of %s: %w", r.Platform, err)
	}
	return l, nil
}

func (s *SQLite) lease(ctx context.Context, r LeaseRequest) (Lease, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Lease{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlitePool.endStale, r.endStaleArgs()...); err != nil {
		return Lease{}, fmt.Errorf("cannot end stale leases: %w", err)
	}
	rows, err := tx.QueryContext(ctx, sqlitePool.busy, r.Platform, r.Service, toMillis(r.Now), r.Platform)
	if err != nil {
		return Lease{}, err
	}
	busy, err := readPhones(rows)
	rows.Close()
	if err != nil {
		return Lease{}, err
	}
	l, found := Lease{}, false
	for _, phone := range r.Candidates {
		if busy[phone] {
			continue
		}
		l, err = scanLease(tx.QueryRowContext(ctx, sqlitePool.insert, r.insertArgs(phone)...))
		if errors.Is(err, ErrNotFound) {
			continue // leased since the busy query (cannot happen here, see Lease)
		}
		if err != nil {
			return Lease{}, err
		}
		found = true
		break
	}
	if err := tx.Commit(); err != nil {
		return Lease{}, err
	}
	if !found {
		return Lease{}, ErrNoFreeNumber
	}
	return l, nil
}

// GetLease implements PoolStore.
func (s *SQLite) GetLease(ctx context.Context, platform string, id int64) (Lease, error) {
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	l, err := scanLease(s.r.QueryRowContext(ctx, sqlitePool.get, platform, id))
	if err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// MoveLease implements PoolStore.
func (s *SQLite) MoveLease(ctx context.Context, platform string, id int64, after time.Time) error {
	if after.IsZero() {
		return fmt.Errorf("cannot move pool lease %d: zero time", id)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot move pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	res, err := s.w.ExecContext(ctx, sqlitePool.move, toMillis(after), platform, id)
	if err != nil {
		return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
	}
	if n == 0 {
		// Ended (left as it is) or missing: leases are never deleted, so
		// the reader tells which.
		if _, err := scanLease(s.r.QueryRowContext(ctx, sqlitePool.get, platform, id)); err != nil {
			return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
		}
	}
	return nil
}

// EndLease implements PoolStore.
func (s *SQLite) EndLease(ctx context.Context, platform string, id int64, outcome adapters.State, at, blockedUntil time.Time) (Lease, error) {
	if err := validEnd(outcome, at); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	if err := s.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	defer s.calls.Done()
	l, err := scanLease(s.w.QueryRowContext(ctx, sqlitePool.end, toMillis(at), string(outcome), toMillis(blockedUntil), platform, id))
	if errors.Is(err, ErrNotFound) {
		// Ended already (returned as it is) or missing.
		l, err = scanLease(s.r.QueryRowContext(ctx, sqlitePool.get, platform, id))
	}
	if err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// Leases implements PoolStore.
func (s *SQLite) Leases(ctx context.Context, platform string, now time.Time) ([]Lease, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list pool leases: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, sqlitePool.list, platform, platform, toMillis(now))
	if err != nil {
		return nil, fmt.Errorf("cannot list pool leases of %s: %w", platform, err)
	}
	defer rows.Close()
	leases, err := readLeases(rows)
	if err != nil {
		return nil, fmt.Errorf("cannot list pool leases of %s: %w", platform, err)
	}
	return leases, nil
}

// AddPoolMessage implements PoolStore.
func (s *SQLite) AddPoolMessage(ctx context.Context, platform, phone string, m PoolMessage) error {
	if err := validMessage(platform, phone, m); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	defer s.calls.Done()
	if err := s.addPoolMessage(ctx, platform, phone, m); err != nil {
		return fmt.Errorf("cannot add pool message for %s %s: %w", platform, phone, err)
	}
	return nil
}

func (s *SQLite) addPoolMessage(ctx context.Context, platform, phone string, m PoolMessage) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlitePool.prune, platform, phone, toMillis(m.At.Add(-poolMessageRetention))); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlitePool.addMessage, platform, phone, m.From, m.Text, toMillis(m.At), boolInt(m.Pushed)); err != nil {
		return err
	}
	return tx.Commit()
}

// PoolMessages implements PoolStore.
func (s *SQLite) PoolMessages(ctx context.Context, platform, phone string, since time.Time) ([]PoolMessage, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read pool messages: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, sqlitePool.messages, platform, phone, toMillis(since))
	if err != nil {
		return nil, fmt.Errorf("cannot read pool messages of %s %s: %w", platform, phone, err)
	}
	defer rows.Close()
	msgs, err := readPoolMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("cannot read pool messages of %s %s: %w", platform, phone, err)
	}
	return msgs, nil
}

var _ PoolStore = (*SQLite)(nil)
