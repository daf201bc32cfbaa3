package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"smsgate/adapters"
)

// ErrClosed: the store has been closed.
var ErrClosed = errors.New("ledger closed")

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
// writer connection and a small pool of reader connections. Creates are
// group-committed by one writer goroutine (see groupcommit.go); Update goes
// to the writer connection directly; reads use the reader pool and never
// wait for the writer (WAL readers see the last commit).
type SQLite struct {
	w *sql.DB // exactly one connection: SQLite allows one writer at a time
	r *sql.DB // readers, query_only

	insert  *sql.Stmt // prepared on w, used by the writer goroutine
	renamed int64     // see RenamedDuplicates

	// Group commit, owned by groupcommit.go.
	queue      chan *createReq
	queued     atomic.Int64 // Create callers between entering the queue and the writer taking them
	stop       chan struct{}
	writerDone chan struct{}
	batches    atomic.Int64 // committed batches, for tests and benchmarks
	batchRows  atomic.Int64 // rows inserted by those batches

	mu     sync.RWMutex // guards closed; held for reading only while registering a call
	closed bool
	calls  sync.WaitGroup // calls in flight; Close waits for them before closing the DBs
}

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
	// when a deferred transaction later tries to write.
	wdsn := path + "?_pragma=busy_timeout(" + busyTimeoutMillis + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + syncMode + ")" +
		"&_txlock=immediate"
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	renamed, err := migrate(w)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open ledger %s: %w", path, err)
	}
	insert, err := w.Prepare(insertSQL)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open ledger: cannot prepare insert: %w", err)
	}

	rdsn := path + "?_pragma=busy_timeout(" + busyTimeoutMillis + ")&_pragma=query_only(1)"
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		insert.Close()
		w.Close()
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	r.SetMaxOpenConns(readerConns)
	r.SetMaxIdleConns(readerConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)

	s := &SQLite{
		w:          w,
		r:          r,
		insert:     insert,
		queue:      make(chan *createReq, 4*maxBatch),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		renamed:    renamed,
	}
	go s.writer()
	return s, nil
}

// RenamedDuplicates is how many active orders sharing a (platform,
// upstream id) with an older one this open renamed while migrating (see
// sqliteDedupSQL); the caller logs it.
func (s *SQLite) RenamedDuplicates() int64 { return s.renamed }

// enter registers a call, or reports ErrClosed. Every successful enter is
// paired with s.calls.Done().
func (s *SQLite) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.calls.Add(1)
	return nil
}

// Close waits for calls in flight, stops the writer goroutine (committing
// anything still queued), and closes both databases. Closing the last
// connection checkpoints the WAL into the main file. A second Close is a
// no-op.
func (s *SQLite) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.calls.Wait()
	close(s.stop)
	<-s.writerDone
	return errors.Join(s.insert.Close(), s.r.Close(), s.w.Close())
}

// Create implements Store. The row is handed to the writer goroutine and
// Create returns once the batch holding it has committed. ctx is honoured
// until the writer claims the row; after that the commit is a matter of
// microseconds to a few milliseconds and Create waits for it, so that its
// answer always says whether the row exists.
func (s *SQLite) Create(ctx context.Context, o *Order) error {
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
	req, err := newCreateReq(o)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	id, err := s.submit(ctx, req)
	if err != nil {
		return fmt.Errorf("cannot create order: %w", err)
	}
	o.ID = id
	return nil
}

// newCreateReq copies o's columns into a request, so that the writer never
// touches the caller's *Order.
func newCreateReq(o *Order) (*createReq, error) {
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return nil, err
	}
	return &createReq{
		platform: o.Platform, upstreamID: o.UpstreamID,
		args: []any{
			o.Tenant, o.Platform, o.UpstreamID, o.Phone, o.Country, o.Service, o.Operator,
			o.Price.Micros, o.Price.Currency, o.BasePrice.Micros, o.BasePrice.Currency,
			string(o.State), codes, o.CodesSeen,
			toMillis(o.CreatedAt), toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt),
			o.IdempotencyKey,
		},
		done: make(chan createResult, 1),
	}, nil
}

