package main

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
)

// The routing scenario measures what a user buys from smsgate — a
// delivered code, soon and cheaply — under each strategy, on one
// simulated market (same seed, same drift) per run.
//
// It runs in virtual time: the markets are the real simulators on a
// manual clock, the router is the gateway's own (strategies, estimator,
// Thompson sampling), and virtual registration clients buy, wait for the
// code up to -give-up, cancel (after the platform's guard) and buy again
// until a code arrives. Outcomes reach the router's estimator as the
// gateway reports them when an order ends. One goroutine drives
// everything from an event queue, so a run is exactly reproducible from
// the market's seed: a figure comes with the parameters that make it.
//
// The oracle knows the market's true delivery probabilities, delays and
// prices at every instant, and buys where the expected time and money
// per delivered code is least — the bound no estimator can beat.

// routingStrategies are the runs, in report order.
var routingStrategies = []string{"oracle", "value", "success", "price", "priority", "random"}

// routingEvent is one thing due in virtual time.
type routingEvent struct {
	at     time.Time
	seq    int // ties in at: first scheduled first
	kind   routingEventKind
	client int
	buy    *routingBuy // evCode, evGiveUp
}

type routingEventKind int

const (
	evStart  routingEventKind = iota // a client starts an activation
	evRetry                          // a client found nothing to buy and tries again
	evCode                           // the code of a client's number arrives
	evGiveUp                         // the client stops waiting for its number
)

type routingQueue []*routingEvent

