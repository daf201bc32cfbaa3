package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit for SQLite's hot writes. A commit costs about as much as
// 4–5 inserts (DESIGN §8: ~24k single-row commits/s against ~100k rows/s
// at 16 rows a commit), and SQLite has one writer connection that every
// write queues for anyway. So one writer goroutine runs the requests of
// concurrent callers (Create's rows, and Apply, OpenIntent, CloseIntent,
// Enqueue, SettleAction, AdjustWallet) in one transaction and releases
// each caller after the commit with its own result or its own error.
//
// A request is a function run against the batch's transaction. One
// request's refusal (ErrStale, ErrNotFound, ErrConflict,
// ErrDuplicateUpstream, ErrInsufficientFunds, …) must leave nothing of
// that request behind and must not touch the others:
//
//   - A request of one write statement, or Create's row (see
//     batchInsert), needs nothing more: SQLite's default ABORT conflict
//     resolution backs out a failing statement and keeps the transaction,
//     and a conditional UPDATE that matched nothing wrote nothing. Its
//     refusals are the errors ownFailure names; any other error fails the
//     batch.
//   - A request of several write statements runs inside its own
//     SAVEPOINT (isolate), rolled back to when the request fails, so it
//     may fail after some of its statements succeeded. Any error that is
//     not the storage failing (storageFailure) fails only it.
//
// A storage error (I/O, disk full, a lost connection) fails the whole
// batch, and every claimed caller gets it: SQLite may already have rolled
// the transaction back. The savepoint is kept off single-statement
// requests because it costs: measured before statements were prepared,
// SAVEPOINT/RELEASE around each insert took about a fifth of parallel
// Create throughput (89k → 72k rows/s).
//
// Every statement a request runs is prepared once on the writer
// connection (newGroupCommit) and bound to each batch's transaction when
// first used (batchTx), so nothing is parsed per call.
//
// Context: a caller's ctx is honoured while its request is queued, and
// also while the writer waits for the write lock; once the writer has
// claimed the request (after BEGIN), the caller waits for the outcome (a
// matter of microseconds to a few milliseconds), so that an error always
// means "nothing written" and nil means committed. The statements run
// under the batch's own context, never a caller's.

const (
	// maxBatch is the most requests one commit carries. A purchase makes
	// four writes one after another, so 32 concurrent purchases queue
	// about 19 at a time: at 16 a commit carried 15 of them
	// (BenchmarkPurchaseParallel; throughput within the shared box's noise).
	maxBatch = 32
	// batchWindow is the longest the writer holds a batch open waiting for
	// callers it knows are on their way. It never waits when none is.
	batchWindow = time.Millisecond
)

// Claim states of a writeReq. The caller may abandon a request only while
// it is queued; once the writer claims it, the caller waits for the result.
const (
	reqQueued int32 = iota
	reqClaimed
	reqAbandoned
)

// writeFunc is a request's work: the statements of one write, run on q
// (the batch's transaction for SQLite, the call's own for PostgreSQL)
// under ctx. It returns an id where the write assigns one (the order's,
// the intent's), else 0.
type writeFunc func(ctx context.Context, q querier) (int64, error)

// writeReq is one caller's write, queued for the writer goroutine.
type writeReq struct {
	run writeFunc
	// isolate runs the request inside its own savepoint: it has more
	// than one write statement, and a failure after the first must undo
	// them.
	isolate bool
	state   atomic.Int32
	done    chan writeResult // buffered 1; written once by the writer, after the commit
}

type writeResult struct {
	id  int64
	err error
}

func newWriteReq(isolate bool, run writeFunc) *writeReq {
	return &writeReq{run: run, isolate: isolate, done: make(chan writeResult, 1)}
}

// newCreateReq is Create's request for row: no savepoint (batchInsert
// undoes its own row).
func newCreateReq(s *store, row *orderRow) *writeReq {
	return newWriteReq(false, func(ctx context.Context, q querier) (int64, error) {
		return s.batchInsert(ctx, q, row)
	})
}

// Savepoint statements around an isolated request. Requests never nest,
// so one name serves them all.
const (
	savepointSQL  = "SAVEPOINT request"
	releaseSQL    = "RELEASE request"
	rollbackToSQL = "ROLLBACK TO request"
)

