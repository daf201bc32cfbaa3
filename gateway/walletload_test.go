package gateway_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/ledger"
)

// walletLoad is the wallet invariant under load, on whatever gateways
// fronts holds (one per instance, one ledger): two wallet tenants, 500
// concurrent purchases each with funds for 400, then random outcomes —
// code, cancel, expiry, ban — until every order ended. For each tenant:
// exactly 400 bought and 100 refused NO_BALANCE; nothing stays reserved;
// the balance is the top-ups less one capture per delivered order, and
// the journal sums to it to the micro-unit; no delivered order is
// captured twice, no other captured at all; replayed in order, the
// available balance never went below zero.
func walletLoad(t *testing.T, fronts []*env, store ledger.Store, clock *simulator.ManualClock, market *simulator.Market) {
	const perTenant, funded = 500, 400
	ctx := context.Background()
	tenants := map[string]string{"a": keyA, "b": keyB}
	holds := map[string]int64{}
	for name, key := range tenants {
		fronts[0].fund(name, "1000")
		id, _ := fronts[0].buyV2(key, "service", "tg", "country", "187") // learns the hold
		w := fronts[0].wallet(key)
		holds[name] = micros(t, w.Reserved)
		// Funds for `funded` holds in all, this first one included.
		fronts[0].fund(name, adapters.FormatDecimal(int64(funded-1)*holds[name]-micros(t, w.Available), 6))
		_ = id
	}

	// 1,000 purchases at once, spread over the instances.
	type bought struct{ tenant, id string }
	var (
		mu     sync.Mutex
		orders []bought
		noBal  = map[string]int{}
		wg     sync.WaitGroup
	)
	jobs := make(chan string)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			e := fronts[w%len(fronts)]
			for name := range jobs {
				_, b := e.legacy(tenants[name], "action", "getNumber", "service", "tg", "country", "187")
				mu.Lock()
				switch {
				case strings.HasPrefix(b, "ACCESS_NUMBER:"):
					orders = append(orders, bought{name, strings.Split(b, ":")[1]})
				case b == "NO_BALANCE":
					noBal[name]++
				default:
					t.Errorf("getNumber for %s = %q", name, b)
				}
				mu.Unlock()
			}
		}(w)
	}
	for i := 0; i < 2*(perTenant-1); i++ {
		if i%2 == 0 {
			jobs <- "a"
		} else {
			jobs <- "b"
		}
	}
	close(jobs)
	wg.Wait()
	for name := range tenants {
		got := 1 // the first purchase
		for _, o := range orders {
			if o.tenant == name {
				got++
			}
		}
		if got != funded || noBal[name] != perTenant-funded {
			t.Fatalf("tenant %s: %d bought, %d NO_BALANCE; want %d and %d", name, got, noBal[name], funded, perTenant-funded)
		}
	}

	// Random outcomes (a fixed seed: the same every run).
	rng := rand.New(rand.NewPCG(7, 7))
	upstream := func(id string) int64 {
		o, err := store.Get(ctx, atoi(id))
		if err != nil {
			t.Fatal(err)
		}
		return atoi(o.UpstreamID)
	}
	var cancels, coded, bans []bought
	for _, o := range orders {
		switch rng.IntN(4) {
		case 0:
			if _, err := market.DeliverSMS(upstream(o.id), ""); err != nil {
				t.Fatal(err)
			}
			coded = append(coded, o)
		case 1:
			cancels = append(cancels, o)
		case 2: // left to expire
		case 3:
			if _, err := market.Ban(upstream(o.id)); err != nil {
				t.Fatal(err)
			}
			bans = append(bans, o)
		}
	}
	clock.Advance(2*time.Minute + time.Second) // past the cancel guard
	jobs2 := make(chan bought)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			e := fronts[w%len(fronts)]
			for o := range jobs2 {
				// A ban or code the poller saw first makes the cancel BAD_STATUS: both are fine.
				if _, b := e.legacy(tenants[o.tenant], "action", "setStatus", "id", o.id, "status", "8"); b != "ACCESS_CANCEL" && b != "BAD_STATUS" {
					t.Errorf("cancel = %q", b)
				}
			}
		}(w)
	}
	for _, o := range cancels {
		jobs2 <- o
	}
	close(jobs2)
	wg.Wait()
	// The poller sees every code and ban before the orders' time runs out.
	waitOrders := func(what string, list []bought, done func(ledger.Order) bool) {
		deadline := time.Now().Add(2 * time.Minute)
		for _, b := range list {
			for {
				o, err := store.Get(ctx, atoi(b.id))
				if err != nil {
					t.Fatal(err)
				}
				if done(o) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: order %d still %s", what, o.ID, o.State)
				}
				for _, e := range fronts {
					e.g.Kick()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	waitOrders("codes", coded, func(o ledger.Order) bool { return len(o.Codes) > 0 })
	waitOrders("bans", bans, func(o ledger.Order) bool { return !o.State.Active() })
	clock.Advance(21 * time.Minute) // everything left expires upstream
	deadline := time.Now().Add(2 * time.Minute)
	for {
		active, err := store.List(ctx, ledger.Filter{ActiveOnly: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(active) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders still active after 2 minutes: %+v", active[0])
		}
		for _, e := range fronts {
			e.g.Kick()
		}
		time.Sleep(20 * time.Millisecond)
	}

	for name := range tenants {
		checkWalletInvariant(t, store, name, holds[name])
	}
}

// checkWalletInvariant checks a tenant's wallet against its journal and
// its orders once every order has ended.
func checkWalletInvariant(t *testing.T, store ledger.Store, name string, hold int64) {
	t.Helper()
	ctx := context.Background()
	w, err := store.Wallet(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var journal []ledger.Entry
	for before := int64(0); ; {
		page, err := store.Journal(ctx, name, before, 500)
		if err != nil {
			t.Fatal(err)
		}
		journal = append(journal, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].ID
	}
	var bal, res, topups, captured int64
	captures := map[int64]int{}
	for i := len(journal) - 1; i >= 0; i-- { // oldest first
		j := journal[i]
		switch j.Kind {
		case ledger.EntryTopup, ledger.EntryAdjust:
			bal += j.Amount
			topups += j.Amount
		case ledger.EntryReserve:
			res += j.Amount
		case ledger.EntryCapture:
			bal -= j.Amount
			res -= j.Amount
			captured += j.Amount
			captures[j.OrderID]++
		case ledger.EntryRelease:
			res -= j.Amount
		}
		if bal-res < 0 {
			t.Fatalf("tenant %s: available %d after journal row %d (%s %d)", name, bal-res, j.ID, j.Kind, j.Amount)
		}
	}
	if w.Reserved != 0 || res != 0 || bal != w.Balance || w.Balance != topups-captured {
		t.Fatalf("tenant %s: wallet balance %d reserved %d; journal balance %d reserved %d, top-ups %d − captures %d",
			name, w.Balance, w.Reserved, bal, res, topups, captured)
	}
	list, err := store.List(ctx, ledger.Filter{Tenant: name})
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, o := range list {
		want := 0
		if len(o.Codes) > 0 {
			want = 1
			delivered++
		}
		if captures[o.ID] != want {
			t.Fatalf("tenant %s: order %d (%s, %d codes) captured %d times; want %d", name, o.ID, o.State, len(o.Codes), captures[o.ID], want)
		}
	}
	if captured != int64(delivered)*hold || delivered == 0 {
		t.Fatalf("tenant %s: captured %d for %d delivered orders at %d each", name, captured, delivered, hold)
	}
	t.Logf("tenant %s: %d orders, %d delivered, balance %d", name, len(list), delivered, w.Balance)
}

func walletTenants(c *config.Config) {
	c.Tenants[0].Wallet, c.Tenants[1].Wallet = true, true
	c.Tenants[0].Currency, c.Tenants[1].Currency = "USD", "USD"
}

// TestWalletInvariantSQLite: the wallet invariant on one instance over
// SQLite.
func TestWalletInvariantSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 purchases")
	}
	e := unifiedEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		walletTenants(c)
		c.Platforms = c.Platforms[:1]
	}, market: func(mc *simulator.Config) { mc.Stock = 5000; mc.Balance = 1_000_000_000_000 }})
	walletLoad(t, []*env{e}, e.store, e.clock, e.sims["sa"].Market)
}

// TestWalletInvariantPostgres: the wallet invariant on two instances over
// one PostgreSQL ledger.
func TestWalletInvariantPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 purchases")
	}
	c := newClusterDelay(t, 0, -1)
	walletTenants(&c.cfg)
	c.cfg.Admin.Key = config.Secret(adminKey)
	a, b := c.start("A"), c.start("B")
	walletLoad(t, []*env{a.e, b.e}, a.store, c.clock, c.sim.Market)
}
