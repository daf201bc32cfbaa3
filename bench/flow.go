package main

import (
	"bytes"
	"strconv"
	"time"

	"smsgate/adapters/simulator"
)

// Legacy flow actions, as recorder indexes.
const (
	actGetNumber = iota
	actGetStatus
	actSetStatus
)

var flowActions = []string{"getNumber", "getStatus", "setStatus"}

// maxFinishAttempts bounds a virtual client's setStatus 6 retries.
const maxFinishAttempts = 10

// flowClient is what a virtual legacy client does: buy a number, poll its
// status every poll until the code, finish it.
type flowClient struct {
	buyQuery string
	poll     time.Duration
	giveUp   time.Duration               // abandon an order with no code after this
	end      time.Time                   // no request is started at or after end
	rec      func(t time.Time) *Recorder // the phase a due time belongs to
	// owned says whether order id is held by the faulted platform
	// (failover); nil otherwise.
	owned func(id int64) bool
}

var (
	tokNumber     = []byte("ACCESS_NUMBER:")
	tokStatusOK   = []byte("STATUS_OK:")
	tokStatusWait = []byte("STATUS_WAIT_")
	tokActivation = []byte("ACCESS_ACTIVATION")
)

// activation runs one purchase by worker w, due at start. It returns when
// the order is finished or abandoned, or the run ends.
func (f *flowClient) activation(w int, lc *legacyCaller, start time.Time) {
	if !start.Add(f.poll).Before(f.end) {
		// Too late to see this order's status before the end: a number
		// bought now would only be abandoned (and buying them back to back
		// would flood the last moments of the run).
		time.Sleep(time.Until(f.end))
		return
	}
	rec := f.rec(start)
	a := lc.call("getNumber", f.buyQuery)
	id, ok := parseNumber(a)
	if !ok {
		rec.note(w, actGetNumber, start, a, outcome(a, func([]byte) bool { return false }))
		// A client that was refused waits a poll interval before it asks
		// again, rather than spin on the error.
		sleepUntil(time.Now().Add(f.poll), f.end)
		return
	}
	rec.note(w, actGetNumber, start, a, "")
	rec.bought(start)

	due := time.Now().Add(f.poll)
	for {
		if !sleepUntil(due, f.end) {
			return
		}
		rec := f.rec(due)
		if due.Sub(start) > f.giveUp {
			// A real client stops waiting too; it cannot cancel in the
			// first minutes, so it just moves on.
			rec.abandon(due)
			return
		}
		a := lc.callID("getStatus", id, "")
		switch {
		case a.err == nil && a.status == 200 && bytes.HasPrefix(a.body, tokStatusOK):
			rec.note(w, actGetStatus, due, a, "")
			f.finish(w, lc, id, start)
			return
		case a.err == nil && a.status == 200 && bytes.HasPrefix(a.body, tokStatusWait):
			rec.note(w, actGetStatus, due, a, "")
		default:
			rec.note(w, actGetStatus, due, a, outcome(a, func([]byte) bool { return false }))
			f.ownedError(rec, id, due, a)
			if a.err == nil && (bytes.HasPrefix(a.body, []byte("STATUS_CANCEL")) || bytes.HasPrefix(a.body, []byte("NO_ACTIVATION"))) {
				return // the order is gone
			}
		}
		due = time.Now().Add(f.poll)
	}
}

// finish sends setStatus 6 once the code came, retrying a failure every
// poll interval.
func (f *flowClient) finish(w int, lc *legacyCaller, id int64, start time.Time) {
	due := time.Now()
	for attempt := 0; attempt < maxFinishAttempts; attempt++ {
		if !sleepUntil(due, f.end) {
			return
		}
		rec := f.rec(due)
		a := lc.callID("setStatus", id, "&status=6")
		if a.err == nil && a.status == 200 && bytes.Equal(a.body, tokActivation) {
			rec.note(w, actSetStatus, due, a, "")
			f.rec(start).activation(start, time.Now())
			return
		}
		rec.note(w, actSetStatus, due, a, outcome(a, func([]byte) bool { return false }))
		f.ownedError(rec, id, due, a)
		if a.err == nil && (bytes.HasPrefix(a.body, []byte("BAD_STATUS")) || bytes.HasPrefix(a.body, []byte("NO_ACTIVATION"))) {
			return
		}
		due = time.Now().Add(f.poll)
	}
}

