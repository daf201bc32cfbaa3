package ledger

import (
	"database/sql"
	"fmt"
	"strings"
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
	BasePrice int64 // micro-units of the base currency
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

func outcomeOf(createdMs int64, platform, country, service, state string, base int64, codes string, firstCodeMs int64) Outcome {
	o := Outcome{
		CreatedAt: fromMillis(createdMs), Platform: platform, Country: country, Service: service,
		State: adapters.State(state), BasePrice: base, Delivered: codes != "" && codes != "[]", TimeToCode: -1,
	}
	if o.Delivered && firstCodeMs > 0 && firstCodeMs >= createdMs {
		o.TimeToCode = time.Duration(firstCodeMs-createdMs) * time.Millisecond
	}
	return o
}

// resultRows is what both drivers' row iterators (database/sql, pgx) offer.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// outcomeQuery builds the statistics SELECT for either dialect: firstCode
// is its expression for the first code's received_at, arg renders the n-th
// placeholder ("?" or "$n").
func outcomeQuery(f OutcomeFilter, firstCode string, arg func(n int) string) (string, []any) {
	var q strings.Builder
	args := []any{toMillis(f.From), toMillis(f.To)}
	q.WriteString("SELECT created_at, platform, country, service, state, base_price_micros, " + codesAsText + ", COALESCE(" + firstCode + ", 0)" +
		" FROM orders WHERE created_at >= " + arg(1) + " AND created_at < " + arg(2))
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"platform", f.Platform}, {"country", f.Country}, {"service", f.Service}} {
		if c.v != "" {
			args = append(args, c.v)
			q.WriteString(" AND " + c.col + " = " + arg(len(args)))
		}
	}
	q.WriteString(" ORDER BY created_at, id")
	return q.String(), args
}

// codesAsText reads the codes column as text in both dialects (json in
// PostgreSQL, TEXT in SQLite).
const codesAsText = "CAST(codes AS TEXT)"

func readOutcomes(rows resultRows) ([]Outcome, error) {
	var out []Outcome
	for rows.Next() {
		var (
			created, base, first                  int64
			platform, country, service, st, codes string
		)
		if err := rows.Scan(&created, &platform, &country, &service, &st, &base, &codes, &first); err != nil {
			return nil, fmt.Errorf("cannot read outcomes: %w", err)
		}
		out = append(out, outcomeOf(created, platform, country, service, st, base, codes, first))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	return out, nil
}

const overridesQuery = "SELECT code, enabled, priority, weight, updated_at FROM platform_overrides"

func readOverrides(rows resultRows) (map[string]PlatformOverride, error) {
	out := map[string]PlatformOverride{}
	for rows.Next() {
		var (
			code                      string
			enabled, priority, weight sql.NullInt64
			updated                   int64
		)
		if err := rows.Scan(&code, &enabled, &priority, &weight, &updated); err != nil {
			return nil, fmt.Errorf("cannot read overrides: %w", err)
		}
		out[code] = overrideOf(enabled, priority, weight, updated)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	return out, nil
}

// upsertOverride is the statement SetOverride runs, in either dialect.
func upsertOverride(arg func(n int) string) string {
	return "INSERT INTO platform_overrides (code, enabled, priority, weight, updated_at) VALUES (" +
		arg(1) + ", " + arg(2) + ", " + arg(3) + ", " + arg(4) + ", " + arg(5) + ")" +
		" ON CONFLICT (code) DO UPDATE SET enabled = excluded.enabled, priority = excluded.priority," +
		" weight = excluded.weight, updated_at = excluded.updated_at"
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
