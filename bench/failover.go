package main

import (
	"fmt"
	"time"

	"smsgate/adapters/simulator"
)

// failoverStep is one phase of the failover schedule: what the first
// (preferred) platform does meanwhile.
type failoverStep struct {
	name   string
	fault  string
	faults simulator.Faults
}

func (b *bench) failoverSchedule() []failoverStep {
	return []failoverStep{
		{"healthy", "none", simulator.Faults{}},
		{"outage", "connections closed unanswered", simulator.Faults{Outage: true}},
		{"slow", fmt.Sprintf("+%s per answer", b.o.slowLatency), simulator.Faults{Latency: b.o.slowLatency}},
		{"garbage", "HTML error pages with HTTP 200", simulator.Faults{Garbage: true}},
		{"recovered", "none", simulator.Faults{}},
	}
}

// runFailover runs the legacy flow through the gateway while the first
// platform, which the priority strategy prefers, goes through the
// schedule; the others stay healthy, so one platform can always sell.
// Each request counts in the phase it was due in.
func runFailover(b *bench) error {
	q, err := b.buyQuery()
	if err != nil {
		return err
	}
	steps := b.failoverSchedule()
	faulted := b.w.sims[0].Market
	faultedCode := b.w.codes[0]
	pd := b.phaseLength(len(steps))
	start := time.Now()
	end := start.Add(pd * time.Duration(len(steps)))

	recs := make([]*Recorder, len(steps))
	for i, s := range steps {
		recs[i] = newRecorder("failover/"+s.name, flowActions, start.Add(pd*time.Duration(i)), start.Add(pd*time.Duration(i+1)), b.o.conns)
	}
	recs[0].from = start.Add(b.o.phaseWarmup(pd))
	recAt := func(t time.Time) *Recorder {
		i := int(t.Sub(start) / pd)
		return recs[min(max(i, 0), len(recs)-1)]
	}

	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	f := &flowClient{buyQuery: q, poll: b.o.poll, giveUp: b.o.giveUp, end: end, rec: recAt,
		owned: func(id int64) bool { return b.w.owner(id) == faultedCode }}

	// The schedule: switch the fault at each phase start and count each
	// platform's getNumber calls per phase.
	ms := b.w.markets()
	buys := make([]map[string]int64, len(steps))
	counters := make([]*callCounter, len(steps))
	prev := make([]int64, len(ms))
	for j, m := range ms {
		prev[j] = buyCalls(m)
	}
	faulted.SetFaults(steps[0].faults)
	b.prog.phase(recs[0])
	counters[0] = countCalls(ms)
	scheduleDone := make(chan struct{})
	go func() {
		defer close(scheduleDone)
		for i := 1; i < len(steps); i++ {
			sleepUntil(start.Add(pd*time.Duration(i)), end)
			faulted.SetFaults(steps[i].faults)
			b.prog.phase(recs[i])
			counters[i] = countCalls(ms)
			buys[i-1] = buyDelta(b.w.codes, ms, prev)
		}
		sleepUntil(end, end.Add(time.Hour))
		buys[len(steps)-1] = buyDelta(b.w.codes, ms, prev)
	}()
	b.driveFlow(cl, f, start, end)
	<-scheduleDone
	faulted.SetFaults(simulator.Faults{})

	b.reportFailover(steps, recs, counters, buys)
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("the fault hits %s, the platform the priority strategy tries first; %s stay healthy. "+
		"Upstream calls per order count every platform's calls during the phase (the previous phases' orders included)", faultedCode, fmt.Sprint(b.w.codes[1:])))
	return nil
}

// reportFailover adds a run and a failover phase per step, and the figure
// of client-visible errors over all of them.
func (b *bench) reportFailover(steps []failoverStep, recs []*Recorder, counters []*callCounter, buys []map[string]int64) {
	var total uint64
	for i, s := range steps {
		run := b.addRun(recs[i], "gateway", b.loadName(b.o.rate, true), 0)
		run.Flow = flowStats(recs[i], counters[i])
		byAct := map[string]uint64{}
		for _, a := range run.Actions {
			byAct[a.Name] = a.Errors
		}
		b.rep.Failover = append(b.rep.Failover, FailoverPhase{
			Phase: s.name, Fault: s.fault, Run: run.Name, Requests: run.Requests, Errors: run.Errors,
			ErrorsByAction: byAct, OwnedErrors: run.Flow.OwnedErrors, UpstreamBuys: buys[i],
			Completed: run.Flow.Completed, Abandoned: run.Flow.Abandoned, P99Ms: run.P99Ms,
		})
		total += run.Errors
	}
	b.rep.Figures = append(b.rep.Figures, Figure{
		Name: "client-visible errors while one platform can sell", Value: float64(total), Unit: "errors",
		Of: "sum of errors over the failover phases", Target: "0", Met: boolp(total == 0),
	})
}

// buyCalls counts a market's purchase calls (the adapter uses getNumberV2
// and falls back to getNumber).
func buyCalls(m *simulator.Market) int64 { return m.Calls("getNumber") + m.Calls("getNumberV2") }

// buyDelta returns each platform's purchase calls since prev, and moves
// prev on.
func buyDelta(codes []string, ms []*simulator.Market, prev []int64) map[string]int64 {
	out := map[string]int64{}
	for j, m := range ms {
		n := buyCalls(m)
		out[codes[j]] = n - prev[j]
		prev[j] = n
	}
	return out
}