// ownedError counts a failed request on an order the faulted platform
// holds (a cut request is no error).
func (f *flowClient) ownedError(rec *Recorder, id int64, due time.Time, a answer) {
	if f.owned != nil && !a.cut && f.owned(id) {
		rec.ownedError(due)
	}
}

// parseNumber reads ACCESS_NUMBER:<id>:<phone>.
func parseNumber(a answer) (int64, bool) {
	if a.err != nil || a.status != 200 || !bytes.HasPrefix(a.body, tokNumber) {
		return 0, false
	}
	rest := a.body[len(tokNumber):]
	if i := bytes.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	id, err := strconv.ParseInt(string(rest), 10, 64)
	return id, err == nil && id > 0
}

// driveFlow runs virtual clients against c from start until end: -c of
// them back to back (closed loop, their starts spread over one
// activation), or with -rate a new activation every
// 1/rate s whatever the target does (open loop, each request's latency
// counted from when it was due).
func (b *bench) driveFlow(cl *client, f *flowClient, start, end time.Time) {
	if b.o.rate > 0 {
		runArrivals(b.o.rate, start, end, func(i int, due time.Time) {
			f.activation(i, newLegacyCaller(cl), due)
		})
		return
	}
	callers := make([]*legacyCaller, b.o.conns)
	for i := range callers {
		callers[i] = newLegacyCaller(cl)
	}
	runStaggered(b.o.conns, b.o.codeDelay+b.o.poll, end, func(w int) { f.activation(w, callers[w], time.Now()) })
}

// runFlow runs the legacy flow against the simulator directly, then
// through the gateway.
func runFlow(b *bench) error {
	q, err := b.buyQuery()
	if err != nil {
		return err
	}
	type phase struct {
		ep endpoint
		cc func() *callCounter
	}
	var phases []phase
	if b.w.direct != nil {
		phases = append(phases, phase{b.w.direct.ep, func() *callCounter { return countCalls([]*simulator.Market{b.w.direct.market}) }})
	}
	phases = append(phases, phase{b.w.gateway, func() *callCounter { return countCalls(b.w.markets()) }})
	d := b.phaseLength(len(phases))
	for _, p := range phases {
		start := time.Now()
		end := start.Add(d)
		cl, err := newClient(p.ep, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
		if err != nil {
			return err
		}
		rec := b.recorder(p.ep.name, flowActions, start, d, true)
		cc := p.cc()
		f := &flowClient{buyQuery: q, poll: b.o.poll, giveUp: b.o.giveUp, end: end, rec: func(time.Time) *Recorder { return rec }}
		b.driveFlow(cl, f, start, end)
		cl.close()
		run := b.addRun(rec, p.ep.name, b.loadName(b.o.rate, true), 0)
		run.Flow = flowStats(rec, cc)
	}
	if b.w.direct == nil {
		b.rep.Notes = append(b.rep.Notes, "direct baseline and upstream calls: n/a with -target")
	}
	b.rep.ratio("gateway/direct throughput", "gateway", "direct", "", 0)
	if g, d := b.rep.run("gateway"), b.rep.run("direct"); g != nil && d != nil && g.Flow.UpstreamCalls >= 0 && d.Flow.CallsPerOrder > 0 {
		b.rep.Figures = append(b.rep.Figures, Figure{Name: "upstream calls per order, gateway/direct", Value: g.Flow.CallsPerOrder / d.Flow.CallsPerOrder,
			Unit: "x", Of: "gateway.flow.calls_per_order / direct.flow.calls_per_order"})
	}
	b.rep.Notes = append(b.rep.Notes, "upstream calls per order: every protocol call the upstreams received during the phase / numbers bought in it; orders bought near the end have not been polled to completion yet")
	return nil
}
