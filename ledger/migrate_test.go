package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"smsgate/ledger"
	"smsgate/ledger/ledgertest"
)

// seedOrder is an active order as a database at version 1 or later can
// hold it, written without the store.
const seedOrder = "INSERT INTO orders (tenant, platform, upstream_id, state, created_at, updated_at, next_poll_at)" +
	" VALUES ('t1', 'alpha', 'u1', 'waiting', 1000, 1000, 1000)"

// undoDueIndexSQL takes a database back from migration 8 to 7 as far as
// the orders table goes (the same text in both dialects); the actions and
// intents indexes it also replaced go with their tables in undoMoneySQL.
const undoDueIndexSQL = "DROP INDEX orders_active_next_poll_at; CREATE INDEX orders_state_next_poll_at ON orders (state, next_poll_at); "

// undoListPollSQL takes a database back from migration 10 to 8 (the same
// text in both dialects), for tests that downgrade further.
const undoListPollSQL = "DROP INDEX orders_ended_updated_at; DROP TABLE leases; DROP INDEX orders_platform_awaiting; "

// undoEventsSQL takes a database back from migration 7 to 6 (the same
// text in both dialects; the actions indexes of 7 go with their table in
// undoMoneySQL, which must follow).
const undoEventsSQL = "DROP TABLE order_events; DROP TABLE event_seqs; "

// undoMoneySQL takes a database back from migration 6 to 5 (the same
// text in both dialects), for tests that downgrade further.
const undoMoneySQL = "DROP TABLE actions; DROP TABLE intents; DROP TABLE wallets; DROP TABLE journal; DROP TABLE batches;" +
	" ALTER TABLE orders DROP COLUMN tenant_price_micros; ALTER TABLE orders DROP COLUMN tenant_price_currency;" +
	" ALTER TABLE orders DROP COLUMN tenant_price_base_micros; ALTER TABLE orders DROP COLUMN tenant_price_base_currency;" +
	" ALTER TABLE orders DROP COLUMN wallet; ALTER TABLE orders DROP COLUMN intent_id; ALTER TABLE orders DROP COLUMN version"

// testMigratesForward builds a database at every version the dialect
// shipped, with build (the shipped steps before that version applied and
// recorded, and seedOrder from version 1 on), opens it and checks that it
// reached the newest schema: the order is still there, the (platform,
// upstream id) index refuses its twin, and orders and pool leases work.
func testMigratesForward(t *testing.T, steps []string, build func(t *testing.T, steps []string) ledger.Store) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for v := range len(steps) + 1 {
		t.Run(fmt.Sprintf("FromVersion%d", v), func(t *testing.T) {
			s := build(t, steps[:v])
			if v > 0 {
				if o, err := s.Get(ctx, 1); err != nil || o.UpstreamID != "u1" {
					t.Fatalf("seeded order after migrating: %+v, %v", o, err)
				}
				twin := ledgertest.NewOrder("t1")
				twin.UpstreamID = "u1"
				if err := s.Create(ctx, &twin); !errors.Is(err, ledger.ErrDuplicateUpstream) {
					t.Errorf("Create of the seeded order's twin: %v; want ErrDuplicateUpstream", err)
				}
			}
			o := ledgertest.NewOrder("t1")
			if err := s.Create(ctx, &o); err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := 1 // the order just created, and the seeded one from version 1 on
			if v > 0 {
				want = 2
			}
			if due, err := s.Due(ctx, now, 10); err != nil || len(due) != want {
				t.Errorf("Due: %d orders, %v; want %d", len(due), err, want)
			}
			if l, ok := s.(ledger.Leaser); ok {
				if got, err := l.Claim(ctx, "me", now, time.Minute, 10); err != nil || len(got) != want {
					t.Errorf("Claim: %d orders, %v; want %d", len(got), err, want)
				}
			}
			if _, err := s.(ledger.PoolStore).Lease(ctx, ledgertest.LeaseReq("tg", now, "p1")); err != nil {
				t.Errorf("Lease: %v", err)
			}
		})
	}
}

func TestSQLiteMigratesForward(t *testing.T) {
	testMigratesForward(t, ledger.ShippedSteps(t, "sqlite"), func(t *testing.T, steps []string) ledger.Store {
		path := filepath.Join(t.TempDir(), "x.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		qs := append(slices.Clone(steps), fmt.Sprintf("PRAGMA user_version = %d", len(steps)))
		if len(steps) > 0 {
			qs = append(qs, seedOrder)
		}
		for _, q := range qs {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return openSQLite(t, path, ledger.SQLiteOptions{})
	})
}

func TestPostgresMigratesForward(t *testing.T) {
	url := postgresURL(t)
	testMigratesForward(t, ledger.ShippedSteps(t, "postgres"), func(t *testing.T, steps []string) ledger.Store {
		ctx := context.Background()
		schema := testSchema(t, url)
		conn, err := connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		id := pgx.Identifier{schema}.Sanitize()
		qs := []string{"CREATE SCHEMA " + id, "SET search_path TO " + id,
			"CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"}
		for i, q := range steps {
			qs = append(qs, q, fmt.Sprintf("INSERT INTO schema_version (version) VALUES (%d)", i+1))
		}
		if len(steps) > 0 {
			qs = append(qs, seedOrder)
		}
		for _, q := range qs {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return openPostgres(t, url, schema)
	})
}
