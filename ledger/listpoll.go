package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"smsgate/adapters"
)

// What a list round (DESIGN §7) asks of the ledger: a round costs reads
// and writes in proportion to what changed upstream, so each of these is
// an index probe, never a scan of the platform's orders (the one
// exception, ActiveUpstreamIDs, runs once per start or lease takeover).

// awaitingStates are the active states that still await a code: a
// platform with none of them needs no list round. The index
// orders_platform_awaiting (migration 9) names them literally; a test
// keeps the two in step.
var awaitingStates = []adapters.State{adapters.StateWaiting, adapters.StateRetryWaiting}

// awaitingStatesSQL is awaitingStates as an SQL list of literals, spelled
// as the partial index's predicate so that SQLite, which matches a
// partial index by the terms of its WHERE clause, uses it.
var awaitingStatesSQL = statesSQL(awaitingStates)

// upstreamBatch bounds the upstream ids of one ByUpstream statement (well
// under SQLite's 32,766 and PostgreSQL's 65,535 parameters).
const upstreamBatch = 500

// activeUpstreamPred is the predicate of the unique index on (platform,
// upstream id), orders_active_platform_upstream_id, written into the
// queries that must use it: a partial index serves a query only when the
// query's WHERE clause implies the index's.
var activeUpstreamPred = "upstream_id <> '' AND state IN " + activeStatesSQL

// byUpstreamSQL reads the active orders of platform ($1) among n upstream
// ids ($2…).
func byUpstreamSQL(d dialect, n int) string {
	var b strings.Builder
	b.WriteString("SELECT " + orderColumns + " FROM orders WHERE platform = " + d.arg(1) + " AND upstream_id IN (")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.arg(i + 2))
	}
	b.WriteString(") AND " + activeUpstreamPred)
	return b.String()
}

// ByUpstream returns the active orders of platform whose upstream ids are
// among ids, in no particular order; an id no active order has is left
// out. It reads in batches through the unique (platform, upstream id)
// index.
func (s *store) ByUpstream(ctx context.Context, platform string, ids []string) ([]Order, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot look up orders by upstream id: %w", err)
	}
	defer s.calls.Done()
	var out []Order
	for len(ids) > 0 {
		n := min(len(ids), upstreamBatch)
		args := make([]any, 0, n+1)
		args = append(args, platform)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		orders, err := s.query(ctx, s.r, byUpstreamSQL(s.d, n), args...)
		if err != nil {
			return nil, fmt.Errorf("cannot look up %d orders of %s by upstream id: %w", n, platform, err)
		}
		out = append(out, orders...)
		ids = ids[n:]
	}
	return out, nil
}

// activeUpstreamSQL: $1 platform.
func activeUpstreamSQL(d dialect) string {
	return "SELECT upstream_id FROM orders WHERE platform = " + d.arg(1) + " AND " + activeUpstreamPred
}

// ActiveUpstreamIDs returns the upstream ids of platform's active orders.
// It reads the whole (platform) part of the unique upstream index, so it
// is for a list poller's first round (after a start or a lease takeover),
// not for every round.
func (s *store) ActiveUpstreamIDs(ctx context.Context, platform string) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list upstream ids: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, activeUpstreamSQL(s.d), platform)
	if err != nil {
		return nil, fmt.Errorf("cannot list upstream ids of %s: %w", platform, err)
	}
	ids, err := readAll(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("cannot list upstream ids of %s: %w", platform, err)
	}
	return ids, nil
}

// firstAwaitingSQL: $1 platform. min() over an index whose leading
// column is fixed by equality reads one index entry.
func firstAwaitingSQL(d dialect) string {
	return "SELECT min(next_poll_at) FROM orders WHERE platform = " + d.arg(1) + " AND state IN " + awaitingStatesSQL
}

// FirstAwaitingPoll returns the soonest next poll among platform's orders
// that await a code (waiting, or retry_waiting after the client asked for
// another); ok is false when there is none: only while there is one is a
// list round worth asking. One probe of orders_platform_awaiting.
func (s *store) FirstAwaitingPoll(ctx context.Context, platform string) (first time.Time, ok bool, err error) {
	if err := s.enter(); err != nil {
		return time.Time{}, false, fmt.Errorf("cannot look for orders awaiting a code: %w", err)
	}
	defer s.calls.Done()
	var ms sql.NullInt64
	if err := s.r.QueryRowContext(ctx, firstAwaitingSQL(s.d), platform).Scan(&ms); err != nil {
		return time.Time{}, false, fmt.Errorf("cannot look for orders of %s awaiting a code: %w", platform, err)
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(ms.Int64), true, nil
}

// awaitingBeforeSQL: $1 platform, $2 the time (unix ms).
func awaitingBeforeSQL(d dialect) string {
	return "SELECT upstream_id FROM orders WHERE platform = " + d.arg(1) + " AND state IN " + awaitingStatesSQL +
		" AND next_poll_at <= " + d.arg(2)
}

// AwaitingBefore returns the upstream ids of platform's orders awaiting a
// code whose next poll is at or before t. For a list poller these are
// the orders bought or changed lately (the quiet ones wait for their
// lifetime's end), which its rounds may not have shown yet: their number
// follows the purchases, not the orders held. A range of
// orders_platform_awaiting.
func (s *store) AwaitingBefore(ctx context.Context, platform string, t time.Time) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list orders awaiting a code: %w", err)
	}
	defer s.calls.Done()
	rows, err := s.r.QueryContext(ctx, awaitingBeforeSQL(s.d), platform, toMillis(t))
	if err != nil {
		return nil, fmt.Errorf("cannot list orders of %s awaiting a code: %w", platform, err)
	}
	ids, err := readAll(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("cannot list orders of %s awaiting a code: %w", platform, err)
	}
	return ids, nil
}

func scanString(r rowScanner) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// Backstop implements Rescheduler.
func (s *store) Backstop(ctx context.Context, ids []int64, asOf time.Time) (int64, error) {
	// expires_at > asOf: an order without a lifetime (0) or past it would
	// be due again at once; it stays as it is, for the caller to decide.
	ms := toMillis(asOf)
	n, err := s.moveDue(ctx, "expires_at", " AND expires_at > ?", []any{ms, ms}, ids)
	if err != nil {
		return 0, fmt.Errorf("cannot move %d orders to their backstop: %w", len(ids), err)
	}
	return n, nil
}

// statesSQL is states as an SQL list of literals: literals, not
// parameters, so that the planner sees them and can use the partial
// indexes whose predicates name them. The values are our own constants.
func statesSQL(states []adapters.State) string {
	lits := make([]string, len(states))
	for i, st := range states {
		lits[i] = "'" + strings.ReplaceAll(string(st), "'", "''") + "'"
	}
	return "(" + strings.Join(lits, ", ") + ")"
}
