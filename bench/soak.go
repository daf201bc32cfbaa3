package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/ledger"
)

// The soak scenario asks whether cost stays flat as orders accumulate: a
// ledger pre-seeded with -seed-finished ended orders and -seed-active
// active ones (opened at the upstream process in one call to its seed
// endpoint, so the poller has real work and the upstream is not bought
// from 100,000 times while the poller lists the growing set), then the legacy flow (buy → poll → finish) in open loop at
// -rate for -duration, measured in windows of -window. It reports each
// window's throughput and p99, the last/first window ratios, the heap the
// gateway holds per active order, and the upstream's status and list
// calls per poll interval.

// soakSeedWorkers seed the ledger in parallel (the SQLite group commit
// batches their creates).
const soakSeedWorkers = 64

// runSoak seeds, measures the heap, then loads the flow window by window.
func runSoak(b *bench) error {
	if b.w.upstream == nil || b.w.store == nil {
		return fmt.Errorf("scenario soak %w", errNeedsSimulator)
	}
	q, err := b.buyQuery()
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	if err := seedFinished(ctx, b.w.store, b.o.seedFinished); err != nil {
		return err
	}
	finished := time.Since(start)
	before := settledHeap()
	start = time.Now()
	if err := b.seedActive(ctx, b.o.seedActive); err != nil {
		return err
	}
	active := time.Since(start)
	after := restingHeap(6 * b.o.upstreamPoll)
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("seeded %d finished orders in %s, then %d active ones (opened at the upstream in one call, recorded in the ledger) in %s",
		b.o.seedFinished, finished.Round(time.Millisecond), b.o.seedActive, active.Round(time.Millisecond)))
	if b.o.seedActive > 0 {
		per := (float64(after) - float64(before)) / float64(b.o.seedActive)
		b.rep.Figures = append(b.rep.Figures, Figure{Name: "heap per active order", Value: per, Unit: "bytes",
			Of:     "(HeapAlloc after seeding the active orders, least of 8 samples over six poll intervals − before) / seed-active, each after two GCs (the second frees what sync.Pools held over the first); the simulator runs in its own process",
			Target: "<= 1024", Met: boolp(per <= 1024)})
	}

	rate := b.o.rate
	if rate <= 0 {
		rate = 100
	}
	calls0, err := upstreamRequests(b.w.upstream.url)
	if err != nil {
		return err
	}
	n := max(1, int(b.o.duration/b.o.window))
	loadStart := time.Now()
	end := loadStart.Add(time.Duration(n) * b.o.window)
	recs := make([]*Recorder, n)
	for i := range recs {
		from := loadStart.Add(time.Duration(i) * b.o.window)
		recs[i] = newRecorder(fmt.Sprintf("window %d", i+1), flowActions, from, from.Add(b.o.window), b.o.conns)
		b.prog.phase(recs[i])
	}
	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	f := &flowClient{buyQuery: q, poll: b.o.poll, giveUp: b.o.giveUp, end: end, rec: func(t time.Time) *Recorder {
		i := min(max(0, int(t.Sub(loadStart)/b.o.window)), n-1)
		return recs[i]
	}}
	runArrivals(rate, loadStart, end, func(i int, due time.Time) { f.activation(i, newLegacyCaller(cl), due) })
	for _, rec := range recs {
		b.addRun(rec, "gateway", fmt.Sprintf("open %g act/s", rate), 0)
	}
	calls1, err := upstreamRequests(b.w.upstream.url)
	if err != nil {
		return err
	}
	b.soakFigures(calls1, calls0, time.Since(loadStart))
	return nil
}

// soakFigures adds the last/first window ratios and the upstream calls
// per poll interval.
func (b *bench) soakFigures(calls1, calls0 map[string]int64, took time.Duration) {
	runs := b.rep.Runs
	if len(runs) >= 2 {
		first, last := runs[0], runs[len(runs)-1]
		if first.RPS > 0 {
			v := last.RPS / first.RPS
			b.rep.Figures = append(b.rep.Figures, Figure{Name: "throughput last/first window", Value: v, Unit: "x",
				Of: last.Name + ".rps / " + first.Name + ".rps", Target: ">= 0.90", Met: boolp(v >= 0.9)})
		}
		if first.P99Ms > 0 {
			v := last.P99Ms / first.P99Ms
			b.rep.Figures = append(b.rep.Figures, Figure{Name: "p99 last/first window", Value: v, Unit: "x",
				Of: last.Name + ".p99 / " + first.Name + ".p99", Target: "<= 1.20", Met: boolp(v <= 1.2)})
		}
	}
	intervals := took.Seconds() / b.o.upstreamPoll.Seconds()
	for _, call := range []string{"getStatus", "getActiveActivations"} {
		if d := calls1[call] - calls0[call]; intervals > 0 {
			b.rep.Figures = append(b.rep.Figures, Figure{Name: "platform up: " + call + " calls per poll interval", Value: float64(d) / intervals,
				Unit: "calls", Of: fmt.Sprintf("the upstream process's %s calls during the load / (load time / %s)", call, b.o.upstreamPoll)})
		}
	}
}

