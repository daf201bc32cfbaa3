package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"smsgate/config"
)

// options are the command line. Every field's flag names its unit and
// default; parseOptions is the one place they are checked.
type options struct {
	scenario string

	conns    int           // -c: connections (closed loop) / workers (open loop)
	rate     float64       // -rate: requests/s (reads) or activations/s (flow, unified); 0 = closed loop
	duration time.Duration // -duration: the whole scenario's load time, split across its phases
	warmup   time.Duration // -warmup: discarded start of each phase
	timeout  time.Duration // -timeout: one request's limit
	jsonFile string        // -json: also write the report here
	cpuProf  string        // -cpuprofile: CPU profile of the whole run (load generator and in-process targets)
	profRun  string        // -profile-run: with -cpuprofile, profile only this run's load (buy: proxy or gateway)

	target string // -target: base URL of a running gateway; "" = start one in-process
	key    string // -key: tenant key for -target (in-process: the demo tenant's)

	codeDelay       time.Duration // -code-delay: simulated SMS arrival after purchase
	poll            time.Duration // -poll: how often a virtual client polls getStatus
	giveUp          time.Duration // -give-up: a virtual client abandons an order without a code after this
	pollSet         bool          // -poll was given (storm polls back to back otherwise)
	platforms       int           // -platforms: simulated upstreams in-process
	upstreamPoll    time.Duration // -upstream-poll: the gateway's poll interval per platform
	upstreamTimeout time.Duration // -upstream-timeout: the gateway's per-call upstream timeout
	ledgerURL       string        // -ledger: "" = a temporary SQLite file, or a postgres:// URL
	upstream        string        // -upstream: buy's running upstream as URL#KEY; "" = start "bench upstream"
	seedFinished    int           // -seed-finished: soak's ended orders in the ledger before the load
	seedActive      int           // -seed-active: soak's active orders (opened at the upstream's seed endpoint) before the load
	window          time.Duration // -window: soak's measurement window

	orders      int           // -orders: storm orders per phase
	stormPoll   time.Duration // -storm-poll: client poll interval of the first storm phase
	slowLatency time.Duration // -slow: latency the failover "slow" phase adds
	wait        time.Duration // -wait: unified getSmsCode long-poll wait
	mix         string        // -mix: reads actions loaded, comma-separated
	active      int           // -active: reads with getStatus: active orders bought before the load
	country     string        // -country: ISO country bought (flow, storm, unified)
	service     string        // -service: service bought

	seed          uint64        // -seed: routing's market seed (the first of -runs)
	runs          int           // -runs: routing's seeds, pooled
	clients       int           // -clients: routing's virtual registration clients
	span          time.Duration // -span: routing's virtual time in which activations start
	history       time.Duration // -history: routing: virtual time of buying before the measured span
	valueOfMinute float64       // -value-of-minute: routing: money a minute of waiting is worth (value strategy and oracle)
	giveUpSet     bool          // -give-up was given (routing waits [routing] give_up otherwise)
	market        string        // -market: routing's platforms, "" = the default market
	drift         string        // -drift: routing's drifting platform and its delivery during the drift
}

// defaultMix is every read action.
const defaultMix = "getPrices,getCountries,getBalance"

// scenarioNames in the order the usage text lists them.
var scenarioNames = []string{"reads", "flow", "failover", "storm", "unified", "buy", "soak", "routing"}

const usageHead = `usage: go run ./bench [flags] <scenario>

Scenarios:
  reads     legacy getPrices/getCountries/getBalance mix; baselines: a bare
            fasthttp server replaying the gateway's bytes (ceiling) and the
            simulator directly; then both at half the direct saturation rate.
            -mix getStatus,getBalance: -active orders are bought first and
            polled (getStatus) while the gateway's poller polls them upstream;
            gateway against the ceiling only
  flow      virtual clients: getNumber, poll getStatus every -poll, setStatus 6;
            against the simulator directly and through the gateway
  failover  flow while the first platform goes healthy/outage/slow/garbage/recovered
  storm     many clients polling few orders: upstream getStatus calls per order
  unified   the JSON API flow: getPhone, getSmsCode (long poll), setStatus complete
  buy       getNumber to saturation through a bare fasthttp reverse proxy and
            through the gateway, both to a simulator in its own process
            (bench upstream); then buy → code → finish in open loop at -rate
  soak      a ledger seeded with -seed-finished ended and -seed-active active
            orders (opened at the upstream process in one call), then the flow at -rate for -duration in -window windows:
            throughput and p99 per window, last/first ratios, heap per active
            order, upstream status/list calls per poll interval
  routing   one simulated market (-seed, a drift of the best platform) run in
            virtual time once per strategy (value, success, price, priority,
            random) and by an oracle that knows the truth: -clients clients buy,
            wait up to -give-up, cancel and buy again until a code comes; time
            and money per delivered code, cancels, traffic shares around the drift
            (-market and -drift set other platforms and another drift)

  upstream  not a scenario: serves one simulated platform in this process until
            SIGINT/SIGTERM (go run ./bench upstream -h)

-duration is the whole scenario's load time, split across its phases.

Flags:
`

