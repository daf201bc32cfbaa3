package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints one line, rewritten each second, while a scenario runs:
// the current phase, requests/s and p99 over the last second, the phase's
// errors so far, and elapsed/total load time. Only on a terminal.
type progress struct {
	out   io.Writer // nil: disabled
	total time.Duration

	mu      sync.Mutex
	started time.Time // guarded by mu
	rec     *Recorder // current phase; guarded by mu
	last    time.Time // last read of rec; guarded by mu
	stop    chan struct{}
	done    chan struct{}
}

// newProgress shows progress on stdout when it is a terminal.
func newProgress(total time.Duration) *progress {
	p := &progress{total: total}
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.out = os.Stdout
	}
	return p
}

// begin starts the display (the scenario's load time starts now).
func (p *progress) begin() {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	p.started = time.Now()
	p.mu.Unlock()
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(p.out, "\r\033[K")
				return
			case now := <-t.C:
				p.tick(now)
			}
		}
	}()
}

// phase switches the display to rec.
func (p *progress) phase(rec *Recorder) {
	p.mu.Lock()
	p.rec, p.last = rec, time.Now()
	p.mu.Unlock()
}

func (p *progress) tick(now time.Time) {
	p.mu.Lock()
	rec, last, started := p.rec, p.last, p.started
	p.last = now
	p.mu.Unlock()
	if rec == nil {
		return
	}
	n, p99, errs := rec.takeLive()
	rps := float64(n) / now.Sub(last).Seconds()
	fmt.Fprintf(p.out, "\r\033[K%-22s %9.0f req/s  p99 %9s  errors %-6d %5.1fs/%.0fs",
		rec.name, rps, fmtDur(p99), errs, now.Sub(started).Seconds(), p.total.Seconds())
}

// end clears the line.
func (p *progress) end() {
	if p.out == nil || p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
