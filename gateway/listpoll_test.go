package gateway_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/ledger"
)

// TestDeliveredOrderIsNotPolled is acceptance 4 of issue 19 on both
// dialects of the list: a delivered order costs the platform no call at
// all (no getStatus, and no list round, since nothing else is due) until
// the client asks for another code; then polling resumes and the second
// code reaches the client.
func TestDeliveredOrderIsNotPolled(t *testing.T) {
	for _, code := range []string{"sa", "hero"} {
		t.Run(code, func(t *testing.T) {
			e := newEnvDelay(t, -1)
			m := e.sims[code].Market
			id := e.buy(keyA, "service", "tg", "country", "187", "platform", code)
			e.pollerCaughtUp()
			e.deliver(id) // the SMS upstream, and a poll interval later
			e.pollerCaughtUp()
			_, first := e.legacy(keyA, "action", "getStatus", "id", id)
			// A list round read just before the SMS may serve this
			// interval; the next one brings the code.
			for i := 0; i < 3 && !strings.HasPrefix(first, "STATUS_OK:"); i++ {
				e.clock.Advance(time.Second)
				e.pollerCaughtUp()
				_, first = e.legacy(keyA, "action", "getStatus", "id", id)
			}
			if len(first) < len("STATUS_OK:") || first[:len("STATUS_OK:")] != "STATUS_OK:" {
				t.Fatalf("after the SMS: getStatus = %q; want STATUS_OK", first)
			}
			calls := m.Requests()
			for i := 0; i < 10; i++ { // ten poll intervals, clients asking all the while
				e.clock.Advance(time.Second)
				e.pollerCaughtUp()
				e.legacy(keyA, "action", "getStatus", "id", id)
			}
			if d := diffCalls(calls, m.Requests()); len(d) != 0 {
				t.Fatalf("a delivered order cost the platform %v in 10 poll intervals; want no call", d)
			}
			if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "3"); b != "ACCESS_RETRY_GET" {
				t.Fatalf("setStatus 3 = %q", b)
			}
			e.clock.Advance(time.Second)
			e.pollerCaughtUp()
			if n := m.Calls("getActiveActivations"); n == calls["getActiveActivations"] {
				t.Fatal("polling did not resume after setStatus 3")
			}
			e.deliver(id)
			e.statusIs(keyA, id, "STATUS_OK:"+lastMarketCode(t, e, id))
			if _, again := e.legacy(keyA, "action", "getStatus", "id", id); again == first {
				t.Fatalf("second code %q is the first one", again)
			}
			if n := m.Calls("getStatus"); n != calls["getStatus"] {
				t.Errorf("%d getStatus calls: the list should have served every poll", n-calls["getStatus"])
			}
		})
	}
}

// lastMarketCode is the newest code the simulator holds for order id.
func lastMarketCode(t *testing.T, e *env, id string) string {
	t.Helper()
	o, err := e.store.Get(context.Background(), atoi(id))
	if err != nil {
		t.Fatal(err)
	}
	mo, err := e.sims[o.Platform].Market.Get(atoi(o.UpstreamID))
	if err != nil {
		t.Fatal(err)
	}
	return mo.LastCode()
}

