package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Outcomes implements Store (see SQLite.Outcomes).
func (p *Postgres) Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer p.calls.Done()
	args := []any{toMillis(f.From), toMillis(f.To)}
	var q strings.Builder
	q.WriteString(`SELECT created_at, platform, country, service, state, base_price_micros, codes::text,
		COALESCE((codes->0->>'received_at')::bigint, 0)
		FROM orders WHERE created_at >= $1 AND created_at < $2`)
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"platform", f.Platform}, {"country", f.Country}, {"service", f.Service}} {
		if c.v != "" {
			args = append(args, c.v)
			q.WriteString(" AND " + c.col + " = $" + strconv.Itoa(len(args)))
		}
	}
	q.WriteString(" ORDER BY created_at, id")
	rows, err := p.pool.Query(ctx, q.String(), args...)
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
func (p *Postgres) Overrides(ctx context.Context) (map[string]PlatformOverride, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer p.calls.Done()
	rows, err := p.pool.Query(ctx, "SELECT code, enabled, priority, weight, updated_at FROM platform_overrides")
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

// SetOverride implements Store.
func (p *Postgres) SetOverride(ctx context.Context, code string, o PlatformOverride) error {
	if err := p.enter(); err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	defer p.calls.Done()
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = time.Now()
	}
	var err error
	if o.Enabled == nil && o.Priority == nil && o.Weight == nil {
		_, err = p.pool.Exec(ctx, "DELETE FROM platform_overrides WHERE code = $1", code)
	} else {
		e, pr, w := overrideArgs(o)
		_, err = p.pool.Exec(ctx, `INSERT INTO platform_overrides (code, enabled, priority, weight, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (code) DO UPDATE SET enabled = excluded.enabled, priority = excluded.priority, weight = excluded.weight, updated_at = excluded.updated_at`,
			code, e, pr, w, toMillis(o.UpdatedAt))
	}
	if err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	return nil
}
