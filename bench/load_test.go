package main

import (
	"sync"
	"testing"
	"time"
)

// An open loop must not hide a slow target: when each request takes 20 ms
// but one is due every 5 ms, the latency from the due time keeps growing,
// where a closed loop would report 20 ms.
func TestOpenLoopCountsQueueing(t *testing.T) {
	start := time.Now()
	end := start.Add(300 * time.Millisecond)
	rec := newRecorder("open", []string{"x"}, start, end, 1)
	var mu sync.Mutex
	var dues []time.Time
	missed := runOpen(1, 200, start, end, func(w int, due time.Time) {
		mu.Lock()
		dues = append(dues, due)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		rec.record(w, 0, due, time.Now(), "")
	})
	all, _, _, _ := rec.summary()
	if all.Requests == 0 || all.Requests > 20 {
		t.Fatalf("sent %d requests; want about 15 (one worker, 20 ms each, 300 ms)", all.Requests)
	}
	if all.MaxMs < 100 {
		t.Errorf("max latency %.1f ms; want the queueing (>100 ms) counted from the due time", all.MaxMs)
	}
	// 60 requests came due in 300 ms; the rest were never sent.
	if got := all.Requests + missed; got < 58 || got > 61 {
		t.Errorf("sent %d + missed %d = %d; want the 60 that came due", all.Requests, missed, got)
	}
	for i := 1; i < len(dues); i++ {
		if d := dues[i].Sub(dues[i-1]); d != 5*time.Millisecond {
			t.Fatalf("due times %v apart; want the fixed 5 ms schedule", d)
		}
	}
}

func TestClosedLoopStopsAtEnd(t *testing.T) {
	end := time.Now().Add(50 * time.Millisecond)
	var mu sync.Mutex
	n := 0
	runClosed(3, end, func(w int) {
		mu.Lock()
		n++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	})
	if time.Since(end) > 20*time.Millisecond {
		t.Errorf("closed loop ran %v past its end", time.Since(end))
	}
	if n < 3 {
		t.Errorf("%d steps; want every worker to work", n)
	}
}

func TestRecorderWindowAndCounts(t *testing.T) {
	t0 := time.Now()
	rec := newRecorder("r", []string{"a", "b"}, t0.Add(time.Second), t0.Add(3*time.Second), 2)
	rec.record(0, 0, t0, t0.Add(time.Millisecond), "")                                  // warmup: not counted
	rec.record(0, 0, t0.Add(time.Second), t0.Add(time.Second+2*time.Millisecond), "")   // ok
	rec.record(1, 1, t0.Add(2*time.Second), t0.Add(2*time.Second+time.Millisecond), "") // ok
	rec.record(1, 1, t0.Add(2*time.Second), t0.Add(2*time.Second+time.Millisecond), "timeout")
	rec.recordCut(0, t0.Add(2*time.Second))
	all, acts, kinds, cut := rec.summary()
	if all.Requests != 3 || all.OK != 2 || all.Errors != 1 || cut != 1 {
		t.Errorf("requests/ok/errors/cut = %d/%d/%d/%d; want 3/2/1/1", all.Requests, all.OK, all.Errors, cut)
	}
	if all.RPS != 1.5 {
		t.Errorf("rps = %g; want 3 requests / 2 s", all.RPS)
	}
	if acts[0].Requests != 1 || acts[1].Requests != 2 || acts[1].Errors != 1 {
		t.Errorf("per action %+v", acts)
	}
	if kinds["timeout"] != 1 {
		t.Errorf("error kinds %v", kinds)
	}
	if all.MaxMs != 2 {
		t.Errorf("max %g ms; want 2", all.MaxMs)
	}
}
