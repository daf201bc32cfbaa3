package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"smsgate/adapters"
)

// pgPool: the stale leases are picked FOR UPDATE SKIP LOCKED, so that
// concurrent Lease calls never wait for (or deadlock on) each other's
// stale rows; one that skips a row sees its phone still active and passes
// it over.
var pgPool = newPoolSQL(pgArg, " FOR UPDATE SKIP LOCKED")

// Lease implements PoolStore in one READ COMMITTED transaction: end stale
// leases, read the busy phones, then INSERT the first other candidate. The
// busy set is a snapshot another instance may overtake, so the INSERT is
// what decides: against the partial unique index on active leases, an
// INSERT for a phone another transaction has just leased waits for that
// one's commit and then does nothing, and the next candidate is tried. A
// transaction waiting there has inserted nothing yet, so the waits cannot
// form a cycle.
//
// Stale leases are ended, and stay ended, even when no candidate is free.
// Should the answer get lost (ctx or connection gone while committing), the
// lease it recorded goes stale at its ExpiresAt like any forgotten lease.
func (p *Postgres) Lease(ctx context.Context, r LeaseRequest) (Lease, error) {
	if err := r.validate(); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	if err := p.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number: %w", err)
	}
	defer p.calls.Done()
	var (
		l     Lease
		found bool
	)
	err := pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, pgPool.endStale, r.endStaleArgs()...); err != nil {
			return fmt.Errorf("cannot end stale leases: %w", err)
		}
		rows, err := tx.Query(ctx, pgPool.busy, r.Platform, r.Service, toMillis(r.Now), r.Platform)
		if err != nil {
			return err
		}
		busy, err := readPhones(rows)
		rows.Close()
		if err != nil {
			return err
		}
		for _, phone := range r.Candidates {
			if busy[phone] {
				continue
			}
			l, err = scanLease(tx.QueryRow(ctx, pgPool.insert, r.insertArgs(phone)...))
			if errors.Is(err, ErrNotFound) {
				continue // another instance leased it since the busy query
			}
			if err != nil {
				return err
			}
			found = true
			return nil
		}
		return nil
	})
	if err != nil {
		return Lease{}, fmt.Errorf("cannot lease pool number of %s: %w", r.Platform, err)
	}
	if !found {
		return Lease{}, fmt.Errorf("cannot lease pool number of %s: %w", r.Platform, ErrNoFreeNumber)
	}
	return l, nil
}

// GetLease implements PoolStore.
func (p *Postgres) GetLease(ctx context.Context, platform string, id int64) (Lease, error) {
	if err := p.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d: %w", id, err)
	}
	defer p.calls.Done()
	l, err := scanLease(p.pool.QueryRow(ctx, pgPool.get, platform, id))
	if err != nil {
		return Lease{}, fmt.Errorf("cannot get pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// MoveLease implements PoolStore.
func (p *Postgres) MoveLease(ctx context.Context, platform string, id int64, after time.Time) error {
	if after.IsZero() {
		return fmt.Errorf("cannot move pool lease %d: zero time", id)
	}
	if err := p.enter(); err != nil {
		return fmt.Errorf("cannot move pool lease %d: %w", id, err)
	}
	defer p.calls.Done()
	tag, err := p.pool.Exec(ctx, pgPool.move, toMillis(after), platform, id)
	if err != nil {
		return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
	}
	if tag.RowsAffected() == 0 {
		// Ended (left as it is) or missing; leases are never deleted.
		if _, err := scanLease(p.pool.QueryRow(ctx, pgPool.get, platform, id)); err != nil {
			return fmt.Errorf("cannot move pool lease %d of %s: %w", id, platform, err)
		}
	}
	return nil
}

// EndLease implements PoolStore.
func (p *Postgres) EndLease(ctx context.Context, platform string, id int64, outcome adapters.State, at, blockedUntil time.Time) (Lease, error) {
	if err := validEnd(outcome, at); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	if err := p.enter(); err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d: %w", id, err)
	}
	defer p.calls.Done()
	l, err := scanLease(p.pool.QueryRow(ctx, pgPool.end, toMillis(at), string(outcome), toMillis(blockedUntil), platform, id))
	if errors.Is(err, ErrNotFound) {
		// Ended already (returned as it is) or missing.
		l, err = scanLease(p.pool.QueryRow(ctx, pgPool.get, platform, id))
	}
	if err != nil {
		return Lease{}, fmt.Errorf("cannot end pool lease %d of %s: %w", id, platform, err)
	}
	return l, nil
}

// Leases implements PoolStore.
func (p *Postgres) Leases(ctx context.Context, platform string, now time.Time) ([]Lease, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot list pool leases: %w", err)
	}
	defer p.calls.Done()
	rows, err := p.pool.Query(ctx, pgPool.list, platform, platform, toMillis(now))
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
func (p *Postgres) AddPoolMessage(ctx context.Context, platform, phone string, m PoolMessage) error {
	if err := validMessage(platform, phone, m); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	if err := p.enter(); err != nil {
		return fmt.Errorf("cannot add pool message: %w", err)
	}
	defer p.calls.Done()
	err := pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, pgPool.prune, platform, phone, toMillis(m.At.Add(-poolMessageRetention))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, pgPool.addMessage, platform, phone, m.From, m.Text, toMillis(m.At), boolInt(m.Pushed))
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot add pool message for %s %s: %w", platform, phone, err)
	}
	return nil
}

// PoolMessages implements PoolStore.
func (p *Postgres) PoolMessages(ctx context.Context, platform, phone string, since time.Time) ([]PoolMessage, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot read pool messages: %w", err)
	}
	defer p.calls.Done()
	rows, err := p.pool.Query(ctx, pgPool.messages, platform, phone, toMillis(since))
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

var _ PoolStore = (*Postgres)(nil)
