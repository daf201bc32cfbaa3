package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresMigrations[i] takes the schema from version i to i+1; applied
// versions are rows of schema_version. Append new steps; never edit a
// shipped one.
//
// The columns follow the SQLite schema (see sqliteMigrations for why):
// money is BIGINT micro-units plus a TEXT currency, times are BIGINT unix
// milliseconds UTC with 0 for "none", and codes are a JSON array. The codes
// column is json, not jsonb: json keeps the text exactly as written, while
// jsonb refuses the \u0000 escape, which an SMS from a misbehaving platform
// could carry, and a refused Update would fail that order's every poll.
// Statistics reach codes with json_array_elements.
//
// lease_owner and lease_until (unix ms) belong to Claim: an order is leased
// while lease_owner is not empty and lease_until > now.
var postgresMigrations = []string{
	// 1: orders.
	`CREATE TABLE orders (
		id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		tenant              TEXT    NOT NULL,
		platform            TEXT    NOT NULL,
		upstream_id         TEXT    NOT NULL DEFAULT '',
		phone               TEXT    NOT NULL DEFAULT '',
		country             TEXT    NOT NULL DEFAULT '',
		service             TEXT    NOT NULL DEFAULT '',
		operator            TEXT    NOT NULL DEFAULT '',
		price_micros        BIGINT  NOT NULL DEFAULT 0,
		price_currency      TEXT    NOT NULL DEFAULT '',
		base_price_micros   BIGINT  NOT NULL DEFAULT 0,
		base_price_currency TEXT    NOT NULL DEFAULT '',
		state               TEXT    NOT NULL,
		codes               JSON    NOT NULL DEFAULT '[]',
		codes_seen          INTEGER NOT NULL DEFAULT 0,
		created_at          BIGINT  NOT NULL DEFAULT 0,
		updated_at          BIGINT  NOT NULL DEFAULT 0,
		expires_at          BIGINT  NOT NULL DEFAULT 0,
		next_poll_at        BIGINT  NOT NULL DEFAULT 0,
		idempotency_key     TEXT    NOT NULL DEFAULT '',
		lease_owner         TEXT    NOT NULL DEFAULT '',
		lease_until         BIGINT  NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX orders_tenant_idempotency_key ON orders (tenant, idempotency_key) WHERE idempotency_key <> '';
	CREATE INDEX orders_state_next_poll_at ON orders (state, next_poll_at);
	CREATE INDEX orders_tenant_id ON orders (tenant, id);`,
	// 2: admin overrides of platform settings (shared by every instance),
	// and the index statistics scan by.
	`CREATE TABLE platform_overrides (
		code       TEXT    PRIMARY KEY,
		enabled    INTEGER,
		priority   INTEGER,
		weight     INTEGER,
		updated_at BIGINT  NOT NULL DEFAULT 0
	);
	CREATE INDEX orders_created_at ON orders (created_at);`,
	// 3: pool leases and pushed messages, as in SQLite (ended_at = 0 marks
	// an active lease). The partial unique index is what makes Lease safe
	// across instances: a second INSERT of an active lease for a phone
	// waits for the first and then conflicts.
	`CREATE TABLE pool_leases (
		id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		platform      TEXT    NOT NULL,
		phone         TEXT    NOT NULL,
		service       TEXT    NOT NULL DEFAULT '',
		country       TEXT    NOT NULL DEFAULT '',
		since         BIGINT  NOT NULL DEFAULT 0,
		after         BIGINT  NOT NULL DEFAULT 0,
		created_at    BIGINT  NOT NULL DEFAULT 0,
		expires_at    BIGINT  NOT NULL DEFAULT 0,
		ended_at      BIGINT  NOT NULL DEFAULT 0,
		outcome       TEXT    NOT NULL DEFAULT '',
		blocked_until BIGINT  NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX pool_leases_active_phone ON pool_leases (platform, phone) WHERE ended_at = 0;
	CREATE INDEX pool_leases_service_blocked_until ON pool_leases (platform, service, blocked_until);
	CREATE TABLE pool_messages (
		id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		platform TEXT    NOT NULL,
		phone    TEXT    NOT NULL,
		sender   TEXT    NOT NULL DEFAULT '',
		text     TEXT    NOT NULL DEFAULT '',
		at       BIGINT  NOT NULL DEFAULT 0,
		pushed   INTEGER NOT NULL DEFAULT 0 -- 1: came by callback (stamped on arrival); 0: read from the upstream
	);
	CREATE INDEX pool_messages_phone_at ON pool_messages (platform, phone, at);`,
	// 4: indexes for the pool queries that must not read a platform's whole
	// lease history: stale active leases by expiry, blocking leases by time.
	`CREATE INDEX pool_leases_active_expires_at ON pool_leases (platform, expires_at) WHERE ended_at = 0;
	CREATE INDEX pool_leases_blocked_until ON pool_leases (platform, blocked_until);`,
	// 5: at most one active order per (platform, upstream id), as in
	// SQLite (see sqliteMigrations and sqliteDedupSQL, and pgDedupSQL,
	// which runs first). Instances inserting the same pair at once: the
	// second INSERT waits for the first to commit and then fails with a
	// unique violation on this index, which Create reports as
	// ErrDuplicateUpstream.
	`CREATE UNIQUE INDEX orders_active_platform_upstream_id ON orders (platform, upstream_id)
		WHERE upstream_id <> '' AND state IN ('waiting', 'code_received', 'retry_waiting');`,
}

