package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/ledger"
)

// saPrice is what "sa" (RUB, priority first) charges for us/tg in these
// tests: set before any purchase, so that its balance can be set to an
// exact number of purchases.
const saPrice = 50 * adapters.Micro

// buyersAtOnce has n clients ask for a us/tg number at the same moment and
// returns every answer.
func buyersAtOnce(e *env, n int) []string {
	bodies := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, bodies[i] = e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187")
		})
	}
	close(start)
	wg.Wait()
	return bodies
}

func allSold(t *testing.T, bodies []string) {
	t.Helper()
	for i, b := range bodies {
		if !strings.HasPrefix(b, "ACCESS_NUMBER:") {
			t.Fatalf("buyer %d of %d got %q; want a number (the second platform could sell)", i, len(bodies), b)
		}
	}
}

// balanceEnv: "sa" first by priority, able to pay for affordable numbers,
// "hero" with plenty; both balances read once before anyone buys.
func balanceEnv(t *testing.T, maxAttempts int, affordable int64) *env {
	e := newEnvWith(t, envOptions{codeDelay: -1,
		config: func(c *config.Config) {
			c.Routing.MaxAttempts = maxAttempts
			c.Health.Interval = time.Hour
		},
		market: func(mc *simulator.Config) {
			if mc.BasePrice == 40*adapters.Micro { // sa's (RUB) market, see newEnvWith
				mc.Balance = affordable * saPrice
			}
		}})
	e.sims["sa"].Market.SetPrice("us", "tg", saPrice)
	e.g.CheckHealth(context.Background())
	return e
}

// TestBalanceRunsOutMidLoad: the first platform can pay for 7 numbers and
// 24 clients buy at once with max_attempts = 1, so a purchase sent to a
// platform that cannot pay would answer NO_BALANCE. Each purchase sets its
// price aside before asking, so exactly 7 go to "sa" and the rest to
// "hero", and nobody hears NO_BALANCE.
func TestBalanceRunsOutMidLoad(t *testing.T) {
	const affordable, buyers = 7, 24
	e := balanceEnv(t, 1, affordable)
	sa, hero := e.sims["sa"].Market, e.sims["hero"].Market

	allSold(t, buyersAtOnce(e, buyers))
	if n := len(sa.Active()); n != affordable {
		t.Errorf("sa sold %d; want the %d it could pay for", n, affordable)
	}
	if n := len(hero.Active()); n != buyers-affordable {
		t.Errorf("hero sold %d; want %d", n, buyers-affordable)
	}
	if b := sa.Balance(); b != 0 {
		t.Errorf("sa balance %d; want 0", b)
	}
	// The book also knows sa is empty now: a later buyer goes straight to
	// hero without asking sa.
	calls := sa.Calls("")
	allSold(t, buyersAtOnce(e, 3))
	if d := sa.Calls("") - calls; d != 0 {
		t.Errorf("sa asked %d more times after its balance was spent; want 0", d)
	}

	// A cancel refunds sa at once, and the book knows: the next buyer gets
	// sa's number again.
	e.clock.Advance(2 * time.Minute) // past the cancel guard
	id := findOrder(t, e, "sa")
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("cancel = %q", b)
	}
	before := len(sa.Active())
	allSold(t, buyersAtOnce(e, 1))
	if got := len(sa.Active()); got != before+1 {
		t.Errorf("after a refund of one price, sa has %d active; want %d", got, before+1)
	}
}

// TestNoBalanceMarksEmpty: the platform's balance is spent behind the
// gateway's back. Buyers that ask it hear NO_BALANCE and move on; from
// then on it is not asked until its balance is read again.
func TestNoBalanceMarksEmpty(t *testing.T) {
	e := balanceEnv(t, 3, 1000)
	sa := e.sims["sa"].Market
	sa.SetBalance(0) // the book still says 1000 purchases

	allSold(t, buyersAtOnce(e, 12))
	if n := len(sa.Active()); n != 0 {
		t.Fatalf("sa sold %d with an empty account", n)
	}
	calls := sa.Calls("")
	allSold(t, buyersAtOnce(e, 12))
	if d := sa.Calls("") - calls; d != 0 {
		t.Errorf("sa asked %d times after it answered NO_BALANCE; want 0 until the next read", d)
	}

	// Topped up and read again: sa is first once more.
	sa.SetBalance(10 * saPrice)
	e.g.CheckHealth(context.Background())
	allSold(t, buyersAtOnce(e, 1))
	if n := len(sa.Active()); n != 1 {
		t.Errorf("after a read showing money, sa sold %d; want 1", n)
	}
}

// findOrder returns the id of an active ledger order of platform.
func findOrder(t *testing.T, e *env, platform string) string {
	t.Helper()
	orders, err := e.store.List(context.Background(), ledger.Filter{Platform: platform, ActiveOnly: true})
	if err != nil || len(orders) == 0 {
		t.Fatalf("no active order of %s (%v)", platform, err)
	}
	return itoa64(orders[0].ID)
}
