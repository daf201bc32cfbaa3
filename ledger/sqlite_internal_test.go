package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
)

// BatchStats reports how many group commits s made and how many rows they
// carried. Test-only: the external tests and benchmarks use it.
func BatchStats(s *SQLite) (batches, rows int64) {
	g := s.ins.(*groupCommit)
	return g.batches.Load(), g.batchRows.Load()
}

// queuedReq is o's createReq, as Create would queue it.
func queuedReq(t *testing.T, o *Order) *createReq {
	t.Helper()
	row, err := newOrderRow(o)
	if err != nil {
		t.Fatal(err)
	}
	return newCreateReq(row)
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
	batch := make([]*createReq, len(keys))
	for i, k := range keys {
		batch[i] = queuedReq(t, &Order{Tenant: k.tenant, Platform: "alpha", Phone: string(rune('0' + i)), State: adapters.StateWaiting, IdempotencyKey: k.key})
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
	var batch []*createReq
	for range 3 {
		batch = append(batch, queuedReq(t, &Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting}))
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
	batch := make([]*createReq, len(rows))
	for i, r := range rows {
		batch[i] = queuedReq(t, &Order{Tenant: "t1", Platform: "alpha", State: adapters.StateWaiting, IntentID: r.intent})
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
	batch := make([]*createReq, len(rows))
	for i, r := range rows {
		batch[i] = queuedReq(t, &Order{Tenant: r.tenant, Platform: "alpha", State: adapters.StateWaiting,
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
