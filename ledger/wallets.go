package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// Wallet implements Money.
func (s *store) Wallet(ctx context.Context, tenant string) (Wallet, error) {
	if err := s.enter(); err != nil {
		return Wallet{}, fmt.Errorf("cannot read wallet of tenant %s: %w", tenant, err)
	}
	defer s.calls.Done()
	w, err := scanWallet(s.r.QueryRowContext(ctx, s.sql.money.wallet, tenant))
	if err != nil {
		return Wallet{}, fmt.Errorf("cannot read wallet of tenant %s: %w", tenant, err)
	}
	return w, nil
}

// AdjustWallet implements Money. A positive amount first makes sure the
// wallet exists (INSERT … ON CONFLICT DO NOTHING, which two instances'
// first top-ups may race on harmlessly); the change itself is one
// conditional UPDATE that keeps Balance >= Reserved.
func (s *store) AdjustWallet(ctx context.Context, tenant, currency string, kind EntryKind, amount int64, note string, at time.Time) (Wallet, error) {
	switch {
	case tenant == "" || currency == "":
		return Wallet{}, fmt.Errorf("cannot adjust wallet: empty tenant (%q) or currency (%q)", tenant, currency)
	case kind == EntryTopup && amount <= 0:
		return Wallet{}, fmt.Errorf("cannot top up wallet of tenant %s: amount %d is not positive", tenant, amount)
	case kind == EntryAdjust && amount == 0:
		return Wallet{}, fmt.Errorf("cannot adjust wallet of tenant %s: zero amount", tenant)
	case kind != EntryTopup && kind != EntryAdjust:
		return Wallet{}, fmt.Errorf("cannot adjust wallet of tenant %s: %q is not a top-up or an adjustment", tenant, kind)
	}
	if err := s.enter(); err != nil {
		return Wallet{}, fmt.Errorf("cannot adjust wallet of tenant %s: %w", tenant, err)
	}
	defer s.calls.Done()
	at = nowOr(at)
	ms := toMillis(at)
	var w Wallet
	_, err := s.ins.write(ctx, true, func(ctx context.Context, q querier) (int64, error) {
		if amount > 0 {
			if _, err := q.ExecContext(ctx, s.sql.money.ensureWallet, tenant, currency, ms); err != nil {
				return 0, err
			}
		}
		var err error
		w, err = scanWallet(q.QueryRowContext(ctx, s.sql.money.adjustWallet, amount, ms, tenant, currency, amount))
		if errors.Is(err, ErrNotFound) {
			if err := s.sameCurrency(ctx, q, tenant, currency); err != nil {
				return 0, err
			}
			return 0, ErrInsufficientFunds
		}
		if err != nil {
			return 0, err
		}
		return 0, s.journal(ctx, q, Entry{Tenant: tenant, Kind: kind, Amount: amount, Currency: currency, Note: note, At: at})
	})
	if err != nil {
		return Wallet{}, fmt.Errorf("cannot %s wallet of tenant %s by %d: %w", kind, tenant, amount, err)
	}
	return w, nil
}

// Journal implements Money: keyset paging on (tenant, id), the index's
// order, so any page costs the same.
func (s *store) Journal(ctx context.Context, tenant string, before int64, limit int) ([]Entry, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read journal of tenant %s: %w", tenant, err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.r.QueryContext(ctx, s.sql.money.journal, tenant, before, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read journal of tenant %s: %w", tenant, err)
	}
	out, err := readAll(rows, scanEntry)
	if err != nil {
		return nil, fmt.Errorf("cannot read journal of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// Batch implements Money.
func (s *store) Batch(ctx context.Context, tenant, key string) (string, error) {
	if err := s.enter(); err != nil {
		return "", fmt.Errorf("cannot read batch %q: %w", key, err)
	}
	defer s.calls.Done()
	var answer string
	err := s.r.QueryRowContext(ctx, s.sql.money.batch, tenant, key).Scan(&answer)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("cannot read batch %q of tenant %s: %w", key, tenant, err)
	}
	return answer, nil
}

// PutBatch implements Money. ON CONFLICT DO NOTHING rather than a unique
// violation: SQLite reports a primary key's violation under another code
// than a unique index's.
func (s *store) PutBatch(ctx context.Context, tenant, key, answer string, at time.Time) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot store batch %q: %w", key, err)
	}
	defer s.calls.Done()
	res, err := s.w.ExecContext(ctx, s.sql.money.putBatch, tenant, key, answer, toMillis(nowOr(at)))
	if err := affectedOne(res, err); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = ErrConflict
		}
		return fmt.Errorf("cannot store batch %q of tenant %s: %w", key, tenant, err)
	}
	return nil
}