// Update implements Store.
func (s *SQLite) Update(ctx context.Context, o *Order) error {
	if o == nil {
		return errors.New("cannot update order: nil order")
	}
	if !o.State.Valid() {
		return fmt.Errorf("cannot update order %d: invalid state %q", o.ID, o.State)
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	defer s.calls.Done()
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	res, err := s.w.ExecContext(ctx, updateSQL,
		string(o.State), codes, o.CodesSeen,
		toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt),
		o.UpstreamID, o.Phone, o.ID)
	if isUniqueViolation(err) { // the only unique index an update can break
		return fmt.Errorf("cannot update order %d: %w", o.ID, duplicateUpstream(o.Platform, o.UpstreamID))
	}
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("cannot update order %d: %w", o.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("cannot update order %d: %w", o.ID, ErrNotFound)
	}
	return nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id int64) (Order, error) {
	if err := s.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	defer s.calls.Done()
	o, err := scanOrder(s.r.QueryRowContext(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = ?", id))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order %d: %w", id, err)
	}
	return o, nil
}

// GetByIdempotencyKey implements Store. An empty key is "no key" and is
// never found.
func (s *SQLite) GetByIdempotencyKey(ctx context.Context, tenant, key string) (Order, error) {
	if key == "" {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", ErrNotFound)
	}
	if err := s.enter(); err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	defer s.calls.Done()
	// The literal "idempotency_key != ''" lets the planner use the partial
	// unique index, whose WHERE clause a bound parameter cannot imply.
	o, err := scanOrder(s.r.QueryRowContext(ctx, "SELECT "+orderColumns+
		" FROM orders WHERE tenant = ? AND idempotency_key = ? AND idempotency_key != ''", tenant, key))
	if err != nil {
		return Order{}, fmt.Errorf("cannot get order by idempotency key: %w", err)
	}
	return o, nil
}

// List implements Store. Newest first means highest id first: ids are
// assigned in commit order and never reused.
func (s *SQLite) List(ctx context.Context, f Filter) ([]Order, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	defer s.calls.Done()
	var q strings.Builder
	var args []any
	q.WriteString("SELECT " + orderColumns + " FROM orders WHERE 1 = 1")
	if f.Tenant != "" {
		q.WriteString(" AND tenant = ?")
		args = append(args, f.Tenant)
	}
	if f.ActiveOnly {
		q.WriteString(" AND state IN " + activeStatesSQL)
		args = append(args, activeStateArgs...)
	}
	if f.Platform != "" {
		q.WriteString(" AND platform = ?")
		args = append(args, f.Platform)
	}
	q.WriteString(" ORDER BY id DESC")
	if f.Limit > 0 {
		q.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	orders, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list orders: %w", err)
	}
	return orders, nil
}

// Due implements Store.
func (s *SQLite) Due(ctx context.Context, now time.Time, limit int) ([]Order, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	defer s.calls.Done()
	if limit <= 0 {
		return nil, nil
	}
	args := append(append([]any(nil), activeStateArgs...), toMillis(now), limit)
	orders, err := s.query(ctx, "SELECT "+orderColumns+" FROM orders"+
		" WHERE state IN "+activeStatesSQL+" AND next_poll_at <= ?"+
		" ORDER BY next_poll_at, id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list due orders: %w", err)
	}
	return orders, nil
}

func (s *SQLite) query(ctx context.Context, q string, args ...any) ([]Order, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var orders []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		orders = append(orders, o)
	}
	return orders, rows.Err()
}

// activeStates are the states State.Active() accepts; a test keeps the two
// in step.
var activeStates = []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting}

var (
	activeStatesSQL = "(?" + strings.Repeat(", ?", len(activeStates)-1) + ")"
	activeStateArgs = func() []any {
		a := make([]any, len(activeStates))
		for i, st := range activeStates {
			a[i] = string(st)
		}
		return a
	}()
)

