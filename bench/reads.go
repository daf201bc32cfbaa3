package main

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// readReq is one request of the reads mix.
type readReq struct {
	act    int    // index into readActions
	action string // legacy action
	query  string // extra query, encoded
}

var readActions = []string{"getPrices", "getCountries", "getBalance", "getStatus"}

// actStatus is getStatus's index in readActions.
const actStatus = 3

// statusEvery: in a mix with getStatus, one other read follows every
// statusEvery getStatus, as clients poll their orders far more often
// than they read prices or their balance.
const statusEvery = 4

// readMix is what a legacy client reads: prices of what it buys most,
// prices of a country, the country list, its balance, the status of its
// orders; only the actions -mix names. With getStatus, -active orders are
// bought first and each is read in turn. Workers cycle through the mix
// from different offsets.
func (b *bench) readMix() ([]readReq, error) {
	country, err := b.saCountry()
	if err != nil {
		return nil, err
	}
	all := []readReq{
		{0, "getPrices", "&service=" + b.o.service + "&country=" + country},
		{2, "getBalance", ""},
		{0, "getPrices", "&country=" + country},
		{0, "getPrices", "&service=" + b.o.service + "&country=" + country},
		{1, "getCountries", ""},
	}
	want := map[string]bool{}
	for _, a := range strings.Split(b.o.mix, ",") {
		a = strings.TrimSpace(a)
		if !slices.Contains(readActions, a) {
			return nil, fmt.Errorf("-mix: unknown action %q (want some of %s)", a, strings.Join(readActions, ","))
		}
		want[a] = true
	}
	var base []readReq
	for _, r := range all {
		if want[r.action] {
			base = append(base, r)
		}
	}
	if !want["getStatus"] {
		return base, nil
	}
	ids, err := b.buyActive(b.o.active)
	if err != nil {
		return nil, err
	}
	mix := make([]readReq, 0, len(ids)+len(ids)/statusEvery)
	for i, id := range ids {
		mix = append(mix, readReq{actStatus, "getStatus", "&id=" + strconv.FormatInt(id, 10)})
		if len(base) > 0 && (i+1)%statusEvery == 0 {
			mix = append(mix, base[(i/statusEvery)%len(base)])
		}
	}
	return mix, nil
}

// hasStatus reports whether the mix reads orders.
func hasStatus(mix []readReq) bool {
	return slices.ContainsFunc(mix, func(r readReq) bool { return r.act == actStatus })
}

