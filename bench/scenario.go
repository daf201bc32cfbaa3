package main

import (
	"fmt"
	"strconv"
	"time"

	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
)

// scenario is one thing bench can measure.
type scenario struct {
	needsSim bool // steers the simulated upstreams: in-process only
	// noWorld: the scenario starts no gateway and no upstream of the
	// world's (routing runs its own markets in virtual time).
	noWorld bool
	run     func(b *bench) error
}

var scenarios = map[string]scenario{
	"reads":    {run: runReads},
	"flow":     {run: runFlow},
	"failover": {needsSim: true, run: runFailover},
	"storm":    {needsSim: true, run: runStorm},
	"unified":  {run: runUnified},
	"buy":      {needsSim: true, run: runBuy},
	"soak":     {needsSim: true, run: runSoak},
	"routing":  {noWorld: true, run: runRouting},
}

// bench is one scenario's run: options, targets, live display, report.
type bench struct {
	o    *options
	w    *world
	prog *progress
	rep  *Report
}

// hardEndGrace is how long a request in flight at the end of a phase may
// still finish before it is cut.
const hardEndGrace = 250 * time.Millisecond

// phaseLength divides the scenario's -duration into n equal phases.
func (b *bench) phaseLength(n int) time.Duration { return b.o.duration / time.Duration(n) }

// recorder starts measuring a phase from start for d, after its warmup.
func (b *bench) recorder(name string, actions []string, start time.Time, d time.Duration, warm bool) *Recorder {
	from := start
	if warm {
		from = start.Add(b.o.phaseWarmup(d))
	}
	rec := newRecorder(name, actions, from, start.Add(d), b.o.conns)
	b.prog.phase(rec)
	return rec
}

// addRun turns a finished recorder into a Run of the report.
func (b *bench) addRun(rec *Recorder, target, load string, missed uint64) *Run {
	all, acts, kinds, cut := rec.summary()
	run := Run{
		Name: rec.name, Target: target, Load: load, Seconds: rec.until.Sub(rec.from).Seconds(),
		Stats: all, Cut: cut, Missed: missed, Actions: acts,
	}
	if len(kinds) > 0 {
		run.ErrorKinds = kinds
	}
	b.rep.Runs = append(b.rep.Runs, run)
	return &b.rep.Runs[len(b.rep.Runs)-1]
}

// loadName describes the load model of a run.
func (b *bench) loadName(rate float64, perActivation bool) string {
	switch {
	case rate <= 0:
		return fmt.Sprintf("closed c=%d", b.o.conns)
	case perActivation:
		return fmt.Sprintf("open %g act/s", rate)
	}
	return fmt.Sprintf("open %.0f/s c=%d", rate, b.o.conns)
}

// saCountry is the SMS-Activate numeric id of the ISO country bought.
func (b *bench) saCountry() (string, error) {
	c, ok := catalog.CountryByISO(b.o.country)
	if !ok {
		return "", fmt.Errorf("-country %q: unknown ISO country", b.o.country)
	}
	return strconv.Itoa(c.SMSActivateID), nil
}

// buyQuery is the legacy getNumber query for -service and -country.
func (b *bench) buyQuery() (string, error) {
	id, err := b.saCountry()
	if err != nil {
		return "", err
	}
	return "&service=" + b.o.service + "&country=" + id, nil
}

// callCounter snapshots the upstream calls of some markets.
type callCounter struct {
	ms            []*simulator.Market
	all, statuses int64
}

func countCalls(ms []*simulator.Market) *callCounter {
	if len(ms) == 0 {
		return nil
	}
	return &callCounter{ms: ms, all: calls(ms, ""), statuses: calls(ms, "getStatus")}
}

// since returns the calls made since the snapshot (-1, -1 when bench
// cannot see the upstreams).
func (c *callCounter) since() (all, statuses int64) {
	if c == nil {
		return -1, -1
	}
	return calls(c.ms, "") - c.all, calls(c.ms, "getStatus") - c.statuses
}

// flowStats fills a flow run's order figures from its recorder and the
// upstream calls since cc.
func flowStats(rec *Recorder, cc *callCounter) *FlowStats {
	p50, p99 := rec.activationStats()
	f := &FlowStats{Orders: rec.orders.Load(), PhaseOrders: rec.ordersAll.Load(), Completed: rec.completed.Load(),
		ActivationP50Ms: ms(p50), ActivationP99Ms: ms(p99), OwnedErrors: rec.owned.Load(), Abandoned: rec.abandoned.Load()}
	f.UpstreamCalls, f.UpstreamStatusCalls = cc.since()
	if f.PhaseOrders > 0 && f.UpstreamCalls >= 0 {
		f.CallsPerOrder = float64(f.UpstreamCalls) / float64(f.PhaseOrders)
		f.StatusCallsPerOrder = float64(f.UpstreamStatusCalls) / float64(f.PhaseOrders)
	}
	return f
}
