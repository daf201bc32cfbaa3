package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smsgate/adapters/simulator"
)

// testOptions runs a scenario briefly: small -c, fast SMS and polls, so
// activations complete inside sub-second phases.
func testOptions(scenario string, d time.Duration) options {
	return options{
		scenario: scenario, conns: 4, duration: d, warmup: 20 * time.Millisecond, timeout: 5 * time.Second,
		codeDelay: 40 * time.Millisecond, poll: 20 * time.Millisecond, giveUp: 150 * time.Millisecond, platforms: 3,
		upstreamPoll: 100 * time.Millisecond, upstreamTimeout: 2 * time.Second,
		orders: 2, stormPoll: 5 * time.Millisecond, slowLatency: 20 * time.Millisecond, wait: 200 * time.Millisecond,
		mix: defaultMix, active: 20, country: "us", service: "tg", window: time.Second,
	}
}

// runScenario runs o in-process and checks the report's arithmetic and
// its JSON round trip.
func runScenario(t *testing.T, o options) *Report {
	t.Helper()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rep, err := execute(&o, io.Discard, false)
	if err != nil {
		t.Fatalf("%s: %v", o.scenario, err)
	}
	// Setup (simulators, ledger) and the hard-end grace of each phase
	// come on top of -duration.
	// (soak's seeding comes before its -duration of load.)
	if took := time.Since(began); took > o.duration+3*time.Second+time.Duration(len(rep.Runs))*hardEndGrace && o.scenario != "soak" {
		t.Errorf("%s took %v for -duration %v", o.scenario, took, o.duration)
	}
	checkArithmetic(t, rep)
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, run := range rep.Runs {
		if !strings.Contains(text.String(), run.Name) {
			t.Errorf("table lacks run %s", run.Name)
		}
	}
	file := filepath.Join(t.TempDir(), "report.json")
	if err := rep.writeJSON(file); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report JSON does not decode: %v", err)
	}
	if len(back.Runs) != len(rep.Runs) || back.Scenario != rep.Scenario {
		t.Errorf("JSON round trip lost runs: %d of %d", len(back.Runs), len(rep.Runs))
	}
	return rep
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// checkStats: counts add up, rps is requests per second, percentiles are
// monotone.
func checkStats(t *testing.T, what string, s Stats, secs float64) {
	t.Helper()
	if s.OK+s.Errors != s.Requests {
		t.Errorf("%s: ok %d + errors %d != requests %d", what, s.OK, s.Errors, s.Requests)
	}
	if !near(s.RPS, float64(s.Requests)/secs) {
		t.Errorf("%s: rps %g != requests %d / %gs", what, s.RPS, s.Requests, secs)
	}
	if !(s.P50Ms <= s.P90Ms && s.P90Ms <= s.P99Ms && s.P99Ms <= s.MaxMs) {
		t.Errorf("%s: percentiles not monotone: p50 %g p90 %g p99 %g max %g", what, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
	}
}

func checkArithmetic(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.Runs) == 0 && len(rep.Routing) == 0 {
		t.Fatal("no runs")
	}
	for _, run := range rep.Runs {
		if run.Seconds <= 0 {
			t.Errorf("%s: measured for %gs", run.Name, run.Seconds)
			continue
		}
		checkStats(t, run.Name, run.Stats, run.Seconds)
		var req, ok, errs uint64
		for _, a := range run.Actions {
			checkStats(t, run.Name+"/"+a.Name, a.Stats, run.Seconds)
			req, ok, errs = req+a.Requests, ok+a.OK, errs+a.Errors
		}
		if len(run.Actions) > 0 && (req != run.Requests || ok != run.OK || errs != run.Errors) {
			t.Errorf("%s: actions add to %d/%d/%d; run says %d/%d/%d", run.Name, req, ok, errs, run.Requests, run.OK, run.Errors)
		}
		var kinds uint64
		for _, n := range run.ErrorKinds {
			kinds += n
		}
		if kinds != run.Errors {
			t.Errorf("%s: error kinds add to %d; errors %d", run.Name, kinds, run.Errors)
		}
		if f := run.Flow; f != nil {
			if f.Orders > f.PhaseOrders || f.Completed > f.PhaseOrders {
				t.Errorf("%s: orders %d, completed %d, bought in the phase %d", run.Name, f.Orders, f.Completed, f.PhaseOrders)
			}
			if f.PhaseOrders > 0 && f.UpstreamCalls >= 0 {
				if !near(f.CallsPerOrder, float64(f.UpstreamCalls)/float64(f.PhaseOrders)) ||
					!near(f.StatusCallsPerOrder, float64(f.UpstreamStatusCalls)/float64(f.PhaseOrders)) {
					t.Errorf("%s: calls per order %g, %g not from %d, %d calls / %d orders", run.Name,
						f.CallsPerOrder, f.StatusCallsPerOrder, f.UpstreamCalls, f.UpstreamStatusCalls, f.PhaseOrders)
				}
			}
			if f.ActivationP50Ms > f.ActivationP99Ms {
				t.Errorf("%s: activation p50 %g > p99 %g", run.Name, f.ActivationP50Ms, f.ActivationP99Ms)
			}
		}
	}
	// Every throughput ratio is the quotient of the runs it names.
	for _, f := range rep.Figures {
		num, den, isRatio := strings.Cut(f.Of, ".rps / ")
		if !isRatio {
			continue
		}
		a, b := rep.run(num), rep.run(strings.TrimSuffix(den, ".rps"))
		if a == nil || b == nil {
			t.Errorf("figure %q names missing runs", f.Of)
			continue
		}
		if !near(f.Value, a.RPS/b.RPS) {
			t.Errorf("%s = %g; want %g / %g", f.Name, f.Value, a.RPS, b.RPS)
		}
		if f.Met != nil && f.Target == ">= 0.80" && *f.Met != (f.Value >= 0.8) {
			t.Errorf("%s: met %v for %g %s", f.Name, *f.Met, f.Value, f.Target)
		}
	}
}

