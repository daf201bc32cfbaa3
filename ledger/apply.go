package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
)

// Apply implements Money. Everything it writes, the events of c.Events
// last (see writeEvents), is one write on the writer (SQLite: a request
// of the group commit, in a savepoint when it writes more than the
// order; PostgreSQL: a READ COMMITTED transaction, where a second writer
// of the order waits for the first's row lock and then finds the version
// moved on). Where the
// dialect has Claim's leases, the write also releases the order's: an
// update is what a poll ends with.
func (s *store) Apply(ctx context.Context, o *Order, c Change) error {
	if o == nil {
		return errors.New("cannot update order: nil order")
	}
	if !o.State.Valid() {
		return fmt.Errorf("cannot update order %d: invalid state %q", o.ID, o.State)
	}
	to, err := walletAfter(o.Wallet, c.Move)
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	now := nowOr(o.UpdatedAt)
	actions := make([]Action, len(c.Actions))
	for i, a := range c.Actions {
		a.OrderID, a.Tenant, a.Platform, a.UpstreamID = o.ID, o.Tenant, o.Platform, o.UpstreamID
		if actions[i], err = newAction(a, now); err != nil {
			return fmt.Errorf("cannot update order %d: %w", o.ID, err)
		}
	}
	events := make([]Event, len(c.Events))
	for i, n := range c.Events {
		if !validEventKind(n.Kind) {
			return fmt.Errorf("cannot update order %d: unknown event kind %q", o.ID, n.Kind)
		}
		events[i] = orderEvent(o, n, now)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	defer s.calls.Done()
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	// Only the order's UPDATE: nothing else to undo when it is refused.
	isolate := to != WalletNone || len(actions) > 0 || len(events) > 0
	_, err = s.ins.write(ctx, isolate, func(ctx context.Context, q querier) (int64, error) {
		if err := s.writeOrder(ctx, q, o, codes, to); err != nil {
			return 0, err
		}
		if to != WalletNone {
			kind := EntryCapture
			if to == WalletReleased {
				kind = EntryRelease
			}
			if err := s.moveWallet(ctx, q, kind, o.Tenant, o.TenantPrice, o.ID, o.IntentID, now); err != nil {
				return 0, err
			}
		}
		if err := s.insertActions(ctx, q, actions); err != nil {
			return 0, err
		}
		return 0, s.writeEvents(ctx, q, events, c.Webhook)
	})
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	o.Version++
	if to != WalletNone {
		o.Wallet = to
	}
	return nil
}

// Update implements Store: Apply with no Change.
func (s *store) Update(ctx context.Context, o *Order) error {
	return s.Apply(ctx, o, Change{})
}

// walletAfter is the wallet state a movement m leaves an order in that
// stands at from, or WalletNone when m moves nothing: only a reserved
// order's money moves, once.
func walletAfter(from WalletState, m Movement) (WalletState, error) {
	switch m {
	case MoveNone:
		return WalletNone, nil
	case MoveCapture, MoveRelease:
	default:
		return WalletNone, fmt.Errorf("unknown wallet movement %q", m)
	}
	if from != WalletReserved {
		return WalletNone, nil
	}
	if m == MoveCapture {
		return WalletCaptured, nil
	}
	return WalletReleased, nil
}

// writeOrder writes o's mutable fields over o.Version (and the wallet
// state to, unless it is WalletNone). No row written is ErrNotFound when
// the order does not exist, else ErrStale.
func (s *store) writeOrder(ctx context.Context, q querier, o *Order, codes string, to WalletState) error {
	stmt, args := s.sql.money.apply, []any{string(o.State), codes, o.CodesSeen,
		toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt), o.UpstreamID, o.Phone}
	if to != WalletNone {
		stmt, args = s.sql.money.applyMove, append(args, string(to))
	}
	res, err := q.ExecContext(ctx, stmt, append(args, o.ID, o.Version)...)
	if s.d.unique(err) != noViolation { // the only unique index an update can break
		return duplicateUpstream(o.Platform, o.UpstreamID)
	}
	if err := affectedOne(res, err); !errors.Is(err, ErrNotFound) {
		return err
	}
	var one int
	switch err := q.QueryRowContext(ctx, s.sql.money.orderExists, o.ID).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("version %d: %w", o.Version, ErrStale)
}

// moveWallet captures or releases amount of the tenant's wallet, with its
// journal row. The wallet's CHECK refuses a movement that would take
// Reserved below zero or above Balance; the conditional writes before it
// (reserve, the order's version) keep that from happening.
func (s *store) moveWallet(ctx context.Context, q querier, kind EntryKind, tenant string, amount adapters.Money, orderID, intentID int64, at time.Time) error {
	if amount.Micros <= 0 {
		return nil // nothing was reserved
	}
	ms := toMillis(at)
	var (
		res sql.Result
		err error
	)
	if kind == EntryCapture {
		res, err = q.ExecContext(ctx, s.sql.money.capture, amount.Micros, amount.Micros, ms, tenant, amount.Currency)
	} else {
		res, err = q.ExecContext(ctx, s.sql.money.release, amount.Micros, ms, tenant, amount.Currency)
	}
	if err := affectedOne(res, err); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("cannot %s %d micro-%s: tenant %s has no wallet in %s", kind, amount.Micros, amount.Currency, tenant, amount.Currency)
		}
		return fmt.Errorf("cannot %s: %w", kind, err)
	}
	return s.journal(ctx, q, Entry{Tenant: tenant, Kind: kind, Amount: amount.Micros, Currency: amount.Currency,
		OrderID: orderID, IntentID: intentID, At: at})
}

// journal inserts e.
func (s *store) journal(ctx context.Context, q querier, e Entry) error {
	_, err := q.ExecContext(ctx, s.sql.money.insertJournal, e.Tenant, string(e.Kind), e.Amount, e.Currency,
		e.OrderID, e.IntentID, e.Note, toMillis(e.At))
	if err != nil {
		return fmt.Errorf("cannot write journal: %w", err)
	}
	return nil
}

// insertActions inserts actions, checked by newAction.
func (s *store) insertActions(ctx context.Context, q querier, actions []Action) error {
	for i := range actions {
		if _, err := q.ExecContext(ctx, s.sql.money.insertAction, actionArgs(&actions[i])...); err != nil {
			return fmt.Errorf("cannot insert %s action: %w", actions[i].Kind, err)
		}
	}
	return nil
}

// newAction is a as it is inserted: pending, with each zero time set to
// now (an action is due at once unless told otherwise).
func newAction(a Action, now time.Time) (Action, error) {
	switch a.Kind {
	case ActCancel, ActFinish, ActAnother, ActBan, ActWebhook:
	default:
		return Action{}, fmt.Errorf("unknown action kind %q", a.Kind)
	}
	a.State = ActionPending
	a.CreatedAt = firstTime(a.CreatedAt, now)
	a.UpdatedAt = firstTime(a.UpdatedAt, now)
	a.NextAt = firstTime(a.NextAt, now)
	return a, nil
}
