package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresOptions configures OpenPostgres. The zero value is the default.
// Pool sizing belongs in the URL (pool_max_conns and friends; the default
// is max(4, NumCPU) connections per instance, and instances × that must
// stay below the server's max_connections).
type PostgresOptions struct {
	// Schema is the PostgreSQL schema that holds the ledger's tables; it is
	// created when missing and becomes every connection's search_path.
	// "" (default) uses the server's default search_path, normally public.
	Schema string
}

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer names are
// truncated silently, so two long schema names could share one schema.
const maxIdentifierLen = 63

// Postgres is the Store shared by several gateway instances: one PostgreSQL
// database behind a pgx connection pool, used through database/sql. Every
// order insert is one short transaction (directCommit): the server
// commits concurrent inserts together on its own. Postgres also implements
// Leaser, so that instances split the polling between them.
type Postgres struct{ *store }

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value DSN), checks the connection and migrates the schema.
func OpenPostgres(ctx context.Context, url string, opts PostgresOptions) (*Postgres, error) {
	if len(opts.Schema) > maxIdentifierLen || strings.ContainsRune(opts.Schema, 0) {
		return nil, fmt.Errorf("cannot open ledger: schema name %q is not a PostgreSQL identifier of at most %d bytes", opts.Schema, maxIdentifierLen)
	}
	// pgxpool's parser, so that the URL's pool_* settings size the pool.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	if opts.Schema != "" {
		// A quoted identifier: search_path is a list, and an unquoted name
		// holding a comma would name two schemas.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	// NewWithConfig connects in the background and reports nothing.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	d := postgresDialect{schema: opts.Schema}
	renamed, err := migrate(ctx, db, d)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	s := newStore(d, db, db, renamed)
	s.onClose = func() error { pool.Close(); return nil }
	return &Postgres{s}, nil
}

// Claim implements Leaser in one statement. FOR UPDATE SKIP LOCKED passes
// over rows another instance's Claim is leasing at this moment; when that
// Claim commits first, PostgreSQL re-checks the row against the WHERE
// clause and drops it, as its lease is now live. So no two owners get an
// order at once, at the price of a Claim sometimes returning fewer than
// limit orders while others are claiming.
func (p *Postgres) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Order, error) {
	if owner == "" {
		return nil, errors.New("cannot claim orders: empty owner")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("cannot claim orders: lease %v is not positive", lease)
	}
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot claim orders: %w", err)
	}
	defer p.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	orders, err := p.query(ctx, p.w, pgClaimSQL, owner, toMillis(now.Add(lease)), toMillis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot claim orders for %s: %w", owner, err)
	}
	return orders, nil
}

// pgClaimSQL: $1 owner, $2 lease end, $3 now, $4 limit (times in unix ms).
// RETURNING comes back in no particular order, hence the outer SELECT.
var pgClaimSQL = "WITH claimed AS (" +
	"UPDATE orders SET lease_owner = $1, lease_until = $2 WHERE id IN (" +
	"SELECT id FROM orders WHERE state IN " + activeStatesSQL + " AND next_poll_at <= $3" +
	" AND (lease_owner = '' OR lease_until <= $3)" +
	" ORDER BY next_poll_at, id LIMIT $4" + postgresDialect{}.skipLocked() + ")" +
	" RETURNING " + orderColumns +
	") SELECT " + orderColumns + " FROM claimed ORDER BY next_poll_at, id"

// postgresDialect: several instances write at once, so rows being changed
// are locked and skipped by the others; the schema version is a table, and
// an advisory lock serialises migrations.
type postgresDialect struct {
	schema string // "" = the connection's current schema
}

func (postgresDialect) arg(n int) string     { return "$" + strconv.Itoa(n) }
func (postgresDialect) skipLocked() string   { return " FOR UPDATE SKIP LOCKED" }
func (postgresDialect) firstCodeAt() string  { return "(codes->0->>'received_at')::bigint" }
func (postgresDialect) releaseLease() string { return ", lease_owner = '', lease_until = 0" }
func (postgresDialect) txOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}

func (postgresDialect) schemaWords() *strings.Replacer {
	return wordsOf(map[string]string{
		"id": "BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "int64": "BIGINT", "json": "JSON", "ne": "<>",
		"lease": ",\n\t\tlease_owner         TEXT    NOT NULL DEFAULT '',\n\t\tlease_until         BIGINT  NOT NULL DEFAULT 0",
	})
}

// pgUniqueViolation is SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

// unique: PostgreSQL names the index.
func (postgresDialect) unique(err error) violation {
	var pe *pgconn.PgError
	switch {
	case !errors.As(err, &pe) || pe.Code != pgUniqueViolation:
		return noViolation
	case pe.ConstraintName == upstreamIndex:
		return upstreamViolation
	default:
		return otherViolation
	}
}

// migrateLockKey is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema name, so that instances
// migrating different schemas do not wait for each other.
const migrateLockKey int32 = 0x736d7367 // "smsg"

// lockSchema: several instances may start at once. Each takes a
// transaction-scoped advisory lock first; the others wait for it, and then
// (READ COMMITTED takes a fresh snapshot per statement) see the version it
// committed and have nothing left to do. It creates the schema when it is
// named and missing, and the schema_version table.
func (d postgresDialect) lockSchema(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(nullif($2, ''), current_schema(), '')))",
		migrateLockKey, d.schema); err != nil {
		return fmt.Errorf("cannot lock schema for migration: %w", err)
	}
	if d.schema != "" {
		// Checked first rather than CREATE SCHEMA IF NOT EXISTS, which
		// needs the CREATE privilege on the database even when the
		// schema exists.
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", d.schema).Scan(&exists); err != nil {
			return fmt.Errorf("cannot look up schema %q: %w", d.schema, err)
		}
		if !exists {
			if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+pgx.Identifier{d.schema}.Sanitize()); err != nil {
				return fmt.Errorf("cannot create schema %q: %w", d.schema, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER     PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("cannot create schema_version: %w", err)
	}
	return nil
}

func (postgresDialect) version(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v)
	return v, err
}

func (postgresDialect) setVersion(ctx context.Context, tx *sql.Tx, v int) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES ($1)", v)
	return err
}

var (
	_ Store     = (*Postgres)(nil)
	_ Leaser    = (*Postgres)(nil)
	_ PoolStore = (*Postgres)(nil)
)