func figure(rep *Report, name string) *Figure {
	for i := range rep.Figures {
		if rep.Figures[i].Name == name {
			return &rep.Figures[i]
		}
	}
	return nil
}

func TestReads(t *testing.T) {
	o := testOptions("reads", time.Second)
	rep := runScenario(t, o)
	for _, name := range []string{"ceiling", "direct", "gateway", "direct@half", "gateway@half"} {
		run := rep.run(name)
		if run == nil {
			t.Fatalf("no %s run", name)
		}
		if run.OK == 0 {
			t.Errorf("%s: nothing answered", name)
		}
		if run.Errors != 0 {
			t.Errorf("%s: %d errors %v", name, run.Errors, run.ErrorKinds)
		}
	}
	// Half load: the open loop is run at half the direct saturation.
	want := (&bench{o: &o}).loadName(rep.run("direct").RPS/2, false)
	for _, name := range []string{"direct@half", "gateway@half"} {
		if got := rep.run(name).Load; got != want {
			t.Errorf("%s load %q; want %q", name, got, want)
		}
	}
	f := figure(rep, "p99 added latency")
	if f == nil {
		t.Fatal("no added-latency figure")
	}
	if want := rep.run("gateway@half").P99Ms - rep.run("direct@half").P99Ms; !near(f.Value, want) {
		t.Errorf("added latency %g; want gateway@half.p99 - direct@half.p99 = %g", f.Value, want)
	}
	if *f.Met != (f.Value <= 1) {
		t.Errorf("added latency met = %v for %g ms", *f.Met, f.Value)
	}
	if figure(rep, "gateway/ceiling throughput") == nil || figure(rep, "gateway/direct throughput") == nil {
		t.Error("missing throughput ratios")
	}
}

