package gateway_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"smsgate/config"
)

// Connection hardening: nothing a client does with its sockets may stop
// the gateway. The tests open real TCP connections from several loopback
// source addresses (127.0.0.2, …: Linux answers the whole 127/8), so the
// per-IP limit of the attacker is not the tester's.

const hardenHeaderTimeout = 2 * time.Second

func hardenedEnv(t *testing.T, maxConns, perIP int) *env {
	return newEnvWith(t, envOptions{config: func(c *config.Config) {
		c.Server.HeaderTimeout = hardenHeaderTimeout
		c.Server.MaxConns = maxConns
		c.Server.MaxConnsPerIP = perIP
	}})
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedBy reads c until the server closes it, and fails if that takes
// longer than by (a read timeout means the server kept it open).
func closedBy(t *testing.T, c net.Conn, by time.Time) {
	t.Helper()
	c.SetReadDeadline(by)
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection %s still open at the deadline", c.LocalAddr())
	}
}

// metric reads one series from /metrics on a fresh connection (0 if absent).
func (e *env) metric(series string) float64 {
	e.t.Helper()
	_, body := e.getFresh("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return 0
}

// getFresh is a GET on a new connection (no keep-alive reuse), so it shows
// whether the gateway still accepts.
func (e *env) getFresh(path string) (int, string) {
	e.t.Helper()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := cl.Get(e.url + path)
	if err != nil {
		e.t.Fatalf("GET %s on a fresh connection: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// buyOne buys a number for tenant a and returns its id.
func (e *env) buyOne() string {
	e.t.Helper()
	_, body := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "0")
	m := regexp.MustCompile(`^ACCESS_NUMBER:(\d+):`).FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("getNumber: %s", body)
	}
	return m[1]
}

// serving checks /healthz and a legacy getStatus on fresh connections.
func (e *env) serving(id string) {
	e.t.Helper()
	if code, body := e.getFresh("/healthz"); code != 200 || body != "ok" {
		e.t.Fatalf("/healthz = %d %q", code, body)
	}
	code, body := e.getFresh("/stubs/handler_api.php?api_key=" + keyA + "&action=getStatus&id=" + id)
	if code != 200 || body != "STATUS_WAIT_CODE" {
		e.t.Fatalf("getStatus = %d %q", code, body)
	}
}

// stall opens n connections from src that send prefix (maybe nothing) and
// then nothing more.
func stall(t *testing.T, src, addr string, n int, prefix string) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, n)
	for i := range cs {
		cs[i] = dialFrom(t, src, addr)
		if prefix != "" {
			if _, err := io.WriteString(cs[i], prefix); err != nil {
				t.Fatal(err)
			}
		}
	}
	return cs
}

func TestStalledConnectionsPerIP(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
	}{
		{"silent", ""},
		{"half header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const perIP = 20
			e := hardenedEnv(t, 200, perIP)
			id := e.buyOne()
			addr := strings.TrimPrefix(e.url, "http://")
			start := time.Now()
			held := stall(t, "127.0.0.2", addr, 2*perIP, tc.prefix)
			// The connections over the per-IP limit are closed at accept.
			e.eventually("per-IP rejections counted", func() bool {
				return e.metric(`smsgate_conns_rejected_total{limit="max_conns_per_ip"}`) == perIP
			})
			// Another client is served meanwhile.
			e.serving(id)
			// Every stalled connection is closed by the header deadline.
			for _, c := range held {
				closedBy(t, c, start.Add(hardenHeaderTimeout+3*time.Second))
			}
			e.eventually("stalled connections released", func() bool {
				// What is left: the tester's own (kept-alive) connections.
				return e.metric("smsgate_conns_open") < 5
			})
			e.serving(id)
		})
	}
}

func TestSilentConnectionsOverTotalLimit(t *testing.T) {
	const maxConns = 40
	e := hardenedEnv(t, maxConns, maxConns)
	id := e.buyOne()
	addr := strings.TrimPrefix(e.url, "http://")
	// A client already connected keeps being served during the flood.
	keep := dialFrom(t, "127.0.0.1", addr)
	kr := bufio.NewReader(keep)
	ask := func() {
		t.Helper()
		fmt.Fprintf(keep, "GET /stubs/handler_api.php?api_key=%s&action=getStatus&id=%s HTTP/1.1\r\nHost: x\r\n\r\n", keyA, id)
		keep.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(kr, nil)
		if err != nil {
			t.Fatalf("kept-alive client: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "STATUS_WAIT_CODE" {
			t.Fatalf("kept-alive getStatus = %q", b)
		}
	}
	ask()
	start := time.Now()
	var held []net.Conn
	for i := 2; i <= 5; i++ { // 2× the limit, from four addresses
		held = append(held, stall(t, fmt.Sprintf("127.0.0.%d", i), addr, maxConns/2, "")...)
	}
	ask()
	for _, c := range held {
		closedBy(t, c, start.Add(hardenHeaderTimeout+3*time.Second))
	}
	ask()
	e.serving(id)
	if got := e.metric(`smsgate_conns_rejected_total{limit="max_conns"}`); got < maxConns {
		t.Errorf("rejected over max_conns = %v, want >= %d", got, maxConns)
	}
}

// TestAcceptErrorsKeepServing runs a gateway in a child process whose
// open-files limit is lowered after start, floods it with silent
// connections until accept fails with EMFILE, and checks that it backs
// off, keeps serving once the stalled connections are closed, and counts
// the errors.
func TestAcceptErrorsKeepServing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc/self/fd and RLIMIT_NOFILE")
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptErrorsChild$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "SMSGATE_ACCEPT_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v\n%s", err, stderr.String())
		}
	}()
	var url, id string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CHILD "); ok {
			url, id, _ = strings.Cut(v, " ")
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if url == "" {
		t.Fatalf("child did not start:\n%s", stderr.String())
	}
	e := &env{t: t, url: url}
	addr := strings.TrimPrefix(url, "http://")
	start := time.Now()
	// 2× the spare descriptors: the kernel completes the handshakes, the
	// child runs out of descriptors accepting them.
	held := stall(t, "127.0.0.2", addr, 2*childSpareFDs, "")
	for _, c := range held {
		// Accepted late (after others time out), then closed at its own
		// header deadline: allow a few rounds of both.
		closedBy(t, c, start.Add(4*hardenHeaderTimeout+10*time.Second))
	}
	e.serving(id)
	if n := e.metric("smsgate_accept_errors_total"); n < 1 {
		t.Fatalf("smsgate_accept_errors_total = %v, want > 0", n)
	}
}

// childSpareFDs is how many descriptors the child leaves itself.
const childSpareFDs = 40

// TestAcceptErrorsChild is the child of TestAcceptErrorsKeepServing.
func TestAcceptErrorsChild(t *testing.T) {
	if os.Getenv("SMSGATE_ACCEPT_CHILD") != "1" {
		t.Skip("child process of TestAcceptErrorsKeepServing")
	}
	e := hardenedEnv(t, 0, 0) // no cap: run into the descriptor limit itself
	id := e.buyOne()
	// Warm the HTTP keep-alive pool to the simulators so a later buy or
	// poll does not need a new descriptor.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: uint64(len(fds) + childSpareFDs)}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim.Max = old.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CHILD %s %s\n", e.url, id)
	io.Copy(io.Discard, os.Stdin) // until the parent is done
}