// diffCalls is what after counts more than before, by call name.
func diffCalls(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// TestListPollingScale is acceptance 3 of issue 19: 10,000 active orders
// on one list-capable platform with a 5 s interval, on a shared
// PostgreSQL ledger (Claim leases): per interval the platform receives
// one list round (SMS-Activate classic: one request; HeroSMS: its pages
// of 100) and no status call, every order that gets a code has it in
// the ledger after that interval, and a round in which nothing changed
// writes no order row (issue 19's flat cost: the quiet orders are not
// due every interval). SMSGATE_LISTPOLL_ORDERS changes the number of
// orders.
func TestListPollingScale(t *testing.T) {
	n := 10_000
	if s := os.Getenv("SMSGATE_LISTPOLL_ORDERS"); s != "" {
		fmt.Sscan(s, &n)
	}
	for _, dc := range []struct {
		dialect string
		pages   int64 // the requests of one list round
	}{{"classic", 1}, {"hero", int64(n/smsactivate.HeroPageMax + 1)}} {
		t.Run(dc.dialect, func(t *testing.T) { listPollingScale(t, n, dc.dialect, dc.pages) })
	}
}

func listPollingScale(t *testing.T, n int, dialect string, pages int64) {
	c := newClusterPlatform(t, 0, -1, func(p *config.Platform) {
		p.Dialect, p.PollInterval = dialect, 5*time.Second
		// One answer lists every order (3 MB for 10,000 in the classic
		// dialect): under -race on a shared machine building and reading
		// it takes more than the cluster's 1 s.
		p.Timeout = 10 * time.Second
	})
	c.sim.Market.SetAllStock(2 * n)
	ids := seedOrders(t, c, n)
	in := c.start("p0")
	m := c.sim.Market
	interval := func(name string) {
		t.Helper()
		l0, s0, start := m.Calls("getActiveActivations"), m.Calls("getStatus"), time.Now()
		caughtUp(t, in.store, c.clock, in)
		list, status, took := m.Calls("getActiveActivations")-l0, m.Calls("getStatus")-s0, time.Since(start)
		t.Logf("%s, %s: %d active orders, 5 s interval: %d list request(s), %d status calls upstream; polled in %s",
			dialect, name, n, list, status, took.Round(time.Millisecond))
		if list < 1 || list > pages || status != 0 {
			t.Errorf("%s: %d list requests and %d status calls; want one round (%d requests at most) and no status call", name, list, status, pages)
		}
	}
	interval("interval 1")
	// A code for every tenth order, then one interval.
	for i := 0; i < n; i += 10 {
		if _, err := m.DeliverSMS(atoi(ids[i]), ""); err != nil {
			t.Fatal(err)
		}
	}
	c.clock.Advance(5 * time.Second)
	interval("interval 2 (codes)")
	byUpstream := ordersByUpstream(t, in.store)
	for i := 0; i < n; i += 10 {
		o := byUpstream[ids[i]]
		if o.State != adapters.StateCodeReceived || len(o.Codes) != 1 {
			t.Fatalf("order %d (upstream %s) after its code and an interval: %s, %d codes", o.ID, ids[i], o.State, len(o.Codes))
		}
	}
	// Quiet rounds: nothing changes upstream. Every order is watched by
	// the rounds (the quiet ones wait for their lifetime's end, the
	// delivered ones for their client), so a round costs the ledger no
	// write at all: no order row gets a new version (PostgreSQL's xmin
	// changes with every UPDATE, even one that writes the same values).
	before := orderXmins(t, c)
	for i := 3; i <= 5; i++ {
		c.clock.Advance(5 * time.Second)
		interval(fmt.Sprintf("interval %d (quiet)", i))
	}
	written := 0
	for id, x := range orderXmins(t, c) {
		if before[id] != x {
			written++
		}
	}
	t.Logf("%s: %d order rows written in 3 quiet rounds over %d active orders", dialect, written, n)
	if written != 0 {
		t.Errorf("3 quiet rounds wrote %d order rows; want none", written)
	}
}

// orderXmins is every order's row version in the cluster's ledger:
// PostgreSQL's xmin, the transaction that wrote the row last.
func orderXmins(t *testing.T, c *cluster) map[int64]string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT id, xmin::text FROM "+pgx.Identifier{c.schema, "orders"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var x string
		if err := rows.Scan(&id, &x); err != nil {
			t.Fatal(err)
		}
		out[id] = x
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedOrders buys n numbers from the simulator and writes them straight
// into the cluster's ledger, due now; it returns their upstream ids.
func seedOrders(t *testing.T, c *cluster, n int) []string {
	t.Helper()
	seed, err := ledger.OpenPostgres(context.Background(), c.pgURL, ledger.PostgresOptions{Schema: c.schema})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	now := c.clock.Now()
	ids := make([]string, n)
	for i := range ids {
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
		ids[i] = o.UpstreamID
	}
	return ids
}

// caughtUp kicks the instances' pollers until each has dealt with the
// list rounds owed at the simulated now and no order is due then.
func caughtUp(t *testing.T, store ledger.Store, clock *simulator.ManualClock, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		now := clock.Now()
		rounds := true
		for _, in := range ins {
			rounds = rounds && in.g.RoundsCaughtUp(now)
		}
		due, err := store.Due(context.Background(), now, 1)
		if err != nil {
			t.Fatal(err)
		}
		if rounds && len(due) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the poller did not get through the due orders in 3 minutes")
		}
		for _, in := range ins {
			in.g.Kick()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ordersByUpstream is platform sa's orders by upstream id.
func ordersByUpstream(t *testing.T, store ledger.Store) map[string]ledger.Order {
	t.Helper()
	list, err := store.List(context.Background(), ledger.Filter{Platform: "sa"})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]ledger.Order, len(list))
	for _, o := range list {
		out[o.UpstreamID] = o
	}
	return out
}

