package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"smsgate/adapters"
)

// ErrClosed: the store has been closed.
var ErrClosed = errors.New("ledger closed")

// store is the one Store (and PoolStore) over database/sql. SQLite and
// Postgres are it, opened with their dialect and connections.
type store struct {
	d   dialect
	sql statements
	w   *sql.DB // writes
	r   *sql.DB // reads; the same as w where readers need no pool of their own
	ins committer
	// onClose releases what the dialect opened besides w and r; may be nil.
	onClose func() error
	renamed int64 // see RenamedDuplicates

	mu     sync.RWMutex // guards closed; held for reading only while registering a call
	closed bool
	calls  sync.WaitGroup // calls in flight; Close waits for them before closing the DBs
}

// committer commits the store's hot writes: Create's order rows and the
// money writes (Apply, intents, the outbox, wallets). An error means
// nothing of the write exists.
type committer interface {
	// insert commits one order row and returns its id, or ErrConflict or
	// an ErrDuplicateUpstream error when a unique index refuses it.
	insert(ctx context.Context, row *orderRow) (int64, error)
	// write runs f in a write transaction and commits it, returning f's
	// id. isolate says f makes more than one write: its failure must undo
	// those already made (a transaction of its own does; a shared one
	// needs a savepoint).
	write(ctx context.Context, isolate bool, f writeFunc) (int64, error)
	// exec runs f, one write statement that needs no transaction around
	// it: PostgreSQL runs it on the pool as it is, SQLite as a request
	// of the group commit without a savepoint.
	exec(ctx context.Context, f writeFunc) (int64, error)
	// close releases the committer; every insert and write call has
	// returned.
	close() error
}

// querier is what a write runs its statements on: a *sql.Tx, or SQLite's
// batch transaction with its prepared statements (batchTx).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// newStore returns the store over w and r, whose schema is migrated
// already. It commits each write in its own short transaction
// (directCommit) until the dialect's opener sets another committer.
func newStore(d dialect, w, r *sql.DB, renamed int64) *store {
	s := &store{d: d, sql: newStatements(d), w: w, r: r, renamed: renamed}
	s.ins = directCommit{s}
	return s
}

// RenamedDuplicates is how many active orders sharing a (platform,
// upstream id) with an older one this open renamed while migrating (see
// dedupSQL); the caller logs it.
func (s *store) RenamedDuplicates() int64 { return s.renamed }

// enter registers a call, or reports ErrClosed. Every successful enter is
// paired with s.calls.Done().
func (s *store) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.calls.Add(1)
	return nil
}

// Close waits for calls in flight, closes the committer (for SQLite:
// stops the writer goroutine, committing anything still queued) and the
// databases. A second Close is a no-op.
func (s *store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.calls.Wait()
	errs := []error{s.ins.close()}
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if s.onClose != nil {
		errs = append(errs, s.onClose())
	}
	return errors.Join(errs...)
}

// Create implements Store. It returns after the commit; see the committer
// (groupCommit for SQLite, directCommit otherwise) for how long ctx is
// honoured.
func (s *store) Create(ctx context.Context, o *Order) error {
	if o == nil {
		return errors.New("cannot create order: nil order")
	}
	if !o.State.Valid() {
		return fmt.Errorf("cannot create order: invalid state %q", o.State)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	defer s.calls.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	row, err := newOrderRow(o)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	id, err := s.ins.insert(ctx, row)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	o.ID = id
	return nil
}

// insertError maps a unique violation of row's insert to the ledger's
// error for it; any other err is returned as it is.
func (s *store) insertError(err error, row *orderRow) error {
	switch s.d.unique(err) {
	case upstreamViolation:
		return duplicateUpstream(row.platform, row.upstreamID)
	case otherViolation:
		return ErrConflict
	}
	return err
}

// createTimeout bounds an INSERT once it has been sent (see directCommit).
const createTimeout = 15 * time.Second

// directCommit commits each write in its own short transaction (for
// Create: the order, its intent, its EventBought): a server such as
// PostgreSQL commits concurrent transactions together on its own, so
// there is no batching to do here.
//
// For insert, ctx is honoured until a connection is acquired. The INSERT
// itself runs detached from ctx and bounded by createTimeout instead: a
// ctx that ended while the server was committing would leave the caller
// not knowing whether the order exists, and the gateway answers "error"
// and cancels upstream only when it does not. Only a lost connection or
// createTimeout can still leave that unknown. write and exec run under
// ctx throughout.
type directCommit struct{ s *store }

func (d directCommit) insert(ctx context.Context, row *orderRow) (int64, error) {
	conn, err := d.s.w.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	return d.insertTx(ictx, conn, row)
}

// insertTx inserts row, closes its intent (if any) and writes its
// EventBought (and webhook) in one transaction on conn: BEGIN, three to
// five statements, COMMIT. An intent no longer open rolls the insert back
// (ErrStale).
func (d directCommit) insertTx(ctx context.Context, conn *sql.Conn, row *orderRow) (int64, error) {
	tx, err := conn.BeginTx(ctx, d.s.d.txOptions())
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, d.s.sql.insertReturningID, row.args...).Scan(&id); err != nil {
		return 0, d.s.insertError(err, row)
	}
	if row.intentID != 0 {
		res, err := tx.ExecContext(ctx, d.s.sql.money.buyIntent, row.closeIntentArgs(id)...)
		if err := affectedOne(res, err); err != nil {
			return 0, staleIntent(row.intentID, err)
		}
	}
	if err := d.s.writeBought(ctx, tx, row, id); err != nil {
		return 0, err
	}
	return id, tx.Commit()
}

