package ledger

import (
	"database/sql"
	"errors"
	"strings"
	"time"
)

// The rows of migration 6 (money.go): how they are read and written, in
// both dialects.

// The column lists the scan functions read, in their order.
const (
	actionColumns = "id, order_id, tenant, platform, upstream_id, kind, state, attempts, last_error, payload, " +
		"created_at, updated_at, next_at, give_up_at"
	intentColumns = "id, tenant, platform, country, service, hold_micros, currency, state, upstream_id, order_id, " +
		"created_at, updated_at"
	walletColumns = "tenant, currency, balance_micros, reserved_micros, updated_at"
	entryColumns  = "id, tenant, kind, amount_micros, currency, order_id, intent_id, note, at"
)

// moneySQL holds the money statements of one dialect. The literals
// 'pending' and 'open' (not parameters) let the planner use the partial
// indexes whose predicates name them.
type moneySQL struct {
	apply, applyMove, orderExists, buyIntent, deleteOrder string
	capture, release, journal, insertJournal              string
	insertAction, leaseActions, settleAction              string
	actions, pendingActions                               string
	reserve, walletCurrency, insertIntent, closeIntent    string
	staleIntents, intent                                  string
	wallet, ensureWallet, adjustWallet                    string
	batch, putBatch                                       string
}

