// Package config is the gateway's configuration: the Config struct, its
// defaults, loading from gateway.toml with SMSGATE_ environment overrides,
// and validation whose errors name the offending key.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Config is the whole gateway configuration. Every field's comment names its
// unit and default; Defaults() is the single place defaults live.
type Config struct {
	Server    Server     `koanf:"server"`
	Ledger    Ledger     `koanf:"ledger"`
	Recovery  Recovery   `koanf:"recovery"`
	Cache     Cache      `koanf:"cache"`
	Routing   Routing    `koanf:"routing"`
	Breaker   Breaker    `koanf:"breaker"`
	Health    Health     `koanf:"health"`
	API       API        `koanf:"api"`
	Webhooks  Webhooks   `koanf:"webhooks"`
	Redis     Redis      `koanf:"redis"`
	Alerts    Alerts     `koanf:"alerts"`
	FX        FX         `koanf:"fx"`
	Log       Log        `koanf:"log"`
	Admin     Admin      `koanf:"admin"`
	Simulator Simulator  `koanf:"simulator"`
	Platforms []Platform `koanf:"platforms"`
	Tenants   []Tenant   `koanf:"tenants"`
}

// Recovery tunes how what the ledger owes is carried out: the outbox
// worker (cancels, finishes, retries and bans a platform could not take
// at once) and the pass over purchase intents left open by a crash.
type Recovery struct {
	OutboxTick time.Duration `koanf:"outbox_tick"` // how often due actions are looked for; default 1s
	RetryMin   time.Duration `koanf:"retry_min"`   // first retry's pause (doubling, ±50% jitter); default 2s
	RetryMax   time.Duration `koanf:"retry_max"`   // longest pause between retries; default 5m
	// IntentGrace: how old an open purchase intent is before the intent
	// pass decides it; longer than any purchase takes to record its
	// number. Default 2m.
	IntentGrace time.Duration `koanf:"intent_grace"`
	IntentEvery time.Duration `koanf:"intent_every"` // how often the intent pass runs; default 1m
	// Reconcile: how long an intent whose number was never found is kept
	// open before its hold is released and it is given up; default 10m.
	Reconcile time.Duration `koanf:"reconcile"`
}

// Server is the fasthttp front end.
type Server struct {
	Listen string `koanf:"listen"` // host:port; default "127.0.0.1:8080"
	// HeaderTimeout bounds the wait for a request's first byte and its
	// headers, on a new connection whatever keep-alive settings say and
	// from the first byte on a kept-alive one; default 5s. A connection
	// that sends nothing, or stalls mid-header, is closed then.
	HeaderTimeout time.Duration `koanf:"header_timeout"`
	ReadTimeout   time.Duration `koanf:"read_timeout"`   // reading the body once the headers are in; default 10s
	WriteTimeout  time.Duration `koanf:"write_timeout"`  // default 10s
	IdleTimeout   time.Duration `koanf:"idle_timeout"`   // keep-alive wait; default 60s
	MaxBodyBytes  int           `koanf:"max_body_bytes"` // request body limit, bytes; default 65536
	// RequestTimeout bounds the work (upstream calls, ledger) of one request;
	// default 15s.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// ShutdownTimeout bounds draining in-flight requests on SIGINT/SIGTERM; default 10s.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// MaxConns caps open client connections; over it a new connection is
	// closed at once. Default 4096; 0 = no cap. Lowered at start to fit
	// the process's open-files limit.
	MaxConns int `koanf:"max_conns"`
	// MaxConnsPerIP caps open connections from one client IP; default
	// 1024; 0 = no cap.
	MaxConnsPerIP int `koanf:"max_conns_per_ip"`
}