// parseOptions reads args (without the program name).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.conns, "c", 32, "connections (closed loop) or workers (open loop) per target")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: requests/s (reads) or new activations/s (flow, failover, unified); 0 = closed loop")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "whole scenario load time, split across its phases")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "discarded start of each phase (at most a quarter of the phase)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "one request's limit")
	fs.StringVar(&o.jsonFile, "json", "", "also write the report as JSON to this `file`")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the whole run to this `file`")
	fs.StringVar(&o.profRun, "profile-run", "", "buy: with -cpuprofile, profile only the load of this `run` (proxy or gateway) instead of the whole run")
	fs.StringVar(&o.target, "target", "", "base `URL` of a running gateway (default: start one in-process)")
	fs.StringVar(&o.key, "key", "", "tenant key for -target (in-process: a generated demo key)")
	fs.DurationVar(&o.codeDelay, "code-delay", time.Second, "simulated SMS arrival after purchase (in-process)")
	fs.DurationVar(&o.poll, "poll", 250*time.Millisecond, "client getStatus poll interval (flow, failover; storm: see -storm-poll)")
	fs.DurationVar(&o.giveUp, "give-up", 5*time.Second, "a virtual client abandons an order that has no code after this and buys another")
	fs.IntVar(&o.platforms, "platforms", 3, "simulated upstream platforms in-process (2..8)")
	fs.DurationVar(&o.upstreamPoll, "upstream-poll", time.Second, "the in-process gateway's poll interval per platform")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", 2*time.Second, "the in-process gateway's per-call upstream timeout")
	fs.StringVar(&o.ledgerURL, "ledger", "", "the in-process gateway's ledger: empty for a temporary SQLite file, or postgres://… (a fresh schema, dropped at exit)")
	fs.StringVar(&o.upstream, "upstream", "", "buy, soak: a running upstream as `URL#KEY` (go run ./bench upstream); empty = start one in its own process")
	fs.IntVar(&o.seedFinished, "seed-finished", 1_000_000, "soak: ended orders written to the ledger before the load")
	fs.IntVar(&o.seedActive, "seed-active", 100_000, "soak: active orders opened at the upstream in one call (its /_sim/seed) and recorded before the load")
	fs.DurationVar(&o.window, "window", time.Minute, "soak: length of each measurement window")
	fs.IntVar(&o.orders, "orders", 4, "storm: orders per phase")
	fs.DurationVar(&o.stormPoll, "storm-poll", 20*time.Millisecond, "storm: client poll interval of the first phase (the second polls back to back)")
	fs.DurationVar(&o.slowLatency, "slow", 500*time.Millisecond, "failover: latency the first platform adds in the slow phase")
	fs.DurationVar(&o.wait, "wait", 10*time.Second, "unified: getSmsCode long-poll wait")
	fs.StringVar(&o.mix, "mix", defaultMix, "reads: the legacy actions loaded, comma-separated (getStatus: of the -active orders)")
	fs.IntVar(&o.active, "active", 10_000, "reads with getStatus in -mix: active orders bought before the load; getStatus reads them while the gateway's poller polls them upstream")
	fs.Uint64Var(&o.seed, "seed", 1, "routing: the market's seed (the same seed gives the same run)")
	fs.IntVar(&o.runs, "runs", 5, "routing: seeds run (-seed, -seed+1, …), each strategy's runs pooled")
	fs.IntVar(&o.clients, "clients", 16, "routing: virtual registration clients, one activation each at a time")
	fs.DurationVar(&o.span, "span", 3*time.Hour, "routing: virtual time in which activations start (drift at a third, recovery at two thirds)")
	fs.StringVar(&o.market, "market", "", "routing: the platforms, in priority order, as `code:delivery:median:sigma:price,…` (e.g. a:0.9:20s:0.8:0.45,b:0.75:40s:0.8:0.40); empty = the default market")
	fs.DurationVar(&o.history, "history", 3*time.Hour, "routing: virtual time the same clients buy on the same market before -span, not measured: the record a running gateway has from its ledger (0 = a gateway that never sold)")
	fs.StringVar(&o.drift, "drift", "alpha:0.2", "routing: `code:delivery` — that platform's delivery probability from a third of -span to two thirds, then back")
	fs.Float64Var(&o.valueOfMinute, "value-of-minute", config.Defaults().Routing.ValueOfMinute, "routing: money (market currency) a minute of waiting is worth, for the value strategy and the oracle ([routing] value_of_minute)")
	fs.StringVar(&o.country, "country", "us", "ISO country bought")
	fs.StringVar(&o.service, "service", "tg", "service bought")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "poll":
			o.pollSet = true
		case "give-up":
			o.giveUpSet = true
		}
	})
	if fs.NArg() != 1 {
		fs.Usage()
		return o, errors.New("want exactly one scenario")
	}
	o.scenario = fs.Arg(0)
	if o.scenario == "routing" && !o.giveUpSet {
		o.giveUp = config.Defaults().Routing.GiveUp // what the value strategy assumes
	}
	return o, o.validate()
}

