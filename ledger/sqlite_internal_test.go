package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
)

// BatchStats reports how many group commits s made and how many
// successful writes (rows, for Creates) they carried. Test-only: the
// external tests and benchmarks use it.
func BatchStats(s *SQLite) (batches, writes int64) {
	g := s.ins.(*groupCommit)
	return g.batches.Load(), g.batchReqs.Load()
}

// queuedReq is o's Create request, as Create would queue it.
func queuedReq(t *testing.T, s *SQLite, o *Order) *writeReq {
	t.Helper()
	row, err := newOrderRow(o)
	if err != nil {
		t.Fatal(err)
	}
	return newCreateReq(s.store, row)
}

// activeStates is a copy of State.Active's rule in SQL form; keep them in step.
func TestActiveStatesMatchStateActive(t *testing.T) {
	all := []adapters.State{
		adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting,
		adapters.StateFinished, adapters.StateCancelled, adapters.StateExpired, adapters.StateBanned,
	}
	for _, st := range all {
		if !st.Valid() {
			t.Fatalf("%q is not Valid; update this list", st)
		}
		if got, want := slices.Contains(activeStates, st), st.Active(); got != want {
			t.Errorf("state %q: in activeStates = %v; State.Active() = %v", st, got, want)
		}
	}
}

// Rows in one batch that collide on (tenant, idempotency key), with each
// other or with a committed row, fail alone; the rest of the batch commits.
// commitBatch is called directly so that the rows share one transaction.
func TestCommitBatchConflictFailsOnlyThatRow(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	committed := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting, IdempotencyKey: "old"}
	if err := s.Create(ctx, &committed); err != nil {
		t.Fatal(err)
	}

	keys := []struct{ tenant, key string }{
		{"t1", "a"},
		{"t1", "a"},   // same batch, same key: conflict
		{"t2", "a"},   // another tenant: fine
		{"t1", "old"}, // committed earlier: conflict
		{"t1", ""},
		{"t1", ""}, // empty keys never conflict
		{"t1", "b"},
	}
	wantConflict := []bool{false, true, false, true, false, false, false}
	batch := make([]*writeReq, len(keys))
	for i, k := range keys {
		batch[i] = queuedReq(t, s, &Order{Tenant: k.tenant, Platform: "alpha", Phone: string(rune('0' + i)), State: adapters.StateWaiting, IdempotencyKey: k.key})
	}
	before, _ := BatchStats(s)
	s.ins.(*groupCommit).commitBatch(batch)
	if after, _ := BatchStats(s); after != before+1 {
		t.Fatalf("commitBatch made %d commits; want 1", after-before)
	}

	last := committed.ID
	for i, req := range batch {
		res := <-req.done
		if wantConflict[i] {
			if !errors.Is(res.err, ErrConflict) {
				t.Errorf("row %d %+v: got id %d, err %v; want ErrConflict", i, keys[i], res.id, res.err)
			}
			continue
		}
		if res.err != nil {
			t.Errorf("row %d %+v: %v", i, keys[i], res.err)
			continue
		}
		if res.id <= last {
			t.Errorf("row %d: id %d after %d; want increasing", i, res.id, last)
		}
		last = res.id
		o, err := s.Get(ctx, res.id)
		if err != nil {
			t.Errorf("row %d: Get(%d): %v", i, res.id, err)
			continue
		}
		if o.Tenant != keys[i].tenant || o.IdempotencyKey != keys[i].key || o.Phone != string(rune('0'+i)) {
			t.Errorf("row %d: stored %+v; want tenant %q key %q phone %q", i, o, keys[i].tenant, keys[i].key, string(rune('0'+i)))
		}
	}
}

