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

func outcomeOf(createdMs int64, platform, country, service, state string, base, revenue int64, codes string, firstCodeMs int64) Outcome {
	o := Outcome{
		CreatedAt: fromMillis(createdMs), Platform: platform, Country: country, Service: service,
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
	q := "SELECT created_at, platform, country, service, state, base_price_micros, tenant_price_base_micros, " + codesAsText +
		", COALESCE(" + s.d.firstCodeAt() + ", 0) FROM orders WHERE created_at >= " + a.bind(toMillis(f.From)) +
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

// codesAsText reads the codes column as text in both dialects (json in
// PostgreSQL, TEXT in SQLite).
const codesAsText = "CAST(codes AS TEXT)"

func scanOutcome(r rowScanner) (Outcome, error) {
	var (
		created, base, revenue, first         int64
		platform, country, service, st, codes string
	)
	if err := r.Scan(&created, &platform, &country, &service, &st, &base, &revenue, &codes, &first); err != nil {
		return Outcome{}, err
	}
	return outcomeOf(created, platform, country, service, st, base, revenue, codes, first), nil
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
