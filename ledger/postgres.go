package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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

// createTimeout bounds an INSERT once it has been sent (see Create).
const createTimeout = 15 * time.Second

// Postgres is the Store shared by several gateway instances: one PostgreSQL
// database behind a pgx connection pool. Every call is one statement in
// autocommit, so there is no batching to do here: the server commits
// concurrent inserts together on its own. Postgres also implements Leaser,
// so that instances split the polling between them.
type Postgres struct {
	pool    *pgxpool.Pool
	renamed int64 // see RenamedDuplicates

	mu     sync.RWMutex // guards closed; held for reading only while registering a call
	closed bool
	calls  sync.WaitGroup // calls in flight; Close waits for them before closing the pool
}

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value DSN), checks the connection and migrates the schema.
func OpenPostgres(ctx context.Context, url string, opts PostgresOptions) (*Postgres, error) {
	if len(opts.Schema) > maxIdentifierLen || strings.ContainsRune(opts.Schema, 0) {
		return nil, fmt.Errorf("cannot open ledger: schema name %q is not a PostgreSQL identifier of at most %d bytes", opts.Schema, maxIdentifierLen)
	}
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
	// NewWithConfig connects in the background and reports nothing.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	renamed, err := migratePostgres(ctx, pool, opts.Schema)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	return &Postgres{pool: pool, renamed: renamed}, nil
}

// RenamedDuplicates is how many active orders sharing a (platform,
// upstream id) with an older one this open renamed while migrating (see
// sqliteDedupSQL); the caller logs it.
func (p *Postgres) RenamedDuplicates() int64 { return p.renamed }

// pgUniqueViolation is SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

// pgDuplicateUpstream reports whether err is a unique violation of the
// (platform, upstream id) index.
func pgDuplicateUpstream(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation && pe.ConstraintName == pgUpstreamIndex
}

// enter registers a call, or reports ErrClosed. Every successful enter is
// paired with p.calls.Done().
func (p *Postgres) enter() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	p.calls.Add(1)
	return nil
}

// Close waits for calls in flight and closes the pool. A second Close is a
// no-op.
func (p *Postgres) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	p.calls.Wait()
	p.pool.Close()
	return nil
}

// Create implements Store. The INSERT commits on its own (autocommit), so
// Create returns after the commit.
//
// ctx is honoured until a connection is acquired. The INSERT itself runs
// detached from ctx and bounded by createTimeout instead: a ctx that ended
// while the server was committing would leave the caller not knowing
// whether the order exists, and the gateway answers "error" and cancels
// upstream only when it does not. Only a lost connection or createTimeout
// can still leave that unknown.
func (p *Postgres) Create(ctx context.Context, o *Order) error {
	if o == nil {
		return errors.New("cannot create order: nil order")
	}
	if !o.State.Valid() {
		return fmt.Errorf("cannot create order: invalid state %q", o.State)
	}
	if err := p.enter(); err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	defer p.calls.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	defer conn.Release()
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	var id int64
	err = conn.QueryRow(ictx, pgInsertSQL,
		o.Tenant, o.Platform, o.UpstreamID, o.Phone, o.Country, o.Service, o.Operator,
		o.Price.Micros, o.Price.Currency, o.BasePrice.Micros, o.BasePrice.Currency,
		string(o.State), codes, o.CodesSeen,
		toMillis(o.CreatedAt), toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt),
		o.IdempotencyKey).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// ON CONFLICT DO NOTHING inserted nothing: the key is taken.
		return fmt.Errorf("cannot create order: %w", ErrConflict)
	}
	if pgDuplicateUpstream(err) {
		return fmt.Errorf("cannot create order: %w", duplicateUpstream(o.Platform, o.UpstreamID))
	}
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	o.ID = id
	return nil
}

