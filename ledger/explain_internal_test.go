package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
)

// hotQuery is a statement the gateway runs per request, per poll or per
// outbox round, with arguments of the right types.
type hotQuery struct {
	name string
	sql  string
	args []any
}

// hotQueries are the statements whose cost must not grow with the number
// of orders, actions, intents or journal rows.
func hotQueries(s *store) []hotQuery {
	now := toMillis(time.Now())
	m := s.sql.money
	return []hotQuery{
		{"get order", s.sql.get, []any{1}},
		{"order by idempotency key", s.sql.getByKey, []any{"t", "k"}},
		{"due orders", s.sql.due, []any{now, 100}},
		{"apply (versioned update)", m.apply, []any{"waiting", "[]", 0, now, now, now, "u", "p", 1, 1}},
		{"lease actions", m.leaseActions, []any{"owner", now, now, now, 64}},
		{"settle action", m.settleAction, []any{"done", 1, "", now, now, 1, "owner"}},
		{"actions of an order", m.actions, []any{1}},
		{"stale intents", m.staleIntents, []any{now, 200}},
		{"close intent", m.closeIntent, []any{"aborted", "", now, 1}},
		{"buy intent", m.buyIntent, []any{1, now, 1}},
		{"wallet", m.wallet, []any{"t"}},
		{"reserve", m.reserve, []any{1, now, "t", "USD", 1}},
		{"journal page", m.journal, []any{"t", 1 << 62, 50}},
		{"batch", m.batch, []any{"t", "k"}},
		// A list round's lookups by (platform, upstream id): one id, and a
		// batch, through the unique index.
		{"order by upstream id", byUpstreamSQL(s.d, 1), []any{"p", "u1"}},
		{"orders by upstream ids", byUpstreamSQL(s.d, 3), []any{"p", "u1", "u2", "u3"}},
		{"first awaiting poll", firstAwaitingSQL(s.d), []any{"p"}},
		{"awaiting before", awaitingBeforeSQL(s.d), []any{"p", now}},
		{"active upstream ids", activeUpstreamSQL(s.d), []any{"p"}},
		{"acquire lease", acquireLeaseSQL, []any{"list:p", "owner", now, now}},
		{"ended since", endedSQL(s.d), []any{now, 1000}},
	}
}

// listIndexes are the indexes the list round's queries must use (the
// state index would serve them too, scanning every platform's active
// orders).
var listIndexes = map[string]string{
	"order by upstream id":   upstreamIndex,
	"orders by upstream ids": upstreamIndex,
	"first awaiting poll":    "orders_platform_awaiting",
	"awaiting before":        "orders_platform_awaiting",
	"active upstream ids":    upstreamIndex,
	"ended since":            "orders_ended_updated_at",
}

// TestEndedStatesMatchIndex: the states Ended asks for are the ones
// orders_ended_updated_at (migration 10) was built on, and every state
// that is not active.
func TestEndedStatesMatchIndex(t *testing.T) {
	want := "WHERE state IN " + endedStatesSQL
	for name, d := range map[string]dialect{"sqlite": sqliteDialect{}, "postgres": postgresDialect{}} {
		if q := migrations(d)[9]; !strings.Contains(q, want) {
			t.Errorf("%s migration 10 does not index %s:\n%s", name, want, q)
		}
	}
	for _, st := range []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting,
		adapters.StateFinished, adapters.StateCancelled, adapters.StateExpired, adapters.StateBanned} {
		if in := strings.Contains(endedStatesSQL, "'"+string(st)+"'"); in == st.Active() {
			t.Errorf("state %s: in endedStates %v, active %v", st, in, st.Active())
		}
	}
}

// TestAwaitingStatesMatchIndex: the states FirstAwaitingPoll and
// AwaitingBefore ask for are the
// ones orders_platform_awaiting (migration 9) was built on.
func TestAwaitingStatesMatchIndex(t *testing.T) {
	want := "state IN " + awaitingStatesSQL
	for name, d := range map[string]dialect{"sqlite": sqliteDialect{}, "postgres": postgresDialect{}} {
		if q := migrations(d)[8]; !strings.Contains(q, "orders_platform_awaiting ON orders (platform, next_poll_at) WHERE "+want) {
			t.Errorf("%s migration 9 does not index %s:\n%s", name, want, q)
		}
	}
}

// TestHotQueriesUseIndexesSQLite: SQLite plans every hot statement as an
// index search, never a scan of a whole table.
func TestHotQueriesUseIndexesSQLite(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "l.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range hotQueries(s.store) {
		rows, err := s.w.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+bindAll(s.d, q.sql), q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			// "SCAN t" reads the whole table; "SEARCH t USING …" does not
			// (nor "SCAN CONSTANT ROW", an EXISTS's one row of no table).
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "USING") && step != "SCAN CONSTANT ROW" {
				t.Errorf("%s scans a table: %s", q.name, strings.Join(plan, " | "))
			}
			// A sort under a LIMIT reads every matching row to keep the
			// first few: the cost grows with the matches, not the limit.
			if strings.Contains(step, "TEMP B-TREE FOR ORDER BY") && strings.Contains(q.sql, " LIMIT ") {
				t.Errorf("%s sorts every match to return a few: %s", q.name, strings.Join(plan, " | "))
			}
		}
		if idx, ok := listIndexes[q.name]; ok && !strings.Contains(strings.Join(plan, " | "), "INDEX "+idx) {
			t.Errorf("%s does not use %s: %s", q.name, idx, strings.Join(plan, " | "))
		}
		t.Logf("%-26s %s", q.name, strings.Join(plan, " | "))
	}
}

// TestHotQueriesUseIndexesPostgres: with sequential scans priced out,
// PostgreSQL still plans every hot statement without one — an index
// serves it (on the test's near-empty tables the planner would otherwise
// rightly prefer a scan).
func TestHotQueriesUseIndexesPostgres(t *testing.T) {
	url := os.Getenv("SMSGATE_TEST_POSTGRES")
	if url == "" {
		t.Skip("SMSGATE_TEST_POSTGRES not set: export SMSGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	schema := fmt.Sprintf("ledger_explain_%d_%016x", os.Getpid(), rand.Uint64())
	s, err := OpenPostgres(context.Background(), url, PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.w.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		s.Close()
	}()
	ctx := context.Background()
	for _, q := range append(hotQueries(s.store), hotQuery{"claim due orders", pgClaimSQL, []any{"owner", toMillis(time.Now()), toMillis(time.Now()), 100}}) {
		plan, err := pgPlan(ctx, s.w, q)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s needs a sequential scan:\n%s", q.name, plan)
		}
		if idx, ok := listIndexes[q.name]; ok && !strings.Contains(plan, " using "+idx) {
			t.Errorf("%s does not use %s:\n%s", q.name, idx, plan)
		}
		// A sort between the limit and the index reads every match to
		// keep a few (the claim's outer sort of the rows it took is fine).
		if i, j := strings.Index(plan, "Limit"), strings.LastIndex(plan, "Sort"); i >= 0 && j > i {
			t.Errorf("%s sorts every match to return a few:\n%s", q.name, plan)
		}
		t.Logf("%s:\n%s", q.name, plan)
	}
}

// pgPlan is PostgreSQL's plan of q with sequential scans disabled (they
// stay possible, at a prohibitive cost, when nothing else can serve).
func pgPlan(ctx context.Context, db *sql.DB, q hotQuery) (string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+bindAll(postgresDialect{}, q.sql), q.args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line + "\n")
	}
	return b.String(), rows.Err()
}
