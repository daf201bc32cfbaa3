package ledger

import (
	"context"
	"database/sql"
	"strings"
)

// dialect is what differs between the SQL databases the one store runs on
// (sqlite.go, postgres.go). Everything else, every statement's shape and
// every method body, is shared.
type dialect interface {
	// arg is the n-th bind placeholder, counted from 1: "?" or "$n".
	arg(n int) string
	// skipLocked ends a SELECT of rows that its statement then updates:
	// " FOR UPDATE SKIP LOCKED" where writers run at once (instances
	// sharing a database), "" where one writer connection serialises them.
	skipLocked() string
	// firstCodeAt is the expression for the first code's received_at (unix
	// ms) in the orders.codes JSON array.
	firstCodeAt() string
	// releaseLease is what Update sets besides the order's own columns:
	// ", col = value, …" clearing Claim's lease where the schema has one.
	releaseLease() string
	// unique tells which unique index err violated, if any.
	unique(err error) violation
	// txOptions are the options of every write transaction.
	txOptions() *sql.TxOptions
	// schemaWords fills the schema template (schema.go).
	schemaWords() *strings.Replacer
	// lockSchema runs first in the migration transaction: it keeps other
	// processes from migrating at the same time and prepares where the
	// version is kept.
	lockSchema(ctx context.Context, tx *sql.Tx) error
	// version is the schema version recorded in the database.
	version(ctx context.Context, tx *sql.Tx) (int, error)
	// setVersion records that migration step v has been applied.
	setVersion(ctx context.Context, tx *sql.Tx, v int) error
}

// violation names the unique index an insert or update broke.
type violation int

const (
	noViolation       violation = iota
	upstreamViolation           // orders_active_platform_upstream_id
	otherViolation              // any other unique index (the idempotency key's, for orders)
)

// args builds a statement's bind list and placeholders together, so that
// optional conditions number their placeholders right in either dialect.
type args struct {
	d    dialect
	vals []any
}

// bind appends v and returns its placeholder.
func (a *args) bind(v any) string {
	a.vals = append(a.vals, v)
	return a.d.arg(len(a.vals))
}

// bindAll renders q, written with "?" placeholders, in d's spelling:
// the n-th "?" becomes d.arg(n). The statements it is used on hold no
// "?" in a literal.
func bindAll(d dialect, q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(d.arg(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// placeholders is "p1, p2, …, pn" in d's spelling.
func placeholders(d dialect, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.arg(i + 1)
	}
	return strings.Join(ps, ", ")
}

// activeStatesSQL is activeStates as an SQL list of literals. Literals,
// not parameters, so that the planner sees the states in generic plans
// and can use the partial indexes whose predicates name them; the values
// are our own constants, without quotes.
var activeStatesSQL = statesSQL(activeStates)

// orderColumns is the column list scanOrder reads, in its order.
const orderColumns = "id, tenant, platform, upstream_id, phone, country, service, operator, " +
	"price_micros, price_currency, base_price_micros, base_price_currency, " +
	"state, codes, codes_seen, created_at, updated_at, expires_at, next_poll_at, idempotency_key, " + moneyColumns

// moneyColumns are the order's columns from migration 6, the same in
// orderColumns and insertColumns.
const moneyColumns = "tenant_price_micros, tenant_price_currency, tenant_price_base_micros, tenant_price_base_currency, " +
	"wallet, intent_id, version"

// insertColumns are the columns Create writes, in createReq.args order.
const insertColumns = "tenant, platform, upstream_id, phone, country, service, operator, " +
	"price_micros, price_currency, base_price_micros, base_price_currency, " +
	"state, codes, codes_seen, created_at, updated_at, expires_at, next_poll_at, idempotency_key, " + moneyColumns

// insertArgs is how many columns insertColumns names.
const insertArgs = 26

// statements are the store's fixed SQL, rendered once per dialect.
type statements struct {
	insert, insertReturningID      string
	update, get, getByKey, due     string
	deleteOverride, upsertOverride string
	pool                           poolSQL
	money                          moneySQL
	events                         eventSQL
}

func newStatements(d dialect) statements {
	return statements{
		// SQLite's group commit reads LastInsertId, the cheaper way there;
		// directCommit reads RETURNING id.
		insert:            "INSERT INTO orders (" + insertColumns + ") VALUES (" + placeholders(d, insertArgs) + ")",
		insertReturningID: "INSERT INTO orders (" + insertColumns + ") VALUES (" + placeholders(d, insertArgs) + ") RETURNING id",
		get:               "SELECT " + orderColumns + " FROM orders WHERE id = " + d.arg(1),
		// The literal "idempotency_key <> ''" lets the planner use the
		// partial unique index, whose WHERE clause a bound parameter cannot
		// imply.
		getByKey: "SELECT " + orderColumns + " FROM orders WHERE tenant = " + d.arg(1) +
			" AND idempotency_key = " + d.arg(2) + " AND idempotency_key <> ''",
		due: "SELECT " + orderColumns + " FROM orders WHERE state IN " + activeStatesSQL +
			" AND next_poll_at <= " + d.arg(1) + " ORDER BY next_poll_at, id LIMIT " + d.arg(2),
		deleteOverride: "DELETE FROM platform_overrides WHERE code = " + d.arg(1),
		upsertOverride: "INSERT INTO platform_overrides (code, enabled, priority, weight, updated_at) VALUES (" +
			placeholders(d, 5) + ") ON CONFLICT (code) DO UPDATE SET enabled = excluded.enabled," +
			" priority = excluded.priority, weight = excluded.weight, updated_at = excluded.updated_at",
		pool:   newPoolSQL(d),
		money:  newMoneySQL(d),
		events: newEventSQL(d),
	}
}