// Ledger is the order store.
type Ledger struct {
	// URL: a SQLite file path ("data/smsgate.db", the default) or
	// "postgres://…" for several instances.
	URL string `koanf:"url"`
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (default; survives
	// a killed process) or "FULL" (also survives power loss).
	Synchronous string `koanf:"synchronous"`
}

// Cache is the read cache's TTLs.
type Cache struct {
	Countries time.Duration `koanf:"countries"` // default 24h
	Prices    time.Duration `koanf:"prices"`    // default 1h
	Status    time.Duration `koanf:"status"`    // platform status; default 5m
	Codes     time.Duration `koanf:"codes"`     // default 10m
}

// Routing chooses a platform per purchase.
type Routing struct {
	Strategy    string        `koanf:"strategy"`     // price|success|balance|random|priority|value; default "priority"
	MaxAttempts int           `koanf:"max_attempts"` // platforms tried per purchase; default 3
	Deadline    time.Duration `koanf:"deadline"`     // overall purchase deadline; default 20s
	// HalfLife: how fast the delivery record forgets; an ended order
	// counts half as much this long after it ended. Default 2h.
	HalfLife time.Duration `koanf:"half_life"`
	// GiveUp: how long a client waits for a code before it cancels and
	// buys again, as the value strategy prices a number that never gets
	// one. Default 2m.
	GiveUp time.Duration `koanf:"give_up"`
	// Probe: a platform × country × service not bought for this long
	// (and with no number waiting) is tried first for one purchase by the
	// success and value strategies, so a platform that failed and came
	// back is seen to be back; 0 = no probes.
	Probe time.Duration `koanf:"probe"`
	// ValueOfMinute: what a minute of waiting for a code is worth, in
	// base currency units, the rate at which the value strategy adds time
	// to money. Default 0.25 (a worker's time at 15 a base unit an hour).
	ValueOfMinute float64 `koanf:"value_of_minute"`
	// Refresh: how often the delivery record reads the orders other
	// instances ended from the ledger; 0 = never (one instance). Default 10s.
	Refresh time.Duration `koanf:"refresh"`
}

// Breaker configures each platform's circuit breaker.
type Breaker struct {
	ConsecutiveFailures int           `koanf:"consecutive_failures"` // trip after this many in a row; default 5
	OpenTimeout         time.Duration `koanf:"open_timeout"`         // open → half-open; default 30s
	HalfOpenRequests    int           `koanf:"half_open_requests"`   // probes while half-open; default 1
	Interval            time.Duration `koanf:"interval"`             // closed-state count window; default 60s
	// FailureRatio also trips the breaker when at least MinRequests calls in
	// the rolling Interval failed in this proportion (0..1); default 0.5.
	FailureRatio float64 `koanf:"failure_ratio"`
	MinRequests  int     `koanf:"min_requests"` // volume before the ratio counts; default 20
	// MaxOpenTimeout caps the open time, which grows with repeated trips
	// (open_timeout × trips, as Envoy's ejection); default 300s.
	MaxOpenTimeout time.Duration `koanf:"max_open_timeout"`
}

// Health is the periodic platform check.
type Health struct {
	Interval time.Duration `koanf:"interval"` // balance + latency check of each platform; default 5m
}

// Redis shares breaker openings and limits between gateway instances.
type Redis struct {
	// URL: "redis://host:port/db" or "host:port"; "" = each instance keeps
	// its own (the default, right for one instance).
	URL string `koanf:"url"`
	// Prefix of every key the gateway writes; default "smsgate:".
	Prefix string `koanf:"prefix"`
}

// API is the unified JSON API.
type API struct {
	// MaxWait caps how long a getSmsCode long-poll holds the request;
	// default 60s.
	MaxWait time.Duration `koanf:"max_wait"`
	// SSEHeartbeat is how often an idle event stream (/api/sms/events)
	// sends a comment line so proxies keep it open; default 15s.
	SSEHeartbeat time.Duration `koanf:"sse_heartbeat"`
}

// Webhooks tune the delivery of tenants' webhooks (each tenant's URL and
// secret are in [[tenants]]).
type Webhooks struct {
	Timeout time.Duration `koanf:"timeout"` // one POST, connect to answer; default 10s
	// GiveUp: how long an event is retried (backoff from recovery.retry_min
	// doubling up to retry_max) before it is given up with an alert;
	// default 24h.
	GiveUp   time.Duration `koanf:"give_up"`
	RetryMax time.Duration `koanf:"retry_max"` // longest pause between tries; default 1h
}

// Alerts go to the log, a metric, and optionally a webhook.
type Alerts struct {
	// WebhookURL receives a JSON POST per alert; "" = log and metric only.
	WebhookURL string `koanf:"webhook_url"`
}

// FX converts platform currencies to the base currency.
type FX struct {
	BaseCurrency string `koanf:"base_currency"` // ISO 4217; default "USD"
	// Rates: units of base currency per one unit of the key currency, as
	// decimal strings ("RUB" = "0.011"). The base currency is implicitly 1.
	Rates map[string]string `koanf:"rates"`
}

// Log configures zap.
type Log struct {
	Level  string `koanf:"level"`  // debug|info|warn|error; default "info"
	Format string `koanf:"format"` // json|console; default "console"
}

// Admin protects admin and simulator-control endpoints.
type Admin struct {
	Key       Secret `koanf:"key"`        // plain admin key; prefer env SMSGATE_ADMIN__KEY; default "" (admin off)
	KeySHA256 string `koanf:"key_sha256"` // hex sha256 of the admin key
}

// Simulator configures the in-process simulated upstreams used by platforms
// whose url is "sim".
type Simulator struct {
	// CodeDelay: how long after purchase a simulated SMS arrives; default 5s.
	CodeDelay time.Duration `koanf:"code_delay"`
	// Stock: numbers in stock per (country, service) at start; default 500.
	Stock int `koanf:"stock"`
	// Balance: each simulated account's starting balance, decimal in the
	// platform's currency; default "1000".
	Balance string `koanf:"balance"`

	// Seed of the realistic market's draws (every delivery, delay and
	// price move); default 1. The same seed and the same purchases give
	// the same outcomes.
	Seed uint64 `koanf:"seed"`
	// SimMarket holds the realistic market's defaults for every simulated
	// platform. Left at its defaults, with no platform override and no
	// drift, the market is the fixed one: every SMS code_delay after
	// purchase, fixed prices, no refill (see Realistic).
	SimMarket `koanf:",squash"`
	// Platforms override SimMarket for one simulated platform each, by
	// its code; default none.
	Platforms map[string]SimPlatform `koanf:"platforms"`
	// Drift changes a platform's market at set times; default none.
	Drift []SimDrift `koanf:"drift"`
}

// SimMarket is how a simulated platform sells: the defaults under
// [simulator]. Simulator-side meaning in adapters/simulator.Params.
type SimMarket struct {
	// Delivery: probability 0..1 that a number ever receives its SMS (one
	// that does not waits until cancelled or expired); default 1.
	Delivery float64 `koanf:"delivery"`
	// DelayMedian: median time from purchase to the SMS; default 0 =
	// code_delay.
	DelayMedian time.Duration `koanf:"delay_median"`
	// DelaySigma: the delay's spread, log-normal sigma 0..5 (1: the 95th
	// percentile is 5.2× the median); default 0 = always the median.
	DelaySigma float64 `koanf:"delay_sigma"`
	// RefillPerMinute: numbers per minute a (country, service)'s stock
	// regains up to stock_cap; default 0 = no refill.
	RefillPerMinute float64 `koanf:"refill_per_minute"`
	// StockCap: the refill's ceiling per (country, service); default 0 =
	// stock.
	StockCap int `koanf:"stock_cap"`
	// PriceStep: largest relative price move per price_interval, 0..1
	// exclusive (0.05 = ±5 %); default 0 = fixed prices.
	PriceStep float64 `koanf:"price_step"`
	// PriceInterval: how often prices move; default 1m.
	PriceInterval time.Duration `koanf:"price_interval"`
	// PriceMin and PriceMax bound the walk, as factors of the starting
	// price: 0 < price_min <= 1 <= price_max; defaults 0.5 and 2.
	PriceMin float64 `koanf:"price_min"`
	PriceMax float64 `koanf:"price_max"`
}

// SimOverride sets some of SimMarket's keys for one platform or pair;
// a key left out (nil) keeps the level above's value.
type SimOverride struct {
	Delivery        *float64       `koanf:"delivery"`
	DelayMedian     *time.Duration `koanf:"delay_median"`
	DelaySigma      *float64       `koanf:"delay_sigma"`
	RefillPerMinute *float64       `koanf:"refill_per_minute"`
	StockCap        *int           `koanf:"stock_cap"`
	PriceStep       *float64       `koanf:"price_step"`
	PriceInterval   *time.Duration `koanf:"price_interval"`
	PriceMin        *float64       `koanf:"price_min"`
	PriceMax        *float64       `koanf:"price_max"`
}

// SimPlatform is [simulator.platforms.<code>]: overrides for one
// simulated platform, and below them for single pairs
// ([simulator.platforms.<code>.pairs.<country>.<service>]).
type SimPlatform struct {
	SimOverride `koanf:",squash"`
	// Pairs: country → service → overrides; default none.
	Pairs map[string]map[string]SimOverride `koanf:"pairs"`
}

// SimDrift is one [[simulator.drift]] entry: at At after start (the
// gateway's start, for its in-process simulators), one platform's market
// changes — every pair, or one (country, service).
type SimDrift struct {
	At       time.Duration `koanf:"at"`       // offset from start; >= 0; required
	Platform string        `koanf:"platform"` // a simulated platform's code; required
	Country  string        `koanf:"country"`  // with service: one pair; both "" = every pair
	Service  string        `koanf:"service"`
	// Delivery: the new delivery probability 0..1; default unset =
	// unchanged.
	Delivery *float64 `koanf:"delivery"`
	// DelayFactor multiplies the delay median (> 0); 0 = unchanged.
	DelayFactor float64 `koanf:"delay_factor"`
	// PriceFactor multiplies the price (> 0); 0 = unchanged.
	PriceFactor float64 `koanf:"price_factor"`
	// Recover: back to the configured market, undoing earlier drift of
	// the same scope (nothing else may be set with it).
	Recover bool `koanf:"recover"`
}

// Realistic reports whether any realistic-market key departs from the
// fixed market's: without one, simulators keep today's behaviour exactly.
func (s Simulator) Realistic() bool {
	d := Defaults().Simulator.SimMarket
	m := s.SimMarket
	return m.Delivery != d.Delivery || m.DelayMedian != 0 || m.DelaySigma != 0 ||
		m.RefillPerMinute != 0 || m.PriceStep != 0 || len(s.Platforms) > 0 || len(s.Drift) > 0
}

// Market is the market of the simulated platform code: the defaults with
// its overrides applied, and the overrides of its pairs (country →
// service → market) resolved the same way. DelayMedian 0 still means
// code_delay.
func (s Simulator) Market(code string) (SimMarket, map[string]map[string]SimMarket) {
	pl := s.Platforms[code]
	m := s.SimMarket.with(pl.SimOverride)
	pairs := map[string]map[string]SimMarket{}
	for country, services := range pl.Pairs {
		pairs[country] = map[string]SimMarket{}
		for service, o := range services {
			pairs[country][service] = m.with(o)
		}
	}
	return m, pairs
}

func (m SimMarket) with(o SimOverride) SimMarket {
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&m.Delivery, o.Delivery)
	set(&m.DelaySigma, o.DelaySigma)
	set(&m.RefillPerMinute, o.RefillPerMinute)
	set(&m.PriceStep, o.PriceStep)
	set(&m.PriceMin, o.PriceMin)
	set(&m.PriceMax, o.PriceMax)
	if o.DelayMedian != nil {
		m.DelayMedian = *o.DelayMedian
	}
	if o.PriceInterval != nil {
		m.PriceInterval = *o.PriceInterval
	}
	if o.StockCap != nil {
		m.StockCap = *o.StockCap
	}
	return m
}

