package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
)

// upstreamOptions are the command line of "bench upstream".
type upstreamOptions struct {
	platform  string        // -platform: adapter type whose protocol is served
	listen    string        // -listen: host:port
	stock     int           // -stock: numbers per (country, service)
	balance   int64         // -balance: whole currency units
	codeDelay time.Duration // -code-delay: SMS after purchase; negative = never on its own
	retention time.Duration // -retention: how long an ended order can be looked up
	seed      uint64        // -seed: phones and codes
	key       string        // -key: API key accepted; "" = a generated one
	dialect   string        // -dialect: smsactivate only
	currency  string        // -currency: "" = the type's default
	gateway   string        // -gateway: receivesms only, where its callbacks go
}

const upstreamUsage = `usage: go run ./bench upstream [flags]

Runs one simulated platform in this process until SIGINT or SIGTERM, so a
benchmark loads the gateway alone. Once it listens it prints one line:
  upstream platform=<type> url=<base URL> key=<API key> [user=<login>] [accounts=<user:phone,…>] [webhook_secret=<s>]
GET <url>/_sim/requests answers the requests it received by call (JSON).
POST <url>/_sim/seed?country=<iso>&service=<code>&n=<count> opens n active
orders at once, as n purchases would, and answers "<id> <phone>" per line.

Flags:
`

func parseUpstream(args []string, stderr io.Writer) (upstreamOptions, error) {
	var o upstreamOptions
	fs := flag.NewFlagSet("bench upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, upstreamUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.platform, "platform", "smsactivate", "adapter type whose protocol is served: "+strings.Join(registry.Types(), ", "))
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "`host:port` to listen on (port 0 = a free one)")
	fs.IntVar(&o.stock, "stock", 1_000_000, "numbers in stock per (country, service); 0 = none")
	fs.Int64Var(&o.balance, "balance", 1_000_000_000, "account balance in whole currency units")
	fs.DurationVar(&o.codeDelay, "code-delay", 5*time.Second, "SMS arrival after purchase or a request for another; negative = never")
	fs.DurationVar(&o.retention, "retention", 10*time.Minute, "how long an ended order can still be looked up (memory follows the active orders); 0 = for ever")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed for phones and codes")
	fs.StringVar(&o.key, "key", "", "API key the upstream accepts (default: a generated one, printed)")
	fs.StringVar(&o.dialect, "dialect", "classic", "smsactivate only: classic|hero")
	fs.StringVar(&o.currency, "currency", "", "account currency (default: the platform type's)")
	fs.StringVar(&o.gateway, "gateway", "", "receivesms only: the gateway's base `URL` its callbacks go to")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var bad []string
	if registry.DefaultCurrency(o.platform) == "" { // the registry knows no such type
		bad = append(bad, fmt.Sprintf("-platform %q: want one of %s", o.platform, strings.Join(registry.Types(), ", ")))
	}
	if o.stock < 0 || o.balance < 0 || o.retention < 0 {
		bad = append(bad, "-stock, -balance and -retention must not be negative")
	}
	if o.balance > (1<<63-1)/adapters.Micro {
		bad = append(bad, "-balance is too large")
	}
	if o.codeDelay == 0 {
		bad = append(bad, "-code-delay must not be 0 (negative: never)")
	}
	if len(bad) > 0 {
		return o, errors.New(strings.Join(bad, "; "))
	}
	return o, nil
}

// runUpstream serves one simulated platform until ctx ends; the exit code
// is run's.
func runUpstream(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseUpstream(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench upstream:", err)
		return exitUsage
	}
	mc := simulator.Config{
		Balance:   o.balance * adapters.Micro,
		Stock:     o.stock,
		CodeDelay: o.codeDelay,
		Retention: o.retention,
		Seed:      o.seed,
		Key:       o.key,
	}
	if o.stock == 0 {
		mc.Stock = -1 // the market's "none"; 0 there means its default
	}
	sim, err := registry.ServeSim(o.listen, registry.Spec{Code: o.platform, Type: o.platform, Dialect: o.dialect, Currency: o.currency}, mc)
	if err != nil {
		fmt.Fprintln(stderr, "bench upstream:", err)
		return exitSetup
	}
	defer sim.Close()
	if o.balance == 0 {
		sim.Market.SetBalance(0) // the market's 0 is its default balance
	}
	if o.gateway != "" {
		sim.SetGateway(strings.TrimSuffix(o.gateway, "/"))
	}
	fmt.Fprintln(stdout, upstreamLine(o.platform, sim.Spec))
	<-ctx.Done()
	return exitOK
}

// upstreamLine is the one line a script reads: space-separated key=value
// pairs, none of which contains a space.
func upstreamLine(typ string, s registry.Spec) string {
	parts := []string{"upstream", "platform=" + typ, "url=" + s.URL, "key=" + s.Key}
	if s.User != "" {
		parts = append(parts, "user="+s.User)
	}
	if len(s.Pool.Accounts) > 0 {
		// TextNow: each account's login and its number (its cookie is the key).
		users := make([]string, len(s.Pool.Accounts))
		for i, a := range s.Pool.Accounts {
			users[i] = a.User + ":" + a.Phone
		}
		parts = append(parts, "accounts="+strings.Join(users, ","))
	}
	if s.Pool.WebhookSecret != "" {
		parts = append(parts, "webhook_secret="+s.Pool.WebhookSecret)
	}
	return strings.Join(parts, " ")
}
