package main

import (
	"bytes"
	"fmt"
	"time"
)

var stormActions = []string{"getStatus"}

// runStorm has many clients poll few orders as fast as they like and
// counts what reaches the upstream: the gateway's poller should ask each
// platform about an order once per poll interval, however often clients
// ask. Two phases with different client poll rates, each on its own
// platform (orders pinned with platform=), so their counts stay apart.
func runStorm(b *bench) error {
	q, err := b.buyQuery()
	if err != nil {
		return err
	}
	clientPoll := b.o.stormPoll
	if b.o.pollSet {
		clientPoll = b.o.poll
	}
	type phase struct {
		platform int
		poll     time.Duration
	}
	phases := []phase{{0, clientPoll}, {1, 0}}
	d := b.phaseLength(len(phases))
	for _, p := range phases {
		if err := b.storm(q, p.platform, p.poll, d); err != nil {
			return err
		}
	}
	worst := 0.0
	for _, s := range b.rep.Storm {
		worst = max(worst, s.UpstreamPerOrder/s.Bound)
	}
	b.rep.Figures = append(b.rep.Figures, Figure{
		Name: "storm: upstream getStatus per order / bound", Value: worst, Unit: "x",
		Of: "max over storm phases of upstream_per_order / (lifetime/poll_interval + 2)", Target: "<= 1", Met: boolp(worst <= 1),
	})
	b.rep.Notes = append(b.rep.Notes, "storm lifetime: from each purchase to the end of its phase; the orders are finished after the count")
	return nil
}

// stormOrders buys -orders numbers pinned to the platform code, with the
// time each was bought.
func (b *bench) stormOrders(setup *legacyCaller, buyQuery, code string) ([]int64, []time.Time, error) {
	ids := make([]int64, b.o.orders)
	bought := make([]time.Time, b.o.orders)
	for i := range ids {
		a := setup.call("getNumber", buyQuery+"&platform="+code)
		id, ok := parseNumber(a)
		if !ok {
			return nil, nil, fmt.Errorf("cannot buy storm order %d on %s: %s", i+1, code, outcome(a, func([]byte) bool { return false }))
		}
		ids[i], bought[i] = id, time.Now()
	}
	return ids, bought, nil
}

// stormPhase sums up a storm run: client and upstream getStatus calls per
// order against the bound the poll interval sets.
func (b *bench) stormPhase(run *Run, code string, ids []int64, bought []time.Time, stop time.Time, upstream int64, poll time.Duration) StormPhase {
	var life time.Duration
	for _, t := range bought {
		life += stop.Sub(t)
	}
	life /= time.Duration(len(bought))
	n := float64(len(ids))
	s := StormPhase{
		Run: run.Name, Platform: code, ClientPoll: "back to back", Orders: len(ids), LifetimeS: life.Seconds(),
		PollIntervalS: b.o.upstreamPoll.Seconds(), ClientStatusPerOrder: float64(run.Requests) / n,
		UpstreamStatusCalls: upstream, UpstreamPerOrder: float64(upstream) / n,
	}
	if poll > 0 {
		s.ClientPoll = poll.String()
	}
	s.Bound = s.LifetimeS/s.PollIntervalS + 2
	s.Met = s.UpstreamPerOrder <= s.Bound
	return s
}

// storm runs one phase of d: buy -orders numbers pinned to platform pi,
// then -c clients poll them (client w polls order w mod orders) every
// poll (0 = back to back) until the end.
func (b *bench) storm(buyQuery string, pi int, poll time.Duration, d time.Duration) error {
	code, market := b.w.codes[pi], b.w.sims[pi].Market
	start := time.Now()
	end := start.Add(d)
	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	scl, err := newClient(b.w.gateway, 1, b.o.timeout, time.Time{})
	if err != nil {
		return err
	}
	defer scl.close()
	before := market.Calls("getStatus")

	setup := newLegacyCaller(scl)
	ids, bought, err := b.stormOrders(setup, buyQuery, code)
	if err != nil {
		return err
	}

	name := "storm/back-to-back"
	if poll > 0 {
		name = "storm/poll " + poll.String()
	}
	// No warmup: client polls are counted over the same time as the
	// upstream's.
	rec := b.recorder(name, stormActions, time.Now(), time.Until(end), false)
	callers := make([]*legacyCaller, b.o.conns)
	dues := make([]time.Time, b.o.conns)
	for i := range callers {
		callers[i] = newLegacyCaller(cl)
		dues[i] = time.Now()
	}
	ok := func(body []byte) bool {
		return bytes.HasPrefix(body, []byte("STATUS_")) && !bytes.HasPrefix(body, []byte("STATUS_CANCEL"))
	}
	runClosed(b.o.conns, end, func(w int) {
		due := dues[w]
		if poll > 0 {
			// A fixed schedule per client: a late answer does not push the
			// next poll back, and the lateness counts in its latency.
			if !sleepUntil(due, end) {
				return
			}
			dues[w] = due.Add(poll)
		} else {
			due = time.Now()
		}
		a := callers[w].callID("getStatus", ids[w%len(ids)], "")
		rec.note(w, 0, due, a, outcome(a, ok))
	})
	upstream := market.Calls("getStatus") - before
	stop := time.Now()
	run := b.addRun(rec, "gateway", b.loadName(0, false), 0)

	s := b.stormPhase(run, code, ids, bought, stop, upstream, poll)
	b.rep.Storm = append(b.rep.Storm, s)

	// Finish what has its code, so the poller leaves these orders alone.
	for _, id := range ids {
		setup.callID("setStatus", id, "&status=6")
	}
	return nil
}