// TestListPollingFallsBackToCheck: an order missing from the platform's
// list of active orders (the platform ended it) is asked alone with
// getStatus, in the same interval, and ends in the ledger; the orders the
// list shows cost no status call. A list round that fails brings no flood
// of per-order calls (TestFailedListRoundNoFlood).
func TestListPollingFallsBackToCheck(t *testing.T) {
	e := newEnvDelay(t, -1)
	m := e.sims["sa"].Market
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.buy(keyA, "service", "tg", "country", "187", "platform", "sa"))
	}
	e.pollerCaughtUp()
	gone := e.order(ids[0])
	if _, err := m.Ban(atoi(gone.UpstreamID)); err != nil {
		t.Fatal(err)
	}
	before := m.Requests()
	e.clock.Advance(time.Second)
	e.pollerCaughtUp()
	if d := diffCalls(before, m.Requests()); d["getActiveActivations"] != 1 || d["getStatus"] != 1 {
		t.Fatalf("one interval with an order gone upstream: %v; want 1 list round and 1 getStatus", d)
	}
	if st := e.state(ids[0]); st.Active() {
		t.Fatalf("order gone upstream is %s; want ended", st)
	}
	for _, id := range ids[1:] {
		if st := e.state(id); st != adapters.StateWaiting {
			t.Fatalf("order %s is %s; want waiting", id, st)
		}
	}
}

