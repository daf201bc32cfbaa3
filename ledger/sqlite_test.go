package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
	"smsgate/ledger/ledgertest"
)

func openSQLite(t testing.TB, path string, opts ledger.SQLiteOptions) *ledger.SQLite {
	t.Helper()
	s, err := ledger.OpenSQLite(path, opts)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLiteContract(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	})
}

func TestSQLiteListPoll(t *testing.T) {
	ledgertest.RunListPoll(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	})
}

func TestSQLiteMoney(t *testing.T) {
	ledgertest.RunMoney(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	})
}

func TestSQLiteEvents(t *testing.T) {
	ledgertest.RunEvents(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	})
}

func TestSQLitePool(t *testing.T) {
	ledgertest.RunPool(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	})
}

func TestSQLiteContractSynchronousFull(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{Synchronous: "FULL"})
	})
}

func TestOpenSQLiteOptions(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path, sync string
		ok         bool
	}{
		{filepath.Join(dir, "a.db"), "", true},
		{filepath.Join(dir, "b.db"), "NORMAL", true},
		{filepath.Join(dir, "c.db"), "full", true},
		{filepath.Join(dir, "new", "sub", "d.db"), "", true}, // parent directories are created
		{filepath.Join(dir, "e.db"), "OFF", false},           // not durable enough
		{filepath.Join(dir, "f.db"), "FULL); DROP TABLE orders; --", false},
		{filepath.Join(dir, "g.db?_pragma=query_only(1)"), "", false},
		{"file:" + filepath.Join(dir, "h.db"), "", false},
		{":memory:", "", false}, // readers and writer would see different databases
		{"", "", false},
	} {
		s, err := ledger.OpenSQLite(c.path, ledger.SQLiteOptions{Synchronous: c.sync})
		if (err == nil) != c.ok {
			t.Errorf("OpenSQLite(%q, %q): err %v; want ok %v", c.path, c.sync, err, c.ok)
		}
		if s != nil {
			s.Close()
		}
	}
}

// A newer schema than this build knows is refused rather than written to.
func TestOpenSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := ledger.OpenSQLite(path, ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := ledger.OpenSQLite(path, ledger.SQLiteOptions{}); err == nil {
		s.Close()
		t.Fatal("OpenSQLite of a schema from the future: got nil error")
	}
}

// Every acknowledged order survives Close and reopen, with its id.
func TestSQLiteDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "x.db")
	s, err := ledger.OpenSQLite(path, ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ledgertest.DurableAcrossReopen(t, s, func() ledger.Store { return openSQLite(t, path, ledger.SQLiteOptions{}) })
}

// Ids keep increasing across reopen, even when the newest row was deleted
// (AUTOINCREMENT; a plain rowid would hand out the deleted id again).
func TestSQLiteIDsIncreaseAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	s, err := ledger.OpenSQLite(path, ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for range 3 {
		o := ledgertest.NewOrder("t1")
		if err := s.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
		last = o.ID
	}
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM orders WHERE id = ?", last); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openSQLite(t, path, ledger.SQLiteOptions{})
	o := ledgertest.NewOrder("t1")
	if err := s.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if o.ID <= last {
		t.Errorf("id after reopen: %d; want > %d", o.ID, last)
	}
}

// Concurrent creates racing for one (tenant, key) while others create
// freely: exactly one wins the key and nobody else is failed by the losers,
// whichever batches they land in.
func TestSQLiteConcurrentConflictFailsOnlyThatRow(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	ctx := context.Background()
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := ledgertest.NewOrder("t1")
			if i%2 == 0 {
				o.IdempotencyKey = "same"
			} else {
				o.IdempotencyKey = fmt.Sprintf("k%d", i)
			}
			errs[i] = s.Create(ctx, &o)
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case i%2 == 1 && err != nil:
			t.Errorf("Create #%d with its own key: %v", i, err)
		case i%2 == 0 && err == nil:
			winners++
		case i%2 == 0 && !errors.Is(err, ledger.ErrConflict):
			t.Errorf("Create #%d with the shared key: %v; want ErrConflict", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d creates won the shared key; want 1", winners)
	}
	batches, rows := ledger.BatchStats(s)
	t.Logf("%d rows in %d commits", rows, batches)
}

// A caller whose context ends while it waits for the writer gets its
// context's error, and the store keeps working.
func TestSQLiteCreateDeadlineWhileQueued(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "x.db"), ledger.SQLiteOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			o := ledgertest.NewOrder("t1")
			err := s.Create(ctx, &o)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Create: %v; want nil or DeadlineExceeded", err)
			}
			if err == nil {
				if _, err := s.Get(context.Background(), o.ID); err != nil {
					t.Errorf("Create succeeded but Get(%d): %v", o.ID, err)
				}
			}
		})
	}
	wg.Wait()
	o := ledgertest.NewOrder("t1")
	if err := s.Create(context.Background(), &o); err != nil {
		t.Fatalf("Create after deadlines: %v", err)
	}
}

// Close while creates are running: nothing acknowledged is lost, nothing hangs.
func TestSQLiteCloseDuringCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := ledger.OpenSQLite(path, ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ledgertest.CloseDuringCreates(t, s, 50, func() ledger.Store { return openSQLite(t, path, ledger.SQLiteOptions{}) })
}

