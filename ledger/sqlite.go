package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteOptions configures OpenSQLite. The zero value is the default.
type SQLiteOptions struct {
	// Synchronous is SQLite's synchronous mode for the writer: "NORMAL"
	// (default when "") survives a killed process; "FULL" also survives
	// power loss, at the cost of an fsync per commit. Nothing else is
	// accepted: the value ends up in a DSN pragma, which the driver runs
	// verbatim as SQL.
	Synchronous string
}

// synchronousModes is the whitelist for SQLiteOptions.Synchronous. The DSN
// is built from the map's values, never from the caller's text.
var synchronousModes = map[string]string{
	"":       "NORMAL",
	"NORMAL": "NORMAL",
	"FULL":   "FULL",
}

const (
	// busyTimeoutMillis bounds how long a connection waits for a lock held
	// by another process (a backup, the sqlite3 shell) before SQLITE_BUSY.
	busyTimeoutMillis = "5000"
	// readerConns bounds the reader pool: database/sql opens connections
	// without limit and each SQLite connection has its own page cache.
	readerConns = 4
)

// SQLite is the single-instance Store: one SQLite file in WAL mode, one
// writer connection and a small pool of reader connections. The hot
// writes (Create, Apply, the intents, Enqueue, SettleAction,
// AdjustWallet) are group-committed by one writer goroutine with
// prepared statements (see groupcommit.go); the others (leases, pool,
// overrides, batches) go to the writer connection directly; reads use
// the reader pool and never wait for the writer (WAL readers see the
// last commit).
type SQLite struct{ *store }

// OpenSQLite opens (creating if needed) the SQLite ledger at path, a plain
// file path, creating its parent directory and migrating the schema.
func OpenSQLite(path string, opts SQLiteOptions) (*SQLite, error) {
	syncMode, ok := synchronousModes[strings.ToUpper(opts.Synchronous)]
	if !ok {
		return nil, fmt.Errorf("cannot open ledger: synchronous must be NORMAL or FULL, not %q", opts.Synchronous)
	}
	// The driver treats everything after the first '?' as DSN parameters
	// and a "file:" prefix as a URI; refuse both rather than escape them.
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("cannot open ledger: %q is not a plain file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}

	// journal_mode=WAL is persistent in the file, so only the writer sets it,
	// and it does so before any reader connects. _txlock=immediate makes
	// BEGIN take the write lock at once instead of failing with SQLITE_BUSY
	// when a deferred transaction later tries to write; it is also what
	// keeps two processes from migrating one file at once.
	// temp_store(MEMORY) keeps the sub-journal, where a savepoint saves the
	// pages its request changes (groupcommit.go), in memory: by default it
	// spills to a temporary file past 64 KiB and then grows, unread, by
	// every page a batch's requests touch (a quarter of the writer's time
	// in BenchmarkPurchaseParallel went to writing it).
	w, err := openSQLiteDB(path+"?_pragma=busy_timeout("+busyTimeoutMillis+")"+
		"&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous("+syncMode+")"+
		"&_pragma=temp_store(MEMORY)"+
		"&_pragma=wal_autocheckpoint(0)"+ // the checkpointer's job (checkpoint.go)
		"&_txlock=immediate", 1) // SQLite allows one writer at a time
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	d := sqliteDialect{}
	renamed, err := migrate(context.Background(), w, d)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open ledger %s: %w", path, err)
	}
	r, err := openSQLiteDB(path+"?_pragma=busy_timeout("+busyTimeoutMillis+")&_pragma=query_only(1)", readerConns)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	cp, err := openSQLiteDB(path+"?_pragma=busy_timeout("+busyTimeoutMillis+")"+
		"&_pragma=synchronous("+syncMode+")", 1)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	s := newStore(d, w, r, renamed)
	gc, err := newGroupCommit(s)
	if err != nil {
		cp.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	s.ins = gc
	s.onClose = startCheckpointer(cp).close
	return &SQLite{s}, nil
}

// openSQLiteDB opens a pool of at most conns connections that are kept
// open: each SQLite connection has its own page cache.
func openSQLiteDB(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// sqliteDialect: one process writes, through one connection, so rows need
// no locking and writes need no retry; the schema version is PRAGMA
// user_version.
type sqliteDialect struct{}

func (sqliteDialect) arg(int) string                            { return "?" }
func (sqliteDialect) skipLocked() string                        { return "" }
func (sqliteDialect) firstCodeAt() string                       { return "json_extract(codes, '$[0].received_at')" }
func (sqliteDialect) releaseLease() string                      { return "" } // no Claim: one instance polls
func (sqliteDialect) txOptions() *sql.TxOptions                 { return nil }
func (sqliteDialect) lockSchema(context.Context, *sql.Tx) error { return nil } // BEGIN IMMEDIATE locked the file

func (sqliteDialect) schemaWords() *strings.Replacer {
	return wordsOf(map[string]string{
		"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "int64": "INTEGER", "json": "TEXT", "ne": "!=", "lease": "",
	})
}

// unique: the driver turns extended result codes on, and reports no index
// name, only the columns: "UNIQUE constraint failed: orders.platform,
// orders.upstream_id".
func (sqliteDialect) unique(err error) violation {
	var se *sqlite.Error
	switch {
	case !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return noViolation
	case strings.Contains(err.Error(), "orders.upstream_id"):
		return upstreamViolation
	default:
		return otherViolation
	}
}

func (sqliteDialect) version(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (sqliteDialect) setVersion(ctx context.Context, tx *sql.Tx, v int) error {
	// PRAGMA takes no bound parameters; the value is our own integer.
	_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v))
	return err
}

var _ Store = (*SQLite)(nil)
