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
}

// migrate brings the schema to len(sqliteMigrations) in one immediate
// transaction, so two processes opening a new file do not both create it.
func migrate(db *sql.DB) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot migrate schema: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("cannot read schema version: %w", err)
	}
	if version > len(sqliteMigrations) {
		return fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(sqliteMigrations))
	}
	if version == len(sqliteMigrations) {
		return nil
	}
	for v := version; v < len(sqliteMigrations); v++ {
		if _, err := tx.ExecContext(ctx, sqliteMigrations[v]); err != nil {
			return fmt.Errorf("cannot migrate schema to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(sqliteMigrations))); err != nil {
		return fmt.Errorf("cannot set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot migrate schema: %w", err)
	}
	return nil
}