// groupCommit is SQLite's committer: the writer goroutine and its queue.
type groupCommit struct {
	s *store
	// prepared holds every statement the requests run, prepared on s.w,
	// by their text; only the writer goroutine uses them after open.
	prepared map[string]*sql.Stmt
	bound    map[string]*sql.Stmt // prepared, bound to the current batch's transaction (writer goroutine only)

	queue      chan *writeReq
	queued     atomic.Int64 // callers between entering the queue and the writer taking them
	stop       chan struct{}
	writerDone chan struct{}
	batches    atomic.Int64 // committed batches with a successful request, for tests and benchmarks
	batchReqs  atomic.Int64 // successful requests in those batches
	unprepared atomic.Int64 // statements a request ran that batchQueries lacks (parsed per call), for tests
	floorID    atomic.Int64 // the made-up ids of a ledger_floor build

	// beginning, when set (tests only, before the first write), is called
	// by the writer just before each batch's BEGIN.
	beginning func()
}

// batchQueries are the statements the writer prepares: every write of a
// batched request, the reads they make on the way, and the savepoints.
func batchQueries(q statements) []string {
	m, e := q.money, q.events
	return []string{
		q.insert, m.buyIntent, m.deleteOrder, e.last, e.setSeq, e.insert, m.insertAction,
		m.apply, m.applyMove, m.orderExists, m.capture, m.release, m.insertJournal,
		m.reserve, m.walletCurrency, m.insertIntent, m.closeIntent, m.settleAction,
		m.ensureWallet, m.adjustWallet,
		savepointSQL, releaseSQL, rollbackToSQL,
	}
}

// newGroupCommit prepares the batch statements on s.w and starts the
// writer.
func newGroupCommit(s *store) (*groupCommit, error) {
	queries := batchQueries(s.sql)
	prepared := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		if _, ok := prepared[q]; ok {
			continue
		}
		stmt, err := s.w.Prepare(q)
		if err != nil {
			closeAll(prepared)
			return nil, fmt.Errorf("cannot prepare %q: %w", q, err)
		}
		prepared[q] = stmt
	}
	g := &groupCommit{
		s:          s,
		prepared:   prepared,
		bound:      make(map[string]*sql.Stmt, len(prepared)),
		queue:      make(chan *writeReq, 4*maxBatch),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go g.writer()
	return g, nil
}

func closeAll(stmts map[string]*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// close stops the writer, which commits anything still queued first. The
// store calls it once no write is in flight.
func (g *groupCommit) close() error {
	close(g.stop)
	<-g.writerDone
	return closeAll(g.prepared)
}

// insert queues Create's row and waits for its commit (see the package
// comment on ctx).
func (g *groupCommit) insert(ctx context.Context, row *orderRow) (int64, error) {
	return g.submit(ctx, newCreateReq(g.s, row))
}

// write queues run and waits for its commit (see the package comment on
// ctx and isolate).
func (g *groupCommit) write(ctx context.Context, isolate bool, run writeFunc) (int64, error) {
	return g.submit(ctx, newWriteReq(isolate, run))
}

// exec is write without a savepoint: f makes one write statement.
func (g *groupCommit) exec(ctx context.Context, f writeFunc) (int64, error) {
	return g.write(ctx, false, f)
}

// submit queues req and waits for its commit. A ctx already done is
// refused before queueing, so that it is never claimed.
func (g *groupCommit) submit(ctx context.Context, req *writeReq) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ledgerFloor { // a measurement build only (floor_on.go); constant false otherwise
		return g.floorID.Add(1), nil
	}
	g.queued.Add(1)
	select {
	case g.queue <- req:
	case <-ctx.Done():
		g.queued.Add(-1)
		return 0, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.id, res.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return 0, ctx.Err()
		}
		res := <-req.done
		return res.id, res.err
	}
}