func BenchmarkCreateSerial(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			s := openSQLite(b, filepath.Join(b.TempDir(), "x.db"), ledger.SQLiteOptions{Synchronous: mode})
			ctx := context.Background()
			o := ledgertest.NewOrder("t1")
			b.ResetTimer()
			for b.Loop() {
				o.ID = 0
				o.UpstreamID = "" // one active order per upstream id
				if err := s.Create(ctx, &o); err != nil {
					b.Fatal(err)
				}
			}
			reportBatches(b, s)
		})
	}
}

// BenchmarkCreateParallel runs 8 callers per CPU, as many purchases wait on
// the ledger at once in the gateway, so that the group commit can fill
// batches even on a machine with few CPUs.
func BenchmarkCreateParallel(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			s := openSQLite(b, filepath.Join(b.TempDir(), "x.db"), ledger.SQLiteOptions{Synchronous: mode})
			ctx := context.Background()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				o := ledgertest.NewOrder("t1")
				for pb.Next() {
					o.ID = 0
					o.UpstreamID = "" // one active order per upstream id
					if err := s.Create(ctx, &o); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportBatches(b, s)
		})
	}
}

// BenchmarkPurchaseParallel is the ledger's share of a wallet tenant's
// purchase, as the gateway makes it: OpenIntent holding the price, Create
// closing the intent, one poll's Apply that changes nothing but the next
// poll time, and the Apply that delivers the code (capture, EventCode,
// webhook). 16 callers per CPU, as in BenchmarkCreateParallel, spread
// over a few tenants. purchases/s counts all four writes as one.
func BenchmarkPurchaseParallel(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), "x.db"), ledger.SQLiteOptions{})
	ctx := context.Background()
	const tenants = 8
	for i := range tenants {
		if _, err := s.AdjustWallet(ctx, fmt.Sprintf("t%d", i), "RUB", ledger.EntryTopup, 1<<60, "bench", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tenant := fmt.Sprintf("t%d", next.Add(1)%tenants)
		for pb.Next() {
			if err := purchase(ctx, s, tenant); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "purchases/s")
	if batches, writes := ledger.BatchStats(s); batches > 0 {
		b.ReportMetric(float64(writes)/float64(batches), "writes/commit")
	}
}

// purchase makes BenchmarkPurchaseParallel's four writes for tenant.
func purchase(ctx context.Context, s *ledger.SQLite, tenant string) error {
	o := ledgertest.NewOrder(tenant)
	in := ledger.Intent{Tenant: tenant, Platform: o.Platform, Country: o.Country, Service: o.Service,
		Hold: o.TenantPrice.Micros, Currency: o.TenantPrice.Currency}
	if err := s.OpenIntent(ctx, &in); err != nil {
		return err
	}
	o.IntentID, o.Wallet, o.Webhook = in.ID, ledger.WalletReserved, true
	if err := s.Create(ctx, &o); err != nil {
		return err
	}
	o.NextPollAt = o.NextPollAt.Add(5 * time.Second)
	if err := s.Apply(ctx, &o, ledger.Change{}); err != nil {
		return err
	}
	o.State = adapters.StateCodeReceived
	o.Codes = []ledger.Code{{Code: "12345", Text: "code 12345", ReceivedAt: o.NextPollAt}}
	return s.Apply(ctx, &o, ledger.Change{Move: ledger.MoveCapture,
		Events: []ledger.EventNote{{Kind: ledger.EventCode, Code: "12345", Text: "code 12345"}}, Webhook: o.Webhook})
}

func reportBatches(b *testing.B, s *ledger.SQLite) {
	b.StopTimer()
	batches, rows := ledger.BatchStats(s)
	if batches > 0 {
		b.ReportMetric(float64(rows)/float64(batches), "rows/commit")
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// A ledger from before the (platform, upstream id) index opens with its
// duplicate active orders renamed.
func TestSQLiteDedupMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	exec := func(t *testing.T, q string) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ledgertest.RunDedupMigration(t, func(t *testing.T) ledger.Store {
		return openSQLite(t, path, ledger.SQLiteOptions{})
	}, func(t *testing.T) {
		exec(t, "DROP INDEX orders_active_platform_upstream_id")
	}, func(t *testing.T) {
		exec(t, undoListPollSQL+undoDueIndexSQL+undoEventsSQL+undoMoneySQL+"; PRAGMA user_version = 4")
	})
}

// TestCheckpointerCopiesTheWAL: the writer runs no checkpoint of its own
// (wal_autocheckpoint(0)); the checkpointer's connection copies committed
// pages into the database file while the ledger stays open, and what it
// copied is what was committed.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s := openSQLite(t, path, ledger.SQLiteOptions{})
	ctx := context.Background()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	const n = 3000 // far past the 1,000 pages at which the writer would checkpoint
	for i := 0; i < n; i++ {
		o := ledgertest.NewOrder(fmt.Sprintf("t%d", i%4))
		if err := s.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after %d orders: no checkpoint ran", before, n)
		}
		time.Sleep(10 * time.Millisecond) // the checkpointer's own ticker: nothing to signal on
	}
	s.Close()
	r := openSQLite(t, path, ledger.SQLiteOptions{})
	defer r.Close()
	list, err := r.List(ctx, ledger.Filter{Limit: n + 1})
	if err != nil || len(list) != n {
		t.Fatalf("after reopening: %d orders, %v; want %d", len(list), err, n)
	}
}
