package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"smsgate/adapters/simulator"
)

// TestLifecycleLeavesNoGoroutine starts and stops the whole gateway 20
// times — simulators, server, poller, health checks, and a late finish
// retrying against a platform that is down when Stop comes — and then
// finds no goroutine left behind: Stop waits for everything it started.
func TestLifecycleLeavesNoGoroutine(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t)
			id := e.buy(keyA, "service", "tg", "country", "187")
			e.buy(keyB, "service", "wa", "country", "16") // a waiting order for the poller
			e.clock.Advance(5 * time.Second)
			e.eventually("code", func() bool {
				_, b := e.legacy(keyA, "action", "getStatus", "id", id)
				return strings.HasPrefix(b, "STATUS_OK:")
			})
			e.g.CheckHealth(context.Background())
			// The platform goes down: the finish is answered locally and a
			// background retry keeps calling the platform until Stop.
			e.sims["sa"].Market.SetFaults(simulator.Faults{Outage: true})
			if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "6"); b != "ACCESS_ACTIVATION" {
				t.Fatalf("finish with the platform down = %q", b)
			}
			e.g.Kick()
		})
	}
	http.DefaultClient.CloseIdleConnections()
	opts := []goleak.Option{ignore,
		// fasthttp's process-wide singletons, started once by the first
		// server or dialer and never stopped: not the gateway's.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	}
	// fasthttp's idle-worker and idle-connection cleaners notice a stopped
	// server or client only after their own sleep (10 s, 5 s): give them
	// that long to end rather than ignore them.
	deadline := time.Now().Add(20 * time.Second)
	for goleak.Find(opts...) != nil && time.Now().Before(deadline) {
		<-time.After(500 * time.Millisecond)
	}
	goleak.VerifyNone(t, opts...)
}
