package main

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder collects one phase's requests. A request belongs to the phase
// if its intended send time falls in [from, until); earlier ones are the
// warmup and only feed the live display. Workers record into their own
// shard, so recording costs one uncontended lock.
type Recorder struct {
	name    string
	actions []string
	from    time.Time // measurement starts (after warmup)
	until   time.Time // measurement ends
	shards  []shard

	// Flow figures, counted for activations started inside the window.
	orders    atomic.Uint64 // numbers bought
	ordersAll atomic.Uint64 // numbers bought, warmup included (upstream calls are counted so)
	completed atomic.Uint64 // finished with setStatus 6 / complete
	owned     atomic.Uint64 // errors on orders the faulted platform holds (failover)
	abandoned atomic.Uint64 // orders given up without a code (-give-up)
	actMu     sync.Mutex
	actHist   Histogram // activation time: purchase sent → code seen; guarded by actMu

	liveErrs atomic.Uint64 // errors since the phase began, warmup included
}

type shard struct {
	mu    sync.Mutex
	acts  []actStats
	kinds map[string]uint64 // error kind → count
	cut   uint64            // cut off by the end of the run: neither ok nor error
	live  Histogram         // latencies since the last live read
}

type actStats struct {
	hist     Histogram // every answered request, ok or not
	ok, errs uint64
}

// newRecorder measures [from, until) for the given actions with n shards.
func newRecorder(name string, actions []string, from, until time.Time, n int) *Recorder {
	r := &Recorder{name: name, actions: actions, from: from, until: until, shards: make([]shard, max(n, 1))}
	for i := range r.shards {
		r.shards[i].acts = make([]actStats, len(actions))
		r.shards[i].kinds = map[string]uint64{}
	}
	return r
}

func (r *Recorder) inWindow(t time.Time) bool { return !t.Before(r.from) && t.Before(r.until) }

// record adds one request of action a by worker w: intended is when it was
// due, done when its answer (or error) came; errKind "" means ok.
func (r *Recorder) record(w, a int, intended, done time.Time, errKind string) {
	lat := done.Sub(intended)
	s := &r.shards[w%len(r.shards)]
	s.mu.Lock()
	s.live.Record(lat)
	if r.inWindow(intended) {
		st := &s.acts[a]
		st.hist.Record(lat)
		if errKind == "" {
			st.ok++
		} else {
			st.errs++
			s.kinds[errKind]++
		}
	}
	s.mu.Unlock()
	if errKind != "" {
		r.liveErrs.Add(1)
	}
}

// recordCut counts a request the end of the run cut off.
func (r *Recorder) recordCut(w int, intended time.Time) {
	if !r.inWindow(intended) {
		return
	}
	s := &r.shards[w%len(r.shards)]
	s.mu.Lock()
	s.cut++
	s.mu.Unlock()
}

// activation records a purchase started at start that completed at done.
func (r *Recorder) activation(start, done time.Time) {
	if !r.inWindow(start) {
		return
	}
	r.completed.Add(1)
	r.actMu.Lock()
	r.actHist.Record(done.Sub(start))
	r.actMu.Unlock()
}

// bought counts a number bought by an activation started at start.
func (r *Recorder) bought(start time.Time) {
	r.ordersAll.Add(1)
	if r.inWindow(start) {
		r.orders.Add(1)
	}
}

// abandon counts an order given up at t for want of a code.
func (r *Recorder) abandon(t time.Time) {
	if r.inWindow(t) {
		r.abandoned.Add(1)
	}
}

// ownedError counts an error on an order the faulted platform holds.
func (r *Recorder) ownedError(intended time.Time) {
	if r.inWindow(intended) {
		r.owned.Add(1)
	}
}

// takeLive returns the requests and p99 since the last call, and the
// errors since the phase began.
func (r *Recorder) takeLive() (n uint64, p99 time.Duration, errs uint64) {
	var h Histogram
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		h.Merge(&s.live)
		s.live.Reset()
		s.mu.Unlock()
	}
	return h.Count(), h.Quantile(0.99), r.liveErrs.Load()
}

// summary merges the shards: the whole phase and each action.
func (r *Recorder) summary() (all Stats, acts []ActionStats, kinds map[string]uint64, cut uint64) {
	secs := r.until.Sub(r.from).Seconds()
	var total Histogram
	per := make([]Histogram, len(r.actions))
	okN := make([]uint64, len(r.actions))
	errN := make([]uint64, len(r.actions))
	kinds = map[string]uint64{}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for a := range s.acts {
			per[a].Merge(&s.acts[a].hist)
			okN[a] += s.acts[a].ok
			errN[a] += s.acts[a].errs
		}
		for k, v := range s.kinds {
			kinds[k] += v
		}
		cut += s.cut
		s.mu.Unlock()
	}
	for a, name := range r.actions {
		total.Merge(&per[a])
		acts = append(acts, ActionStats{Name: name, Stats: statsOf(&per[a], okN[a], errN[a], secs)})
	}
	var ok, errs uint64
	for a := range r.actions {
		ok += okN[a]
		errs += errN[a]
	}
	return statsOf(&total, ok, errs, secs), acts, kinds, cut
}

// activationStats is the activation-time summary.
func (r *Recorder) activationStats() (p50, p99 time.Duration) {
	r.actMu.Lock()
	defer r.actMu.Unlock()
	return r.actHist.Quantile(0.5), r.actHist.Quantile(0.99)
}

// statsOf summarises a histogram of ok+errs answered requests over secs.
func statsOf(h *Histogram, ok, errs uint64, secs float64) Stats {
	s := Stats{Requests: ok + errs, OK: ok, Errors: errs}
	if secs > 0 {
		s.RPS = float64(s.Requests) / secs
	}
	s.P50Ms = ms(h.Quantile(0.50))
	s.P90Ms = ms(h.Quantile(0.90))
	s.P99Ms = ms(h.Quantile(0.99))
	s.MaxMs = ms(h.Max())
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// topKinds lists error kinds by count, most frequent first, at most n.
func topKinds(kinds map[string]uint64, n int) []string {
	type kv struct {
		k string
		v uint64
	}
	var list []kv
	for k, v := range kinds {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	var out []string
	for i := 0; i < len(list) && i < n; i++ {
		out = append(out, list[i].k)
	}
	return out
}