// writer is the only goroutine that runs batched writes. It runs until
// Close, which first waits for every write in flight, then drains the
// queue.
func (g *groupCommit) writer() {
	defer close(g.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	timer := time.NewTimer(batchWindow)
	timer.Stop()
	for {
		var req *writeReq
		select {
		case req = <-g.queue:
		case <-g.stop:
			select {
			case req = <-g.queue:
			default:
				return
			}
		}
		g.queued.Add(-1)
		batch = g.collect(append(batch[:0], req), timer)
		g.commitBatch(batch)
		clear(batch)
	}
}

// collect fills batch with requests already queued and, while callers are
// known to be about to queue (g.queued > 0), waits for them up to
// batchWindow. A lone caller is committed at once.
//
// It first yields the processor once. The callers the previous commit just
// released are runnable right here and often come straight back with the
// next write; letting them queue before the drain fills batches (16
// callers on 2 CPUs: 5.8 → 13 rows a commit, 70k → 86k rows/s). When
// nothing else is runnable, Gosched returns at once, so a lone caller pays
// nothing for it.
func (g *groupCommit) collect(batch []*writeReq, timer *time.Timer) []*writeReq {
	runtime.Gosched()
	waiting := false
	defer func() {
		if waiting {
			timer.Stop()
		}
	}()
	for len(batch) < maxBatch {
		select {
		case req := <-g.queue:
			g.queued.Add(-1)
			batch = append(batch, req)
			continue
		default:
		}
		if g.queued.Load() <= 0 {
			return batch
		}
		if !waiting {
			timer.Reset(batchWindow)
			waiting = true
		}
		select {
		case req := <-g.queue:
			g.queued.Add(-1)
			batch = append(batch, req)
		case <-timer.C:
			waiting = false
			return batch
		}
	}
	return batch
}

// commitBatch runs the claimable requests of batch in one transaction and
// answers each after the commit: its own result, or, when the storage
// failed, the batch's error.
func (g *groupCommit) commitBatch(batch []*writeReq) {
	ctx := context.Background() // shared by many callers; each one's ctx is honoured in submit
	results := make([]writeResult, len(batch))
	claimed := make([]bool, len(batch))
	failAll := func(err error) {
		for i, req := range batch {
			if claimed[i] || req.state.CompareAndSwap(reqQueued, reqClaimed) {
				req.done <- writeResult{err: err}
			}
		}
	}

	if g.beginning != nil {
		g.beginning()
	}
	tx, err := g.s.w.BeginTx(ctx, nil)
	if err != nil {
		failAll(fmt.Errorf("cannot begin: %w", err))
		return
	}
	b := g.begin(tx)
	ok := 0
	for i, req := range batch {
		// Claim only now, after BEGIN has the write lock: a caller whose
		// ctx ends while the writer waits for the lock can still leave.
		if !req.state.CompareAndSwap(reqQueued, reqClaimed) {
			continue
		}
		claimed[i] = true
		res, err := b.run(ctx, req)
		if err != nil {
			tx.Rollback()
			failAll(fmt.Errorf("cannot write: %w", err))
			return
		}
		if res.err == nil {
			ok++
		}
		results[i] = res
	}
	if err := b.saveSeqs(ctx, g.s.sql.events.setSeq); err != nil {
		tx.Rollback()
		failAll(err)
		return
	}
	if err := tx.Commit(); err != nil {
		// Nothing of this batch is durable; a refusal seen inside it may
		// have been against a row that now does not exist.
		failAll(fmt.Errorf("cannot commit: %w", err))
		return
	}
	if ok > 0 {
		g.batches.Add(1)
		g.batchReqs.Add(int64(ok))
	}
	for i, req := range batch {
		if claimed[i] {
			req.done <- results[i]
		}
	}
}

// begin is the batch transaction tx with g's prepared statements.
func (g *groupCommit) begin(tx *sql.Tx) *batchTx {
	clear(g.bound) // the previous transaction's, closed with it
	return &batchTx{tx: tx, prepared: g.prepared, bound: g.bound, unprepared: &g.unprepared, seqs: map[string]int64{}}
}

// batchTx is a querier over one batch's transaction: a statement
// prepared on the writer connection is bound to tx when first used
// (tx.StmtContext reuses the connection's prepared statement), any other
// runs on tx as it is.
type batchTx struct {
	tx         *sql.Tx
	prepared   map[string]*sql.Stmt
	bound      map[string]*sql.Stmt
	unprepared *atomic.Int64

	// seqs are the event seqs this batch gave out: each tenant's last,
	// written to event_seqs once, just before the commit (saveSeqs).
	// The writer holds SQLite's write lock for the whole batch, so the
	// row read at a tenant's first event is current, and no other writer
	// can take a seq until the batch has committed or rolled back.
	seqs map[string]int64
	// undo lists what nextSeq changed, so that a request that fails gives
	// its seqs back (the sequence stays gapless).
	undo []seqUndo
}

// seqUndo is a tenant's entry in batchTx.seqs before a nextSeq.
type seqUndo struct {
	tenant string
	last   int64
	had    bool
}

// nextSeq is tenant's next event seq in this batch; last reads the
// tenant's stored seq.
func (b *batchTx) nextSeq(ctx context.Context, last, tenant string) (int64, error) {
	cur, had := b.seqs[tenant]
	if !had {
		err := b.QueryRowContext(ctx, last, tenant).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	b.undo = append(b.undo, seqUndo{tenant: tenant, last: cur, had: had})
	b.seqs[tenant] = cur + 1
	return cur + 1, nil
}

// unwind gives back the seqs taken since mark (len(undo) then).
func (b *batchTx) unwind(mark int) {
	for i := len(b.undo) - 1; i >= mark; i-- {
		u := b.undo[i]
		if u.had {
			b.seqs[u.tenant] = u.last
		} else {
			delete(b.seqs, u.tenant)
		}
	}
	b.undo = b.undo[:mark]
}

// saveSeqs writes each tenant's last seq of the batch.
func (b *batchTx) saveSeqs(ctx context.Context, set string) error {
	for tenant, seq := range b.seqs {
		if _, err := b.ExecContext(ctx, set, tenant, seq); err != nil {
			return fmt.Errorf("cannot save the event seq of tenant %s: %w", tenant, err)
		}
	}
	return nil
}

// stmt is q's prepared statement in the transaction, or nil.
func (b *batchTx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := b.bound[q]; ok {
		return st
	}
	p, ok := b.prepared[q]
	if !ok {
		b.unprepared.Add(1)
		return nil
	}
	st := b.tx.StmtContext(ctx, p)
	b.bound[q] = st
	return st
}

func (b *batchTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := b.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return b.tx.ExecContext(ctx, q, args...)
}

func (b *batchTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := b.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return b.tx.QueryRowContext(ctx, q, args...)
}

// run runs req in the batch. The result is the request's own outcome; an
// error is the storage failing, which fails the batch.
func (b *batchTx) run(ctx context.Context, req *writeReq) (writeResult, error) {
	mark := len(b.undo)
	if !req.isolate {
		id, err := req.run(ctx, b)
		if err != nil && !ownFailure(err) {
			return writeResult{}, err
		}
		if err != nil {
			b.unwind(mark)
		}
		return writeResult{id: id, err: err}, nil
	}
	if _, err := b.ExecContext(ctx, savepointSQL); err != nil {
		return writeResult{}, err
	}
	id, err := req.run(ctx, b)
	if err != nil {
		if storageFailure(err) {
			return writeResult{}, err
		}
		if _, err := b.ExecContext(ctx, rollbackToSQL); err != nil {
			return writeResult{}, err
		}
		b.unwind(mark)
		id = 0
	}
	if _, err := b.ExecContext(ctx, releaseSQL); err != nil {
		return writeResult{}, err
	}
	return writeResult{id: id, err: err}, nil
}

// ownFailure reports whether err, from a request without a savepoint, is
// that request's own refusal: one of the outcomes that such a request
// returns only when it has written nothing.
func ownFailure(err error) bool {
	for _, own := range []error{ErrConflict, ErrDuplicateUpstream, ErrStale, ErrNotFound, ErrInsufficientFunds} {
		if errors.Is(err, own) {
			return true
		}
	}
	return false
}

// storageFailure reports whether err, from an isolated request, is the
// storage failing rather than the request being refused. SQLite reports
// a constraint violation with the failing statement undone and the
// transaction kept; after any other error of its own (I/O, disk full,
// out of memory, interrupted) it may have rolled the transaction back.
func storageFailure(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT
	}
	return errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)
}