// Platform is one upstream.
type Platform struct {
	Code    string `koanf:"code"`    // unique name, e.g. "smsactivate", "hero"; required
	Type    string `koanf:"type"`    // adapter: smsactivate|fivesim (alias 5sim)|…; default = Code
	Enabled *bool  `koanf:"enabled"` // default true
	// Priority: lower first for the priority strategy; default (or 0) = its
	// index in [[platforms]], so to put a later platform first give the
	// others larger numbers or use a negative one.
	Priority int `koanf:"priority"`
	Weight   int `koanf:"weight"` // random strategy weight, >= 1; default (or 0) 1
	// URL: the platform's base URL, or "sim" for the built-in simulator.
	URL      string `koanf:"url"`
	Key      Secret `koanf:"key"`      // API key; set via env SMSGATE_PLATFORMS__<i>__KEY
	User     string `koanf:"user"`     // login where the platform needs one
	Password Secret `koanf:"password"` // where the platform needs one
	// Currency: ISO 4217 of the account; "" = the adapter's default. Needs an
	// [fx].rates entry unless it is the base currency.
	Currency string `koanf:"currency"`
	// Dialect for smsactivate-type platforms: "classic" (200 + text errors,
	// default) or "hero" (non-200 + JSON errors).
	Dialect      string        `koanf:"dialect"`
	PollInterval time.Duration `koanf:"poll_interval"` // default 5s
	// Rate: outbound requests/s; default (or 0) 10; negative = unlimited.
	// After ApplyDefaults, Rate <= 0 means unlimited.
	Rate      float64       `koanf:"rate"`
	MaxActive int           `koanf:"max_active"` // concurrent active orders; 0 = unlimited
	Timeout   time.Duration `koanf:"timeout"`    // per upstream call; default 10s
	// BalanceAlert raises an alert when the balance falls below it, decimal
	// in the platform's currency; "" = no alert (default).
	BalanceAlert string `koanf:"balance_alert"`
	// MinSuccessRate, percent (0..100; 0 = off, default): while the
	// platform's recent success rate (orders that delivered a code, of
	// those ended, decayed with a one-hour half-life) over at least
	// MinSuccessSample orders is below it, the router routes away, before
	// the vendor's own floor (Platfone: 7 %) blocks the account.
	MinSuccessRate float64 `koanf:"min_success_rate"`
	// MinSuccessSample: the recent ended orders min_success_rate needs
	// before it is enforced; default 20.
	MinSuccessSample int `koanf:"min_success_sample"`
	// PenaltyBackoff: how long the platform is skipped after a penalty
	// that tells no time (CHANNELS_LIMIT, HTTP 429 without Retry-After);
	// default 30s.
	PenaltyBackoff time.Duration `koanf:"penalty_backoff"`
	// Pool: settings of pool platforms (type textnow or receivesms), whose
	// numbers the gateway owns and hands out itself.
	Pool Pool `koanf:"pool"`
}