// TestReadsActive: with getStatus in the mix, -active orders are bought
// first and every one is read; the gateway and the ceiling alternate
// rounds and the ratio is theirs; the poller's upstream calls are
// counted.
func TestReadsActive(t *testing.T) {
	o := testOptions("reads", 1200*time.Millisecond)
	o.mix = "getStatus,getBalance"
	o.codeDelay = time.Hour // the orders stay active
	rep := runScenario(t, o)
	var g, c float64
	for i := 1; i <= statusRounds; i++ {
		for _, name := range []string{"ceiling", "gateway"} {
			run := rep.run(fmt.Sprintf("%s %d/%d", name, i, statusRounds))
			if run == nil {
				t.Fatalf("no %s round %d", name, i)
			}
			if run.OK == 0 || run.Errors != 0 {
				t.Errorf("%s: %d answered, %d errors %v", run.Name, run.OK, run.Errors, run.ErrorKinds)
			}
			if name == "gateway" {
				g += run.RPS
			} else {
				c += run.RPS
			}
		}
	}
	if rep.run("direct") != nil {
		t.Error("a direct run for orders the simulator does not know")
	}
	f := figure(rep, "gateway/ceiling throughput")
	if f == nil || !near(f.Value, g/c) || *f.Met != (f.Value >= 0.9) {
		t.Fatalf("ratio figure %+v; want Σ gateway / Σ ceiling = %g", f, g/c)
	}
	if u := figure(rep, "upstream calls while the gateway ran"); u == nil || u.Value <= 0 {
		t.Errorf("upstream calls figure %+v; want the poller's calls counted", u)
	}
}

func TestFlow(t *testing.T) {
	rep := runScenario(t, testOptions("flow", 1200*time.Millisecond))
	for _, name := range []string{"direct", "gateway"} {
		run := rep.run(name)
		if run == nil || run.Flow == nil {
			t.Fatalf("no %s flow run", name)
		}
		if run.Flow.Completed == 0 {
			t.Errorf("%s: no activation completed (orders %d)", name, run.Flow.Orders)
		}
		if run.Errors != 0 {
			t.Errorf("%s: %d errors %v", name, run.Errors, run.ErrorKinds)
		}
		if run.Flow.UpstreamCalls <= 0 {
			t.Errorf("%s: upstream calls %d", name, run.Flow.UpstreamCalls)
		}
	}
}

func TestFailover(t *testing.T) {
	rep := runScenario(t, testOptions("failover", 1500*time.Millisecond))
	if len(rep.Failover) != 5 {
		t.Fatalf("%d failover phases; want 5", len(rep.Failover))
	}
	var total uint64
	for _, p := range rep.Failover {
		run := rep.run(p.Run)
		if run == nil {
			t.Fatalf("phase %s: no run %s", p.Phase, p.Run)
		}
		if p.Requests != run.Requests || p.Errors != run.Errors {
			t.Errorf("phase %s: %d requests, %d errors; run says %d, %d", p.Phase, p.Requests, p.Errors, run.Requests, run.Errors)
		}
		var byAct uint64
		for _, n := range p.ErrorsByAction {
			byAct += n
		}
		if byAct != p.Errors {
			t.Errorf("phase %s: errors by action add to %d; errors %d", p.Phase, byAct, p.Errors)
		}
		if p.OwnedErrors > p.Errors {
			t.Errorf("phase %s: %d errors on the faulted platform's orders of %d", p.Phase, p.OwnedErrors, p.Errors)
		}
		if len(p.UpstreamBuys) != 3 {
			t.Errorf("phase %s: upstream buys %v; want one count per platform", p.Phase, p.UpstreamBuys)
		}
		total += p.Errors
	}
	f := figure(rep, "client-visible errors while one platform can sell")
	if f == nil || f.Value != float64(total) || *f.Met != (total == 0) {
		t.Errorf("errors figure %+v; want %d", f, total)
	}
	if rep.Failover[0].UpstreamBuys["sim1"] == 0 {
		t.Errorf("healthy phase: the preferred platform sold nothing: %v", rep.Failover[0].UpstreamBuys)
	}
}