// staleIntent is Create's error when closing intent id changed no row
// (err is ErrNotFound: the intent is not open, or does not exist).
func staleIntent(id int64, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("intent %d is no longer open: %w", id, ErrStale)
	}
	return err
}

// write runs f in its own transaction under ctx (s.inTx); isolate is
// what a transaction of its own gives anyway.
func (d directCommit) write(ctx context.Context, _ bool, f writeFunc) (int64, error) {
	var id int64
	err := d.s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = f(ctx, tx)
		return err
	})
	return id, err
}

func (d directCommit) exec(ctx context.Context, f writeFunc) (int64, error) {
	return f(ctx, d.s.w)
}

func (directCommit) close() error { return nil }

// affectedOne turns an Exec's answer into nil when it changed a row, or
// ErrNotFound when it changed none.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Get implements Store.
func (s *store) Get(ctx context.Context, id int64) (Order, error) {
	if err := s.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	defer s.calls.Done()
	o, err := scanOrder(s.r.QueryRowContext(ctx, s.sql.get, id))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	return o, nil
}

// GetByIdempotencyKey implements Store. An empty key is "no key" and is
// never found.
func (s *store) GetByIdempotencyKey(ctx context.Context, tenant, key string) (Order, error) {
	if key == "" {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", ErrNotFound)
	}
	if err := s.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	defer s.calls.Done()
	o, err := scanOrder(s.r.QueryRowContext(ctx, s.sql.getByKey, tenant, key))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	return o, nil
}

// List implements Store. Newest first means highest id first: ids are
// assigned in insert order and never reused. (With several instances
// inserting at once, insert order can differ from commit order by a few
// milliseconds.)
func (s *store) List(ctx context.Context, f Filter) ([]Order, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	defer s.calls.Done()
	a := args{d: s.d}
	q := "SELECT " + orderColumns + " FROM orders WHERE 1 = 1"
	if f.Tenant != "" {
		q += " AND tenant = " + a.bind(f.Tenant)
	}
	if f.ActiveOnly {
		q += " AND state IN " + activeStatesSQL
	}
	if f.Platform != "" {
		q += " AND platform = " + a.bind(f.Platform)
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + a.bind(f.Limit)
	}
	orders, err := s.query(ctx, s.r, q, a.vals...)
	if err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	return orders, nil
}

// Due implements Store. It ignores Claim's leases, where there are any.
func (s *store) Due(ctx context.Context, now time.Time, limit int) ([]Order, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	orders, err := s.query(ctx, s.r, s.sql.due, toMillis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	return orders, nil
}

// query reads orderColumns rows from db.
func (s *store) query(ctx context.Context, db *sql.DB, q string, args ...any) ([]Order, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return readAll(rows, scanOrder)
}

// readAll reads every row with scan and closes rows.
func readAll[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// activeStates are the states State.Active() accepts; a test keeps the two
// in step.
var activeStates = []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting}

var (
	_ Store     = (*store)(nil)
	_ PoolStore = (*store)(nil)
)