// buyActive buys n orders through the gateway (getNumber, -c at a time)
// for the getStatus reads; they stay active for -code-delay, and the
// gateway's poller polls them upstream meanwhile. Any refusal is a setup
// failure: the scenario promises n active orders.
func (b *bench) buyActive(n int) ([]int64, error) {
	q, err := b.buyQuery()
	if err != nil {
		return nil, err
	}
	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout, time.Time{})
	if err != nil {
		return nil, err
	}
	defer cl.close()
	var (
		mu      sync.Mutex
		ids     = make([]int64, 0, n)
		refusal string // the first, for the error
		failed  int
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for range b.o.conns {
		wg.Go(func() {
			lc := newLegacyCaller(cl)
			for next.Add(1) <= int64(n) {
				a := lc.call("getNumber", q)
				id, ok := parseNumber(a)
				mu.Lock()
				if ok {
					ids = append(ids, id)
				} else if failed++; refusal == "" {
					refusal = fmt.Sprintf("HTTP %d %q %v", a.status, a.body, a.err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		return nil, fmt.Errorf("bought %d of %d active orders; first refusal: %s", len(ids), n, refusal)
	}
	slices.Sort(ids)
	return ids, nil
}

// readOK says whether a 200 answer to a read is the expected kind.
func readOK(act int) func([]byte) bool {
	switch readActions[act] {
	case "getBalance":
		return func(b []byte) bool { return bytes.HasPrefix(b, []byte("ACCESS_BALANCE:")) }
	case "getStatus":
		return func(b []byte) bool { return bytes.HasPrefix(b, []byte("STATUS_")) }
	}
	return func(b []byte) bool { return len(b) > 0 && b[0] == '{' }
}

// runReads loads the ceiling, the simulator directly and the gateway to
// saturation (closed loop), then direct and gateway in open loop at half
// the direct saturation rate for the added latency. With -rate, the three
// run open loop at that rate instead.
func runReads(b *bench) error {
	mix, err := b.readMix()
	if err != nil {
		return err
	}
	ceiling, stop, err := startCeiling(b.w.gateway, mix, b.o.timeout)
	if err != nil {
		return err
	}
	defer stop()

	type phase struct {
		name string
		ep   endpoint
		half bool // open loop at half the direct saturation rate
	}
	if hasStatus(mix) {
		return b.statusReads(mix, ceiling)
	}
	phases := []phase{{"ceiling", ceiling, false}}
	if b.w.direct != nil {
		phases = append(phases, phase{"direct", b.w.direct.ep, false})
	}
	phases = append(phases, phase{"gateway", b.w.gateway, false})
	if b.w.direct != nil && b.o.rate <= 0 {
		phases = append(phases, phase{"direct@half", b.w.direct.ep, true}, phase{"gateway@half", b.w.gateway, true})
	}
	d := b.phaseLength(len(phases))
	for _, p := range phases {
		rate := b.o.rate
		if p.half {
			rate = b.rep.run("direct").RPS / 2
			if rate <= 0 {
				b.rep.Notes = append(b.rep.Notes, "the direct run served nothing: no half-load phases")
				break
			}
		}
		if err := b.loadReads(p.name, p.ep, mix, d, rate); err != nil {
			return err
		}
	}

	b.rep.ratio("gateway/ceiling throughput", "gateway", "ceiling", ">= 0.80", 0.8)
	b.rep.ratio("gateway/direct throughput", "gateway", "direct", "", 0)
	b.rep.ratio("direct/ceiling throughput", "direct", "ceiling", "", 0)
	b.addedLatency()
	if b.w.direct == nil {
		b.rep.Notes = append(b.rep.Notes, "direct baseline: n/a with -target (bench cannot reach the upstreams)")
	}
	b.rep.Notes = append(b.rep.Notes, "ceiling: a bare fasthttp server in this process answering the gateway's recorded bytes from memory")
	return nil
}

// statusRounds is how many times the getStatus mix alternates between
// the ceiling and the gateway: on a shared machine the load of other
// processes drifts over a run, and alternating short phases gives both
// the same share of it.
const statusRounds = 3

// statusReads loads the getStatus mix on the ceiling and the gateway in
// alternating rounds (closed loop, or open loop at -rate) while the
// gateway's poller polls the -active orders upstream. The orders are the
// gateway's: the direct simulator does not know them, so there is no
// direct baseline.
func (b *bench) statusReads(mix []readReq, ceiling endpoint) error {
	d := b.phaseLength(2 * statusRounds)
	var upstream, statuses int64 = -1, 0
	for i := 1; i <= statusRounds; i++ {
		if err := b.loadReads(fmt.Sprintf("ceiling %d/%d", i, statusRounds), ceiling, mix, d, b.o.rate); err != nil {
			return err
		}
		cc := countCalls(b.w.markets())
		if err := b.loadReads(fmt.Sprintf("gateway %d/%d", i, statusRounds), b.w.gateway, mix, d, b.o.rate); err != nil {
			return err
		}
		if all, st := cc.since(); all >= 0 {
			upstream, statuses = max(upstream, 0)+all, statuses+st
		}
	}
	var g, c float64
	for i := 1; i <= statusRounds; i++ {
		g += b.rep.run(fmt.Sprintf("gateway %d/%d", i, statusRounds)).RPS
		c += b.rep.run(fmt.Sprintf("ceiling %d/%d", i, statusRounds)).RPS
	}
	if c > 0 {
		b.rep.Figures = append(b.rep.Figures, Figure{Name: "gateway/ceiling throughput", Value: g / c, Unit: "x",
			Of: "Σ gateway rounds' rps / Σ ceiling rounds' rps (alternating)", Target: ">= 0.90", Met: boolp(g/c >= 0.9)})
	}
	if upstream >= 0 {
		secs := d.Seconds() * statusRounds
		b.rep.Figures = append(b.rep.Figures, Figure{Name: "upstream calls while the gateway ran", Value: float64(upstream) / secs,
			Unit: "calls/s", Of: fmt.Sprintf("the simulated platforms' calls (%d of them getStatus) / the gateway rounds' length", statuses)})
	}
	b.rep.Notes = append(b.rep.Notes,
		fmt.Sprintf("getStatus reads %d orders bought before the load, active (SMS after -code-delay) and polled upstream by the gateway's poller throughout (the ceiling rounds included)", b.o.active),
		"direct baseline: n/a (the orders read are the gateway's)",
		"ceiling: a bare fasthttp server in this process answering the gateway's recorded bytes from memory")
	return nil
}

// addedLatency adds the gateway's p99 over direct at the same open-loop
// rate: half the direct saturation (or -rate).
func (b *bench) addedLatency() {
	g, d := b.rep.run("gateway@half"), b.rep.run("direct@half")
	of := "gateway@half.p99 - direct@half.p99"
	if b.o.rate > 0 {
		g, d = b.rep.run("gateway"), b.rep.run("direct")
		of = "gateway.p99 - direct.p99 (both open loop at -rate)"
	}
	if g == nil || d == nil {
		return
	}
	v := g.P99Ms - d.P99Ms
	b.rep.Figures = append(b.rep.Figures,
		Figure{Name: "p99 added latency", Value: v, Unit: "ms", Of: of, Target: "<= 1 ms", Met: boolp(v <= 1)},
		Figure{Name: "p50 added latency", Value: g.P50Ms - d.P50Ms, Unit: "ms", Of: "same runs, p50"})
}

// loadReads runs one phase of the reads mix against ep for d.
func (b *bench) loadReads(name string, ep endpoint, mix []readReq, d time.Duration, rate float64) error {
	start := time.Now()
	end := start.Add(d)
	cl, err := newClient(ep, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	rec := b.recorder(name, readActions, start, d, true)
	callers := make([]*legacyCaller, b.o.conns)
	next := make([]int, b.o.conns)
	oks := make([]func([]byte) bool, len(mix))
	for i := range callers {
		callers[i] = newLegacyCaller(cl)
		next[i] = i
	}
	for i, m := range mix {
		oks[i] = readOK(m.act)
	}
	step := func(w int, due time.Time) {
		i := next[w] % len(mix)
		next[w]++
		m := mix[i]
		a := callers[w].call(m.action, m.query)
		rec.note(w, m.act, due, a, outcome(a, oks[i]))
	}
	var missed uint64
	if rate > 0 {
		missed = runOpen(b.o.conns, rate, start, end, step)
	} else {
		runClosed(b.o.conns, end, func(w int) { step(w, time.Now()) })
	}
	b.addRun(rec, ep.name, b.loadName(rate, false), missed)
	return nil
}

// recorded is one answer of the gateway, replayed by the ceiling.
type recorded struct {
	status int
	ctype  []byte
	body   []byte
}

// startCeiling records the gateway's answer to each request of the mix
// once and serves them from memory on a bare fasthttp server: what this
// stack does on this machine with no work behind it. A gateway that does
// not answer the mix properly is a setup failure.
func startCeiling(gw endpoint, mix []readReq, timeout time.Duration) (endpoint, func(), error) {
	cl, err := newClient(gw, 1, timeout, time.Time{})
	if err != nil {
		return endpoint{}, nil, err
	}
	defer cl.close()
	lc := newLegacyCaller(cl)
	answers := map[string]recorded{}
	for _, m := range mix {
		a := lc.call(m.action, m.query)
		if k := outcome(a, readOK(m.act)); k != "" {
			return endpoint{}, nil, fmt.Errorf("gateway %s answered %s to %s%s", gw.base, k, m.action, m.query)
		}
		answers[string(lc.uri)] = recorded{status: a.status, ctype: append([]byte(nil), lc.resp.Header.ContentType()...),
			body: append([]byte(nil), a.body...)}
	}
	srv := &fasthttp.Server{
		Name:                  "ceiling",
		NoDefaultServerHeader: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			r, ok := answers[string(ctx.RequestURI())]
			if !ok {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			ctx.SetStatusCode(r.status)
			ctx.Response.Header.SetContentTypeBytes(r.ctype)
			ctx.SetBody(r.body)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return endpoint{}, nil, fmt.Errorf("cannot start the ceiling server: %w", err)
	}
	go srv.Serve(ln) //nolint:errcheck // returns at Shutdown
	return endpoint{name: "ceiling", base: "http://" + ln.Addr().String(), key: gw.key}, func() { srv.Shutdown() }, nil
}
