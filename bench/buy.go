package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/registry"
	"smsgate/gateway"
)

// The buy scenario measures the purchase path against a simulator in its
// own process, so the figure is the gateway's cost, not the simulator's:
//
//   - proxy:   getNumber through a bare fasthttp reverse proxy to the
//     upstream, closed loop — the "proxy that does nothing", what this
//     box forwards with no work behind it;
//   - gateway: getNumber through the gateway, closed loop: every number
//     routed, bought upstream and committed to the ledger before its
//     answer;
//   - flow:    buy → code → finish through the gateway in open loop at
//     -rate (default: half the gateway's saturation), each activation's
//     requests timed from when they were due.

// upstreamProc is a "bench upstream" process (or one already running,
// with -upstream).
type upstreamProc struct {
	url, key string
	pid      int    // the child's; 0 for one already running
	stop     func() // ends the process and waits for it; safe to call again
}

// startUpstreamProc runs this binary's "bench upstream" as a child
// process and reads its URL and key from the line it prints.
func startUpstreamProc(o *options) (*upstreamProc, error) {
	if o.upstream != "" {
		u, key, _ := strings.Cut(o.upstream, "#")
		return &upstreamProc{url: u, key: key, stop: func() {}}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find this program to run the upstream: %w", err)
	}
	cmd := exec.Command(exe, "upstream", "-platform", "smsactivate", "-listen", "127.0.0.1:0",
		"-code-delay", o.codeDelay.String(), "-stock", "100000000", "-retention", "2m")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the upstream process: %w", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("the upstream process printed no address: %w", err)
	}
	p := &upstreamProc{stop: stop, pid: cmd.Process.Pid}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "url="); ok {
			p.url = v
		}
		if v, ok := strings.CutPrefix(f, "key="); ok {
			p.key = v
		}
	}
	if p.url == "" {
		stop()
		return nil, fmt.Errorf("the upstream process printed %q", line)
	}
	return p, nil
}

// upstreamPlatforms is the gateway's one platform over the upstream
// process.
func upstreamPlatforms(o *options, up *upstreamProc) ([]*gateway.Platform, error) {
	a, err := registry.Build(registry.Spec{Code: "up", Type: "smsactivate", URL: up.url, Key: up.key, Currency: "USD",
		Dialect: "classic", Timeout: o.upstreamTimeout})
	if err != nil {
		return nil, fmt.Errorf("cannot build the upstream's adapter: %w", err)
	}
	return []*gateway.Platform{{Code: "up", Adapter: a, Currency: "USD", PollInterval: o.upstreamPoll,
		Timeout: o.upstreamTimeout, Enabled: true, Rate: -1}}, nil
}

// startProxy serves a bare fasthttp reverse proxy to target: every
// request forwarded as it came, every answer returned as it came.
func startProxy(target string, conns int) (string, func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, err
	}
	hc := &fasthttp.HostClient{Addr: u.Host, MaxConns: conns * 2, MaxIdemponentCallAttempts: 1}
	srv := &fasthttp.Server{
		Name: "proxy",
		Handler: func(ctx *fasthttp.RequestCtx) {
			req := &ctx.Request
			req.SetHost(u.Host)
			if err := hc.Do(req, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln) //nolint:errcheck // returns at Shutdown
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx) //nolint:errcheck // exit
		hc.CloseIdleConnections()
	}, nil
}

// buyActions are the one action the saturation phases load.
var buyActions = []string{"getNumber"}

