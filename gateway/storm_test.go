package gateway_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
)

// TestPollingStorm: 50 clients poll getStatus every 50 ms on 200 active
// orders for a simulated minute. The upstream sees about one status call
// per order per poll interval, whatever the clients do, and every client
// sees its code within one poll interval of its arrival upstream.
func TestPollingStorm(t *testing.T) {
	const (
		orders       = 200
		clients      = 50
		pollInterval = 5 * time.Second // the platform's, set below
		codeDelay    = 30 * time.Second
	)
	e := newEnvWith(t, envOptions{
		codeDelay: codeDelay,
		config: func(c *config.Config) {
			for i := range c.Platforms {
				c.Platforms[i].PollInterval = pollInterval
			}
		},
		market: func(mc *simulator.Config) { mc.Balance = 1_000_000 * adapters.Micro },
	})
	sa := e.sims["sa"].Market
	ids := make([]string, orders)
	for i := range ids {
		ids[i] = e.buy(keyA, "service", "tg", "country", "187")
	}
	statusBefore := sa.Calls("getStatus")
	start := e.clock.Now()

	var (
		mu     sync.Mutex
		seen   = map[string]time.Time{} // id → simulated time a client first saw STATUS_OK
		passes = make([]int, clients)   // full passes each client finished; guarded by mu
		passed = make(chan struct{}, 1) // a pass finished somewhere
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		once   sync.Once
	)
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // clients stop before the gateway does, even on failure
	for c := 0; c < clients; c++ {
		mine := ids[c*orders/clients : (c+1)*orders/clients]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				// Each client polls its orders every 20 ms: the storm.
				// Each pass is counted so the test knows when every client
				// has looked at its orders since the poller caught up.
				for _, id := range mine {
					_, b := e.legacy(keyA, "action", "getStatus", "id", id)
					if strings.HasPrefix(b, "STATUS_OK:") {
						mu.Lock()
						if _, ok := seen[id]; !ok {
							seen[id] = e.clock.Now()
						}
						mu.Unlock()
					}
				}
				mu.Lock()
				passes[c]++
				mu.Unlock()
				select {
				case passed <- struct{}{}:
				default:
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	// everyoneLooked waits until each client has finished a whole pass that
	// started after now: two more passes than it had.
	everyoneLooked := func() {
		t.Helper()
		mu.Lock()
		want := append([]int(nil), passes...)
		mu.Unlock()
		limit := time.NewTimer(time.Minute) // only ends a test that would hang
		defer limit.Stop()
		for {
			mu.Lock()
			done := true
			for i := range want {
				if passes[i] < want[i]+2 {
					done = false
					break
				}
			}
			mu.Unlock()
			if done {
				return
			}
			select {
			case <-passed:
			case <-limit.C:
				t.Fatal("clients stopped polling")
			}
		}
	}
	// The simulated minute: one second per step, each step ending once the
	// poller has checked every order due by then and every client has read
	// its orders since (the machine's speed must not decide the result).
	for s := 0; s < 60; s++ {
		e.clock.Advance(time.Second)
		e.pollerCaughtUp()
		everyoneLooked()
	}
	halt()

	calls := sa.Calls("getStatus") - statusBefore
	limit := int64(orders * (60*time.Second/pollInterval + 2))
	t.Logf("%d orders, %d clients: %d upstream getStatus calls in a simulated minute (bound %d)", orders, clients, calls, limit)
	if calls > limit {
		t.Errorf("upstream saw %d status calls; want at most %d", calls, limit)
	}
	late := 0
	for _, id := range ids {
		o := e.order(id)
		up, err := sa.Get(atoi(o.UpstreamID))
		if err != nil || len(up.SMS) == 0 {
			t.Fatalf("order %s: no code upstream (%v)", id, err)
		}
		arrived := up.SMS[0].ReceivedAt
		got, ok := seen[id]
		if !ok {
			t.Errorf("order %s: no client saw its code (arrived %s after start)", id, arrived.Sub(start))
			continue
		}
		// One poll interval (with its 10% jitter) plus the test's 1 s step.
		if d := got.Sub(arrived); d > pollInterval*11/10+time.Second {
			late++
			t.Errorf("order %s: code seen %s after it arrived upstream", id, d)
		}
	}
	if late > 0 {
		t.Errorf("%d of %d orders seen late", late, orders)
	}
}

// TestCodesArrivingWhileDown: the gateway stops with active orders; codes
// arrive upstream meanwhile; the next gateway resumes polling from the
// ledger and delivers them.
func TestCodesArrivingWhileDown(t *testing.T) {
	e := newEnv(t)
	a := e.buy(keyA, "service", "tg", "country", "187")
	b := e.buy(keyB, "service", "wa", "country", "16")
	e.stop()
	e.clock.Advance(10 * time.Second) // both codes arrive upstream now
	e.start()
	for _, c := range []struct{ key, id string }{{keyA, a}, {keyB, b}} {
		e.eventually("code delivered after restart", func() bool {
			_, body := e.legacy(c.key, "action", "getStatus", "id", c.id)
			return strings.HasPrefix(body, "STATUS_OK:")
		})
	}
}