func (q routingQueue) Len() int { return len(q) }
func (q routingQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q routingQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *routingQueue) Push(x any)   { *q = append(*q, x.(*routingEvent)) }
func (q *routingQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// routingBuy is one number bought for an activation.
type routingBuy struct {
	platform string
	id       int64 // the market's order id
	ref      int64 // the run's purchase number: the ledger id the estimator knows it by (ids of different markets collide)
	price    int64 // micro-units, paid only if the code arrives
	at       time.Time
}

// routingClient is a registration tool's worker: one activation at a time.
type routingClient struct {
	start    time.Time // the activation's start
	attempts int
}

// routingResult is one strategy's run.
type routingResult struct {
	Strategy  string  `json:"strategy"`
	Delivered int     `json:"delivered"`
	Orders    int     `json:"orders"`  // numbers bought
	Cancels   int     `json:"cancels"` // numbers given up and cancelled
	P50       float64 `json:"time_to_code_p50_s"`
	P95       float64 `json:"time_to_code_p95_s"`
	Money     float64 `json:"money_per_code"` // market currency units per delivered code
	// CancelsPerCode is Cancels / Delivered.
	CancelsPerCode float64 `json:"cancels_per_code"`
	// Before, After and Recovered are each platform's share of the orders
	// bought before the drift, between drift and recovery, and after it.
	Before, After, Recovered map[string]float64
	// Abandon is how many orders after the drift it took for the drifting
	// platform's share of the last routingWindow orders to fall under 20 %
	// (-1: it never did); Return how many after the recovery for it to come
	// back to half its share before the drift (-1: never).
	Abandon int `json:"orders_to_abandon"`
	Return  int `json:"orders_to_return"`
	// Runs is the number of seeds pooled; Abandon and Return are then the
	// worst run's (-1 if any run never got there).
	Runs int `json:"runs"`

	times []time.Duration // time to code of every delivered activation
	paid  int64           // micro-units paid for delivered codes
}

// routingWindow is the number of recent orders a platform's share is
// taken over when watching the drift.
const routingWindow = 20

// routingRun is one strategy on a fresh copy of the market.
type routingRun struct {
	spec     *marketSpec
	strategy string
	clock    *simulator.ManualClock
	start    time.Time
	markets  map[string]*simulator.Market
	plats    []*platform.Platform
	router   *route.Router
	tenant   *tenant.Tenant
	q        routingQueue
	seq      int
	clients  []routingClient
	end      time.Time // no activation starts after it
	bought   int64     // purchases so far (routingBuy.ref)

	// what the run measured
	times   []time.Duration // time to code per delivered activation
	orders  []routingOrder
	paid    int64
	cancels int
}

// routingOrder is one number bought: when, where.
type routingOrder struct {
	at       time.Time
	platform string
}

// runRouting runs the market once per strategy and the oracle, for each
// of -runs seeds, and pools each strategy's runs.
func runRouting(b *bench) error {
	byStrategy := map[string][]routingResult{}
	for i := range b.o.runs {
		spec, err := routingMarketSpec(b.o, b.o.seed+uint64(i))
		if err != nil {
			return err
		}
		if i == 0 {
			b.rep.Notes = append(b.rep.Notes, spec.describe()...)
		}
		for _, s := range routingStrategies {
			r, err := newRoutingRun(spec, s)
			if err != nil {
				return err
			}
			res, err := r.run()
			if err != nil {
				return fmt.Errorf("%s, seed %d: %w", s, spec.seed, err)
			}
			byStrategy[s] = append(byStrategy[s], res)
		}
	}
	for _, s := range routingStrategies {
		b.rep.Routing = append(b.rep.Routing, poolRouting(byStrategy[s]))
	}
	b.routingFigures()
	return nil
}

func newRoutingRun(spec *marketSpec, strategy string) (*routingRun, error) {
	r := &routingRun{spec: spec, strategy: strategy, clock: simulator.NewManualClock(spec.start),
		markets: map[string]*simulator.Market{}, clients: make([]routingClient, spec.clients)}
	r.start = r.clock.Now().Add(spec.history)
	r.end = r.start.Add(spec.length)
	now := r.clock.Now
	for _, ps := range spec.platforms {
		m := spec.newMarket(ps, r.clock)
		r.markets[ps.code] = m
		p := &platform.Platform{Code: ps.code, Currency: spec.currency, Enabled: true, Priority: ps.priority, Weight: 1,
			Adapter: nil, Rate: -1}
		p.Wire(platform.Wiring{Now: now})
		r.plats = append(r.plats, p)
	}
	conv, err := fx.New(spec.currency, nil)
	if err != nil {
		return nil, err
	}
	rs := strategy
	if rs == "oracle" {
		rs = "priority" // the oracle orders the candidates itself
	}
	// The gateway's own routing settings, as shipped, but for what the
	// client does (its give-up) and what its time is worth.
	cfg := config.Defaults().Routing
	cfg.Strategy, cfg.GiveUp, cfg.ValueOfMinute = rs, spec.giveUp, spec.valueOfMinute
	r.router = route.New(cfg, routingMarket{r}, conv,
		rand.New(rand.NewPCG(spec.seed, 0x70757465)), now)
	r.tenant = &tenant.Tenant{Name: "bench", Currency: spec.currency, Strategy: rs}
	return r, nil
}

// routingMarket is what the router reads of the simulated platforms: their
// offers, straight from the markets (the gateway reads them through its
// price cache; here every decision sees the current price and stock).
type routingMarket struct{ r *routingRun }

func (m routingMarket) Usable(*tenant.Tenant) []*platform.Platform { return m.r.plats }

func (m routingMarket) PlatformOffers(_ context.Context, p *platform.Platform, country, service string) ([]adapters.Offer, error) {
	var out []adapters.Offer
	for _, o := range m.r.markets[p.Code].Offers(country, service) {
		out = append(out, adapters.Offer{Country: o.Country, Service: o.Service, Count: o.Count,
			Price: adapters.Money{Micros: o.Price, Currency: m.r.spec.currency}})
	}
	return out, nil
}

func (m routingMarket) InCurrency(v adapters.Money, currency string) (int64, bool) {
	return v.Micros, v.Currency == currency
}

func (m routingMarket) Available(string) (int64, bool) { return 0, false }

func (r *routingRun) push(e *routingEvent) {
	e.seq = r.seq
	r.seq++
	heap.Push(&r.q, e)
}

// run drives the clients until every activation started before the end
// has its code.
func (r *routingRun) run() (routingResult, error) {
	for i := range r.clients {
		// Staggered starts: the clients do not all buy in the same instant.
		r.push(&routingEvent{at: r.clock.Now().Add(time.Duration(i) * r.spec.stagger), kind: evStart, client: i})
	}
	for r.q.Len() > 0 {
		e := heap.Pop(&r.q).(*routingEvent)
		if d := e.at.Sub(r.clock.Now()); d > 0 {
			r.clock.Advance(d)
		}
		switch e.kind {
		case evStart:
			if !e.at.Before(r.end) {
				continue
			}
			r.clients[e.client] = routingClient{start: e.at}
			if err := r.buy(e.client); err != nil {
				return routingResult{}, err
			}
		case evRetry:
			if err := r.buy(e.client); err != nil {
				return routingResult{}, err
			}
		case evCode:
			if err := r.delivered(e); err != nil {
				return routingResult{}, err
			}
		case evGiveUp:
			if err := r.giveUp(e); err != nil {
				return routingResult{}, err
			}
		}
	}
	return r.result(), nil
}

// buy routes and buys one number for the client's activation.
func (r *routingRun) buy(client int) error {
	now := r.clock.Now()
	for _, code := range r.choose() {
		o, err := r.markets[code].Buy(simulator.BuyArgs{Country: r.spec.country, Service: r.spec.service})
		if errors.Is(err, adapters.ErrNoNumbers) {
			continue
		}
		if err != nil {
			return fmt.Errorf("buy on %s: %w", code, err)
		}
		r.clients[client].attempts++
		if r.measured(client) {
			r.orders = append(r.orders, routingOrder{at: now, platform: code})
		}
		r.bought++
		b := &routingBuy{platform: code, id: o.ID, ref: r.bought, price: o.Price, at: now}
		// The gateway tells the estimator of each purchase when it is
		// recorded: the number waits, and counts against its pair as it
		// ages, until its end is recorded.
		r.router.Estimator().Bought(route.Purchase{Order: b.ref, Platform: code, Country: r.spec.country,
			Service: r.spec.service, At: now, Until: o.ExpiresAt})
		deadline := now.Add(r.spec.giveUp)
		if !o.NextSMSAt.IsZero() && !o.NextSMSAt.After(deadline) {
			r.push(&routingEvent{at: o.NextSMSAt, kind: evCode, client: client, buy: b})
		} else {
			r.push(&routingEvent{at: deadline, kind: evGiveUp, client: client, buy: b})
		}
		return nil
	}
	// Nothing to buy anywhere: look again a little later.
	r.push(&routingEvent{at: now.Add(30 * time.Second), kind: evRetry, client: client})
	return nil
}

// choose is the platforms to try, best first.
func (r *routingRun) choose() []string {
	if r.strategy == "oracle" {
		return r.oracle()
	}
	plan, err := r.router.Plan(context.Background(), r.tenant, route.Request{Country: r.spec.country, Service: r.spec.service})
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(plan.Candidates))
	for _, c := range plan.Candidates {
		out = append(out, c.Platform.Code)
	}
	return out
}

