package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"smsgate/adapters"
	"smsgate/ledger"
	"smsgate/ledger/ledgertest"
)

const postgresEnv = "SMSGATE_TEST_POSTGRES"

// postgresURL returns the test database's URL, or skips.
func postgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(postgresEnv)
	if url == "" {
		t.Skip(postgresEnv + " not set: export " + postgresEnv +
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL ledger tests")
	}
	return url
}

// testSchema names a schema of the test's own, so that tests and packages
// running at once never share tables, and drops it when the test ends. The
// schema itself is created by OpenPostgres. Cleanups run last-in first-out,
// so stores opened after this call are closed before the drop.
func testSchema(t testing.TB, url string) string {
	t.Helper()
	schema := schemaName()
	t.Cleanup(func() { dropSchema(t, url, schema) })
	return schema
}

func schemaName() string {
	return fmt.Sprintf("ledger_test_%d_%016x", os.Getpid(), rand.Uint64())
}

// connect opens one plain connection for test setup, accepting the pool
// settings (pool_max_conns, …) that the URL may carry for OpenPostgres.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

func dropSchema(t testing.TB, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, url)
	if err != nil {
		t.Errorf("cannot drop schema %q: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("cannot drop schema %q: %v", schema, err)
	}
}

func openPostgres(t testing.TB, url, schema string) *ledger.Postgres {
	t.Helper()
	s, err := ledger.OpenPostgres(context.Background(), url, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newPostgres(t *testing.T) ledger.Store {
	url := postgresURL(t)
	return openPostgres(t, url, testSchema(t, url))
}

func TestPostgresContract(t *testing.T) {
	postgresURL(t)
	ledgertest.Run(t, newPostgres)
}

func TestPostgresLeaser(t *testing.T) {
	postgresURL(t)
	ledgertest.RunLeaser(t, newPostgres)
}

func TestPostgresListPoll(t *testing.T) {
	postgresURL(t)
	ledgertest.RunListPoll(t, newPostgres)
}

func TestPostgresMoney(t *testing.T) {
	postgresURL(t)
	ledgertest.RunMoney(t, newPostgres)
}

// Two instances on one database: the money invariants hold across them
// (holds never overdraw, each order's money moves once, each due action
// is leased by one owner at a time).
func TestPostgresMoneyAcrossInstances(t *testing.T) {
	url := postgresURL(t)
	for name, run := range map[string]func(t *testing.T, a, b ledger.Store){
		"Reservations": ledgertest.ConcurrentReservations,
		"Apply":        ledgertest.ConcurrentApply,
		"ActionLeases": ledgertest.ConcurrentActionLeases,
	} {
		t.Run(name, func(t *testing.T) {
			schema := testSchema(t, url)
			run(t, openPostgres(t, url, schema), openPostgres(t, url, schema))
		})
	}
}

func TestPostgresEvents(t *testing.T) {
	postgresURL(t)
	ledgertest.RunEvents(t, newPostgres)
}

// Two instances on one database write one tenant's events while a reader
// follows them: every seq is seen once, in order, never past a gap.
func TestPostgresEventsAcrossInstances(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	ledgertest.ConcurrentEvents(t, openPostgres(t, url, schema), openPostgres(t, url, schema))
}

func TestPostgresPool(t *testing.T) {
	postgresURL(t)
	ledgertest.RunPool(t, newPostgres)
}

// Two instances leasing from one pool at once never hand out one phone
// twice: first all at once over few phones, then leasing and ending in a
// loop while a shared map checks that no phone is held twice at a time.
func TestPostgresPoolAcrossInstances(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	stores := []*ledger.Postgres{openPostgres(t, url, schema), openPostgres(t, url, schema)}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	req := func(platform string, i int, phones []string) ledger.LeaseRequest {
		r := ledgertest.LeaseReq(fmt.Sprintf("s%d", i%3), now, phones...)
		r.Platform = platform
		return r
	}

	t.Run("Burst", func(t *testing.T) { testPoolBurst(t, stores, req) })
	t.Run("Churn", func(t *testing.T) { testPoolChurn(t, stores, req, now) })
}

// testPoolBurst: 32 callers at once over 5 phones lease each phone once.
func testPoolBurst(t *testing.T, stores []*ledger.Postgres, req func(platform string, i int, phones []string) ledger.LeaseRequest) {
	ctx := context.Background()
	phones := []string{"p1", "p2", "p3", "p4", "p5"}
	var (
		mu      sync.Mutex
		holders = make(map[string]int)
		wg      sync.WaitGroup
	)
	for i := range 32 {
		wg.Go(func() {
			l, err := stores[i%2].Lease(ctx, req("burst", i, phones))
			if errors.Is(err, ledger.ErrNoFreeNumber) {
				return
			}
			if err != nil {
				t.Errorf("caller %d: Lease: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := holders[l.Phone]; dup {
				t.Errorf("callers %d and %d both leased %s", prev, i, l.Phone)
			}
			holders[l.Phone] = i
		})
	}
	wg.Wait()
	if len(holders) != len(phones) {
		t.Errorf("%d phones leased (%v); want %d", len(holders), holders, len(phones))
	}
}

// testPoolChurn: 8 workers lease and end leases over 4 phones in a loop
// while a shared map checks that no phone is held twice at a time.
func testPoolChurn(t *testing.T, stores []*ledger.Postgres, req func(platform string, i int, phones []string) ledger.LeaseRequest, now time.Time) {
	ctx := context.Background()
	phones := []string{"p1", "p2", "p3", "p4"}
	var (
		mu     sync.Mutex
		held   = make(map[string]bool)
		leases int
		wg     sync.WaitGroup
	)
	for w := range 8 {
		s := stores[w%2]
		wg.Go(func() {
			for i := range 40 {
				l, err := s.Lease(ctx, req("churn", w+i, phones))
				if errors.Is(err, ledger.ErrNoFreeNumber) {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: Lease: %v", w, err)
					return
				}
				mu.Lock()
				if held[l.Phone] {
					t.Errorf("worker %d leased %s while another holds it", w, l.Phone)
				}
				held[l.Phone] = true
				leases++
				mu.Unlock()
				// Held for a round trip, which also sees it active.
				if got, err := s.GetLease(ctx, "churn", l.ID); err != nil || !got.Active() {
					t.Errorf("worker %d: GetLease of its lease: %+v, %v; want active", w, got, err)
				}
				// Released in the map before the store: whoever leases
				// it next does so after EndLease commits.
				mu.Lock()
				held[l.Phone] = false
				mu.Unlock()
				if _, err := s.EndLease(ctx, "churn", l.ID, adapters.StateCancelled, now, time.Time{}); err != nil {
					t.Errorf("worker %d: EndLease: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if leases == 0 {
		t.Error("no lease in the churn")
	}
	t.Logf("%d leases", leases)
	for i, s := range stores {
		if active, err := s.Leases(ctx, "churn", now); err != nil || len(active) != 0 {
			t.Errorf("store %d: Leases after the churn: %d, %v; want none", i, len(active), err)
		}
	}
}

// Instances starting together against an empty schema race to migrate
// it: the advisory lock lets one create it, the rest find it done, and all
// of them then share one id sequence.
func TestPostgresConcurrentOpen(t *testing.T) {
	url := postgresURL(t)
	t.Run("SchemaMissing", func(t *testing.T) { testConcurrentOpen(t, url, testSchema(t, url)) })
	t.Run("SchemaEmpty", func(t *testing.T) {
		// As when an operator created the schema beforehand: the race is
		// on the tables, not on the schema.
		schema := testSchema(t, url)
		ctx := context.Background()
		conn, err := connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		testConcurrentOpen(t, url, schema)
	})
}

func testConcurrentOpen(t *testing.T, url, schema string) {
	ctx := context.Background()
	const instances = 4
	stores := make([]*ledger.Postgres, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			stores[i], errs[i] = ledger.OpenPostgres(ctx, url, ledger.PostgresOptions{Schema: schema})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Creates through every instance at once get distinct ids, and each
	// instance sees the others' orders.
	const perStore = 25
	var (
		mu     sync.Mutex
		orders []ledger.Order
	)
	for i, s := range stores {
		wg.Go(func() {
			for j := range perStore {
				o := ledgertest.NewOrder(fmt.Sprintf("t%d", i))
				o.IdempotencyKey = fmt.Sprintf("k%d", j)
				if err := s.Create(ctx, &o); err != nil {
					t.Errorf("store %d: Create: %v", i, err)
					return
				}
				mu.Lock()
				orders = append(orders, o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seen := make(map[int64]bool)
	for _, o := range orders {
		if seen[o.ID] {
			t.Errorf("id %d handed out twice", o.ID)
		}
		seen[o.ID] = true
	}
	for i, s := range stores {
		all, err := s.List(ctx, ledger.Filter{})
		if err != nil {
			t.Fatalf("store %d: List: %v", i, err)
		}
		if len(all) != instances*perStore {
			t.Errorf("store %d sees %d orders; want %d", i, len(all), instances*perStore)
		}
	}
	// The idempotency key is unique across instances too.
	dup := ledgertest.NewOrder("t0")
	dup.IdempotencyKey = "k0"
	if err := stores[1].Create(ctx, &dup); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("Create with a key used through another instance: got %v; want ErrConflict", err)
	}
}

// A Create whose context ends early either succeeds or reports the
// context's error, and then the order does not exist: the caller (which
// cancels the number upstream on error) can trust the answer.
func TestPostgresCreateDeadline(t *testing.T) {
	s := newPostgres(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := make(map[string]int)
	for i := range 64 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%16)*time.Millisecond)
			defer cancel()
			o := ledgertest.NewOrder("t1")
			o.IdempotencyKey = fmt.Sprintf("k%d", i)
			err := s.Create(ctx, &o)
			_, gerr := s.GetByIdempotencyKey(context.Background(), "t1", o.IdempotencyKey)
			switch {
			case err == nil && gerr != nil:
				t.Errorf("Create #%d succeeded but the order is missing: %v", i, gerr)
			case err != nil && !errors.Is(err, context.DeadlineExceeded):
				t.Errorf("Create #%d: %v; want nil or DeadlineExceeded", i, err)
			case err != nil && !errors.Is(gerr, ledger.ErrNotFound):
				t.Errorf("Create #%d failed (%v) but the order exists (%v)", i, err, gerr)
			}
			mu.Lock()
			outcomes[fmt.Sprint(err == nil)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("succeeded/failed: %d/%d", outcomes["true"], outcomes["false"])
}

// Close while creates are running: nothing acknowledged is lost, nothing hangs.
func TestPostgresCloseDuringCreates(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	s, err := ledger.OpenPostgres(context.Background(), url, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ledgertest.CloseDuringCreates(t, s, 50, func() ledger.Store { return openPostgres(t, url, schema) })
}

// Two instances polling one schema: each due order goes to exactly one of
// them per round, whichever instance's owners get there first.
func TestPostgresClaimAcrossInstances(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	ctx := context.Background()
	a := openPostgres(t, url, schema)
	b := openPostgres(t, url, schema)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const n = 300
	for i := range n {
		o := ledgertest.NewOrder("t1")
		o.NextPollAt = now.Add(-time.Duration(i%7) * time.Second)
		if err := a.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu     sync.Mutex
		counts = make(map[int64]int)
		wg     sync.WaitGroup
	)
	for i, s := range []*ledger.Postgres{a, b, a, b} {
		owner := fmt.Sprintf("instance-%d", i)
		wg.Go(func() {
			for {
				got, err := s.Claim(ctx, owner, now, time.Minute, 7)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, o := range got {
					mu.Lock()
					counts[o.ID]++
					mu.Unlock()
					o.State = adapters.StateFinished
					o.NextPollAt = time.Time{}
					if err := s.Update(ctx, &o); err != nil {
						t.Errorf("Update: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(counts) != n {
		t.Errorf("%d orders claimed; want %d", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("order %d claimed %d times; want 1", id, c)
		}
	}
}

// Every acknowledged order survives Close and reopen, with its id.
func TestPostgresDurableAcrossReopen(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	s, err := ledger.OpenPostgres(context.Background(), url, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ledgertest.DurableAcrossReopen(t, s, func() ledger.Store { return openPostgres(t, url, schema) })
}

// A newer schema than this build knows is refused rather than written to.
func TestOpenPostgresRefusesNewerSchema(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	ctx := context.Background()
	s, err := ledger.OpenPostgres(ctx, url, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" (version) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	if s, err := ledger.OpenPostgres(ctx, url, ledger.PostgresOptions{Schema: schema}); err == nil {
		s.Close()
		t.Fatal("OpenPostgres of a schema from the future: got nil error")
	}
}

func TestOpenPostgresOptions(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, url, schema string
		ok                bool
	}{
		// Quoted, so a comma or a quote cannot turn the name into a list
		// or into SQL.
		{"odd schema name", url, schemaName() + `_Mixed, "quoted"`, true},
		{"schema name too long", url, strings.Repeat("x", 64), false},
		{"NUL in schema name", url, "a\x00b", false},
		{"not a URL", "postgres://%zz", "", false},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "", false},
	} {
		s, err := ledger.OpenPostgres(ctx, c.url, ledger.PostgresOptions{Schema: c.schema})
		if (err == nil) != c.ok {
			t.Errorf("%s: OpenPostgres(schema %q): err %v; want ok %v", c.name, c.schema, err, c.ok)
		}
		if s == nil {
			continue
		}
		o := ledgertest.NewOrder("t1")
		if err := s.Create(ctx, &o); err != nil {
			t.Errorf("%s: Create: %v", c.name, err)
		}
		s.Close()
		if c.schema == "" {
			continue
		}
		// The tables went into that schema, under that exact name.
		t.Cleanup(func() { dropSchema(t, url, c.schema) })
		conn, err := connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{c.schema, "orders"}.Sanitize()).Scan(&n)
		conn.Close(ctx)
		if err != nil || n != 1 {
			t.Errorf("%s: orders in schema %q: %d, %v; want 1", c.name, c.schema, n, err)
		}
	}
}

func BenchmarkPostgresCreateSerial(b *testing.B) {
	url := postgresURL(b)
	s := openPostgres(b, url, testSchema(b, url))
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPostgresCreateParallel is BenchmarkCreateParallel for
// PostgreSQL: 8 callers per CPU over the default pool (max(4, NumCPU)
// connections). PostgreSQL commits concurrent transactions together on its
// own (one WAL flush for every commit waiting on it), so no rows/commit.
func BenchmarkPostgresCreateParallel(b *testing.B) {
	url := postgresURL(b)
	s := openPostgres(b, url, testSchema(b, url))
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// A ledger from before the (platform, upstream id) index opens with its
// duplicate active orders renamed.
func TestPostgresDedupMigration(t *testing.T) {
	url := postgresURL(t)
	schema := testSchema(t, url)
	exec := func(t *testing.T, q string) {
		ctx := context.Background()
		conn, err := connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; "+q); err != nil {
			t.Fatal(err)
		}
	}
	ledgertest.RunDedupMigration(t, func(t *testing.T) ledger.Store {
		return openPostgres(t, url, schema)
	}, func(t *testing.T) {
		exec(t, "DROP INDEX orders_active_platform_upstream_id")
	}, func(t *testing.T) {
		exec(t, undoListPollSQL+undoDueIndexSQL+undoEventsSQL+undoMoneySQL+"; DELETE FROM schema_version WHERE version IN (5, 6, 7, 8, 9, 10)")
	})
}
