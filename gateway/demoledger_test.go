package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/gateway"
	"smsgate/ledger"
)

// demo is one `go run .` against a shared PostgreSQL ledger: a gateway
// with its own built-in simulator of platform "sa", as every demo instance
// has. idOffset plays the process's simulator offset.
type demo struct {
	e   *env
	sim *registry.Sim
}

func startDemo(t *testing.T, clock *simulator.ManualClock, pgURL, schema string, idOffset int64) *demo {
	t.Helper()
	cfg := testConfig()
	cfg.Platforms = cfg.Platforms[:1]
	cfg.Health.Interval = time.Hour
	pc := cfg.Platforms[0]
	sim, err := registry.StartSim(registry.Spec{Code: pc.Code, Type: pc.Type, Currency: pc.Currency, Dialect: pc.Dialect, Timeout: pc.Timeout},
		simulator.Config{Clock: clock, CodeDelay: -1, Balance: 1_000_000_000_000, Stock: 5000, IDOffset: idOffset})
	if err != nil {
		t.Fatal(err)
	}
	store, err := ledger.OpenPostgres(context.Background(), pgURL, ledger.PostgresOptions{Schema: schema})
	if err != nil {
		sim.Close()
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Store: store, Clock: clock.Now,
		Platforms: []*gateway.Platform{{Code: pc.Code, Adapter: sim.Platform, Currency: pc.Currency,
			PollInterval: pc.PollInterval, Timeout: pc.Timeout, Enabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, url, cancel := serveGateway(t, g)
	t.Cleanup(func() {
		drainGateway(srv, cancel, g)
		store.Close()
		sim.Close()
	})
	return &demo{e: &env{t: t, url: url, g: g, clock: clock, store: store}, sim: sim}
}

// demoLedger names a fresh PostgreSQL schema for a test, dropped at its end.
func demoLedger(t *testing.T) (url, schema string) {
	url = os.Getenv("SMSGATE_TEST_POSTGRES")
	if url == "" {
		t.Skip("needs PostgreSQL: export SMSGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema = "demo_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return url, schema
}

// buyConcurrently has workers on each demo buy n numbers each and returns
// every answer body.
func buyConcurrently(demos []*demo, workers, n int) []string {
	var (
		mu     sync.Mutex
		bodies []string
		wg     sync.WaitGroup
	)
	for _, d := range demos {
		for range workers {
			wg.Go(func() {
				for range n {
					_, body := d.e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187")
					mu.Lock()
					bodies = append(bodies, body)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return bodies
}

// ledgerDuplicates lists the (platform, upstream id) pairs the ledger holds
// more than once, across every state.
func ledgerDuplicates(t *testing.T, url, schema string) (dups []string, rows int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	orders := pgx.Identifier{schema, "orders"}.Sanitize()
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+orders).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	r, err := conn.Query(ctx, "SELECT platform || '/' || upstream_id FROM "+orders+
		" WHERE upstream_id <> '' GROUP BY platform, upstream_id HAVING count(*) > 1")
	if err != nil {
		t.Fatal(err)
	}
	dups, err = pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return dups, rows
}

// TestDemoInstancesShareLedger: two demo instances, each with its own
// built-in simulator, buy concurrently into one PostgreSQL ledger. Each
// process's simulator counts from its own random offset, so every purchase
// is recorded and no (platform, upstream id) pair is there twice.
func TestDemoInstancesShareLedger(t *testing.T) {
	url, schema := demoLedger(t)
	clock := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	// This process's offset for A, and what another process would draw
	// for B (redrawn in the unlikely case it is the same).
	offA, offB := simulator.ProcessOffset(), simulator.DrawOffset()
	for offB == offA {
		offB = simulator.DrawOffset()
	}
	a := startDemo(t, clock, url, schema, offA)
	b := startDemo(t, clock, url, schema, offB)

	const workers, n = 4, 15
	bodies := buyConcurrently([]*demo{a, b}, workers, n)
	for _, body := range bodies {
		if !strings.HasPrefix(body, "ACCESS_NUMBER:") {
			t.Fatalf("getNumber = %q; want every purchase recorded", body)
		}
	}
	dups, rows := ledgerDuplicates(t, url, schema)
	if len(dups) > 0 {
		t.Fatalf("ledger holds %d duplicate (platform, upstream id) pairs: %v", len(dups), dups)
	}
	if want := 2 * workers * n; rows != want {
		t.Fatalf("ledger holds %d orders; want %d", rows, want)
	}
}

// TestDemoInstancesWithoutOffset: were both simulators to count from the
// same id, the ledger would refuse every second order of an upstream id:
// that purchase answers an error, never the number, and is cancelled
// upstream once the platform allows; still no pair is there twice.
func TestDemoInstancesWithoutOffset(t *testing.T) {
	url, schema := demoLedger(t)
	clock := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	a := startDemo(t, clock, url, schema, -1)
	b := startDemo(t, clock, url, schema, -1)

	bodies := buyConcurrently([]*demo{a, b}, 3, 10)
	bought, refused := 0, 0
	for _, body := range bodies {
		switch {
		case strings.HasPrefix(body, "ACCESS_NUMBER:"):
			bought++
		case body == "ERROR_SQL":
			refused++
		default:
			t.Fatalf("getNumber = %q; want ACCESS_NUMBER or ERROR_SQL", body)
		}
	}
	if refused == 0 {
		t.Fatal("no purchase collided: the test did not exercise a duplicate upstream id")
	}
	dups, rows := ledgerDuplicates(t, url, schema)
	if len(dups) > 0 {
		t.Fatalf("ledger holds duplicate (platform, upstream id) pairs: %v", dups)
	}
	if rows != bought {
		t.Fatalf("ledger holds %d orders; %d purchases were answered with a number", rows, bought)
	}
	// The refused purchases are cancelled upstream after the 2-minute
	// guard: what stays active on the two simulators is what the ledger has.
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	active := func() int { return len(a.sim.Market.Active()) + len(b.sim.Market.Active()) }
	for active() != bought && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := active(); got != bought {
		t.Fatalf("simulators hold %d active orders; want the %d recorded (refused ones cancelled)", got, bought)
	}
	for _, m := range []*simulator.Market{a.sim.Market, b.sim.Market} {
		for _, o := range m.Active() {
			if o.State != adapters.StateWaiting {
				t.Fatalf("upstream order %d is %s", o.ID, o.State)
			}
		}
	}
}
