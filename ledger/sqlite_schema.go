package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// sqliteMigrations[i] takes the schema from version i to i+1; the version
// lives in PRAGMA user_version. Append new steps; never edit a shipped one.
//
// Money is INTEGER micro-units plus a TEXT currency, never REAL. Times are
// INTEGER unix milliseconds UTC, 0 for "none", so range scans and
// statistics are plain integer comparisons.
//
// Codes are a JSON array in orders.codes rather than a table of their own:
// an order has a handful of codes at most, they are always read and written
// with their order (Update replaces the whole list), and nothing looks an
// order up by code. A table would turn every Get and List into a join and
// every Update into delete-and-insert, for no query that needs it;
// statistics can still reach codes with json_each.
//
// AUTOINCREMENT keeps ids increasing even after the newest row is deleted
// (a plain INTEGER PRIMARY KEY would reuse max(id)+1).
var sqliteMigrations = []string{
	// 1: orders.
	`CREATE TABLE orders (
		id                  INTEGER PRIMARY KEY AUTOINCREMENT,
		tenant              TEXT    NOT NULL,
		platform            TEXT    NOT NULL,
		upstream_id         TEXT    NOT NULL DEFAULT '',
		phone               TEXT    NOT NULL DEFAULT '',
		country             TEXT    NOT NULL DEFAULT '',
		service             TEXT    NOT NULL DEFAULT '',
		operator            TEXT    NOT NULL DEFAULT '',
		price_micros        INTEGER NOT NULL DEFAULT 0,
		price_currency      TEXT    NOT NULL DEFAULT '',
		base_price_micros   INTEGER NOT NULL DEFAULT 0,
		base_price_currency TEXT    NOT NULL DEFAULT '',
		state               TEXT    NOT NULL,
		codes               TEXT    NOT NULL DEFAULT '[]',
		codes_seen          INTEGER NOT NULL DEFAULT 0,
		created_at          INTEGER NOT NULL DEFAULT 0,
		updated_at          INTEGER NOT NULL DEFAULT 0,
		expires_at          INTEGER NOT NULL DEFAULT 0,
		next_poll_at        INTEGER NOT NULL DEFAULT 0,
		idempotency_key     TEXT    NOT NULL DEFAULT ''
	);
	CREATE UNIQUE INDEX orders_tenant_idempotency_key ON orders (tenant, idempotency_key) WHERE idempotency_key != '';
	CREATE INDEX orders_state_next_poll_at ON orders (state, next_poll_at);
	CREATE INDEX orders_tenant_id ON orders (tenant, id);`,
	// 2: admin overrides of platform settings (shared with every instance
	// using this ledger), and the index statistics scan by.
	`CREATE TABLE platform_overrides (
		code       TEXT    PRIMARY KEY,
		enabled    INTEGER,
		priority   INTEGER,
		weight     INTEGER,
		updated_at INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX orders_created_at ON orders (created_at);`,
	// 3: pool leases and pushed messages (see pool.go). ended_at = 0 marks
	// an active lease; the partial unique index is what keeps a phone from
	// two active leases, and the second index serves the cooldown lookup
	// of Lease.
	`CREATE TABLE pool_leases (
		id            INTEGER PRIMARY KEY AUTOINCREMENT,
		platform      TEXT    NOT NULL,
		phone         TEXT    NOT NULL,
		service       TEXT    NOT NULL DEFAULT '',
		country       TEXT    NOT NULL DEFAULT '',
		since         INTEGER NOT NULL DEFAULT 0,
		after         INTEGER NOT NULL DEFAULT 0,
		created_at    INTEGER NOT NULL DEFAULT 0,
		expires_at    INTEGER NOT NULL DEFAULT 0,
		ended_at      INTEGER NOT NULL DEFAULT 0,
		outcome       TEXT    NOT NULL DEFAULT '',
		blocked_until INTEGER NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX pool_leases_active_phone ON pool_leases (platform, phone) WHERE ended_at = 0;
	CREATE INDEX pool_leases_service_blocked_until ON pool_leases (platform, service, blocked_until);
	CREATE TABLE pool_messages (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		platform TEXT    NOT NULL,
		phone    TEXT    NOT NULL,
		sender   TEXT    NOT NULL DEFAULT '',
		text     TEXT    NOT NULL DEFAULT '',
		at       INTEGER NOT NULL DEFAULT 0,
		pushed   INTEGER NOT NULL DEFAULT 0 -- 1: came by callback (stamped on arrival); 0: read from the upstream
	);
	CREATE INDEX pool_messages_phone_at ON pool_messages (platform, phone, at);`,
	// 4: indexes for the pool queries that must not read a platform's whole
	// lease history: stale active leases by expiry, blocking leases by time.
	`CREATE INDEX pool_leases_active_expires_at ON pool_leases (platform, expires_at) WHERE ended_at = 0;
	CREATE INDEX pool_leases_blocked_until ON pool_leases (platform, blocked_until);`,
	// 5: at most one active order per (platform, upstream id); see
	// ErrDuplicateUpstream, and sqliteDedupSQL, which runs first. Only
	// active orders: a getsmscode id is pid:number:region, and the same
	// number may be rented again once the first rental ended. The state
	// list is activeStates written out, as a shipped migration must never
	// change (TestUniqueIndexStatesMatchActiveStates keeps them in step).
	`CREATE UNIQUE INDEX orders_active_platform_upstream_id ON orders (platform, upstream_id)
		WHERE upstream_id != '' AND state IN ('waiting', 'code_received', 'retry_waiting');`,
}