// settledHeap is HeapAlloc after two GCs: the first moves what the
// sync.Pools hold (fasthttp's buffers, a list round's) to their victim
// caches, the second frees it, so what is left is what the gateway keeps.
// restingHeap is the least settled heap seen over span, sampled eight
// times: the poller's first list round over the seeded orders finds all
// of them new, and while it looks them up and records them it holds the
// whole answer and every order it read (a heap profile: ~60 MB in
// applyChanges at 100,000 orders); a sample taken then priced that
// transient into every order (the figure moved between 930 and 1,330
// bytes from run to run). At rest what stays is what each active order
// really costs, its entry in the previous round included.
func restingHeap(span time.Duration) uint64 {
	least := settledHeap()
	const samples = 8
	for range samples {
		time.Sleep(span / samples)
		least = min(least, settledHeap())
	}
	return least
}

func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// upstreamRequests reads the upstream process's request counts.
func upstreamRequests(base string) (map[string]int64, error) {
	resp, err := http.Get(base + "/_sim/requests")
	if err != nil {
		return nil, fmt.Errorf("cannot read the upstream's request counts: %w", err)
	}
	defer resp.Body.Close()
	var m map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("cannot read the upstream's request counts: %w", err)
	}
	return m, nil
}

// seedFinished writes n ended orders (finished with a code, or cancelled)
// spread over the last 30 days, as a long-running gateway's ledger holds.
func seedFinished(ctx context.Context, store ledger.Store, n int) error {
	now := time.Now().UTC()
	return parallel(n, func(i int) error {
		at := now.Add(-time.Duration(rand.Int64N(int64(30 * 24 * time.Hour))))
		o := seedOrder(fmt.Sprintf("seed-%d", i), "+1555"+fmt.Sprint(1_000_000+i), at)
		o.NextPollAt = time.Time{}
		if i%4 == 0 {
			o.State = adapters.StateCancelled
		} else {
			o.State = adapters.StateFinished
			o.Codes = []ledger.Code{{Code: "123456", Text: "code 123456", ReceivedAt: at.Add(20 * time.Second)}}
		}
		return store.Create(ctx, &o)
	})
}

// seedActive opens n active orders at the upstream process in one call
// to its seed endpoint (the market schedules their SMS as it does a
// purchase's) and records them as the gateway's active orders, due
// within one poll interval.
func (b *bench) seedActive(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	seeded, err := seedUpstream(ctx, b.w.upstream.url, b.o.country, b.o.service, n)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return parallel(len(seeded), func(i int) error {
		o := seedOrder(seeded[i].id, seeded[i].phone, now)
		o.Country, o.Service = b.o.country, b.o.service
		o.NextPollAt = now.Add(time.Duration(rand.Int64N(int64(b.o.upstreamPoll))))
		return b.w.store.Create(ctx, &o)
	})
}

// seededOrder is one order the upstream's seed endpoint opened.
type seededOrder struct{ id, phone string }

// seedUpstream asks the upstream process (a "bench upstream") to open n
// orders of country/service (simulator.SeedPath) and reads the
// "<id> <phone>" lines it answers.
func seedUpstream(ctx context.Context, base, country, service string, n int) ([]seededOrder, error) {
	u := base + simulator.SeedPath + "?" + url.Values{"country": {country}, "service": {service}, "n": {strconv.Itoa(n)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot seed the upstream: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot seed the upstream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("cannot seed the upstream: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	out := make([]seededOrder, 0, n)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		id, phone, ok := strings.Cut(sc.Text(), " ")
		if !ok || id == "" || phone == "" {
			return nil, fmt.Errorf("cannot seed the upstream: line %q is not <id> <phone>", sc.Text())
		}
		out = append(out, seededOrder{id: id, phone: phone})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot seed the upstream: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("cannot seed the upstream: %d orders opened, %d asked", len(out), n)
	}
	return out, nil
}

// seedOrder is a waiting order of the bench tenant at the upstream.
func seedOrder(upstreamID, phone string, at time.Time) ledger.Order {
	return ledger.Order{Tenant: tenantName, Platform: "up", UpstreamID: upstreamID, Phone: phone,
		Country: "us", Service: "tg", State: adapters.StateWaiting,
		Price: adapters.Money{Micros: adapters.Micro / 2, Currency: "USD"}, BasePrice: adapters.Money{Micros: adapters.Micro / 2, Currency: "USD"},
		TenantPrice: adapters.Money{Micros: adapters.Micro / 2, Currency: "USD"}, TenantPriceBase: adapters.Money{Micros: adapters.Micro / 2, Currency: "USD"},
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(20 * time.Minute), NextPollAt: at}
}

// parallel runs f(0..n-1) on soakSeedWorkers goroutines; the first error
// stops it.
func parallel(n int, f func(i int) error) error {
	var (
		next    atomic.Int64
		failed  atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range soakSeedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
