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

	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/breaker"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/gateway/events"
	"smsgate/ledger"
	"smsgate/limits"
)

// instance is one gateway of a multi-instance setup.
type instance struct {
	name  string
	store *ledger.Postgres
	g     *gateway.Gateway
	srv   *gateway.Server
	stop  context.CancelFunc
	url   string
	e     *env // a view for the legacy helpers
}

// cluster is several gateways over one PostgreSQL schema and one Redis
// prefix, in front of one simulated platform, sharing a manual clock.
type cluster struct {
	t      *testing.T
	clock  *simulator.ManualClock
	sim    *registry.Sim
	cfg    config.Config
	pgURL  string
	schema string
	rdb    string
	prefix string
}

func newCluster(t *testing.T, tenantRate float64) *cluster {
	return newClusterDelay(t, tenantRate, 5*time.Second)
}

// newClusterDelay is newCluster with the simulator's SMS delay (negative:
// never on its own).
func newClusterDelay(t *testing.T, tenantRate float64, codeDelay time.Duration) *cluster {
	return newClusterPlatform(t, tenantRate, codeDelay, nil)
}

// newClusterPlatform is newClusterDelay with the platform's settings
// edited (edit may be nil) before its simulator starts.
func newClusterPlatform(t *testing.T, tenantRate float64, codeDelay time.Duration, edit func(p *config.Platform)) *cluster {
	pg, rd := os.Getenv("SMSGATE_TEST_POSTGRES"), os.Getenv("SMSGATE_TEST_REDIS")
	if pg == "" || rd == "" {
		t.Skip("needs PostgreSQL and Redis: export SMSGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable SMSGATE_TEST_REDIS=127.0.0.1:6379 (CI sets both)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	c := &cluster{t: t, clock: simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)),
		pgURL: pg, schema: "multi_" + suffix, rdb: rd, prefix: "test:" + suffix + ":"}
	c.cfg = testConfig()
	c.cfg.Platforms = c.cfg.Platforms[:1]
	c.cfg.Platforms[0].Timeout = time.Second
	c.cfg.Breaker.ConsecutiveFailures = 3
	c.cfg.Breaker.OpenTimeout = 2 * time.Second
	c.cfg.Breaker.MaxOpenTimeout = 4 * time.Second
	c.cfg.Tenants[1].Rate = tenantRate
	c.cfg.Health.Interval = time.Hour
	if edit != nil {
		edit(&c.cfg.Platforms[0])
	}
	pc := c.cfg.Platforms[0]
	sim, err := registry.StartSim(registry.Spec{Code: pc.Code, Type: pc.Type, Currency: pc.Currency, Dialect: pc.Dialect, Timeout: pc.Timeout},
		simulator.Config{Clock: c.clock, CodeDelay: codeDelay, Balance: 1_000_000_000_000, Stock: 5000})
	if err != nil {
		t.Fatal(err)
	}
	c.sim = sim
	t.Cleanup(func() {
		sim.Close()
		conn, err := pgx.Connect(context.Background(), pg)
		if err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{c.schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
		if rdb, err := limits.NewRedisClient(rd); err == nil {
			ctx := context.Background()
			for _, pat := range []string{c.prefix + "*", "rate:" + c.prefix + "*"} {
				keys, _ := rdb.Keys(ctx, pat).Result()
				if len(keys) > 0 {
					rdb.Del(ctx, keys...)
				}
			}
			rdb.Close()
		}
	})
	return c
}

func (c *cluster) start(name string) *instance {
	t := c.t
	store, err := ledger.OpenPostgres(context.Background(), c.pgURL, ledger.PostgresOptions{Schema: c.schema})
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := limits.NewRedisClient(c.rdb)
	if err != nil {
		t.Fatal(err)
	}
	rdb.Options().ReadTimeout = time.Second // -race on a busy machine; the hot-path timeouts are tested in limits
	pc := c.cfg.Platforms[0]
	plat := &gateway.Platform{Code: pc.Code, Adapter: c.sim.Platform, Priority: pc.Priority, Weight: pc.Weight,
		Currency: pc.Currency, PollInterval: pc.PollInterval, Timeout: pc.Timeout, Enabled: true}
	g, err := gateway.New(gateway.Options{Config: c.cfg, Platforms: []*gateway.Platform{plat}, Store: store, Clock: c.clock.Now,
		Rates:  limits.NewRedisRates(rdb, c.prefix, limits.NewBuckets(nil)),
		Caps:   limits.NewRedisCaps(rdb, c.prefix, limits.NewCounters()),
		Shared: breaker.NewRedisShared(rdb, c.prefix).WithClock(c.clock.Now),
		Bus:    events.NewRedisBus(rdb, c.prefix)})
	if err != nil {
		t.Fatal(err)
	}
	srv, url, cancel := serveGateway(t, g)
	in := &instance{name: name, store: store, g: g, srv: srv, url: url}
	shutdown := func() {
		drainGateway(srv, cancel, g)
		store.Close()
		rdb.Close()
	}
	var once sync.Once
	in.stop = func() { once.Do(shutdown) }
	t.Cleanup(in.stop)
	in.e = &env{t: t, url: in.url, g: g, clock: c.clock, store: store}
	return in
}

// TestTwoInstances: two gateways on one PostgreSQL and one Redis behave as
// one: an order bought through A is answered, finished and polled through
// B; an outage seen by A opens the breaker on B; a tenant's rate holds
// across both; B delivers the codes of orders A left behind.
func TestTwoInstances(t *testing.T) {
	c := newCluster(t, 5)
	a, b := c.start("A"), c.start("B")

	// Buy via A; status and finish via B.
	id := a.e.buy(keyA, "service", "tg", "country", "187")
	if _, body := b.e.legacy(keyA, "action", "getStatus", "id", id); body != "STATUS_WAIT_CODE" {
		t.Fatalf("B's getStatus of A's order = %q", body)
	}
	c.clock.Advance(5 * time.Second)
	b.e.eventually("code via B", func() bool {
		_, body := b.e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(body, "STATUS_OK:")
	})
	if _, body := b.e.legacy(keyA, "action", "setStatus", "id", id, "status", "6"); body != "ACCESS_ACTIVATION" {
		t.Fatalf("B's setStatus 6 = %q", body)
	}
	if _, body := a.e.legacy(keyA, "action", "getStatus", "id", id); body != "STATUS_CANCEL" {
		t.Fatalf("A after B finished = %q", body)
	}

	// Tenant b: 5 requests/s across both instances, not 10.
	allowed := 0
	for i := 0; i < 10; i++ {
		in := a
		if i%2 == 1 {
			in = b
		}
		if _, body := in.e.legacy(keyB, "action", "getBalance"); strings.HasPrefix(body, "ACCESS_BALANCE:") {
			allowed++
		}
	}
	if allowed < 5 || allowed > 6 { // 6: a token may refill during the loop
		t.Fatalf("tenant limited to 5/s got %d of 10 across A and B", allowed)
	}

	// A stops with active orders; their codes arrive; B delivers them.
	var left []string
	for i := 0; i < 3; i++ {
		left = append(left, a.e.buy(keyA, "service", "wa", "country", "16"))
	}
	a.stop()
	c.clock.Advance(6 * time.Second)
	for _, id := range left {
		b.e.eventually("B polls A's orders", func() bool {
			_, body := b.e.legacy(keyA, "action", "getStatus", "id", id)
			return strings.HasPrefix(body, "STATUS_OK:")
		})
	}

	// An outage seen through one instance opens the breaker on the other.
	a2 := c.start("A2")
	c.sim.Market.SetFaults(simulator.Faults{ErrorRate: 1})
	for i := 0; i < 4; i++ {
		a2.e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187")
	}
	if h, _ := a2.g.Health("sa"); h.Breaker != "open" {
		t.Fatalf("A2's breaker after the outage: %s", h.Breaker)
	}
	c.clock.Advance(time.Second) // B reads shared openings once per SharedPoll of the shared clock
	b.e.eventually("B sees the opening", func() bool {
		h, _ := b.g.Health("sa")
		return h.Breaker == "open"
	})
	before := c.sim.Market.Calls("")
	if _, body := b.e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); body != "ERROR_SQL" {
		t.Fatalf("B buying during the shared opening = %q", body)
	}
	if n := c.sim.Market.Calls("") - before; n != 0 {
		t.Fatalf("B sent %d calls to a platform whose breaker A opened", n)
	}
}

// TestPollersShareOrders: 8 pollers on one PostgreSQL over 1,000 due orders
// poll every order once in the interval: by one list round in all, asked
// by the instance holding the platform's round lease.
func TestPollersShareOrders(t *testing.T) {
	c := newCluster(t, 0)
	c.cfg.Platforms[0].PollInterval = time.Minute
	// The orders go straight into the ledger (no gateway is running yet,
	// so none is polled before the measurement).
	seed, err := ledger.OpenPostgres(context.Background(), c.pgURL, ledger.PostgresOptions{Schema: c.schema})
	if err != nil {
		t.Fatal(err)
	}
	now := c.clock.Now()
	ids := map[string]bool{}
	for i := 0; i < 1000; i++ {
		so, err := c.sim.Market.Buy(simulator.BuyArgs{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		o := ledger.Order{Tenant: "a", Platform: "sa", UpstreamID: itoa64(so.ID), Phone: so.Phone, Country: "us", Service: "tg",
			State: "waiting", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), NextPollAt: now}
		o.Price.Currency, o.BasePrice.Currency = "RUB", "USD"
		if err := seed.Create(context.Background(), &o); err != nil {
			t.Fatal(err)
		}
		ids[o.UpstreamID] = true
	}
	seed.Close()
	before, lists := c.sim.Market.Calls("getStatus"), c.sim.Market.Calls("getActiveActivations")
	var ins []*instance
	for i := 0; i < 8; i++ {
		ins = append(ins, c.start("p"+itoa64(int64(i))))
	}
	// One interval: every order due once; wait until none is due and
	// every poller has dealt with the round owed now.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		due, err := ins[0].store.Due(context.Background(), c.clock.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		rounds := true
		for _, in := range ins {
			rounds = rounds && in.g.RoundsCaughtUp(c.clock.Now())
		}
		if len(due) == 0 && rounds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pollers did not get through 1,000 orders in 2 minutes (%d status calls)", c.sim.Market.Calls("getStatus")-before)
		}
		for _, in := range ins {
			in.g.Kick()
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a duplicate poll in flight would land now
	// The platform lists its active orders with their codes: the lease
	// holder's round serves every order (the others push the orders they
	// claimed to the next interval, when the holder's round has them),
	// so there is no status call at all and one round in all.
	rounds := c.sim.Market.Calls("getActiveActivations") - lists
	if n := c.sim.Market.Calls("getStatus") - before; n != 0 || rounds != 1 {
		t.Fatalf("1,000 due orders got %d status calls and %d list rounds from 8 pollers; want none and 1", n, rounds)
	}
}

func itoa64(n int64) string { return strconvFormat(n) }