func TestStorm(t *testing.T) {
	rep := runScenario(t, testOptions("storm", time.Second))
	if len(rep.Storm) != 2 {
		t.Fatalf("%d storm phases; want 2", len(rep.Storm))
	}
	worst := 0.0
	for _, s := range rep.Storm {
		run := rep.run(s.Run)
		if run == nil {
			t.Fatalf("no run %s", s.Run)
		}
		n := float64(s.Orders)
		if !near(s.UpstreamPerOrder, float64(s.UpstreamStatusCalls)/n) || !near(s.ClientStatusPerOrder, float64(run.Requests)/n) {
			t.Errorf("%s: per-order figures not from the counts: %+v", s.Run, s)
		}
		if !near(s.Bound, s.LifetimeS/s.PollIntervalS+2) || s.Met != (s.UpstreamPerOrder <= s.Bound) {
			t.Errorf("%s: bound %g / met %v wrong: %+v", s.Run, s.Bound, s.Met, s)
		}
		if s.ClientStatusPerOrder <= s.UpstreamPerOrder {
			t.Errorf("%s: clients polled %g per order, upstream saw %g: no storm", s.Run, s.ClientStatusPerOrder, s.UpstreamPerOrder)
		}
		worst = max(worst, s.UpstreamPerOrder/s.Bound)
	}
	if f := figure(rep, "storm: upstream getStatus per order / bound"); f == nil || !near(f.Value, worst) {
		t.Errorf("storm figure %+v; want %g", f, worst)
	}
}

// The unified endpoints may not be in the gateway yet: then the scenario
// must refuse with a setup error naming the missing endpoint.
func TestUnified(t *testing.T) {
	o := testOptions("unified", 600*time.Millisecond)
	rep, err := execute(&o, io.Discard, false)
	if err != nil {
		if !strings.Contains(err.Error(), "unified API is not available") {
			t.Fatalf("setup error does not say what is missing: %v", err)
		}
		t.Skipf("gateway has no unified API yet: %v", err)
	}
	checkArithmetic(t, rep)
	run := rep.run("gateway")
	if run == nil || run.Flow == nil || run.Flow.Completed == 0 {
		t.Fatalf("no completed unified activation: %+v", run)
	}
}

func TestReadMix(t *testing.T) {
	o := testOptions("reads", time.Second)
	o.mix = "getBalance, getPrices"
	mix, err := (&bench{o: &o}).readMix()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mix {
		if r.action == "getCountries" || readActions[r.act] != r.action {
			t.Errorf("mix has %+v", r)
		}
	}
	if len(mix) != 4 {
		t.Errorf("%d requests in the mix; want getPrices ×3 and getBalance", len(mix))
	}
	o.mix = "getPrices,getNumber"
	if _, err := (&bench{o: &o}).readMix(); err == nil {
		t.Error("a non-read action in -mix is accepted")
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
		say  string
	}{
		{[]string{}, exitUsage, "want exactly one scenario"},
		{[]string{"nosuch"}, exitUsage, "unknown scenario"},
		{[]string{"-c", "0", "reads"}, exitUsage, "-c must be"},
		{[]string{"-target", "http://127.0.0.1:1", "reads"}, exitUsage, "needs -key"},
		{[]string{"-target", "http://127.0.0.1:1", "-key", "k", "storm"}, exitSetup, "only in-process"},
		{[]string{"-target", "http://127.0.0.1:1", "-key", "k", "failover"}, exitSetup, "only in-process"},
		{[]string{"-target", "http://127.0.0.1:1", "-key", "k", "-timeout", "200ms", "reads"}, exitSetup, "connection refused"},
		{[]string{"-h"}, exitOK, "usage:"},
	} {
		var out, errOut bytes.Buffer
		if got := run(c.args, &out, &errOut); got != c.want || !strings.Contains(errOut.String(), c.say) {
			t.Errorf("bench %v: exit %d, stderr %q; want exit %d saying %q", c.args, got, errOut.String(), c.want, c.say)
		}
	}
}