// oracle ranks the platforms by their true expected cost per delivered
// code now: the price (paid only for a code) plus the waiting it takes,
// valued as the router values it.
func (r *routingRun) oracle() []string {
	now := r.clock.Now()
	type scored struct {
		code  string
		score float64
	}
	var s []scored
	for _, ps := range r.spec.platforms {
		t := r.spec.truth(r.markets[ps.code], now)
		if t.stock == 0 || t.p <= 0 {
			continue
		}
		s = append(s, scored{ps.code, r.spec.expectedCost(t)})
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].score < s[j].score })
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].code
	}
	return out
}

// delivered ends an activation with its code.
func (r *routingRun) delivered(e *routingEvent) error {
	m := r.markets[e.buy.platform]
	o, err := m.Get(e.buy.id)
	if err != nil {
		return err
	}
	if len(o.SMS) == 0 {
		return fmt.Errorf("order %d on %s: no SMS at its due time", e.buy.id, e.buy.platform)
	}
	if _, err := m.Finish(e.buy.id); err != nil {
		return fmt.Errorf("finish %d: %w", e.buy.id, err)
	}
	now := r.clock.Now()
	r.record(e.buy, true, now.Sub(e.buy.at))
	if r.measured(e.client) {
		r.paid += e.buy.price
		r.times = append(r.times, now.Sub(r.clients[e.client].start))
	}
	r.push(&routingEvent{at: now.Add(r.spec.think), kind: evStart, client: e.client})
	return nil
}