// dedupStep is the migration before which sqliteDedupSQL (and
// pgDedupSQL) runs: the first one with the (platform, upstream id) index.
const dedupStep = 4

// sqliteDedupSQL makes a ledger from before migration 5 fit its unique
// index. Such a ledger may hold active orders sharing a (platform,
// upstream id): two demo instances whose built-in simulators both counted
// from the same first id. The oldest keeps its id; each later one gets
// "#dup<order id>" appended, which is unique and still shows the original.
// Refusing to start instead would stop every instance on that ledger
// until someone edits it by hand, for rows that are not telling anyone
// anything true anyway: the platform knows one activation under that id,
// and its codes would reach both clients. A renamed order no longer
// matches anything upstream: its polls fail and the gateway ends it as
// expired at its lifetime. How many were renamed is logged at start
// (RenamedDuplicates).
const sqliteDedupSQL = `UPDATE orders SET upstream_id = upstream_id || '#dup' || id
	WHERE id IN (SELECT id FROM (
		SELECT id, row_number() OVER (PARTITION BY platform, upstream_id ORDER BY id) AS n
		FROM orders WHERE upstream_id != '' AND state IN ('waiting', 'code_received', 'retry_waiting')
	) WHERE n > 1)`

// migrate brings the schema to len(sqliteMigrations) in one immediate
// transaction, so two processes opening a new file do not both create it.
// It returns how many duplicate orders sqliteDedupSQL renamed.
func migrate(db *sql.DB) (renamed int64, err error) {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("cannot migrate schema: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, fmt.Errorf("cannot read schema version: %w", err)
	}
	if version > len(sqliteMigrations) {
		return 0, fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(sqliteMigrations))
	}
	if version == len(sqliteMigrations) {
		return 0, nil
	}
	for v := version; v < len(sqliteMigrations); v++ {
		if v == dedupStep && version > 0 { // a new file has nothing to rename
			res, err := tx.ExecContext(ctx, sqliteDedupSQL)
			if err != nil {
				return 0, fmt.Errorf("cannot rename duplicate upstream ids: %w", err)
			}
			if renamed, err = res.RowsAffected(); err != nil {
				return 0, fmt.Errorf("cannot rename duplicate upstream ids: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, sqliteMigrations[v]); err != nil {
			return 0, fmt.Errorf("cannot migrate schema to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(sqliteMigrations))); err != nil {
		return 0, fmt.Errorf("cannot set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("cannot migrate schema: %w", err)
	}
	return renamed, nil
}
