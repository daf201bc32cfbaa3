package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// schemaTemplate[i] takes the schema from version i to i+1 once the
// dialect's schemaWords have filled it in. Append new steps; never edit a
// shipped one: what each step renders to in a dialect is what databases
// at that version hold (TestSchemaTemplateRendersShippedSQL).
//
// The words: {id} an increasing 64-bit primary key never reused (SQLite
// AUTOINCREMENT: a plain INTEGER PRIMARY KEY would reuse max(id)+1 after
// the newest row is deleted); {int64} a 64-bit integer; {json} the codes
// column; {ne} "not equal" as each dialect's shipped SQL spelled it;
// {lease} Claim's lease columns where the dialect has Claim (lease_owner
// and lease_until, unix ms: an order is leased while lease_owner is not
// empty and lease_until > now).
//
// Money is integer micro-units plus a TEXT currency, never a float. Times
// are integer unix milliseconds UTC, 0 for "none", so range scans and
// statistics are plain integer comparisons.
//
// Codes are a JSON array in orders.codes rather than a table of their own:
// an order has a handful of codes at most, they are always read and written
// with their order (Update replaces the whole list), and nothing looks an
// order up by code. A table would turn every Get and List into a join and
// every Update into delete-and-insert, for no query that needs it. In
// PostgreSQL the column is json, not jsonb: json keeps the text exactly as
// written, while jsonb refuses the \u0000 escape, which an SMS from a
// misbehaving platform could carry, and a refused Update would fail that
// order's every poll.
var schemaTemplate = []string{
	// 1: orders.
	`CREATE TABLE orders (
		id                  {id},
		tenant              TEXT    NOT NULL,
		platform            TEXT    NOT NULL,
		upstream_id         TEXT    NOT NULL DEFAULT '',
		phone               TEXT    NOT NULL DEFAULT '',
		country             TEXT    NOT NULL DEFAULT '',
		service             TEXT    NOT NULL DEFAULT '',
		operator            TEXT    NOT NULL DEFAULT '',
		price_micros        {int64} NOT NULL DEFAULT 0,
		price_currency      TEXT    NOT NULL DEFAULT '',
		base_price_micros   {int64} NOT NULL DEFAULT 0,
		base_price_currency TEXT    NOT NULL DEFAULT '',
		state               TEXT    NOT NULL,
		codes               {json}  NOT NULL DEFAULT '[]',
		codes_seen          INTEGER NOT NULL DEFAULT 0,
		created_at          {int64} NOT NULL DEFAULT 0,
		updated_at          {int64} NOT NULL DEFAULT 0,
		expires_at          {int64} NOT NULL DEFAULT 0,
		next_poll_at        {int64} NOT NULL DEFAULT 0,
		idempotency_key     TEXT    NOT NULL DEFAULT ''{lease}
	);
	CREATE UNIQUE INDEX orders_tenant_idempotency_key ON orders (tenant, idempotency_key) WHERE idempotency_key {ne} '';
	CREATE INDEX orders_state_next_poll_at ON orders (state, next_poll_at);
	CREATE INDEX orders_tenant_id ON orders (tenant, id);`,
	// 2: admin overrides of platform settings (shared with every instance
	// using this ledger), and the index statistics scan by.
	`CREATE TABLE platform_overrides (
		code       TEXT    PRIMARY KEY,
		enabled    INTEGER,
		priority   INTEGER,
		weight     INTEGER,
		updated_at {int64} NOT NULL DEFAULT 0
	);
	CREATE INDEX orders_created_at ON orders (created_at);`,
	// 3: pool leases and pushed messages (see pool.go). ended_at = 0 marks
	// an active lease; the partial unique index is what keeps a phone from
	// two active leases (across instances too: a second INSERT of an
	// active lease for a phone waits for the first and then conflicts),
	// and the second index serves the cooldown lookup of Lease.
	`CREATE TABLE pool_leases (
		id            {id},
		platform      TEXT    NOT NULL,
		phone         TEXT    NOT NULL,
		service       TEXT    NOT NULL DEFAULT '',
		country       TEXT    NOT NULL DEFAULT '',
		since         {int64} NOT NULL DEFAULT 0,
		after         {int64} NOT NULL DEFAULT 0,
		created_at    {int64} NOT NULL DEFAULT 0,
		expires_at    {int64} NOT NULL DEFAULT 0,
		ended_at      {int64} NOT NULL DEFAULT 0,
		outcome       TEXT    NOT NULL DEFAULT '',
		blocked_until {int64} NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX pool_leases_active_phone ON pool_leases (platform, phone) WHERE ended_at = 0;
	CREATE INDEX pool_leases_service_blocked_until ON pool_leases (platform, service, blocked_until);
	CREATE TABLE pool_messages (
		id       {id},
		platform TEXT    NOT NULL,
		phone    TEXT    NOT NULL,
		sender   TEXT    NOT NULL DEFAULT '',
		text     TEXT    NOT NULL DEFAULT '',
		at       {int64} NOT NULL DEFAULT 0,
		pushed   INTEGER NOT NULL DEFAULT 0 -- 1: came by callback (stamped on arrival); 0: read from the upstream
	);
	CREATE INDEX pool_messages_phone_at ON pool_messages (platform, phone, at);`,
	// 4: indexes for the pool queries that must not read a platform's whole
	// lease history: stale active leases by expiry, blocking leases by time.
	`CREATE INDEX pool_leases_active_expires_at ON pool_leases (platform, expires_at) WHERE ended_at = 0;
	CREATE INDEX pool_leases_blocked_until ON pool_leases (platform, blocked_until);`,
	// 5: at most one active order per (platform, upstream id); see
	// ErrDuplicateUpstream, and dedupSQL, which runs first. Only active
	// orders: a getsmscode id is pid:number:region, and the same number
	// may be rented again once the first rental ended. The state list is
	// activeStates written out, as a shipped migration must never change
	// (TestUniqueIndexStatesMatchActiveStates keeps them in step).
	// Instances inserting the same pair at once: the second INSERT waits
	// for the first to commit and then fails on this index, which Create
	// reports as ErrDuplicateUpstream.
	`CREATE UNIQUE INDEX ` + upstreamIndex + ` ON orders (platform, upstream_id)
		WHERE upstream_id {ne} '' AND state IN ('waiting', 'code_received', 'retry_waiting');`,
	// 6: money (DESIGN §8, §9). Orders get what the tenant pays (TenantPrice,
	// and in the base currency for revenue), where that money stands in
	// the tenant's wallet, the purchase intent they closed, and a version
	// that Apply compares so that two writers of one order (instances, or
	// a poll racing a cancel) cannot both move its money.
	//
	// actions is the outbox: side effects owed upstream, written in the
	// transaction of the change that owes them; the workers lease pending
	// ones by next_at (lease_owner/lease_until as orders' Claim). intents
	// are written before an upstream purchase; an open one older than a
	// purchase takes is a number that may have been bought and never
	// recorded. wallets hold the prepaid balance: every movement is a
	// conditional UPDATE, and the CHECK is only the last line of defence
	// should one ever be wrong. journal has one row per movement, so that
	// it sums to the wallet exactly. batches keep a batch purchase's
	// answer by its idempotency key.
	//
	// The partial indexes serve the hot queries without reading history:
	// due pending actions, open intents by age. The literal 'pending' and
	// 'open' in the queries let the planner use them.
	`ALTER TABLE orders ADD COLUMN tenant_price_micros {int64} NOT NULL DEFAULT 0;
	ALTER TABLE orders ADD COLUMN tenant_price_currency TEXT NOT NULL DEFAULT '';
	ALTER TABLE orders ADD COLUMN tenant_price_base_micros {int64} NOT NULL DEFAULT 0;
	ALTER TABLE orders ADD COLUMN tenant_price_base_currency TEXT NOT NULL DEFAULT '';
	ALTER TABLE orders ADD COLUMN wallet TEXT NOT NULL DEFAULT '';
	ALTER TABLE orders ADD COLUMN intent_id {int64} NOT NULL DEFAULT 0;
	ALTER TABLE orders ADD COLUMN version {int64} NOT NULL DEFAULT 0;
	CREATE TABLE actions (
		id          {id},
		order_id    {int64} NOT NULL DEFAULT 0,
		tenant      TEXT    NOT NULL DEFAULT '',
		platform    TEXT    NOT NULL DEFAULT '',
		upstream_id TEXT    NOT NULL DEFAULT '',
		kind        TEXT    NOT NULL,
		state       TEXT    NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT    NOT NULL DEFAULT '',
		payload     TEXT    NOT NULL DEFAULT '',
		created_at  {int64} NOT NULL DEFAULT 0,
		updated_at  {int64} NOT NULL DEFAULT 0,
		next_at     {int64} NOT NULL DEFAULT 0,
		give_up_at  {int64} NOT NULL DEFAULT 0,
		lease_owner TEXT    NOT NULL DEFAULT '',
		lease_until {int64} NOT NULL DEFAULT 0
	);
	CREATE INDEX actions_pending_next_at ON actions (next_at) WHERE state = 'pending';
	CREATE INDEX actions_order_id ON actions (order_id);
	CREATE TABLE intents (
		id          {id},
		tenant      TEXT    NOT NULL,
		platform    TEXT    NOT NULL DEFAULT '',
		country     TEXT    NOT NULL DEFAULT '',
		service     TEXT    NOT NULL DEFAULT '',
		hold_micros {int64} NOT NULL DEFAULT 0,
		currency    TEXT    NOT NULL DEFAULT '',
		state       TEXT    NOT NULL,
		upstream_id TEXT    NOT NULL DEFAULT '',
		order_id    {int64} NOT NULL DEFAULT 0,
		created_at  {int64} NOT NULL DEFAULT 0,
		updated_at  {int64} NOT NULL DEFAULT 0
	);
	CREATE INDEX intents_open_created_at ON intents (created_at) WHERE state = 'open';
	CREATE TABLE wallets (
		tenant          TEXT    PRIMARY KEY,
		currency        TEXT    NOT NULL,
		balance_micros  {int64} NOT NULL DEFAULT 0,
		reserved_micros {int64} NOT NULL DEFAULT 0,
		updated_at      {int64} NOT NULL DEFAULT 0,
		CHECK (reserved_micros >= 0 AND balance_micros >= reserved_micros)
	);
	CREATE TABLE journal (
		id            {id},
		tenant        TEXT    NOT NULL,
		kind          TEXT    NOT NULL,
		amount_micros {int64} NOT NULL,
		currency      TEXT    NOT NULL,
		order_id      {int64} NOT NULL DEFAULT 0,
		intent_id     {int64} NOT NULL DEFAULT 0,
		note          TEXT    NOT NULL DEFAULT '',
		at            {int64} NOT NULL DEFAULT 0
	);
	CREATE INDEX journal_tenant_id ON journal (tenant, id);
	CREATE TABLE batches (
		tenant     TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		answer     TEXT    NOT NULL,
		created_at {int64} NOT NULL DEFAULT 0,
		PRIMARY KEY (tenant, key)
	);`,
	// 7: order events (DESIGN §8, events.go). order_events is each
	// tenant's append-only sequence; event_seqs holds each tenant's last
	// seq. A writer takes the next seq by upserting its tenant's row
	// inside the transaction that writes the event, so the row stays
	// locked (PostgreSQL) or the one writer busy (SQLite) until that
	// transaction ends: a second writer of the tenant waits, and gets the
	// next seq only after the first committed (or rolled back, which
	// gives its seq back). Hence per tenant commit order is seq order, a
	// reader never sees seq k+1 before k, and the sequence has no gaps
	// (a sequence object would burn numbers on rollback).
	//
	// actions_tenant_kind_id is the webhook delivery log (ActionsOf);
	// actions_pending_order_kind_id serves EarlierPending.
	`CREATE TABLE event_seqs (
		tenant TEXT    PRIMARY KEY,
		seq    {int64} NOT NULL DEFAULT 0
	);
	CREATE TABLE order_events (
		tenant         TEXT    NOT NULL,
		seq            {int64} NOT NULL,
		order_id       {int64} NOT NULL,
		kind           TEXT    NOT NULL,
		at             {int64} NOT NULL DEFAULT 0,
		state          TEXT    NOT NULL DEFAULT '',
		phone          TEXT    NOT NULL DEFAULT '',
		country        TEXT    NOT NULL DEFAULT '',
		service        TEXT    NOT NULL DEFAULT '',
		platform       TEXT    NOT NULL DEFAULT '',
		price_micros   {int64} NOT NULL DEFAULT 0,
		price_currency TEXT    NOT NULL DEFAULT '',
		code           TEXT    NOT NULL DEFAULT '',
		text           TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (tenant, seq)
	);
	CREATE INDEX actions_tenant_kind_id ON actions (tenant, kind, id);
	CREATE INDEX actions_pending_order_kind_id ON actions (order_id, kind, id) WHERE state = 'pending';`,
	// 8: the poller's due orders in the order it takes them. With
	// orders_state_next_poll_at the due query reads every due row of
	// each active state and sorts them to keep the first batch: its cost
	// grew with the backlog, not the batch. This index holds only active
	// orders, in (next_poll_at, id) order, so the query reads the batch
	// and stops (TestHotQueriesUseIndexes* refuse a sort). The old index
	// served nothing else, and every order write paid for it. The outbox's
	// and the intent pass's queues get the id as well: SQLite's indexes
	// carry the rowid, PostgreSQL's do not, and there "ORDER BY next_at,
	// id" sorted the whole backlog.
	`CREATE INDEX orders_active_next_poll_at ON orders (next_poll_at, id)
		WHERE state IN ('waiting', 'code_received', 'retry_waiting');
	DROP INDEX orders_state_next_poll_at;
	CREATE INDEX actions_pending_next_at_id ON actions (next_at, id) WHERE state = 'pending';
	DROP INDEX actions_pending_next_at;
	CREATE INDEX intents_open_created_at_id ON intents (created_at, id) WHERE state = 'open';
	DROP INDEX intents_open_created_at;`,
	// 9: list rounds whose cost is the changes (DESIGN §7). leases are
	// named leases between instances (namedlease.go): a platform's list
	// round is asked by the one instance holding "list:<code>" until
	// its until (unix ms). orders_platform_awaiting answers "does this
	// platform have an order awaiting a code?" with one probe of a small
	// index, whatever the number of delivered orders; its state list is
	// awaitingStates written out (TestAwaitingStatesMatchIndex).
	`CREATE TABLE leases (
		name  TEXT    PRIMARY KEY,
		owner TEXT    NOT NULL,
		until {int64} NOT NULL DEFAULT 0
	);
	CREATE INDEX orders_platform_awaiting ON orders (platform, next_poll_at) WHERE state IN ('waiting', 'retry_waiting');`,
	// 10: the router's delivery estimates are shared between instances by
	// reading, every refresh, the orders that ended since the last one
	// (Ended). Only ended orders are in this index, each written once as
	// it ends (an active order's many polls do not touch it); its state
	// list is endedStates written out (TestEndedStatesMatchIndex).
	`CREATE INDEX orders_ended_updated_at ON orders (updated_at, id)
		WHERE state IN ('finished', 'cancelled', 'expired', 'banned');`,
}