// giveUp cancels a number that brought no code in time and buys another.
func (r *routingRun) giveUp(e *routingEvent) error {
	m := r.markets[e.buy.platform]
	_, err := m.Cancel(e.buy.id)
	switch {
	case errors.Is(err, adapters.ErrEarlyCancel):
		// The platform's guard: cancel when it allows (the client waits).
		r.push(&routingEvent{at: e.buy.at.Add(r.spec.guard), kind: evGiveUp, client: e.client, buy: e.buy})
		return nil
	case err != nil:
		return fmt.Errorf("cancel %d on %s: %w", e.buy.id, e.buy.platform, err)
	}
	if r.measured(e.client) {
		r.cancels++
	}
	r.record(e.buy, false, 0)
	return r.buy(e.client)
}

// measured: the client's activation started in the measured span (after
// the -history), so its orders, time, money and cancels count.
func (r *routingRun) measured(client int) bool {
	return !r.clients[client].start.Before(r.start)
}

// record tells the router's estimator how an order ended, as the gateway
// does when an order ends.
func (r *routingRun) record(b *routingBuy, delivered bool, delay time.Duration) {
	r.router.Estimator().Observe(route.Outcome{Order: b.ref, Platform: b.platform, Country: r.spec.country, Service: r.spec.service,
		Delivered: delivered, Delay: delay, At: r.clock.Now()})
}

func (r *routingRun) result() routingResult {
	res := routingResult{Strategy: r.strategy, Delivered: len(r.times), Orders: len(r.orders), Cancels: r.cancels,
		Abandon: -1, Return: -1, Runs: 1, times: r.times, paid: r.paid}
	res.summarise()
	drift, recover := r.spec.start.Add(r.spec.driftAt), r.spec.start.Add(r.spec.recoverAt)
	res.Before = shares(r.orders, r.start, drift)
	res.After = shares(r.orders, drift, recover)
	res.Recovered = shares(r.orders, recover, r.end.Add(time.Hour))
	target := r.spec.drifting
	res.Abandon = ordersUntil(r.orders, drift, target, func(s float64) bool { return s < 0.20 })
	half := res.Before[target] / 2
	res.Return = ordersUntil(r.orders, recover, target, func(s float64) bool { return s >= half })
	return res
}

// summarise fills the figures that come from times, paid and the counts.
func (res *routingResult) summarise() {
	if len(res.times) == 0 {
		return
	}
	slices.Sort(res.times)
	res.P50 = quantile(res.times, 0.50).Seconds()
	res.P95 = quantile(res.times, 0.95).Seconds()
	res.Money = float64(res.paid) / 1e6 / float64(len(res.times))
	res.CancelsPerCode = float64(res.Cancels) / float64(len(res.times))
}

// poolRouting is one strategy's runs over several seeds as one: every
// activation and order counted, the shares averaged, the drift figures
// the worst run's.
func poolRouting(runs []routingResult) routingResult {
	p := routingResult{Strategy: runs[0].Strategy, Runs: len(runs), Before: map[string]float64{}, After: map[string]float64{},
		Recovered: map[string]float64{}}
	for _, r := range runs {
		p.Delivered += r.Delivered
		p.Orders += r.Orders
		p.Cancels += r.Cancels
		p.paid += r.paid
		p.times = append(p.times, r.times...)
		for k, v := range r.Before {
			p.Before[k] += v / float64(len(runs))
		}
		for k, v := range r.After {
			p.After[k] += v / float64(len(runs))
		}
		for k, v := range r.Recovered {
			p.Recovered[k] += v / float64(len(runs))
		}
		p.Abandon = worst(p.Abandon, r.Abandon)
		p.Return = worst(p.Return, r.Return)
	}
	p.summarise()
	return p
}

