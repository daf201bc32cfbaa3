package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"smsgate/adapters"
)

// The rows of migration 7 (events.go): how they are read and written, in
// both dialects.

// eventColumns is the column list scanEvent reads, in its order; the
// insert writes the same columns.
const eventColumns = "tenant, seq, order_id, kind, at, state, phone, country, service, platform, " +
	"price_micros, price_currency, code, text"

// eventSQL holds the event statements of one dialect.
type eventSQL struct {
	nextSeq, insert           string
	after, one, last          string
	setSeq                    string
	earlierPending, actionsOf string
}

func newEventSQL(d dialect) eventSQL {
	q := func(s string) string { return bindAll(d, s) }
	return eventSQL{
		// The upsert locks the tenant's row until the transaction ends
		// (see migration 7): it is what orders a tenant's commits.
		nextSeq: q("INSERT INTO event_seqs (tenant, seq) VALUES (?, 1)" +
			" ON CONFLICT (tenant) DO UPDATE SET seq = event_seqs.seq + 1 RETURNING seq"),
		insert: q("INSERT INTO order_events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		after:  q("SELECT " + eventColumns + " FROM order_events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?"),
		one:    q("SELECT " + eventColumns + " FROM order_events WHERE tenant = ? AND seq = ?"),
		last:   q("SELECT seq FROM event_seqs WHERE tenant = ?"),
		// setSeq writes a SQLite batch's last seq of a tenant (batchTx.seq).
		setSeq: q("INSERT INTO event_seqs (tenant, seq) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq"),
		// The literal 'pending' lets the planner use the partial index.
		earlierPending: q("SELECT EXISTS (SELECT 1 FROM actions WHERE state = 'pending' AND order_id = ? AND kind = ?" +
			" AND id < ? AND tenant = ?)"),
		actionsOf: q("SELECT " + actionColumns + " FROM actions WHERE tenant = ? AND kind = ? AND id < ?" +
			" ORDER BY id DESC LIMIT ?"),
	}
}

// eventArgs are insert's arguments for e.
func eventArgs(e *Event) []any {
	return []any{e.Tenant, e.Seq, e.OrderID, string(e.Kind), toMillis(e.At), string(e.State), e.Phone, e.Country,
		e.Service, e.Platform, e.Price.Micros, e.Price.Currency, e.Code, e.Text}
}

// scanEvent reads one eventColumns row; no row is ErrNotFound.
func scanEvent(r rowScanner) (Event, error) {
	var (
		e           Event
		kind, state string
		at          int64
	)
	err := r.Scan(&e.Tenant, &e.Seq, &e.OrderID, &kind, &at, &state, &e.Phone, &e.Country, &e.Service, &e.Platform,
		&e.Price.Micros, &e.Price.Currency, &e.Code, &e.Text)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, err
	}
	e.Kind, e.State, e.At = EventKind(kind), adapters.State(state), fromMillis(at)
	return e, nil
}

// validEventKind reports whether k is one of the EventKind constants.
func validEventKind(k EventKind) bool {
	switch k {
	case EventBought, EventCode, EventAnother, EventFinished, EventCancelled, EventExpired, EventBanned:
		return true
	}
	return false
}

// orderEvent is the event of kind k for o as written, at at (without its
// Seq): the order's public fields only.
func orderEvent(o *Order, n EventNote, at time.Time) Event {
	e := Event{Tenant: o.Tenant, OrderID: o.ID, Kind: n.Kind, At: at, State: o.State, Phone: o.Phone,
		Country: o.Country, Service: o.Service, Platform: o.Platform, Price: o.TenantPrice}
	if n.Kind == EventCode {
		e.Code, e.Text = n.Code, n.Text
	}
	return e
}