// A caller that gives up while its request is still queued leaves no row.
func TestCommitBatchSkipsAbandoned(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batch []*writeReq
	for range 3 {
		batch = append(batch, queuedReq(t, s, &Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting}))
	}
	batch[1].state.Store(reqAbandoned)
	s.ins.(*groupCommit).commitBatch(batch)
	for i, req := range batch {
		select {
		case res := <-req.done:
			if i == 1 {
				t.Errorf("abandoned row answered %+v", res)
			} else if res.err != nil {
				t.Errorf("row %d: %v", i, res.err)
			}
		default:
			if i != 1 {
				t.Errorf("row %d: no answer", i)
			}
		}
	}
	if _, rows := BatchStats(s); rows != 2 {
		t.Errorf("inserted %d rows; want 2", rows)
	}
}

// While the writer waits for the write lock (here: a test holds the only
// writer connection), a caller can still give up, and its row is then
// never written.
func TestCreateCanceledWhileWriterBlocked(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.w.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	beginning := make(chan struct{}, 1)
	s.ins.(*groupCommit).beginning = func() {
		select {
		case beginning <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		o := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting}
		errc <- s.Create(ctx, &o)
	}()
	// The writer has taken the request and goes on to BEGIN, which waits
	// for the connection the test holds.
	<-beginning
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Create: %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Create did not return after its context was canceled")
	}
	conn.Close() // the writer now begins, finds the request abandoned, skips it

	o := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting}
	if err := s.Create(context.Background(), &o); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != o.ID {
		t.Errorf("orders: %+v; want only %d", all, o.ID)
	}
}

// The unique index's state list is written out in migration 5; it must be
// activeStates, in both dialects.
func TestUniqueIndexStatesMatchActiveStates(t *testing.T) {
	var lits []string
	for _, st := range activeStates {
		lits = append(lits, "'"+string(st)+"'")
	}
	want := "state IN (" + strings.Join(lits, ", ") + ")"
	for name, q := range map[string]string{
		"sqlite index": migrations(sqliteDialect{})[dedupStep], "postgres index": migrations(postgresDialect{})[dedupStep],
		"dedup": dedupSQL,
	} {
		if !strings.Contains(q, want) {
			t.Errorf("%s does not hold %s:\n%s", name, want, q)
		}
	}
}

// Creates closing intents share a batch with plain creates: each closes
// its own intent, a second close of one intent (in the same batch, or of
// one closed before) fails only its own row with ErrStale and leaves no
// order, and the rest of the batch commits.
func TestCommitBatchStaleIntentFailsOnlyThatRow(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	intents := make([]int64, 3)
	for i := range intents {
		in := Intent{Tenant: "t1", Platform: "alpha"}
		if err := s.OpenIntent(ctx, &in); err != nil {
			t.Fatal(err)
		}
		intents[i] = in.ID
	}
	if err := s.CloseIntent(ctx, intents[2], IntentAborted, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		intent int64
		stale  bool
	}{
		{0, false},
		{intents[0], false},
		{intents[0], true}, // closed by the row before, in this batch
		{0, false},
		{intents[1], false},
		{intents[2], true}, // aborted before
		{intents[2] + 100, true},
		{0, false},
	}
	batch := make([]*writeReq, len(rows))
	for i, r := range rows {
		batch[i] = queuedReq(t, s, &Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting, IntentID: r.intent})
	}
	before, _ := BatchStats(s)
	s.ins.(*groupCommit).commitBatch(batch)
	if after, _ := BatchStats(s); after != before+1 {
		t.Fatalf("commitBatch made %d commits; want 1", after-before)
	}
	var stored []int64
	for i, req := range batch {
		res := <-req.done
		switch {
		case rows[i].stale && !errors.Is(res.err, ErrStale):
			t.Errorf("row %d (intent %d): id %d, err %v; want ErrStale", i, rows[i].intent, res.id, res.err)
		case !rows[i].stale && res.err != nil:
			t.Errorf("row %d (intent %d): %v", i, rows[i].intent, res.err)
		case !rows[i].stale:
			stored = append(stored, res.id)
			if rows[i].intent == 0 {
				continue
			}
			if in, err := s.Intent(ctx, rows[i].intent); err != nil || in.State != IntentBought || in.OrderID != res.id {
				t.Errorf("row %d: intent after the batch %+v, %v; want bought by order %d", i, in, err, res.id)
			}
		}
	}
	all, err := s.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(stored) {
		t.Errorf("%d orders stored; want %d (ids %v)", len(all), len(stored), stored)
	}
}