// upstreamIndex is the (platform, upstream id) index's name, which a
// PostgreSQL unique violation reports.
const upstreamIndex = "orders_active_platform_upstream_id"

// dedupStep is the migration before which dedupSQL runs: the first one
// with the (platform, upstream id) index.
const dedupStep = 4

// dedupSQL makes a ledger from before migration 5 fit its unique index.
// Such a ledger may hold active orders sharing a (platform, upstream id):
// two demo instances whose built-in simulators both counted from the same
// first id. The oldest keeps its id; each later one gets "#dup<order id>"
// appended, which is unique and still shows the original. Refusing to
// start instead would stop every instance on that ledger until someone
// edits it by hand, for rows that are not telling anyone anything true
// anyway: the platform knows one activation under that id, and its codes
// would reach both clients. A renamed order no longer matches anything
// upstream: its polls fail and the gateway ends it as expired at its
// lifetime. How many were renamed is logged at start (RenamedDuplicates).
const dedupSQL = `UPDATE orders SET upstream_id = upstream_id || '#dup' || id
	WHERE id IN (SELECT id FROM (
		SELECT id, row_number() OVER (PARTITION BY platform, upstream_id ORDER BY id) AS n
		FROM orders WHERE upstream_id <> '' AND state IN ('waiting', 'code_received', 'retry_waiting')
	) AS ranked WHERE n > 1)`