// runBuy loads the proxy and the gateway with getNumber to saturation,
// then the full activation flow through the gateway in open loop.
func runBuy(b *bench) error {
	if b.w.upstream == nil {
		return fmt.Errorf("scenario buy %w", errNeedsSimulator)
	}
	q, err := b.buyQuery()
	if err != nil {
		return err
	}
	// The proxy forwards to an upstream process of its own, started like
	// the gateway's with the same settings: a simulator's cost grows with
	// the numbers left active on it (every list round the gateway's poller
	// reads carries them all), so each side gets a fresh one.
	up := b.w.upstream
	if b.o.upstream == "" {
		if up, err = startUpstreamProc(b.o); err != nil {
			return err
		}
		defer up.stop()
	}
	proxyURL, stop, err := startProxy(up.url, b.o.conns)
	if err != nil {
		return fmt.Errorf("cannot start the proxy: %w", err)
	}
	defer stop()
	d := b.phaseLength(3)
	proxy := endpoint{name: "proxy", base: proxyURL, key: up.key}
	cpu := map[string]float64{}   // µs of CPU per answered request, by run
	upCPU := map[string]float64{} // the upstream process's share of it
	for _, side := range []struct {
		ep  endpoint
		pid int // the upstream process this side buys from
	}{{proxy, up.pid}, {b.w.gateway, b.w.upstream.pid}} {
		before, upBefore := cpuTime(side.pid), procCPU(side.pid)
		if err := b.loadBuys(side.ep, q, d); err != nil {
			return err
		}
		if r := b.rep.run(side.ep.name); r != nil && r.OK > 0 {
			cpu[side.ep.name] = float64(cpuTime(side.pid)-before) / float64(time.Microsecond) / float64(r.OK)
			if side.pid > 0 {
				upCPU[side.ep.name] = float64(procCPU(side.pid)-upBefore) / float64(time.Microsecond) / float64(r.OK)
			}
		}
	}
	b.rep.ratio("gateway buys/s / proxy forwarded getNumber/s", "gateway", "proxy", ">= 0.50", 0.5)
	if cpu["gateway"] > 0 && cpu["proxy"] > 0 {
		for _, n := range []string{"proxy", "gateway"} {
			b.rep.Figures = append(b.rep.Figures, Figure{Name: n + " CPU per request", Value: cpu[n], Unit: "µs",
				Of: "CPU of this process (load generator included) and of the upstream process it buys from, during the " + n + " run / its answered requests"})
			if up, ok := upCPU[n]; ok {
				b.rep.Figures = append(b.rep.Figures, Figure{Name: "  of which the upstream's", Value: up, Unit: "µs",
					Of: "CPU of the upstream process alone during the " + n + " run / its answered requests"})
			}
		}
		b.rep.Figures = append(b.rep.Figures, Figure{Name: "proxy CPU / gateway CPU per request", Value: cpu["proxy"] / cpu["gateway"], Unit: "x",
			Of: "the throughput ratio both would reach if each kept every core busy"})
	}

	rate := b.o.rate
	if rate <= 0 {
		if g := b.rep.run("gateway"); g != nil {
			rate = g.RPS / 2
		}
	}
	if rate <= 0 {
		b.rep.Notes = append(b.rep.Notes, "the gateway bought nothing at saturation: no flow phase")
		return nil
	}
	start := time.Now()
	end := start.Add(d)
	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	rec := b.recorder("flow", flowActions, start, d, true)
	f := &flowClient{buyQuery: q, poll: b.o.poll, giveUp: b.o.giveUp, end: end, rec: func(time.Time) *Recorder { return rec }}
	runArrivals(rate, start, end, func(i int, due time.Time) { f.activation(i, newLegacyCaller(cl), due) })
	b.addRun(rec, "gateway", fmt.Sprintf("open %.0f act/s", rate), 0)
	b.rep.Notes = append(b.rep.Notes,
		"upstream: separate processes (bench upstream) serving SMS-Activate, one behind the proxy and one behind the gateway, started alike; proxy: a bare fasthttp reverse proxy in this process",
		"gateway: every getNumber answered ACCESS_NUMBER was committed to the ledger before the answer")
	return nil
}

// startProfile writes a CPU profile to path until the returned stop.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot start the CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// loadBuys runs getNumber closed loop against ep for d.
func (b *bench) loadBuys(ep endpoint, q string, d time.Duration) error {
	start := time.Now()
	end := start.Add(d)
	cl, err := newClient(ep, b.o.conns, b.o.timeout, end.Add(hardEndGrace))
	if err != nil {
		return err
	}
	defer cl.close()
	rec := b.recorder(ep.name, buyActions, start, d, true)
	callers := make([]*legacyCaller, b.o.conns)
	for i := range callers {
		callers[i] = newLegacyCaller(cl)
	}
	ok := func(body []byte) bool { return strings.HasPrefix(string(body), "ACCESS_NUMBER:") }
	if b.o.cpuProf != "" && b.o.profRun == ep.name {
		stop, err := startProfile(b.o.cpuProf)
		if err != nil {
			return err
		}
		defer stop()
	}
	runClosed(b.o.conns, end, func(w int) {
		due := time.Now()
		a := callers[w].call("getNumber", q)
		rec.note(w, 0, due, a, outcome(a, ok))
	})
	b.addRun(rec, ep.name, b.loadName(0, false), 0)
	return nil
}
