package main

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The two load models. Closed loop: each of c workers sends its next
// request when the previous answer came, so a slow target is sent less and
// its latency looks better than a user would see. Open loop: requests are
// due on a fixed schedule whatever the target does, and latency counts from
// the due time, so waiting for a free worker or connection (coordinated
// omission) is part of it.

// runClosed runs c workers back to back until end; step does one unit of
// work for worker w.
func runClosed(c int, end time.Time, step func(w int)) {
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for time.Now().Before(end) {
				step(w)
			}
		})
	}
	wg.Wait()
}

// runStaggered is runClosed with worker w starting w/c of spread late, so
// virtual clients that each take the same time per activation do not
// move in lock step (a phase boundary would otherwise catch all of them
// at the same point of their activation).
func runStaggered(c int, spread time.Duration, end time.Time, step func(w int)) {
	begin := time.Now()
	runClosed(c, end, func(w int) {
		if sleepUntil(begin.Add(spread*time.Duration(w)/time.Duration(c)), end) {
			step(w)
		}
	})
}

// runOpen makes a request due every 1/rate s from start until end; c
// workers each take the next due request, wait for its time and send it
// (step gets the due time). It returns the requests that came due but were
// never sent because every worker was still busy at end.
func runOpen(c int, rate float64, start, end time.Time, step func(w int, due time.Time)) (missed uint64) {
	var next atomic.Int64
	interval := float64(time.Second) / rate
	dueAt := func(i int64) time.Time { return start.Add(time.Duration(float64(i) * interval)) }
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for {
				due := dueAt(next.Add(1) - 1)
				if !due.Before(end) {
					return
				}
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if !time.Now().Before(end) {
					return
				}
				step(w, due)
			}
		})
	}
	wg.Wait()
	total := int64(math.Ceil(end.Sub(start).Seconds() * rate))
	sent := min(next.Load()-int64(c), total) // every worker drew one index past its last send
	if sent < 0 {
		sent = 0
	}
	// Count only what was due while the workers were running.
	if total > sent {
		return uint64(total - sent)
	}
	return 0
}

// runArrivals starts one goroutine per arrival, every 1/rate s from start
// until end, each running a whole activation from its due time; it waits
// for them all. Used by the flow scenarios in open loop.
func runArrivals(rate float64, start, end time.Time, activation func(i int, due time.Time)) {
	interval := float64(time.Second) / rate
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) * interval))
		if !due.Before(end) {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() { activation(i, due) })
	}
	wg.Wait()
}

// outcome classifies an answer: "" when ok says its 200 body is the one
// expected, else an error kind.
func outcome(a answer, ok func(body []byte) bool) string {
	switch {
	case a.err != nil:
		return transportKind(a.err)
	case a.status == 200 && ok(a.body):
		return ""
	}
	return bodyKind(a.status, a.body)
}

// note records answer a of action act, due at intended, with its error
// kind ("" = ok); a request the run's end cut off counts as cut.
func (r *Recorder) note(w, act int, intended time.Time, a answer, errKind string) {
	if a.cut {
		r.recordCut(w, intended)
		return
	}
	r.record(w, act, intended, time.Now(), errKind)
}

// sleepUntil sleeps until t; false if t is at or past end (nothing slept).
func sleepUntil(t, end time.Time) bool {
	if !t.Before(end) {
		return false
	}
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
	return true
}