// batchInsert inserts row, closes its intent when it has one, and writes
// its EventBought (and webhook) last: an intent no longer open deletes
// the row just inserted again (inside the transaction, so it never
// existed) and fails only this row with ErrStale, before the row has
// taken a seq. ErrConflict and ErrDuplicateUpstream also fail only this
// row (the insert statement was undone). Nothing else can refuse the row,
// so it needs no savepoint: every value of the event's statements is
// bound and well typed, the seq upsert cannot conflict, and the (tenant,
// seq) key is new because the one writer just took that seq. An error
// there is the storage failing, and fails the batch (which also gives
// the seqs back).
func (s *store) batchInsert(ctx context.Context, q querier, row *orderRow) (int64, error) {
	res, err := q.ExecContext(ctx, s.sql.insert, row.args...)
	if err != nil {
		return 0, s.insertError(err, row)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if row.intentID != 0 {
		res, err = q.ExecContext(ctx, s.sql.money.buyIntent, row.closeIntentArgs(id)...)
		switch err := affectedOne(res, err); {
		case errors.Is(err, ErrNotFound):
			if _, err := q.ExecContext(ctx, s.sql.money.deleteOrder, id); err != nil {
				return 0, err
			}
			return 0, staleIntent(row.intentID, ErrNotFound)
		case err != nil:
			return 0, err
		}
	}
	return id, s.writeBought(ctx, q, row, id)
}