// Update implements Store. It also releases the order's lease: an update
// is what a poll ends with.
func (p *Postgres) Update(ctx context.Context, o *Order) error {
	if o == nil {
		return errors.New("cannot update order: nil order")
	}
	if !o.State.Valid() {
		return fmt.Errorf("cannot update order %d: invalid state %q", o.ID, o.State)
	}
	if err := p.enter(); err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	defer p.calls.Done()
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	tag, err := p.pool.Exec(ctx, pgUpdateSQL,
		string(o.State), codes, o.CodesSeen,
		toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt),
		o.UpstreamID, o.Phone, o.ID)
	if pgDuplicateUpstream(err) {
		return fmt.Errorf("cannot update order %d: %w", o.ID, duplicateUpstream(o.Platform, o.UpstreamID))
	}
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot update order %d: %w", o.ID, ErrNotFound)
	}
	return nil
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, id int64) (Order, error) {
	if err := p.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	defer p.calls.Done()
	// scanOrder maps pgx.ErrNoRows to ErrNotFound: pgx's error wraps
	// sql.ErrNoRows.
	o, err := scanOrder(p.pool.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	return o, nil
}

// GetByIdempotencyKey implements Store. An empty key is "no key" and is
// never found.
func (p *Postgres) GetByIdempotencyKey(ctx context.Context, tenant, key string) (Order, error) {
	if key == "" {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", ErrNotFound)
	}
	if err := p.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	defer p.calls.Done()
	// The literal predicate lets the planner use the partial unique index
	// in a generic plan, where a bound parameter cannot imply it.
	o, err := scanOrder(p.pool.QueryRow(ctx, "SELECT "+orderColumns+
		" FROM orders WHERE tenant = $1 AND idempotency_key = $2 AND idempotency_key <> ''", tenant, key))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	return o, nil
}

// List implements Store. Newest first means highest id first. With several
// instances inserting at once, ids are handed out in INSERT order, which
// can differ from commit order by a few milliseconds.
func (p *Postgres) List(ctx context.Context, f Filter) ([]Order, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	defer p.calls.Done()
	var (
		q    strings.Builder
		args []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString("SELECT " + orderColumns + " FROM orders WHERE true")
	if f.Tenant != "" {
		q.WriteString(" AND tenant = " + arg(f.Tenant))
	}
	if f.ActiveOnly {
		q.WriteString(" AND state IN " + pgActiveStates)
	}
	if f.Platform != "" {
		q.WriteString(" AND platform = " + arg(f.Platform))
	}
	q.WriteString(" ORDER BY id DESC")
	if f.Limit > 0 {
		q.WriteString(" LIMIT " + arg(f.Limit))
	}
	orders, err := p.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	return orders, nil
}

// Due implements Store. It ignores leases: with several instances the
// poller uses Claim.
func (p *Postgres) Due(ctx context.Context, now time.Time, limit int) ([]Order, error) {
	if err := p.enter(); err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	defer p.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	orders, err := p.query(ctx, "SELECT "+orderColumns+" FROM orders"+
		" WHERE state IN "+pgActiveStates+" AND next_poll_at <= $1"+
		" ORDER BY next_poll_at, id LIMIT $2", toMillis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	return orders, nil
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
	orders, err := p.query(ctx, pgClaimSQL, owner, toMillis(now.Add(lease)), toMillis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot claim orders for %s: %w", owner, err)
	}
	return orders, nil
}

func (p *Postgres) query(ctx context.Context, q string, args ...any) ([]Order, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	// AppendRows closes rows, returning the connection to the pool.
	return pgx.AppendRows([]Order(nil), rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) })
}

// pgActiveStates is activeStates as an SQL list of literals. Literals,
// not parameters, so that the planner sees the states in generic plans
// too; the values are our own constants, without quotes.
var pgActiveStates = func() string {
	lits := make([]string, len(activeStates))
	for i, st := range activeStates {
		lits[i] = "'" + strings.ReplaceAll(string(st), "'", "''") + "'"
	}
	return "(" + strings.Join(lits, ", ") + ")"
}()

const pgInsertSQL = "INSERT INTO orders (tenant, platform, upstream_id, phone, country, service, operator, " +
	"price_micros, price_currency, base_price_micros, base_price_currency, " +
	"state, codes, codes_seen, created_at, updated_at, expires_at, next_poll_at, idempotency_key) " +
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) " +
	"ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key <> '' DO NOTHING " +
	"RETURNING id"

const pgUpdateSQL = "UPDATE orders SET state = $1, codes = $2, codes_seen = $3, " +
	"updated_at = $4, expires_at = $5, next_poll_at = $6, upstream_id = $7, phone = $8, " +
	"lease_owner = '', lease_until = 0 WHERE id = $9"

// pgClaimSQL: $1 owner, $2 lease end, $3 now, $4 limit (times in unix ms).
// RETURNING comes back in no particular order, hence the outer SELECT.
var pgClaimSQL = "WITH claimed AS (" +
	"UPDATE orders SET lease_owner = $1, lease_until = $2 WHERE id IN (" +
	"SELECT id FROM orders WHERE state IN " + pgActiveStates + " AND next_poll_at <= $3" +
	" AND (lease_owner = '' OR lease_until <= $3)" +
	" ORDER BY next_poll_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)" +
	" RETURNING " + orderColumns +
	") SELECT " + orderColumns + " FROM claimed ORDER BY next_poll_at, id"

var (
	_ Store  = (*Postgres)(nil)
	_ Leaser = (*Postgres)(nil)
)
