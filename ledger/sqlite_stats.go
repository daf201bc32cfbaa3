package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Outcomes implements Store: the filter runs in SQL on the orders table
// (created_at range on the primary data, no in-memory tally).
func (s *SQLite) Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer s.calls.Done()
	var q strings.Builder
	args := []any{toMillis(f.From), toMillis(f.To)}
	q.WriteString(`SELECT created_at, platform, country, service, state, base_price_micros, codes,
		COALESCE(json_extract(codes, '$[0].received_at'), 0)
		FROM orders WHERE created_at >= ? AND created_at < ?`)
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"platform", f.Platform}, {"country", f.Country}, {"service", f.Service}} {
		if c.v != "" {
			q.WriteString(" AND " + c.col + " = ?")
			args = append(args, c.v)
		}
	}
	q.WriteString(" ORDER BY created_at, id")
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer rows.Close()
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

// Overrides implements Store.
func (s *SQLite) Overrides(ctx context.Context) (map[string]PlatformOverride, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, "SELECT code, enabled, priority, weight, updated_at FROM platform_overrides")
	if err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer rows.Close()
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
	return out, rows.Err()
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

// SetOverride implements Store: it replaces the platform's override row
// (all nil fields removes the override).
func (s *SQLite) SetOverride(ctx context.Context, code string, o PlatformOverride) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	defer s.calls.Done()
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = time.Now()
	}
	var err error
	if o.Enabled == nil && o.Priority == nil && o.Weight == nil {
		_, err = s.w.ExecContext(ctx, "DELETE FROM platform_overrides WHERE code = ?", code)
	} else {
		e, p, w := overrideArgs(o)
		_, err = s.w.ExecContext(ctx, `INSERT INTO platform_overrides (code, enabled, priority, weight, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (code) DO UPDATE SET enabled = excluded.enabled, priority = excluded.priority, weight = excluded.weight, updated_at = excluded.updated_at`,
			code, e, p, w, toMillis(o.UpdatedAt))
	}
	if err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	return nil
}