// pgUpstreamIndex is the index's name, which a unique violation reports.
const pgUpstreamIndex = "orders_active_platform_upstream_id"

// pgDedupSQL is sqliteDedupSQL for PostgreSQL: the oldest active order of
// a (platform, upstream id) keeps it, later ones get "#dup<order id>".
const pgDedupSQL = `UPDATE orders SET upstream_id = upstream_id || '#dup' || id
	WHERE id IN (SELECT id FROM (
		SELECT id, row_number() OVER (PARTITION BY platform, upstream_id ORDER BY id) AS n
		FROM orders WHERE upstream_id <> '' AND state IN ('waiting', 'code_received', 'retry_waiting')
	) AS ranked WHERE n > 1)`

// migrateLockKey is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema name, so that instances
// migrating different schemas do not wait for each other.
const migrateLockKey int32 = 0x736d7367 // "smsg"

// migratePostgres brings the schema to len(postgresMigrations), creating
// the schema itself when it is named and missing.
//
// Several instances may start at once. Each runs its migration in one
// transaction that first takes a transaction-scoped advisory lock; the
// others wait for it, and then (READ COMMITTED takes a fresh snapshot per
// statement) see the version it committed and have nothing left to do.
//
// It returns how many duplicate orders pgDedupSQL renamed.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, schema string) (renamed int64, err error) {
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(nullif($2, ''), current_schema(), '')))",
			migrateLockKey, schema); err != nil {
			return fmt.Errorf("cannot lock schema for migration: %w", err)
		}
		if schema != "" {
			// Checked first rather than CREATE SCHEMA IF NOT EXISTS, which
			// needs the CREATE privilege on the database even when the
			// schema exists.
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
				return fmt.Errorf("cannot look up schema %q: %w", schema, err)
			}
			if !exists {
				if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
					return fmt.Errorf("cannot create schema %q: %w", schema, err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER     PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("cannot create schema_version: %w", err)
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&version); err != nil {
			return fmt.Errorf("cannot read schema version: %w", err)
		}
		if version > len(postgresMigrations) {
			return fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(postgresMigrations))
		}
		for v := version; v < len(postgresMigrations); v++ {
			if v == dedupStep && version > 0 {
				tag, err := tx.Exec(ctx, pgDedupSQL)
				if err != nil {
					return fmt.Errorf("cannot rename duplicate upstream ids: %w", err)
				}
				renamed = tag.RowsAffected()
			}
			// No arguments: pgx sends it as a simple query, which may hold
			// several statements.
			if _, err := tx.Exec(ctx, postgresMigrations[v]); err != nil {
				return fmt.Errorf("cannot migrate schema to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", v+1); err != nil {
				return fmt.Errorf("cannot record schema version %d: %w", v+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return renamed, nil
}
