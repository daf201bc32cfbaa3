package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the test holds the ledger's write lock through its own connection

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
)

// childConfig is set in a re-executed test binary: it runs the gateway
// (main's run) on that configuration instead of the tests, so the kill
// tests SIGKILL a real gateway process without building another binary.
const childConfig = "KILLTEST_GATEWAY_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(childConfig); path != "" {
		if err := run(path); err != nil {
			fmt.Fprintln(os.Stderr, "smsgate:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// upstream is a simulated SMS-Activate behind a proxy the test controls:
// it can take the platform down (every call fails with 503) and run a
// hook after the platform answered a purchase, before the gateway gets
// the answer.
type upstream struct {
	sim     *registry.Sim
	clock   *simulator.ManualClock
	url     string
	down    atomic.Bool
	refused atomic.Int64 // calls answered 503 while down
	mu      sync.Mutex
	// afterBuy runs once the platform sold a number and before the answer
	// goes back; guarded by mu.
	afterBuy func()
	// reached counts calls that reached the platform, by action and
	// status; guarded by mu.
	reached map[string]int
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{clock: simulator.NewManualClock(time.Now().UTC()), reached: map[string]int{}}
	sim, err := registry.StartSim(registry.Spec{Code: "sa", Type: "smsactivate", Currency: "RUB", Dialect: "classic", Timeout: 5 * time.Second},
		simulator.Config{Clock: u.clock, CodeDelay: -1, IDOffset: -1, Key: "upstream-key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	u.sim = sim
	target, err := url.Parse(sim.Server.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		q := resp.Request.URL.Query()
		u.mu.Lock()
		u.reached[q.Get("action")+q.Get("status")]++
		hook := u.afterBuy
		u.mu.Unlock()
		if hook != nil && strings.HasPrefix(q.Get("action"), "getNumber") {
			hook()
		}
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.down.Load() {
			u.refused.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u.url = "http://" + ln.Addr().String()
	return u
}

func (u *upstream) calls(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reached[key]
}

// gatewayProc is a gateway running in a child process.
type gatewayProc struct {
	cmd *exec.Cmd
	url string
}

// startGateway runs a gateway process on the ledger file db, in front of
// u, with the outbox and intent pass on short real-time settings.
func startGateway(t *testing.T, dir, db string, u *upstream) *gatewayProc {
	t.Helper()
	cfgPath := filepath.Join(dir, "gateway.toml")
	cfg := fmt.Sprintf(`[server]
listen = "127.0.0.1:0"
[ledger]
url = %q
[recovery]
outbox_tick = "20ms"
retry_min = "50ms"
retry_max = "200ms"
intent_grace = "300ms"
intent_every = "100ms"
reconcile = "1m"
[health]
interval = "1h"
[fx.rates]
RUB = "0.011"
[[platforms]]
code = "sa"
type = "smsactivate"
url = %q
currency = "RUB"
poll_interval = "100ms"
timeout = "2s"
rate = -1
[[tenants]]
name = "t"
key = "kill-test-key"
`, db, u.url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The gateway reads every SMSGATE_* variable as configuration: the
	// child gets none of the test's own (SMSGATE_TEST_POSTGRES, …).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SMSGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childConfig+"="+cfgPath, "SMSGATE_PLATFORMS__0__KEY=upstream-key")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "gateway.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
			t.Logf("gateway log:\n%s", b)
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gatewayProc{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "smsgate listening on "); ok {
			p.url, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if p.url == "" {
		cmd.Wait()
		t.Fatal("the gateway process did not start")
	}
	go io.Copy(io.Discard, out)
	return p
}

// kill SIGKILLs the process and waits for it.
func (p *gatewayProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func (p *gatewayProc) legacy(q string) (string, error) {
	resp, err := http.Get(p.url + "/stubs/handler_api.php?api_key=kill-test-key&" + q)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitUntil polls cond (real time: the child process runs on it) for up
// to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillAfterUpstreamBought: the gateway process is SIGKILLed after the
// platform sold a number and before the ledger could record it (the test
// holds the ledger's write lock from the moment the platform answered).
// The client never saw the number; after a restart the number is found
// through the purchase intent and cancelled upstream, and the platform
// refunds it.
func TestKillAfterUpstreamBought(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	u := newUpstream(t)
	g := startGateway(t, dir, db, u)
	balance0 := u.sim.Market.Balance()

	lock, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	// The hook runs on the proxy's goroutine; locked hands tx over to the
	// test once the lock is held (the platform's own sale is visible before
	// the hook runs, so it is no signal for the lock).
	var tx *sql.Tx
	locked := make(chan struct{})
	var once sync.Once
	u.mu.Lock()
	u.afterBuy = func() {
		once.Do(func() {
			defer close(locked)
			var err error
			if tx, err = lock.Begin(); err != nil { // BEGIN IMMEDIATE: no commit can land now
				t.Error(err)
			}
		})
	}
	u.mu.Unlock()
	answered := make(chan string, 1)
	go func() {
		b, err := g.legacy("action=getNumber&service=tg&country=187")
		if err != nil {
			b = "connection lost: " + err.Error()
		}
		answered <- b
	}()
	select {
	case <-locked:
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for the platform to sell and the lock to be taken")
	}
	if len(u.sim.Market.Active()) != 1 {
		t.Fatalf("the platform holds %d active numbers; want the one it sold", len(u.sim.Market.Active()))
	}
	sold := u.sim.Market.Active()[0]
	g.kill()
	if b := <-answered; strings.HasPrefix(b, "ACCESS_NUMBER") {
		t.Fatalf("the client got %q from a gateway that never recorded it", b)
	}
	u.mu.Lock()
	u.afterBuy = nil
	u.mu.Unlock()
	if tx == nil {
		t.Fatal("the lock was never taken")
	}
	tx.Rollback()

	g = startGateway(t, dir, db, u)
	// The platform refuses cancels in its first 2 minutes: the outbox
	// retries until the guard has passed.
	u.clock.Advance(2*time.Minute + time.Second)
	waitUntil(t, "the unrecorded number to be cancelled upstream", func() bool {
		o, err := u.sim.Market.Get(sold.ID)
		return err == nil && o.State == adapters.StateCancelled
	})
	if got := u.sim.Market.Balance(); got != balance0 {
		t.Fatalf("platform balance %d after the cancel; want the %d it had (refunded)", got, balance0)
	}
	// Nobody can ever read it through the gateway: it is no order.
	if b, _ := g.legacy("action=getActiveActivations"); strings.Contains(b, sold.Phone) {
		t.Fatalf("the unrecorded number is listed to the tenant: %s", b)
	}
}

// TestKillWithQueuedFinish: a finish the client sends while the platform
// is down is recorded with the call queued; the gateway is SIGKILLed and
// restarted while the platform is still down; once the platform is back,
// the finish reaches it exactly once.
func TestKillWithQueuedFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	u := newUpstream(t)
	g := startGateway(t, dir, db, u)
	b, err := g.legacy("action=getNumber&service=tg&country=187")
	if err != nil || !strings.HasPrefix(b, "ACCESS_NUMBER:") {
		t.Fatalf("getNumber = %q, %v", b, err)
	}
	id := strings.Split(b, ":")[1]
	upID := u.sim.Market.Active()[0].ID
	if _, err := u.sim.Market.DeliverSMS(upID, ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the code", func() bool {
		b, _ := g.legacy("action=getStatus&id=" + id)
		return strings.HasPrefix(b, "STATUS_OK:")
	})

	u.down.Store(true)
	if b, err := g.legacy("action=setStatus&status=6&id=" + id); b != "ACCESS_ACTIVATION" {
		t.Fatalf("finish while the platform is down = %q, %v; want ACCESS_ACTIVATION (queued)", b, err)
	}
	g.kill()
	refused := u.refused.Load()
	g = startGateway(t, dir, db, u)
	waitUntil(t, "the restarted gateway to try the queued finish", func() bool { return u.refused.Load() > refused+1 })
	if n := u.calls("setStatus6"); n != 0 {
		t.Fatalf("%d finishes reached a platform that was down", n)
	}
	u.down.Store(false)
	waitUntil(t, "the finish to reach the platform", func() bool {
		o, err := u.sim.Market.Get(upID)
		return err == nil && o.State == adapters.StateFinished
	})
	// The ledger records the action done: no worker will lease it again.
	ro, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	waitUntil(t, "the action to be recorded done", func() bool {
		var state string
		err := ro.QueryRowContext(context.Background(), `SELECT state FROM actions WHERE order_id = ? AND kind = 'finish'`, id).Scan(&state)
		return err == nil && state == "done"
	})
	if n := u.calls("setStatus6"); n != 1 {
		t.Fatalf("the queued finish reached the platform %d times; want exactly 1", n)
	}
}
