package gateway_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/ledger"
)

// TestPollerScale holds many active orders over a fast simulator and
// measures what the issue asks: Go heap per active order, poll throughput
// (checks/s) and the lateness of due polls. Opt-in (it takes about a
// minute): SMSGATE_SCALE=100000 go test -run TestPollerScale -v ./gateway/
func TestPollerScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SMSGATE_SCALE"))
	if n <= 0 {
		t.Skip("set SMSGATE_SCALE=<orders> (e.g. 100000) to run the poller scale measurement")
	}
	const interval = 10 * time.Minute // each order is due once in the measurement
	var held []ledger.Order
	e := newEnvWith(t, envOptions{
		realClock: true,
		codeDelay: -1,
		config: func(c *config.Config) {
			c.Platforms = c.Platforms[1:] // one platform: hero, USD
			c.Platforms[0].PollInterval = interval
			c.Health.Interval = time.Hour
		},
		market: func(mc *simulator.Config) {
			mc.Stock = n + 10
			mc.Balance = int64(n+10) * adapters.Micro
			mc.Lifetime = time.Hour
		},
		preStart: func(e *env) {
			// The orders exist upstream and in the ledger before the
			// gateway starts, all due now: the poller's backlog.
			m := e.sims["hero"].Market
			now := time.Now().UTC()
			held = make([]ledger.Order, n)
			for i := range held {
				so, err := m.Buy(simulator.BuyArgs{Country: "us", Service: "tg"})
				if err != nil {
					t.Fatal(err)
				}
				held[i] = ledger.Order{Tenant: "a", Platform: "hero", UpstreamID: strconv.FormatInt(so.ID, 10), Phone: so.Phone,
					Country: "us", Service: "tg", Price: adapters.Money{Micros: so.Price, Currency: "USD"},
					BasePrice: adapters.Money{Micros: so.Price, Currency: "USD"}, State: adapters.StateWaiting,
					CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), NextPollAt: now}
			}
			var wg sync.WaitGroup
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += 16 {
						if err := e.store.Create(context.Background(), &held[i]); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			held = nil
			runtime.GC()
		},
	})
	m := e.sims["hero"].Market
	before := m.Calls("getStatus")
	start := time.Now()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var peakHeap uint64
	for {
		due, err := e.store.Due(context.Background(), time.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapAlloc)
		if len(due) == 0 {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatal("poller did not drain the backlog in 10 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	checks := m.Calls("getStatus") - before
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	fmt.Printf("scale: %d active orders: %d status checks in %s = %.0f checks/s; every due order polled within %s (max lateness)\n",
		n, checks, elapsed.Round(time.Millisecond), float64(checks)/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Printf("scale: Go heap with %d active orders held: %d B after GC (%.0f B/order), peak %d B while polling\n",
		n, ms1.HeapAlloc, float64(ms1.HeapAlloc)/float64(n), peakHeap)
	if checks < int64(n) {
		t.Errorf("%d checks for %d due orders", checks, n)
	}
}