// Pool configures a pool platform.
type Pool struct {
	// Accounts: the TextNow accounts, one number each (textnow only).
	Accounts []PoolAccount `koanf:"accounts"`
	// Numbers: the rentals to use (receivesms); empty = every number on the
	// account.
	Numbers []PoolNumber `koanf:"numbers"`
	// Price per activation, decimal in the platform's currency; default "0",
	// or rent / expected_uses when rent is set.
	Price string `koanf:"price"`
	// Rent: what one number costs a month, decimal; "" = none (default).
	Rent string `koanf:"rent"`
	// ExpectedUses: activations one number is expected to serve a month, to
	// spread the rent over; default 30.
	ExpectedUses int `koanf:"expected_uses"`
	// Cooldown: a number used for a service is not handed out for that
	// service again for this long; default 24h.
	Cooldown time.Duration `koanf:"cooldown"`
	// CancelCooldown: a number whose order was cancelled or expired is kept
	// from that service this long (a late SMS for the abandoned attempt must
	// not reach the next client); default 20m.
	CancelCooldown time.Duration `koanf:"cancel_cooldown"`
	// Quarantine: a number a service banned is kept from it this long;
	// default 720h.
	Quarantine time.Duration `koanf:"quarantine"`
	// Refresh: how often the list of numbers is re-read upstream; default 5m.
	Refresh time.Duration `koanf:"refresh"`
	// WebhookSecret authenticates the upstream's SMS callbacks at
	// /webhooks/<type>?secret=…; "" = callbacks off (default). Prefer env
	// SMSGATE_PLATFORMS__<i>__POOL__WEBHOOK_SECRET.
	WebhookSecret Secret `koanf:"webhook_secret"`
	// PushFallback: with callbacks on, the upstream is still read this often
	// per order in case a callback is lost; default 1m.
	PushFallback time.Duration `koanf:"push_fallback"`
	// Senders: per service, who may send its code (substrings of the sender,
	// case-insensitive), e.g. { tg = ["Telegram"] }; default none (anyone
	// the attribution allows). A listed sender also counts as that
	// service's when telling services apart.
	Senders map[string][]string `koanf:"senders"`
	// AcceptUnattributed: an SMS that names no known service, by sender or
	// wording ("Your code is 1234" from a long number), may be the code of
	// an order for any service. Default false: only SMS attributable to the
	// order's service count; one naming another service never does.
	AcceptUnattributed bool `koanf:"accept_unattributed"`
	// MinGap (textnow only): the least time between two calls for one
	// account; default 1s (what TextNow tolerates).
	MinGap time.Duration `koanf:"min_gap"`
	// CodePatterns: per service, a regular expression overriding the built-in
	// code format; capture groups are joined into the code.
	CodePatterns map[string]string `koanf:"code_patterns"`
}

