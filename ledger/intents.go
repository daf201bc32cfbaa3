package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
)

// OpenIntent implements Money: the reservation (a conditional UPDATE of
// the wallet row), the intent and its journal row are one write (a
// transaction, or on SQLite one request of the group commit).
func (s *store) OpenIntent(ctx context.Context, in *Intent) error {
	switch {
	case in == nil:
		return errors.New("cannot open intent: nil intent")
	case in.Tenant == "":
		return errors.New("cannot open intent: empty tenant")
	case in.Hold < 0:
		return fmt.Errorf("cannot open intent: negative hold %d", in.Hold)
	case in.Hold > 0 && in.Currency == "":
		return errors.New("cannot open intent: a hold without a currency")
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot open intent: %w", err)
	}
	defer s.calls.Done()
	created := nowOr(in.CreatedAt)
	ms := toMillis(created)
	// Without a hold, the intent's INSERT is the only write.
	id, err := s.ins.write(ctx, in.Hold > 0, func(ctx context.Context, q querier) (int64, error) {
		if in.Hold > 0 {
			if err := s.reserve(ctx, q, in.Tenant, in.Currency, in.Hold, ms); err != nil {
				return 0, err
			}
		}
		var id int64
		if err := q.QueryRowContext(ctx, s.sql.money.insertIntent, in.Tenant, in.Platform, in.Country, in.Service,
			in.Hold, in.Currency, ms, ms).Scan(&id); err != nil {
			return 0, err
		}
		if in.Hold == 0 {
			return id, nil
		}
		return id, s.journal(ctx, q, Entry{Tenant: in.Tenant, Kind: EntryReserve, Amount: in.Hold, Currency: in.Currency,
			IntentID: id, At: created})
	})
	if err != nil {
		return fmt.Errorf("cannot open intent for tenant %s: %w", in.Tenant, err)
	}
	in.ID, in.State, in.UpstreamID, in.OrderID = id, IntentOpen, "", 0
	in.CreatedAt, in.UpdatedAt = created, created
	return nil
}

// reserve holds amount of the tenant's available balance, or fails with
// ErrInsufficientFunds (no wallet, or too little available) or a currency
// mismatch.
func (s *store) reserve(ctx context.Context, q querier, tenant, currency string, amount, at int64) error {
	res, err := q.ExecContext(ctx, s.sql.money.reserve, amount, at, tenant, currency, amount)
	if err := affectedOne(res, err); !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.sameCurrency(ctx, q, tenant, currency); err != nil {
		return err
	}
	return ErrInsufficientFunds
}

// sameCurrency reports an error when the tenant's wallet exists in
// another currency than currency.
func (s *store) sameCurrency(ctx context.Context, q querier, tenant, currency string) error {
	var have string
	err := q.QueryRowContext(ctx, s.sql.money.walletCurrency, tenant).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case have != currency:
		return fmt.Errorf("the wallet of tenant %s is in %s, not %s", tenant, have, currency)
	}
	return nil
}

// CloseIntent implements Money.
func (s *store) CloseIntent(ctx context.Context, id int64, state IntentState, orphan *Action, now time.Time) error {
	switch {
	case state != IntentAborted && state != IntentOrphan && state != IntentUnknown:
		return fmt.Errorf("cannot close intent %d as %q", id, state)
	case (state == IntentOrphan) != (orphan != nil):
		return fmt.Errorf("cannot close intent %d: an orphan needs its cancel, and only an orphan has one", id)
	case orphan != nil && orphan.UpstreamID == "":
		return fmt.Errorf("cannot close intent %d: the orphan's cancel has no upstream id", id)
	}
	now = nowOr(now)
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot close intent %d: %w", id, err)
	}
	defer s.calls.Done()
	// Isolated: the hold's release and the orphan's cancel follow the
	// intent's UPDATE.
	_, err := s.ins.write(ctx, true, func(ctx context.Context, q querier) (int64, error) {
		upstream := ""
		if orphan != nil {
			upstream = orphan.UpstreamID
		}
		var in Intent
		err := q.QueryRowContext(ctx, s.sql.money.closeIntent, string(state), upstream, toMillis(now), id).
			Scan(&in.Tenant, &in.Platform, &in.Hold, &in.Currency)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("no open intent: %w", ErrNotFound)
		}
		if err != nil {
			return 0, err
		}
		if err := s.releaseHold(ctx, q, in, id, now); err != nil {
			return 0, err
		}
		if orphan == nil {
			return 0, nil
		}
		return 0, s.insertOrphan(ctx, q, *orphan, in, now)
	})
	if err != nil {
		return fmt.Errorf("cannot close intent %d: %w", id, err)
	}
	return nil
}

// releaseHold gives an intent's hold back to its tenant's wallet.
func (s *store) releaseHold(ctx context.Context, q querier, in Intent, id int64, now time.Time) error {
	if in.Hold == 0 {
		return nil
	}
	hold := adapters.Money{Micros: in.Hold, Currency: in.Currency}
	return s.moveWallet(ctx, q, EntryRelease, in.Tenant, hold, 0, id, now)
}

// insertOrphan queues the cancel of a number bought for in and never
// recorded: no order, the intent's tenant and (unless given) platform.
func (s *store) insertOrphan(ctx context.Context, q querier, a Action, in Intent, now time.Time) error {
	a.OrderID, a.Tenant = 0, in.Tenant
	if a.Platform == "" {
		a.Platform = in.Platform
	}
	if a.Kind == "" {
		a.Kind = ActCancel
	}
	a, err := newAction(a, now)
	if err != nil {
		return err
	}
	return s.insertActions(ctx, q, []Action{a})
}

// StaleIntents implements Money.
func (s *store) StaleIntents(ctx context.Context, before time.Time, limit int) ([]Intent, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list stale intents: %w", err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, s.sql.money.staleIntents, toMillis(before), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list stale intents: %w", err)
	}
	out, err := readAll(rows, scanIntent)
	if err != nil {
		return nil, fmt.Errorf("cannot list stale intents: %w", err)
	}
	return out, nil
}

// Intent implements Money.
func (s *store) Intent(ctx context.Context, id int64) (Intent, error) {
	if err := s.enter(); err != nil {
		return Intent{}, fmt.Errorf("cannot get intent %d: %w", id, err)
	}
	defer s.calls.Done()
	in, err := scanIntent(s.r.QueryRowContext(ctx, s.sql.money.intent, id))
	if err != nil {
		return Intent{}, fmt.Errorf("cannot get intent %d: %w", id, err)
	}
	return in, nil
}