// One batch of creates for two tenants, with failing rows among them
// (a key conflict, a stale intent): each committed row has its
// EventBought, each tenant's seqs run 1, 2, … in the batch's row order,
// and a failed row leaves no event, no webhook and no seq taken.
func TestCommitBatchEventsFollowRows(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	aborted := Intent{Tenant: "t1", Platform: "alpha"}
	if err := s.OpenIntent(ctx, &aborted); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseIntent(ctx, aborted.ID, IntentAborted, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		tenant, key string
		intent      int64
		webhook     bool
		fails       bool
	}{
		{"t1", "a", 0, true, false},
		{"t2", "", 0, false, false},
		{"t1", "a", 0, true, true}, // key conflict
		{"t1", "", aborted.ID, true, true},
		{"t2", "", 0, true, false},
		{"t1", "", 0, false, false},
	}
	batch := make([]*writeReq, len(rows))
	for i, r := range rows {
		batch[i] = queuedReq(t, s, &Order{Tenant: r.tenant, Platform: "alpha", State: adapters.StateWaiting,
			IdempotencyKey: r.key, IntentID: r.intent, Webhook: r.webhook, CreatedAt: time.UnixMilli(int64(1000 + i))})
	}
	s.ins.(*groupCommit).commitBatch(batch)
	next := map[string]int64{}
	for i, req := range batch {
		res := <-req.done
		if rows[i].fails != (res.err != nil) {
			t.Fatalf("row %d: %v; want failure %v", i, res.err, rows[i].fails)
		}
		if res.err != nil {
			continue
		}
		next[rows[i].tenant]++
		seq := next[rows[i].tenant]
		e, err := s.Event(ctx, rows[i].tenant, seq)
		if err != nil || e.OrderID != res.id || e.Kind != EventBought || !e.At.Equal(time.UnixMilli(int64(1000+i))) {
			t.Errorf("row %d: event %d of %s = %+v, %v; want order %d bought", i, seq, rows[i].tenant, e, err, res.id)
		}
		as, err := s.Actions(ctx, res.id)
		if err != nil {
			t.Fatal(err)
		}
		if rows[i].webhook != (len(as) == 1) || len(as) == 1 && (as[0].Kind != ActWebhook || as[0].Payload != strconv.FormatInt(seq, 10)) {
			t.Errorf("row %d (webhook %v): actions %+v", i, rows[i].webhook, as)
		}
	}
	for tenant, n := range next {
		if last, err := s.LastEvent(ctx, tenant); err != nil || last != n {
			t.Errorf("LastEvent(%s) = %d, %v; want %d", tenant, last, err, n)
		}
	}
	if hooks, err := s.ActionsOf(ctx, "t1", ActWebhook, 0, 10); err != nil || len(hooks) != 1 {
		t.Errorf("t1's webhooks: %+v, %v; want only the first row's", hooks, err)
	}
}

// errCaptured is what captureWrites answers every write with.
var errCaptured = errors.New("captured, not committed")

// captureWrites is a committer that commits nothing: it keeps each
// write's request, as the store built it, for a test to commit in one
// batch with commitBatch.
type captureWrites struct {
	s    *store
	reqs []*writeReq
}

func (c *captureWrites) insert(_ context.Context, row *orderRow) (int64, error) {
	c.reqs = append(c.reqs, newCreateReq(c.s, row))
	return 0, errCaptured
}

func (c *captureWrites) write(_ context.Context, isolate bool, f writeFunc) (int64, error) {
	c.reqs = append(c.reqs, newWriteReq(isolate, f))
	return 0, errCaptured
}

func (c *captureWrites) exec(ctx context.Context, f writeFunc) (int64, error) {
	return c.write(ctx, false, f)
}

func (c *captureWrites) close() error { return nil }