// orderColumns is the column list scanOrder reads, in its order.
const orderColumns = "id, tenant, platform, upstream_id, phone, country, service, operator, " +
	"price_micros, price_currency, base_price_micros, base_price_currency, " +
	"state, codes, codes_seen, created_at, updated_at, expires_at, next_poll_at, idempotency_key"

const insertSQL = "INSERT INTO orders (tenant, platform, upstream_id, phone, country, service, operator, " +
	"price_micros, price_currency, base_price_micros, base_price_currency, " +
	"state, codes, codes_seen, created_at, updated_at, expires_at, next_poll_at, idempotency_key) " +
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

const updateSQL = "UPDATE orders SET state = ?, codes = ?, codes_seen = ?, " +
	"updated_at = ?, expires_at = ?, next_poll_at = ?, upstream_id = ?, phone = ? WHERE id = ?"

type rowScanner interface{ Scan(dest ...any) error }

func scanOrder(r rowScanner) (Order, error) {
	var (
		o                                   Order
		state, codes                        string
		created, updated, expires, nextPoll int64
	)
	err := r.Scan(&o.ID, &o.Tenant, &o.Platform, &o.UpstreamID, &o.Phone, &o.Country, &o.Service, &o.Operator,
		&o.Price.Micros, &o.Price.Currency, &o.BasePrice.Micros, &o.BasePrice.Currency,
		&state, &codes, &o.CodesSeen, &created, &updated, &expires, &nextPoll, &o.IdempotencyKey)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, err
	}
	o.State = adapters.State(state)
	if o.Codes, err = decodeCodes(codes); err != nil {
		return Order{}, fmt.Errorf("order %d: %w", o.ID, err)
	}
	o.CreatedAt = fromMillis(created)
	o.UpdatedAt = fromMillis(updated)
	o.ExpiresAt = fromMillis(expires)
	o.NextPollAt = fromMillis(nextPoll)
	return o, nil
}

// isUniqueViolation reports whether err is SQLite's unique-constraint
// failure (the driver turns extended result codes on).
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isUpstreamViolation reports whether a unique violation of an insert is
// the (platform, upstream id) index's rather than the idempotency key's.
// SQLite reports no index name, only the columns: "UNIQUE constraint
// failed: orders.platform, orders.upstream_id".
func isUpstreamViolation(err error) bool {
	return isUniqueViolation(err) && strings.Contains(err.Error(), "orders.upstream_id")
}

// toMillis stores a time as unix milliseconds; the zero time is 0 so that
// it comes back as the zero time (an order at exactly the Unix epoch would
// too, which no order is).
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// storedCode is a Code as stored in the orders.codes JSON array. The names
// are spelled out so that statistics SQL (json_each, ->>) reads well.
type storedCode struct {
	Code       string `json:"code"`
	Text       string `json:"text,omitempty"`
	From       string `json:"from,omitempty"`
	ReceivedAt int64  `json:"received_at"` // unix milliseconds, 0 = unknown
}

func encodeCodes(codes []Code) (string, error) {
	if len(codes) == 0 {
		return "[]", nil
	}
	sc := make([]storedCode, len(codes))
	for i, c := range codes {
		sc[i] = storedCode{Code: c.Code, Text: c.Text, From: c.From, ReceivedAt: toMillis(c.ReceivedAt)}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("cannot encode codes: %w", err)
	}
	return string(b), nil
}

func decodeCodes(s string) ([]Code, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var sc []storedCode
	if err := json.Unmarshal([]byte(s), &sc); err != nil {
		return nil, fmt.Errorf("cannot decode codes: %w", err)
	}
	if len(sc) == 0 {
		return nil, nil
	}
	codes := make([]Code, len(sc))
	for i, c := range sc {
		codes[i] = Code{Code: c.Code, Text: c.Text, From: c.From, ReceivedAt: fromMillis(c.ReceivedAt)}
	}
	return codes, nil
}

var _ Store = (*SQLite)(nil)