// PoolAccount is one TextNow account.
type PoolAccount struct {
	User string `koanf:"user"` // username; required
	// Cookie: the connect.sid session cookie of a browser login; prefer env
	// SMSGATE_PLATFORMS__<i>__POOL__ACCOUNTS__<j>__COOKIE.
	Cookie Secret `koanf:"cookie"`
	CSRF   Secret `koanf:"csrf"` // the _csrf cookie, where the session needs it
	// CSRFToken: the x-csrf-token header (the csrf-token meta tag of
	// /messaging), where the session needs it.
	CSRFToken Secret `koanf:"csrf_token"`
	Phone     string `koanf:"phone"`   // the account's number; "" = read from the account
	Country   string `koanf:"country"` // us|ca; default us
}

// PoolNumber is one rented number to use.
type PoolNumber struct {
	Phone   string `koanf:"phone"`   // digits with the country calling code; required
	Country string `koanf:"country"` // ISO alpha-2; "" = as the upstream says
}

// IsEnabled applies the default (true) of Enabled.
func (p Platform) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Tenant is one client of the gateway.
type Tenant struct {
	Name string `koanf:"name"` // required, unique
	// Key: the plain key; prefer env SMSGATE_TENANTS__<i>__KEY. Load hashes it
	// into KeySHA256 and clears it, so a loaded Config never holds it in clear.
	// If both are set, Key wins.
	Key       Secret  `koanf:"key"`
	KeySHA256 string  `koanf:"key_sha256"` // hex sha256 of the key (instead of key)
	Strategy  string  `koanf:"strategy"`   // default routing strategy; default [routing].strategy
	Currency  string  `koanf:"currency"`   // prices shown in; default [fx].base_currency
	Rate      float64 `koanf:"rate"`       // requests/s; 0 = unlimited (default)
	MaxActive int     `koanf:"max_active"` // active orders; 0 = unlimited (default)
	// Platforms the tenant may use; empty = all enabled.
	Platforms []string `koanf:"platforms"`
	// MarkupPercent is added to every upstream price the tenant sees, in
	// percent of that price: "12.5" (or the TOML number 12.5) = +12.5 %.
	// At most 4 decimal places (the gateway counts parts per million), at
	// most 1000; default "" = 0. See MarkupPPM.
	MarkupPercent Decimal `koanf:"markup_percent"`
	// MarkupFixed is added to every price the tenant sees after the
	// percentage, decimal in Currency: "0.05" (or 0.05); at most 6 decimal
	// places, at most 1000000; default "" = 0. See MarkupMicros.
	MarkupFixed Decimal `koanf:"markup_fixed"`
	// Wallet: the tenant pays from a prepaid wallet in the ledger (top it
	// up through the admin API); false (default) is operator mode.
	Wallet bool `koanf:"wallet"`
	// WebhookURL receives each of the tenant's order events as a signed
	// JSON POST (an http(s) URL); "" = no webhooks (default).
	WebhookURL string `koanf:"webhook_url"`
	// WebhookSecret signs the webhooks (X-Smsgate-Signature, HMAC-SHA256);
	// required with webhook_url, at least 16 bytes. Prefer env
	// SMSGATE_TENANTS__<i>__WEBHOOK_SECRET. Never logged.
	WebhookSecret Secret `koanf:"webhook_secret"`
	// WebhookFormat is the body posted: "smsgate" (the order event;
	// default) or "smsactivate" (SMS-Activate's webhook body, for legacy
	// clients).
	WebhookFormat string `koanf:"webhook_format"`
}

// KeyHash returns the sha256 of the tenant's key: of Key if set, else
// KeySHA256 decoded.
func (t Tenant) KeyHash() ([32]byte, error) {
	if t.Key != "" {
		return sha256.Sum256([]byte(t.Key.Reveal())), nil
	}
	var sum [32]byte
	if !isSHA256Hex(t.KeySHA256) {
		return sum, fmt.Errorf("cannot decode key_sha256 of tenant %q: want 64 hex characters", t.Name)
	}
	hex.Decode(sum[:], []byte(t.KeySHA256))
	return sum, nil
}