// worst of two "orders until" figures, -1 (never) worst of all.
func worst(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

// quantile of sorted durations (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// shares is each platform's share of the orders bought in [from, to).
func shares(orders []routingOrder, from, to time.Time) map[string]float64 {
	n := map[string]float64{}
	total := 0.0
	for _, o := range orders {
		if !o.at.Before(from) && o.at.Before(to) {
			n[o.platform]++
			total++
		}
	}
	for k := range n {
		n[k] /= total
	}
	return n
}

// ordersUntil counts the orders bought from from on until the target
// platform's share of the last routingWindow of them satisfies ok; -1 if
// it never does.
func ordersUntil(orders []routingOrder, from time.Time, target string, ok func(float64) bool) int {
	var win []bool
	hits, n := 0, 0
	for _, o := range orders {
		if o.at.Before(from) {
			continue
		}
		n++
		hit := o.platform == target
		win = append(win, hit)
		if hit {
			hits++
		}
		if len(win) > routingWindow {
			if win[0] {
				hits--
			}
			win = win[1:]
		}
		if len(win) == routingWindow && ok(float64(hits)/routingWindow) {
			return n
		}
	}
	return -1
}

// routingFigures compares each strategy with the oracle.
func (b *bench) routingFigures() {
	var oracle *routingResult
	for i := range b.rep.Routing {
		if b.rep.Routing[i].Strategy == "oracle" {
			oracle = &b.rep.Routing[i]
		}
	}
	if oracle == nil || oracle.Delivered == 0 {
		return
	}
	for _, r := range b.rep.Routing {
		if r.Strategy == "oracle" || r.Delivered == 0 {
			continue
		}
		graded := r.Strategy == "value" || r.Strategy == "success"
		add := func(name string, v float64, target string, limit float64, of string) {
			f := Figure{Name: r.Strategy + " " + name, Value: v, Unit: "x", Of: of}
			if graded && target != "" {
				f.Target, f.Met = target, boolp(v <= limit)
			}
			b.rep.Figures = append(b.rep.Figures, f)
		}
		add("p50 time to code / oracle's", r.P50/oracle.P50, "<= 1.15", 1.15, "p50 of activation start → code, retries included")
		add("money per code / oracle's", r.Money/oracle.Money, "<= 1.10", 1.10, "paid for delivered codes / delivered codes")
		if r.Strategy == "value" {
			f := Figure{Name: "value cancels per code / oracle's", Unit: "x", Of: "cancels / delivered codes, against the oracle's",
				Target: "<= 1.20"}
			if oracle.CancelsPerCode > 0 {
				f.Value = r.CancelsPerCode / oracle.CancelsPerCode
			} else if r.CancelsPerCode == 0 {
				f.Value = 1
			} else {
				f.Value = math.Inf(1)
			}
			f.Met = boolp(f.Value <= 1.20)
			b.rep.Figures = append(b.rep.Figures,
				f,
				Figure{Name: "value orders until the drifting platform's share < 20 %", Value: float64(r.Abandon), Unit: "orders",
					Of: fmt.Sprintf("orders after the drift until its share of the last %d is under 20 %%", routingWindow), Target: "<= 50",
					Met: boolp(r.Abandon >= 0 && r.Abandon <= 50)},
				Figure{Name: "value orders until it returns", Value: float64(r.Return), Unit: "orders",
					Of:     fmt.Sprintf("orders after the recovery until its share of the last %d is back to half its share before the drift", routingWindow),
					Target: "<= 200", Met: boolp(r.Return >= 0 && r.Return <= 200)})
		}
	}
}

// writeRouting is the table of strategy runs.
func (r *Report) writeRouting(w io.Writer) {
	if len(r.Routing) == 0 {
		return
	}
	tw := section(w, "strategy\tcodes\torders\tcancels/code\ttime to code p50\tp95\tmoney/code\tshare before drift\tafter\tafter recovery\torders to abandon\tto return\t")
	for _, x := range r.Routing {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.0fs\t%.0fs\t%.3f\t%s\t%s\t%s\t%d\t%d\t\n", x.Strategy, x.Delivered, x.Orders,
			x.CancelsPerCode, x.P50, x.P95, x.Money, shareList(x.Before), shareList(x.After), shareList(x.Recovered), x.Abandon, x.Return)
	}
	tw.Flush()
}

func shareList(m map[string]float64) string {
	return joinSorted(m, func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }, " ")
}