// batchOf runs calls, each one write of s, and returns their requests
// instead of committing them.
func batchOf(t *testing.T, s *SQLite, calls ...func() error) []*writeReq {
	t.Helper()
	g := s.ins
	c := &captureWrites{s: s.store}
	s.ins = c
	defer func() { s.ins = g }()
	for i, call := range calls {
		if err := call(); !errors.Is(err, errCaptured) {
			t.Fatalf("call %d: %v; want it captured", i, err)
		}
		if len(c.reqs) != i+1 {
			t.Fatalf("call %d made %d writes; want 1", i, len(c.reqs)-i)
		}
	}
	return c.reqs
}

// One batch mixes creates, applies, intents, outbox and wallet writes,
// and requests that are refused, some after they have written (the
// orphan close, whose action fails last): each refused request fails
// alone with its own error and leaves nothing behind (no wallet
// movement, journal row, event, seq or action), and every other request
// of the batch commits, in one commit.
func TestCommitBatchMixedFailsOnlyThatRequest(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	at := time.UnixMilli(1_000_000)
	rub := func(m int64) adapters.Money { return adapters.Money{Micros: m, Currency: "RUB"} }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	intent := func(tenant string, hold int64) Intent {
		t.Helper()
		in := Intent{Tenant: tenant, Platform: "alpha", Hold: hold, Currency: "RUB", CreatedAt: at}
		must(s.OpenIntent(ctx, &in))
		return in
	}
	order := func(tenant string, in Intent) Order {
		t.Helper()
		o := Order{Tenant: tenant, Platform: "alpha", State: adapters.StateWaiting, CreatedAt: at, UpdatedAt: at,
			UpstreamID: "up-" + strconv.Itoa(int(in.ID)) + tenant}
		if in.ID != 0 {
			o.IntentID, o.Wallet, o.TenantPrice = in.ID, WalletReserved, rub(in.Hold)
		}
		must(s.Create(ctx, &o))
		return o
	}

	_, err = s.AdjustWallet(ctx, "t1", "RUB", EntryTopup, 100_000_000, "", at)
	must(err)
	a := order("t1", intent("t1", 15_000_000)) // t1 seq 1
	b := order("t2", Intent{})                 // t2 seq 1
	b.UpdatedAt = at.Add(time.Second)
	must(s.Update(ctx, &b))
	staleB := b
	staleB.Version--
	i1 := intent("t1", 10_000_000)
	i2 := intent("t1", 0)
	// t1: balance 100, reserved 25.

	c1 := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting, CreatedAt: at}
	newIntent := Intent{Tenant: "t1", Platform: "alpha", Hold: 20_000_000, Currency: "RUB", CreatedAt: at}
	tooMuch := Intent{Tenant: "t1", Platform: "alpha", Hold: 1 << 50, Currency: "RUB", CreatedAt: at}
	d := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting, IntentID: i2.ID, CreatedAt: at}
	aDone, bDone := a, b
	aDone.State, aDone.UpdatedAt = adapters.StateCodeReceived, at.Add(time.Minute)
	bDone.State, bDone.UpdatedAt = adapters.StateFinished, at.Add(time.Minute)
	finished := Change{Events: []EventNote{{Kind: EventFinished}}, Webhook: true}
	cases := []struct {
		name  string
		write func() error
		want  error // nil: committed; errAny: refused with an error of its own
	}{
		{"create", func() error { return s.Create(ctx, &c1) }, nil},
		{"open intent", func() error { return s.OpenIntent(ctx, &newIntent) }, nil},
		{"apply capture", func() error {
			return s.Apply(ctx, &aDone, Change{Move: MoveCapture, Actions: []Action{{Kind: ActFinish}},
				Events: []EventNote{{Kind: EventCode, Code: "42"}}, Webhook: true})
		}, nil},
		{"apply stale", func() error { return s.Apply(ctx, &staleB, finished) }, ErrStale},
		{"open intent beyond funds", func() error { return s.OpenIntent(ctx, &tooMuch) }, ErrInsufficientFunds},
		{"orphan close failing last", func() error {
			return s.CloseIntent(ctx, i1.ID, IntentOrphan, &Action{Kind: "bogus", UpstreamID: "up-x"}, at)
		}, errAny},
		{"close", func() error { return s.CloseIntent(ctx, i2.ID, IntentAborted, nil, at) }, nil},
		{"close again", func() error { return s.CloseIntent(ctx, i2.ID, IntentAborted, nil, at) }, ErrNotFound},
		{"enqueue", func() error {
			return s.Enqueue(ctx, Action{Tenant: "t3", Kind: ActCancel, UpstreamID: "u1"}, Action{Tenant: "t3", Kind: ActCancel, UpstreamID: "u2"})
		}, nil},
		{"create closing a closed intent", func() error { return s.Create(ctx, &d) }, ErrStale},
		{"apply", func() error { return s.Apply(ctx, &bDone, finished) }, nil},
		{"settle unleased", func() error { return s.SettleAction(ctx, "nobody", Action{ID: 999, State: ActionDone}) }, ErrNotFound},
		{"adjust beyond funds", func() error {
			_, err := s.AdjustWallet(ctx, "t1", "RUB", EntryAdjust, -1<<50, "", at)
			return err
		}, ErrInsufficientFunds},
		{"top up in another currency", func() error {
			_, err := s.AdjustWallet(ctx, "t1", "USD", EntryTopup, 1, "", at)
			return err
		}, errAny},
	}
	calls := make([]func() error, len(cases))
	for i, c := range cases {
		calls[i] = c.write
	}
	batch := batchOf(t, s, calls...)
	before, _ := BatchStats(s)
	s.ins.(*groupCommit).commitBatch(batch)
	if after, _ := BatchStats(s); after != before+1 {
		t.Fatalf("commitBatch made %d commits; want 1", after-before)
	}
	ids := make([]int64, len(batch))
	for i, req := range batch {
		res := <-req.done
		ids[i] = res.id
		switch want := cases[i].want; {
		case want == nil && res.err != nil:
			t.Errorf("%s: %v", cases[i].name, res.err)
		case want == errAny && (res.err == nil || ownFailure(res.err)):
			t.Errorf("%s: %v; want an error of its own", cases[i].name, res.err)
		case want != nil && want != errAny && !errors.Is(res.err, want):
			t.Errorf("%s: %v; want %v", cases[i].name, res.err, want)
		}
	}

	// Money: the new hold (+20) and the capture (−15 from both), nothing
	// of the refused ones; i1 still holds its 10.
	w, err := s.Wallet(ctx, "t1")
	must(err)
	if w.Balance != 85_000_000 || w.Reserved != 30_000_000 {
		t.Errorf("t1's wallet: balance %d, reserved %d; want 85000000, 30000000", w.Balance, w.Reserved)
	}
	es, err := s.Journal(ctx, "t1", 0, 100)
	must(err)
	var kinds []EntryKind
	for _, e := range es {
		kinds = append(kinds, e.Kind)
	}
	if want := []EntryKind{EntryCapture, EntryReserve, EntryReserve, EntryReserve, EntryTopup}; !slices.Equal(kinds, want) {
		t.Errorf("t1's journal, newest first: %v; want %v", kinds, want)
	}
	if in, err := s.Intent(ctx, i1.ID); err != nil || in.State != IntentOpen || in.UpstreamID != "" {
		t.Errorf("intent of the failed orphan close: %+v, %v; want still open", in, err)
	}
	if in, err := s.Intent(ctx, i2.ID); err != nil || in.State != IntentAborted {
		t.Errorf("closed intent: %+v, %v; want aborted", in, err)
	}
	if in, err := s.Intent(ctx, ids[1]); err != nil || in.Hold != 20_000_000 || in.State != IntentOpen {
		t.Errorf("opened intent %d: %+v, %v", ids[1], in, err)
	}

	// Events: consecutive per tenant, none from the refused requests.
	for tenant, want := range map[string][]struct {
		order int64
		kind  EventKind
	}{
		"t1": {{a.ID, EventBought}, {ids[0], EventBought}, {a.ID, EventCode}},
		"t2": {{b.ID, EventBought}, {b.ID, EventFinished}},
	} {
		got, err := s.EventsAfter(ctx, tenant, 0, 100)
		must(err)
		if len(got) != len(want) {
			t.Errorf("%s's events: %+v; want %d", tenant, got, len(want))
			continue
		}
		for i, e := range got {
			if e.Seq != int64(i+1) || e.OrderID != want[i].order || e.Kind != want[i].kind {
				t.Errorf("%s's event %d: %+v; want seq %d of order %d, %s", tenant, i, e, i+1, want[i].order, want[i].kind)
			}
		}
		if last, err := s.LastEvent(ctx, tenant); err != nil || last != int64(len(want)) {
			t.Errorf("LastEvent(%s) = %d, %v; want %d", tenant, last, err, len(want))
		}
	}

	// Actions: A's finish and webhook, B's webhook, the two enqueued
	// cancels; no orphan cancel, no webhook of the stale apply.
	for order, want := range map[int64][]ActionKind{
		a.ID: {ActFinish, ActWebhook}, b.ID: {ActWebhook}, 0: {ActCancel, ActCancel},
	} {
		as, err := s.Actions(ctx, order)
		must(err)
		var got []ActionKind
		for _, x := range as {
			got = append(got, x.Kind)
		}
		if !slices.Equal(got, want) {
			t.Errorf("actions of order %d: %v; want %v", order, got, want)
		}
	}
	all, err := s.List(ctx, Filter{})
	must(err)
	if got := len(all); got != 3 {
		t.Errorf("%d orders; want A, B and the batch's one", got)
	}
	if o, err := s.Get(ctx, b.ID); err != nil || o.State != adapters.StateFinished || o.Version != 2 {
		t.Errorf("B after the batch: %+v, %v; want finished at version 2", o, err)
	}
	// Every statement of every kind of request (the batch above runs
	// them all, the savepoint's included) was prepared once at open.
	if n := s.ins.(*groupCommit).unprepared.Load(); n != 0 {
		t.Errorf("%d statements were parsed in a batch; want every one prepared (batchQueries)", n)
	}
}

