package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

func pgArg(n int) string { return "$" + strconv.Itoa(n) }

// Outcomes implements Store (see SQLite.Outcomes).
func (p *Postgres) Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer p.calls.Done()
	q, args := outcomeQuery(f, "(codes->0->>'received_at')::bigint", pgArg)
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer rows.Close()
	return readOutcomes(rows)
}

// Overrides implements Store.
func (p *Postgres) Overrides(ctx context.Context) (map[string]PlatformOverride, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer p.calls.Done()
	rows, err := p.pool.Query(ctx, overridesQuery)
	if err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer rows.Close()
	return readOverrides(rows)
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
	if isEmpty(o) {
		_, err = p.pool.Exec(ctx, "DELETE FROM platform_overrides WHERE code = $1", code)
	} else {
		e, pr, w := overrideArgs(o)
		_, err = p.pool.Exec(ctx, upsertOverride(pgArg), code, e, pr, w, toMillis(o.UpdatedAt))
	}
	if err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	return nil
}