func (o *options) validate() error {
	known := false
	for _, n := range scenarioNames {
		known = known || n == o.scenario
	}
	var bad []string
	if !known {
		bad = append(bad, fmt.Sprintf("unknown scenario %q (want one of %s)", o.scenario, strings.Join(scenarioNames, ", ")))
	}
	if o.conns < 1 {
		bad = append(bad, "-c must be at least 1")
	}
	if o.rate < 0 {
		bad = append(bad, "-rate must not be negative")
	}
	if o.duration <= 0 {
		bad = append(bad, "-duration must be positive")
	}
	if o.warmup < 0 {
		bad = append(bad, "-warmup must not be negative")
	}
	if o.timeout <= 0 {
		bad = append(bad, "-timeout must be positive")
	}
	if o.giveUp <= 0 {
		bad = append(bad, "-give-up must be positive")
	}
	if o.poll < 0 || o.stormPoll < 0 {
		bad = append(bad, "-poll and -storm-poll must not be negative")
	}
	if o.platforms < 2 || o.platforms > 8 {
		bad = append(bad, "-platforms must be 2..8")
	}
	if o.upstreamPoll <= 0 || o.upstreamTimeout <= 0 || o.codeDelay <= 0 {
		bad = append(bad, "-upstream-poll, -upstream-timeout and -code-delay must be positive")
	}
	if o.seedFinished < 0 || o.seedActive < 0 || o.window <= 0 {
		bad = append(bad, "-seed-finished and -seed-active must not be negative, -window must be positive")
	}
	if o.scenario == "routing" {
		if o.clients < 1 || o.runs < 1 || o.span <= 0 || o.history < 0 || o.valueOfMinute <= 0 {
			bad = append(bad, "-clients and -runs must be at least 1, -span and -value-of-minute positive, -history not negative")
		}
		if _, err := routingMarketSpec(o, o.seed); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if o.active < 1 {
		bad = append(bad, "-active must be at least 1")
	}
	if o.orders < 1 {
		bad = append(bad, "-orders must be at least 1")
	}
	if o.wait <= 0 {
		bad = append(bad, "-wait must be positive")
	}
	if o.target != "" {
		u, err := url.Parse(o.target)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			bad = append(bad, fmt.Sprintf("-target %q: want http://host:port", o.target))
		case o.key == "":
			bad = append(bad, "-target needs -key (the tenant's API key)")
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// ownUpstream reports whether the scenario's gateway buys from a
// simulator in its own process (buy, soak).
func (o *options) ownUpstream() bool { return o.scenario == "buy" || o.scenario == "soak" }

// inProcess reports whether bench runs its own gateway and simulators.
func (o *options) inProcess() bool { return o.target == "" }

// phaseWarmup is the warmup of a phase of length d: -warmup, at most d/4.
func (o *options) phaseWarmup(d time.Duration) time.Duration { return min(o.warmup, d/4) }