// migrations renders schemaTemplate in d.
func migrations(d dialect) []string {
	words := d.schemaWords()
	out := make([]string, len(schemaTemplate))
	for i, t := range schemaTemplate {
		out[i] = words.Replace(t)
	}
	return out
}

// migrate brings db's schema to the newest version in one transaction,
// which d.lockSchema first makes the only one migrating: two processes
// opening a new database do not both create it, and the second finds the
// first's work done. It returns how many duplicate orders dedupSQL
// renamed.
func migrate(ctx context.Context, db *sql.DB, d dialect) (renamed int64, err error) {
	tx, err := db.BeginTx(ctx, d.txOptions())
	if err != nil {
		return 0, fmt.Errorf("cannot migrate schema: %w", err)
	}
	defer tx.Rollback()
	if err := d.lockSchema(ctx, tx); err != nil {
		return 0, err
	}
	version, err := d.version(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("cannot read schema version: %w", err)
	}
	steps := migrations(d)
	if version > len(steps) {
		return 0, fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(steps))
	}
	for v := version; v < len(steps); v++ {
		if v == dedupStep && version > 0 { // a new database has nothing to rename
			if renamed, err = execAffected(ctx, tx, dedupSQL); err != nil {
				return 0, fmt.Errorf("cannot rename duplicate upstream ids: %w", err)
			}
		}
		// No arguments: both drivers then run a text of several statements.
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return 0, fmt.Errorf("cannot migrate schema to version %d: %w", v+1, err)
		}
		if err := d.setVersion(ctx, tx, v+1); err != nil {
			return 0, fmt.Errorf("cannot record schema version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("cannot migrate schema: %w", err)
	}
	return renamed, nil
}

func execAffected(ctx context.Context, tx *sql.Tx, q string) (int64, error) {
	res, err := tx.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// wordsOf is a schemaWords Replacer: each key in braces becomes its value.
func wordsOf(kv map[string]string) *strings.Replacer {
	var pairs []string
	for k, v := range kv {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...)
}