// TestFailedListRoundNoFlood: when a list round fails, the platform's due
// orders are not all asked one by one (a flood exactly when the platform
// is in trouble): they are checked alone only as the platform's outbound
// rate has room, the rest stay due, and the round is asked again at the
// next interval, which then serves them. The platform's rate (1/s, one
// token) runs on the test's clock, so what the rate allows is exact.
func TestFailedListRoundNoFlood(t *testing.T) {
	const orders = 5
	var seeded []int64
	e := newEnvWith(t, envOptions{
		codeDelay: -1,
		config: func(c *config.Config) {
			c.Platforms = c.Platforms[:1] // sa: classic, RUB
			c.Platforms[0].PollInterval = 2 * time.Second
			c.Health.Interval = time.Hour
		},
		// Disabled for new purchases, so that no health check spends its
		// tokens: the poller has every one of them (a disabled platform's
		// orders are polled as any other's).
		platform: func(p *gateway.Platform) { p.Rate, p.Enabled = 1, false },
		preStart: func(e *env) {
			// Bought upstream and recorded, without the limited buy path.
			now := e.clock.Now()
			for i := 0; i < orders; i++ {
				so, err := e.sims["sa"].Market.Buy(simulator.BuyArgs{Country: "us", Service: "tg"})
				if err != nil {
					t.Fatal(err)
				}
				o := ledger.Order{Tenant: "a", Platform: "sa", UpstreamID: itoa64(so.ID), Phone: so.Phone, Country: "us", Service: "tg",
					State: adapters.StateWaiting, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(20 * time.Minute), NextPollAt: now.Add(2 * time.Second)}
				o.Price.Currency, o.BasePrice.Currency = "RUB", "USD"
				if err := e.store.Create(context.Background(), &o); err != nil {
					t.Fatal(err)
				}
				seeded = append(seeded, o.ID)
			}
		},
	})
	m := e.sims["sa"].Market
	e.pollerCaughtUp() // the first round: t0's token
	if n := m.Calls("getActiveActivations"); n != 1 {
		t.Fatalf("first round: %d list requests; want 1", n)
	}
	dueNow := func() int {
		t.Helper()
		due, err := e.store.Due(context.Background(), e.clock.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(due)
	}
	roundsAt := func() {
		t.Helper()
		e.eventually("the poller's rounds", func() bool { return e.g.RoundsCaughtUp(e.clock.Now()) })
	}

	// t0+2s: every order is due and the round fails (it takes the token).
	m.SetFaults(simulator.Faults{ErrorRate: 1, Count: 1})
	before := m.Requests()
	e.clock.Advance(2 * time.Second)
	roundsAt()
	for i := 0; i < 20; i++ { // loops with no token: nothing may go out
		e.g.Kick()
		time.Sleep(time.Millisecond)
	}
	roundsAt()
	// The simulator counts only requests that reach its skin: the one
	// the fault answered shows as the fault being used up.
	if f, d := m.Faults(), diffCalls(before, m.Requests()); f != (simulator.Faults{}) || len(d) != 0 {
		t.Fatalf("failed round with no token left: fault %+v left, requests %v; want the fault used by the round and nothing else", f, d)
	}
	if n := dueNow(); n != orders {
		t.Fatalf("%d orders due after the failed round; want all %d to stay due", n, orders)
	}

	// t0+3s: one token: one order is checked alone, the others stay due.
	e.clock.Advance(time.Second)
	e.eventually("one fallback check", func() bool { return dueNow() == orders-1 })
	if d := diffCalls(before, m.Requests()); len(d) != 1 || d["getStatus"] != 1 {
		t.Fatalf("a second after the failed round: %v; want 1 getStatus and nothing else", d)
	}

	// t0+4s: the next interval's round works and serves the rest.
	e.clock.Advance(time.Second)
	e.pollerCaughtUp()
	if d := diffCalls(before, m.Requests()); len(d) != 2 || d["getActiveActivations"] != 1 || d["getStatus"] != 1 {
		t.Fatalf("after the next round: %v; want 1 (good) list request and 1 getStatus since the failure", d)
	}
	if n := dueNow(); n != 0 {
		t.Fatalf("%d orders still due after the round that worked", n)
	}
	for _, id := range seeded {
		if o, err := e.store.Get(context.Background(), id); err != nil || o.State != adapters.StateWaiting {
			t.Fatalf("order %d after the outage: %+v, %v; want waiting", id, o.State, err)
		}
	}
}

// TestListRoundOnePerPlatformAcrossInstances: two gateways on one
// PostgreSQL ledger and one Redis ask one platform's list round once per
// interval between them (the instance holding the platform's round lease
// asks it; the other leaves the platform's orders to it), and codes still
// reach orders bought through either instance, read through either.
func TestListRoundOnePerPlatformAcrossInstances(t *testing.T) {
	c := newClusterDelay(t, 0, -1)
	a, b := c.start("A"), c.start("B")
	m := c.sim.Market
	var viaA, viaB []string
	for i := 0; i < 3; i++ {
		viaA = append(viaA, a.e.buy(keyA, "service", "tg", "country", "187"))
		viaB = append(viaB, b.e.buy(keyA, "service", "tg", "country", "187"))
	}
	caughtUp(t, a.store, c.clock, a, b)
	interval := c.cfg.Platforms[0].PollInterval
	lists, status := m.Calls("getActiveActivations"), m.Calls("getStatus")
	for i := 1; i <= 4; i++ {
		l0 := m.Calls("getActiveActivations")
		c.clock.Advance(interval)
		caughtUp(t, a.store, c.clock, a, b)
		if n := m.Calls("getActiveActivations") - l0; n != 1 {
			t.Fatalf("interval %d: %d list rounds from 2 instances; want 1", i, n)
		}
	}
	// A code for an order of each instance: the next round brings both,
	// whichever instance holds the lease.
	for _, id := range []string{viaA[1], viaB[2]} {
		o, err := a.store.Get(context.Background(), atoi(id))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.DeliverSMS(atoi(o.UpstreamID), ""); err != nil {
			t.Fatal(err)
		}
	}
	c.clock.Advance(interval)
	caughtUp(t, a.store, c.clock, a, b)
	for _, r := range []struct {
		id string
		in *instance
	}{{viaA[1], b}, {viaB[2], a}, {viaA[1], a}, {viaB[2], b}} {
		if _, body := r.in.e.legacy(keyA, "action", "getStatus", "id", r.id); !strings.HasPrefix(body, "STATUS_OK:") {
			t.Fatalf("order %s read through %s after its code and a round: %q; want STATUS_OK", r.id, r.in.name, body)
		}
	}
	if n := m.Calls("getActiveActivations") - lists; n != 5 {
		t.Errorf("%d list rounds in 5 intervals from 2 instances; want 5", n)
	}
	if n := m.Calls("getStatus") - status; n != 0 {
		t.Errorf("%d getStatus calls; the rounds should have served every order", n)
	}

	// Both stop (the lease holder gives its lease up as it stops): a new
	// instance asks its first round at once, not when the lease would
	// have expired, then one per interval, and delivers a code that
	// arrived meanwhile.
	a.stop()
	b.stop()
	l0 := m.Calls("getActiveActivations")
	cIn := c.start("C")
	caughtUp(t, cIn.store, c.clock, cIn)
	if n := m.Calls("getActiveActivations") - l0; n != 1 {
		t.Fatalf("a new instance at the same moment the others stopped: %d list rounds; want 1 (the lease was released)", n)
	}
	o, err := cIn.store.Get(context.Background(), atoi(viaA[0]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverSMS(atoi(o.UpstreamID), ""); err != nil {
		t.Fatal(err)
	}
	l0 = m.Calls("getActiveActivations")
	c.clock.Advance(interval)
	caughtUp(t, cIn.store, c.clock, cIn)
	if n := m.Calls("getActiveActivations") - l0; n != 1 {
		t.Fatalf("the interval after: %d list rounds from the new instance; want 1", n)
	}
	if _, body := cIn.e.legacy(keyA, "action", "getStatus", "id", viaA[0]); !strings.HasPrefix(body, "STATUS_OK:") {
		t.Fatalf("order %s through the new instance: %q; want STATUS_OK", viaA[0], body)
	}
}