// errAny stands for "an error of the request's own" in a table of wants.
var errAny = errors.New("any error")

// A storage error in one request fails the whole batch: every claimed
// caller gets it, and nothing of the batch is committed, the requests
// before it included. With a savepoint or without.
func TestCommitBatchStorageErrorFailsAll(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			s, err := OpenSQLite(filepath.Join(t.TempDir(), "x.db"), SQLiteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			created := Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting}
			enqueued := Action{Tenant: "t1", Kind: ActCancel, UpstreamID: "u"}
			batch := batchOf(t, s,
				func() error { return s.Create(ctx, &created) },
				func() error { return s.Enqueue(ctx, enqueued) })
			broken := fmt.Errorf("disk on fire: %w", sql.ErrConnDone)
			batch = append(batch, newWriteReq(isolate, func(context.Context, querier) (int64, error) { return 0, broken }))
			s.ins.(*groupCommit).commitBatch(batch)
			for i, req := range batch {
				if res := <-req.done; !errors.Is(res.err, sql.ErrConnDone) {
					t.Errorf("request %d: %+v; want the storage error", i, res)
				}
			}
			all, err := s.List(ctx, Filter{})
			if err != nil || len(all) != 0 {
				t.Errorf("orders after a failed batch: %+v, %v; want none", all, err)
			}
			if as, err := s.Actions(ctx, 0); err != nil || len(as) != 0 {
				t.Errorf("actions after a failed batch: %+v, %v; want none", as, err)
			}
			if last, err := s.LastEvent(ctx, "t1"); err != nil || last != 0 {
				t.Errorf("LastEvent after a failed batch: %d, %v; want 0", last, err)
			}
		})
	}
}
