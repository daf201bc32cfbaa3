package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
)

// TestUpstream runs "bench upstream" as a script would: reads the URL and
// key from its one line, buys a number over loopback with the matching
// adapter, reads what the upstream received from /_sim/requests, then
// stops it (a cancelled context stands for SIGINT) and sees it shut down
// with nothing of its own left running.
func TestUpstream(t *testing.T) {
	defer checkNoGoroutineLeft(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		defer w.Close()
		done <- runUpstream(ctx, []string{"-platform", "smsactivate", "-listen", "127.0.0.1:0",
			"-stock", "3", "-balance", "10", "-code-delay", "1h", "-seed", "7"}, w, &stderr)
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no line from bench upstream (%v); stderr: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // nothing more is expected; never block the writer
	fields := map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	if !strings.HasPrefix(line, "upstream ") || fields["platform"] != "smsactivate" ||
		!strings.HasPrefix(fields["url"], "http://127.0.0.1:") || fields["key"] == "" {
		t.Fatalf("line %q: want upstream platform=smsactivate url=http://127.0.0.1:… key=…", line)
	}

	p, err := registry.Build(registry.Spec{Code: "up", Type: "smsactivate", URL: fields["url"], Key: fields["key"], Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	bal, err := p.Balance(bctx)
	if err != nil || bal.Micros != 10*adapters.Micro {
		t.Fatalf("balance = %+v, %v; want 10 units (-balance 10)", bal, err)
	}
	pur, err := p.Buy(bctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	if err != nil || pur.UpstreamID == "" || pur.Phone == "" {
		t.Fatalf("buy = %+v, %v", pur, err)
	}
	offers, err := p.Offers(bctx, "tg", "us")
	if err != nil || len(offers) != 1 || offers[0].Count != 2 {
		t.Fatalf("offers after one purchase = %+v, %v; want 2 left of -stock 3", offers, err)
	}
	if u, err := p.Check(bctx, pur.UpstreamID); err != nil || len(u.SMS) != 0 {
		t.Fatalf("check = %+v, %v; want waiting (-code-delay 1h)", u, err)
	}
	code, body, err := fasthttp.Get(nil, fields["url"]+simulator.RequestsPath)
	var got map[string]int64
	if err == nil {
		err = json.Unmarshal(body, &got)
	}
	if err != nil || code != 200 || got["getNumber"]+got["getNumberV2"] != 1 || got["getBalance"] != 1 || got["getStatus"]+got["getStatusV2"] != 1 {
		t.Fatalf("GET %s = %d %s (%v); want one purchase, one balance and one status", simulator.RequestsPath, code, body, err)
	}

	cancel()
	select {
	case rc := <-done:
		if rc != exitOK {
			t.Fatalf("exit %d; stderr: %s", rc, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bench upstream did not stop 10 s after its context ended")
	}
	c := &fasthttp.Client{MaxIdemponentCallAttempts: 1}
	if _, _, err := c.GetTimeout(nil, fields["url"]+simulator.RequestsPath, 2*time.Second); err == nil {
		t.Fatal("the upstream still answers after it stopped")
	}
}

// checkNoGoroutineLeft fails if a goroutine started since ignore is still
// running, once fasthttp's idle-worker cleaner (which notices a stopped
// server only after its 10 s sleep) has had the time to end.
func checkNoGoroutineLeft(t *testing.T, ignore goleak.Option) {
	t.Helper()
	opts := []goleak.Option{ignore,
		// fasthttp's process-wide singletons, started by the first server or
		// dialer and never stopped.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		// The test's own HTTP clients (the adapter's, fasthttp's default)
		// and their idle-connection cleaners: the clients', not the upstream's.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
	}
	deadline := time.Now().Add(20 * time.Second)
	for goleak.Find(opts...) != nil && time.Now().Before(deadline) {
		<-time.After(500 * time.Millisecond)
	}
	goleak.VerifyNone(t, opts...)
}

// TestUpstreamFlags: bad flags are a usage error that says what is wrong,
// before anything listens.
func TestUpstreamFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-platform", "6sim"}, `-platform "6sim"`},
		{[]string{"-stock", "-1"}, "must not be negative"},
		{[]string{"-code-delay", "0s"}, "-code-delay"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, c := range cases {
		var stderr strings.Builder
		if rc := run(append([]string{"upstream"}, c.args...), io.Discard, &stderr); rc != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %q", c.args, rc, stderr.String(), exitUsage, c.want)
		}
	}
}