// writeEvents writes evs in order, each with its tenant's next Seq, and
// with webhook a pending ActWebhook action for each (Payload the Seq, due
// at the event's time). It runs last in its transaction: the seq row's
// lock is then always the last one taken, after any order, intent or
// wallet row, so writers never wait for each other in a cycle.
func (s *store) writeEvents(ctx context.Context, q querier, evs []Event, webhook bool) error {
	for i := range evs {
		e := &evs[i]
		if err := s.takeSeq(ctx, q, e); err != nil {
			return fmt.Errorf("cannot take the next event seq of tenant %s: %w", e.Tenant, err)
		}
		if _, err := q.ExecContext(ctx, s.sql.events.insert, eventArgs(e)...); err != nil {
			return fmt.Errorf("cannot insert %s event: %w", e.Kind, err)
		}
		if !webhook {
			continue
		}
		a, err := newAction(Action{OrderID: e.OrderID, Tenant: e.Tenant, Platform: e.Platform, Kind: ActWebhook,
			Payload: strconv.FormatInt(e.Seq, 10)}, nowOr(e.At))
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, s.sql.money.insertAction, actionArgs(&a)...); err != nil {
			return fmt.Errorf("cannot insert webhook action: %w", err)
		}
	}
	return nil
}

// takeSeq gives e its tenant's next seq. In a SQLite batch the batch
// counts (batchTx.nextSeq: one read and one write of the tenant's row per
// batch instead of an upsert per event — half the cost of recording a
// purchase, measured); elsewhere the upsert takes it, and locks the
// tenant's row until the transaction ends.
func (s *store) takeSeq(ctx context.Context, q querier, e *Event) error {
	if b, ok := q.(*batchTx); ok {
		seq, err := b.nextSeq(ctx, s.sql.events.last, e.Tenant)
		e.Seq = seq
		return err
	}
	return q.QueryRowContext(ctx, s.sql.events.nextSeq, e.Tenant).Scan(&e.Seq)
}

// EventsAfter implements Events.
func (s *store) EventsAfter(ctx context.Context, tenant string, after int64, limit int) ([]Event, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list events of tenant %s: %w", tenant, err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, s.sql.events.after, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list events of tenant %s after %d: %w", tenant, after, err)
	}
	out, err := readAll(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("cannot list events of tenant %s after %d: %w", tenant, after, err)
	}
	return out, nil
}

// Event implements Events.
func (s *store) Event(ctx context.Context, tenant string, seq int64) (Event, error) {
	if err := s.enter(); err != nil {
		return Event{}, fmt.Errorf("cannot get event %d of tenant %s: %w", seq, tenant, err)
	}
	defer s.calls.Done()
	e, err := scanEvent(s.r.QueryRowContext(ctx, s.sql.events.one, tenant, seq))
	if err != nil {
		return Event{}, fmt.Errorf("cannot get event %d of tenant %s: %w", seq, tenant, err)
	}
	return e, nil
}

// LastEvent implements Events: the tenant's seq row, which a rolled-back
// write leaves as it was.
func (s *store) LastEvent(ctx context.Context, tenant string) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, fmt.Errorf("cannot read last event of tenant %s: %w", tenant, err)
	}
	defer s.calls.Done()
	var seq int64
	err := s.r.QueryRowContext(ctx, s.sql.events.last, tenant).Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("cannot read last event of tenant %s: %w", tenant, err)
	}
	return seq, nil
}

// EarlierPending implements Money. The tenant condition matters only for
// order 0 (orphan actions): an order's actions are all its tenant's.
func (s *store) EarlierPending(ctx context.Context, a Action) (bool, error) {
	if err := s.enter(); err != nil {
		return false, fmt.Errorf("cannot look for earlier actions than %d: %w", a.ID, err)
	}
	defer s.calls.Done()
	var exists bool
	err := s.r.QueryRowContext(ctx, s.sql.events.earlierPending, a.OrderID, string(a.Kind), a.ID, a.Tenant).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("cannot look for earlier actions than %d: %w", a.ID, err)
	}
	return exists, nil
}

// ActionsOf implements Money: keyset paging on (tenant, kind, id), the
// index's order.
func (s *store) ActionsOf(ctx context.Context, tenant string, kind ActionKind, before int64, limit int) ([]Action, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list %s actions of tenant %s: %w", kind, tenant, err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, s.sql.events.actionsOf, tenant, string(kind), before, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list %s actions of tenant %s: %w", kind, tenant, err)
	}
	out, err := readAll(rows, scanAction)
	if err != nil {
		return nil, fmt.Errorf("cannot list %s actions of tenant %s: %w", kind, tenant, err)
	}
	return out, nil
}