func newMoneySQL(d dialect) moneySQL {
	q := func(s string) string { return bindAll(d, s) }
	// apply writes Update's mutable fields over the version the caller
	// read; applyMove also moves the wallet state, and only from reserved.
	const orderSet = "UPDATE orders SET state = ?, codes = ?, codes_seen = ?, updated_at = ?, expires_at = ?," +
		" next_poll_at = ?, upstream_id = ?, phone = ?, version = version + 1"
	return moneySQL{
		apply:       q(orderSet + d.releaseLease() + " WHERE id = ? AND version = ?"),
		applyMove:   q(orderSet + ", wallet = ?" + d.releaseLease() + " WHERE id = ? AND version = ? AND wallet = 'reserved'"),
		orderExists: q("SELECT 1 FROM orders WHERE id = ?"),
		buyIntent:   q("UPDATE intents SET state = 'bought', order_id = ?, updated_at = ? WHERE id = ? AND state = 'open'"),
		deleteOrder: q("DELETE FROM orders WHERE id = ?"),

		capture: q("UPDATE wallets SET balance_micros = balance_micros - ?, reserved_micros = reserved_micros - ?, updated_at = ?" +
			" WHERE tenant = ? AND currency = ?"),
		release: q("UPDATE wallets SET reserved_micros = reserved_micros - ?, updated_at = ? WHERE tenant = ? AND currency = ?"),
		journal: q("SELECT " + entryColumns + " FROM journal WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?"),
		insertJournal: q("INSERT INTO journal (tenant, kind, amount_micros, currency, order_id, intent_id, note, at)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),

		insertAction: q("INSERT INTO actions (order_id, tenant, platform, upstream_id, kind, state, attempts, last_error, payload," +
			" created_at, updated_at, next_at, give_up_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		// A lease is live while lease_until > now (SettleAction clears it
		// to 0), as for orders' Claim; see Postgres.Claim for what SKIP
		// LOCKED does when two owners lease at once.
		leaseActions: leaseActionsSQL(d, 0),
		settleAction: q("UPDATE actions SET state = ?, attempts = ?, last_error = ?, next_at = ?, updated_at = ?," +
			" lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?"),
		actions:        q("SELECT " + actionColumns + " FROM actions WHERE order_id = ? ORDER BY id"),
		pendingActions: "SELECT kind, count(*) FROM actions WHERE state = 'pending' GROUP BY kind",

		// The reservation is one conditional UPDATE: the row lock (or
		// SQLite's one writer) makes check and change one step, so
		// concurrent reservations never take available below zero.
		reserve: q("UPDATE wallets SET reserved_micros = reserved_micros + ?, updated_at = ?" +
			" WHERE tenant = ? AND currency = ? AND balance_micros - reserved_micros >= ?"),
		walletCurrency: q("SELECT currency FROM wallets WHERE tenant = ?"),
		insertIntent: q("INSERT INTO intents (tenant, platform, country, service, hold_micros, currency, state, created_at, updated_at)" +
			" VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING id"),
		closeIntent: q("UPDATE intents SET state = ?, upstream_id = COALESCE(NULLIF(?, ''), upstream_id), updated_at = ?" +
			" WHERE id = ? AND state = 'open' RETURNING tenant, platform, hold_micros, currency"),
		staleIntents: q("SELECT " + intentColumns + " FROM intents WHERE state = 'open' AND created_at < ? ORDER BY created_at, id LIMIT ?"),
		intent:       q("SELECT " + intentColumns + " FROM intents WHERE id = ?"),

		wallet:       q("SELECT " + walletColumns + " FROM wallets WHERE tenant = ?"),
		ensureWallet: q("INSERT INTO wallets (tenant, currency, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO NOTHING"),
		adjustWallet: q("UPDATE wallets SET balance_micros = balance_micros + ?, updated_at = ?" +
			" WHERE tenant = ? AND currency = ? AND balance_micros + ? >= reserved_micros RETURNING " + walletColumns),

		batch:    q("SELECT answer FROM batches WHERE tenant = ? AND key = ?"),
		putBatch: q("INSERT INTO batches (tenant, key, answer, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, key) DO NOTHING"),
	}
}

// leaseActionsSQL is LeaseActions' statement for kinds kinds (0: every
// kind). Arguments: owner, lease end, now, now, the kinds, limit.
func leaseActionsSQL(d dialect, kinds int) string {
	filter := ""
	if kinds > 0 {
		ps := make([]string, kinds)
		for i := range ps {
			ps[i] = "?"
		}
		filter = " AND kind IN (" + strings.Join(ps, ", ") + ")"
	}
	return bindAll(d, "UPDATE actions SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM actions"+
		" WHERE state = 'pending' AND next_at <= ? AND lease_until <= ?"+filter+" ORDER BY next_at, id LIMIT ?"+d.skipLocked()+")"+
		" RETURNING "+actionColumns)
}

// actionArgs are insertAction's arguments for a.
func actionArgs(a *Action) []any {
	return []any{a.OrderID, a.Tenant, a.Platform, a.UpstreamID, string(a.Kind), string(a.State), a.Attempts, a.LastError, a.Payload,
		toMillis(a.CreatedAt), toMillis(a.UpdatedAt), toMillis(a.NextAt), toMillis(a.GiveUpAt)}
}

// scanAction reads one actionColumns row.
func scanAction(r rowScanner) (Action, error) {
	var (
		a                                Action
		kind, state                      string
		created, updated, next, giveUpAt int64
	)
	if err := r.Scan(&a.ID, &a.OrderID, &a.Tenant, &a.Platform, &a.UpstreamID, &kind, &state, &a.Attempts, &a.LastError,
		&a.Payload, &created, &updated, &next, &giveUpAt); err != nil {
		return Action{}, err
	}
	a.Kind, a.State = ActionKind(kind), ActionState(state)
	a.CreatedAt, a.UpdatedAt, a.NextAt, a.GiveUpAt = fromMillis(created), fromMillis(updated), fromMillis(next), fromMillis(giveUpAt)
	return a, nil
}

// scanIntent reads one intentColumns row; no row is ErrNotFound.
func scanIntent(r rowScanner) (Intent, error) {
	var (
		in               Intent
		state            string
		created, updated int64
	)
	err := r.Scan(&in.ID, &in.Tenant, &in.Platform, &in.Country, &in.Service, &in.Hold, &in.Currency, &state,
		&in.UpstreamID, &in.OrderID, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Intent{}, ErrNotFound
	}
	if err != nil {
		return Intent{}, err
	}
	in.State, in.CreatedAt, in.UpdatedAt = IntentState(state), fromMillis(created), fromMillis(updated)
	return in, nil
}

// scanWallet reads one walletColumns row; no row is ErrNotFound.
func scanWallet(r rowScanner) (Wallet, error) {
	var (
		w       Wallet
		updated int64
	)
	err := r.Scan(&w.Tenant, &w.Currency, &w.Balance, &w.Reserved, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Wallet{}, ErrNotFound
	}
	if err != nil {
		return Wallet{}, err
	}
	w.UpdatedAt = fromMillis(updated)
	return w, nil
}

// scanEntry reads one entryColumns row.
func scanEntry(r rowScanner) (Entry, error) {
	var (
		e    Entry
		kind string
		at   int64
	)
	if err := r.Scan(&e.ID, &e.Tenant, &kind, &e.Amount, &e.Currency, &e.OrderID, &e.IntentID, &e.Note, &at); err != nil {
		return Entry{}, err
	}
	e.Kind, e.At = EntryKind(kind), fromMillis(at)
	return e, nil
}

// nowOr returns t, or the current time when t is zero: a stored 0 means
// "no time", which a movement or an outbox row must not have.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
