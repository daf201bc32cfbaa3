// Command bench is smsgate's load generator: it measures the gateway
// against the limit of its own stack (a bare fasthttp server replaying the
// same bytes) and against calling the simulated upstream directly, and
// what the gateway does to upstream traffic.
//
//	go run ./bench -duration 10s -c 32 reads
//	go run ./bench -target http://127.0.0.1:8080 -key demo-key-change-me reads
//	go run ./bench upstream -platform smsactivate -listen 127.0.0.1:9001
//
// By default everything runs in this process on loopback: simulated
// upstreams, a gateway on a temporary SQLite ledger, a demo tenant.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// Exit codes: 0 also for a slow result; only setup failures fail.
const (
	exitOK    = 0
	exitSetup = 1
	exitUsage = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "upstream" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runUpstream(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "streams" {
		return runStreams(args[1:], stdout, stderr)
	}
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	if o.cpuProf != "" && o.profRun == "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitSetup
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bench: cannot start the CPU profile:", err)
			return exitSetup
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := execute(&o, stdout, true)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %s: %v\n", o.scenario, err)
		return exitSetup
	}
	rep.WriteText(stdout)
	if o.jsonFile != "" {
		if err := rep.writeJSON(o.jsonFile); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitSetup
		}
	}
	return exitOK
}

// execute sets up the targets, runs the scenario and returns its report;
// an error is a setup failure. live shows the progress line (on a
// terminal) and removes the temporary ledger on SIGINT/SIGTERM.
func execute(o *options, stdout io.Writer, live bool) (*Report, error) {
	sc := scenarios[o.scenario]
	if sc.needsSim && !o.inProcess() {
		return nil, fmt.Errorf("scenario %s %w", o.scenario, errNeedsSimulator)
	}
	w := &world{close: func() {}}
	if !sc.noWorld {
		var err error
		if w, err = setupWorld(o); err != nil {
			return nil, err
		}
	}
	defer w.close()
	if live && w.dir != "" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer func() {
			signal.Stop(sig)
			close(sig)
		}()
		go func() {
			if _, ok := <-sig; ok {
				if w.upstream != nil {
					w.upstream.stop() // its parent-death signal would kill it too; this is the orderly way
				}
				os.RemoveAll(w.dir)
				fmt.Fprintln(os.Stderr, "\nbench: interrupted")
				os.Exit(130)
			}
		}()
	}
	b := &bench{o: o, w: w, prog: &progress{}, rep: &Report{
		Scenario: o.scenario,
		Date:     time.Now().UTC().Format(time.RFC3339),
		Go:       runtime.Version(),
		CPUs:     runtime.GOMAXPROCS(0),
		Target:   describeTarget(o),
		Setup:    describeSetup(o, w),
	}}
	if live {
		b.prog = newProgress(o.duration)
	}
	b.prog.begin()
	err := sc.run(b)
	b.prog.end()
	if err != nil {
		return nil, err
	}
	return b.rep, nil
}

func describeTarget(o *options) string {
	if o.scenario == "routing" {
		return "in-process, virtual time"
	}
	if o.inProcess() {
		return "in-process on loopback"
	}
	return "target " + o.target
}

func describeSetup(o *options, w *world) string {
	if o.scenario == "routing" {
		return fmt.Sprintf("virtual time, -seed %d, -clients %d, -history %s, -span %s, -give-up %s, -value-of-minute %g; the gateway's router and estimator over simulated markets on a manual clock (the market is printed below)",
			o.seed, o.clients, o.history, o.span, o.giveUp, o.valueOfMinute)
	}
	load := fmt.Sprintf("-c %d, -duration %s, -warmup %s", o.conns, o.duration, o.warmup)
	if o.rate > 0 {
		load += fmt.Sprintf(", -rate %g/s", o.rate)
	}
	if o.scenario == "reads" {
		load += ", -mix " + o.mix
		if strings.Contains(o.mix, "getStatus") {
			load += fmt.Sprintf(", -active %d", o.active)
		}
	}
	if !o.inProcess() {
		return load
	}
	led := "SQLite ledger in a temporary directory"
	if o.ledgerURL != "" {
		led = "PostgreSQL ledger (a fresh schema)"
	}
	return fmt.Sprintf("%s; %d simulated smsactivate platforms (SMS after %s), gateway poll interval %s, upstream timeout %s, outbound rate unlimited, %s",
		load, len(w.sims), o.codeDelay, o.upstreamPoll, o.upstreamTimeout, led)
}