// TestBuy: the buy scenario against an upstream in its own server (here
// a goroutine running "bench upstream", given with -upstream): the proxy
// and the gateway both buy at saturation, the ratio figure is computed,
// and the open-loop flow completes activations.
func TestBuy(t *testing.T) {
	o := testOptions("buy", 1500*time.Millisecond)
	o.upstream = testUpstream(t)
	o.cpuProf, o.profRun = filepath.Join(t.TempDir(), "gateway.prof"), "gateway"
	rep := runScenario(t, o)
	if st, err := os.Stat(o.cpuProf); err != nil || st.Size() == 0 {
		t.Errorf("-profile-run gateway wrote no profile: %v", err)
	}
	for _, name := range []string{"proxy", "gateway"} {
		if run := rep.run(name); run == nil || run.OK == 0 || run.Errors != 0 {
			t.Fatalf("%s run %+v; want purchases without errors", name, run)
		}
	}
	var ratio, cpu *Figure
	for i := range rep.Figures {
		if strings.HasPrefix(rep.Figures[i].Name, "gateway buys/s") {
			ratio = &rep.Figures[i]
		}
		if rep.Figures[i].Name == "gateway CPU per request" {
			cpu = &rep.Figures[i]
		}
	}
	if ratio == nil || ratio.Value <= 0 {
		t.Fatalf("figures %+v; want the buys/s ratio", rep.Figures)
	}
	if cpu == nil || cpu.Value <= 0 {
		t.Fatalf("figures %+v; want the gateway's CPU per purchase", rep.Figures)
	}
}

// testUpstream runs "bench upstream" in a goroutine for the test and
// returns it as -upstream's URL#KEY.
func testUpstream(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		defer w.Close()
		done <- runUpstream(ctx, []string{"-platform", "smsactivate", "-listen", "127.0.0.1:0", "-code-delay", "40ms"}, w, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // never block the writer
	var url, key string
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "url="); ok {
			url = v
		}
		if v, ok := strings.CutPrefix(f, "key="); ok {
			key = v
		}
	}
	return url + "#" + key
}

// TestSoak: the soak scenario seeds the ledger (ended orders, and active
// ones opened at the upstream through its seed endpoint, not bought),
// measures the heap per active order, and reports every window, the
// last/first ratios and the upstream's list and status calls.
func TestSoak(t *testing.T) {
	o := testOptions("soak", 1200*time.Millisecond)
	o.upstream = testUpstream(t)
	o.window, o.seedFinished, o.seedActive, o.rate = 400*time.Millisecond, 100, 500, 40
	rep := runScenario(t, o)
	calls, err := upstreamRequests(strings.Split(o.upstream, "#")[0])
	if err != nil {
		t.Fatal(err)
	}
	// At 40 activations/s for 1.2 s the load buys about 48 numbers: the
	// 500 seeded orders were not bought one by one.
	if bought := calls["getNumber"] + calls["getNumberV2"]; bought > 100 {
		t.Errorf("the upstream sold %d numbers by purchase; want only the load's (the seeds come from %s)", bought, simulator.SeedPath)
	}
	if calls["getActiveActivations"] == 0 {
		t.Errorf("the gateway never listed the seeded orders: %v", calls)
	}
	if len(rep.Runs) != 3 {
		t.Fatalf("%d runs; want one per 400 ms window", len(rep.Runs))
	}
	want := map[string]bool{"heap per active order": false, "throughput last/first window": false, "p99 last/first window": false,
		"platform up: getStatus calls per poll interval": false, "platform up: getActiveActivations calls per poll interval": false}
	for _, f := range rep.Figures {
		if _, ok := want[f.Name]; ok {
			want[f.Name] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no figure %q in %+v", name, rep.Figures)
		}
	}
	var ok uint64
	for _, r := range rep.Runs {
		ok += r.OK
	}
	if ok == 0 {
		t.Fatal("the windows answered nothing")
	}
}
