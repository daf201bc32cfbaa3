package ledger

import (
	"context"
	"fmt"
	"time"
)

func sqliteArg(int) string { return "?" }

// Outcomes implements Store: the filter runs in SQL on the orders table
// (created_at range on the primary data, no in-memory tally).
func (s *SQLite) Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer s.calls.Done()
	q, args := outcomeQuery(f, "json_extract(codes, '$[0].received_at')", sqliteArg)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer rows.Close()
	return readOutcomes(rows)
}

// Overrides implements Store.
func (s *SQLite) Overrides(ctx context.Context) (map[string]PlatformOverride, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, overridesQuery)
	if err != nil {
		return nil, fmt.Errorf("cannot read overrides: %w", err)
	}
	defer rows.Close()
	return readOverrides(rows)
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
	if isEmpty(o) {
		_, err = s.w.ExecContext(ctx, "DELETE FROM platform_overrides WHERE code = ?", code)
	} else {
		e, p, w := overrideArgs(o)
		_, err = s.w.ExecContext(ctx, upsertOverride(sqliteArg), code, e, p, w, toMillis(o.UpdatedAt))
	}
	if err != nil {
		return fmt.Errorf("cannot set override: %w", err)
	}
	return nil
}
