package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"smsgate/adapters"
)

// Outcome is one order as statistics see it.
type Outcome struct {
	CreatedAt time.Time
	Platform  string
	Country   string
	Service   string
	State     adapters.State
	Delivered bool  // at least one code arrived
	BasePrice int64 // micro-units of the base currency: the cost
	Revenue   int64 // micro-units of the base currency: TenantPriceBase
	// TimeToCode is first code minus creation; -1 when no code came or its
	// time is unknown.
	TimeToCode time.Duration
	// ID is the order's id; UpdatedAt its last write, which for an ended
	// order is when it ended (Ended reads by it).
	ID        int64
	UpdatedAt time.Time
}

// OutcomeFilter selects orders for statistics: created in [From, To),
// optionally one tenant, platform, country, service.
type OutcomeFilter struct {
	From, To                           time.Time
	Tenant, Platform, Country, Service string
}

// PlatformOverride is a run-time change of a platform's configuration made
// through the admin API; nil fields keep the configured value.
type PlatformOverride struct {
	Enabled   *bool
	Priority  *int
	Weight    *int
	UpdatedAt time.Time
}

func outcomeOf(id, createdMs, updatedMs int64, platform, country, service, state string, base, revenue int64, codes string, firstCodeMs int64) Outcome {
	o := Outcome{
		ID: id, CreatedAt: fromMillis(createdMs), UpdatedAt: fromMillis(updatedMs), Platform: platform, Country: country, Service: service,
		State: adapters.State(state), BasePrice: base, Revenue: revenue, Delivered: codes != "" && codes != "[]", TimeToCode: -1,
	}
	if o.Delivered && firstCodeMs > 0 && firstCodeMs >= createdMs {
		o.TimeToCode = time.Duration(firstCodeMs-createdMs) * time.Millisecond
	}
	return o
}

// Outcomes implements Store: the filter runs in SQL on the orders table
// (created_at range on the primary data, no in-memory tally).
func (s *store) Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer s.calls.Done()
	a := args{d: s.d}
	q := outcomeColumns(s.d) + " WHERE created_at >= " + a.bind(toMillis(f.From)) +
		" AND created_at < " + a.bind(toMillis(f.To))
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"platform", f.Platform}, {"country", f.Country}, {"service", f.Service}} {
		if c.v != "" {
			q += " AND " + c.col + " = " + a.bind(c.v)
		}
	}
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY created_at, id", a.vals...)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	out, err := readAll(rows, scanOutcome)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	return out, nil
}

// outcomeColumns selects what scanOutcome reads, from orders.
func outcomeColumns(d dialect) string {
	return "SELECT id, created_at, updated_at, platform, country, service, state, base_price_micros, tenant_price_base_micros, " +
		codesAsText + ", COALESCE(" + d.firstCodeAt() + ", 0) FROM orders"
}

// endedStates are the states an order ends in. The index
// orders_ended_updated_at (migration 10) names them literally; a test
// keeps the two in step.
var endedStates = []adapters.State{adapters.StateFinished, adapters.StateCancelled, adapters.StateExpired, adapters.StateBanned}

// endedStatesSQL is endedStates spelled as the index's predicate, so that
// SQLite, which matches a partial index by its terms, uses it.
var endedStatesSQL = statesSQL(endedStates)

// endedSQL reads the newest ended orders whose last write is at or after
// $1, at most $2, newest first, from orders_ended_updated_at: its cost is
// the orders it returns.
func endedSQL(d dialect) string {
	return outcomeColumns(d) + " WHERE state IN " + endedStatesSQL + " AND updated_at >= " + d.arg(1) +
		" ORDER BY updated_at DESC, id DESC LIMIT " + d.arg(2)
}

// Ended implements Store.
func (s *store) Ended(ctx context.Context, since time.Time, limit int) ([]Outcome, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read ended orders: %w", err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, endedSQL(s.d), toMillis(since), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read ended orders: %w", err)
	}
	out, err := readAll(rows, scanOutcome)
	if err != nil {
		return nil, fmt.Errorf("cannot read ended orders: %w", err)
	}
	return out, nil
}

// codesAsText reads the codes column as text in both dialects (json in
// PostgreSQL, TEXT in SQLite).
const codesAsText = "CAST(codes AS TEXT)"

func scanOutcome(r rowScanner) (Outcome, error) {
	var (
		id, created, updated, base, revenue, first int64
		platform, country, service, st, codes      string
	)
	if err := r.Scan(&id, &created, &updated, &platform, &country, &service, &st, &base, &revenue, &codes, &first); err != nil {
		return Outcome{}, err
	}
	return outcomeOf(id, created, updated, platform, country, service, st, base, revenue, codes, first), nil
}

// Overrides implements Store.
func (s *store) Overrides(ctx context.Context) (map[string]PlatformOverride, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, "SELECT code, enabled, priority, weight, updated_at FROM platform_overrides")
	if err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	list, err := readAll(rows, scanOverride)
	if err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	out := make(map[string]PlatformOverride, len(list))
	for _, o := range list {
		out[o.code] = o.PlatformOverride
	}
	return out, nil
}

// SetOverride implements Store: it replaces the platform's override row
// (all nil fields removes the override).
func (s *store) SetOverride(ctx context.Context, code string, o PlatformOverride) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	defer s.calls.Done()
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = time.Now()
	}
	var err error
	if isEmpty(o) {
		_, err = s.w.ExecContext(ctx, s.sql.deleteOverride, code)
	} else {
		e, p, w := overrideArgs(o)
		_, err = s.w.ExecContext(ctx, s.sql.upsertOverride, code, e, p, w, toMillis(o.UpdatedAt))
	}
	if err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	return nil
}

type namedOverride struct {
	code string
	PlatformOverride
}

func scanOverride(r rowScanner) (namedOverride, error) {
	var (
		code                      string
		enabled, priority, weight sql.NullInt64
		updated                   int64
	)
	if err := r.Scan(&code, &enabled, &priority, &weight, &updated); err != nil {
		return namedOverride{}, err
	}
	return namedOverride{code, overrideOf(enabled, priority, weight, updated)}, nil
}

func isEmpty(o PlatformOverride) bool {
	return o.Enabled == nil && o.Priority == nil && o.Weight == nil
}

func overrideOf(enabled, priority, weight sql.NullInt64, updated int64) PlatformOverride {
	o := PlatformOverride{UpdatedAt: fromMillis(updated)}
	if enabled.Valid {
		b := enabled.Int64 != 0
		o.Enabled = &b
	}
	if priority.Valid {
		p := int(priority.Int64)
		o.Priority = &p
	}
	if weight.Valid {
		w := int(weight.Int64)
		o.Weight = &w
	}
	return o
}

func overrideArgs(o PlatformOverride) (enabled, priority, weight sql.NullInt64) {
	if o.Enabled != nil {
		enabled = sql.NullInt64{Int64: 0, Valid: true}
		if *o.Enabled {
			enabled.Int64 = 1
		}
	}
	if o.Priority != nil {
		priority = sql.NullInt64{Int64: int64(*o.Priority), Valid: true}
	}
	if o.Weight != nil {
		weight = sql.NullInt64{Int64: int64(*o.Weight), Valid: true}
	}
	return
}
