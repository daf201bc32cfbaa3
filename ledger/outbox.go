package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Enqueue implements Money: the actions are inserted pending, in one
// write; an action's zero times are its CreatedAt, or now.
func (s *store) Enqueue(ctx context.Context, a ...Action) error {
	now := time.Now()
	actions := make([]Action, len(a))
	for i := range a {
		var err error
		if actions[i], err = newAction(a[i], firstTime(a[i].CreatedAt, now)); err != nil {
			return fmt.Errorf("cannot enqueue action: %w", err)
		}
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot enqueue actions: %w", err)
	}
	defer s.calls.Done()
	if len(actions) == 0 {
		return nil
	}
	_, err := s.ins.write(ctx, len(actions) > 1, func(ctx context.Context, q querier) (int64, error) {
		return 0, s.insertActions(ctx, q, actions)
	})
	if err != nil {
		return fmt.Errorf("cannot enqueue actions: %w", err)
	}
	return nil
}

// LeaseActions implements Money in one statement, as Postgres.Claim does
// for orders: SKIP LOCKED passes over rows another owner is leasing this
// moment, and a row whose lease that owner committed first no longer
// matches when re-checked. On SQLite the one writer serialises leases.
func (s *store) LeaseActions(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, kinds ...ActionKind) ([]Action, error) {
	if owner == "" {
		return nil, errors.New("cannot lease actions: empty owner")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("cannot lease actions: lease %v is not positive", lease)
	}
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot lease actions: %w", err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	ms := toMillis(now)
	q, args := s.sql.money.leaseActions, []any{owner, toMillis(now.Add(lease)), ms, ms}
	if len(kinds) > 0 {
		q = leaseActionsSQL(s.d, len(kinds))
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	rows, err := s.w.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("cannot lease actions for %s: %w", owner, err)
	}
	out, err := readAll(rows, scanAction)
	if err != nil {
		return nil, fmt.Errorf("cannot lease actions for %s: %w", owner, err)
	}
	// RETURNING comes back in no particular order.
	slices.SortFunc(out, func(a, b Action) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// SettleAction implements Money.
func (s *store) SettleAction(ctx context.Context, owner string, a Action) error {
	if owner == "" {
		return fmt.Errorf("cannot settle action %d: empty owner", a.ID)
	}
	switch a.State {
	case ActionPending, ActionDone, ActionFinal, ActionGaveUp:
	default:
		return fmt.Errorf("cannot settle action %d: unknown state %q", a.ID, a.State)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot settle action %d: %w", a.ID, err)
	}
	defer s.calls.Done()
	// One conditional UPDATE: refused, it wrote nothing.
	_, err := s.ins.exec(ctx, func(ctx context.Context, q querier) (int64, error) {
		res, err := q.ExecContext(ctx, s.sql.money.settleAction, string(a.State), a.Attempts, a.LastError,
			toMillis(a.NextAt), toMillis(nowOr(a.UpdatedAt)), a.ID, owner)
		return 0, affectedOne(res, err)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("cannot settle action %d: %s holds no lease on it: %w", a.ID, owner, ErrNotFound)
		}
		return fmt.Errorf("cannot settle action %d: %w", a.ID, err)
	}
	return nil
}

// Actions implements Money. Orphan cancels are the actions of order 0.
func (s *store) Actions(ctx context.Context, orderID int64) ([]Action, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list actions of order %d: %w", orderID, err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, s.sql.money.actions, orderID)
	if err != nil {
		return nil, fmt.Errorf("cannot list actions of order %d: %w", orderID, err)
	}
	out, err := readAll(rows, scanAction)
	if err != nil {
		return nil, fmt.Errorf("cannot list actions of order %d: %w", orderID, err)
	}
	return out, nil
}

// PendingActions implements Money.
func (s *store) PendingActions(ctx context.Context) (map[ActionKind]int, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot count pending actions: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, s.sql.money.pendingActions)
	if err != nil {
		return nil, fmt.Errorf("cannot count pending actions: %w", err)
	}
	type count struct {
		kind string
		n    int
	}
	counts, err := readAll(rows, func(r rowScanner) (count, error) {
		var c count
		err := r.Scan(&c.kind, &c.n)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot count pending actions: %w", err)
	}
	out := make(map[ActionKind]int, len(counts))
	for _, c := range counts {
		out[ActionKind(c.kind)] = c.n
	}
	return out, nil
}
