package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"smsgate/adapters/catalog"
)

// strategies are the routing strategies routing.strategy and a tenant's
// strategy can name.
var strategies = []string{"price", "success", "balance", "random", "priority", "value"}

// platformTypes are the adapters a platform's type can name.
var platformTypes = []string{
	"smsactivate", "fivesim", "smsman", "onlinesim", "smspva",
	"smsreg", "getsmscode", "smsservice", "textnow", "receivesms",
}

// typeAliases are other names a platform's type may be given, by the
// adapter they name: "5sim" is what the platform calls itself and what
// clients send as its code, so a [[platforms]] with code = "5sim" and no
// type must work. ApplyDefaults resolves them; adapters/registry knows the
// same aliases for specs built in code.
var typeAliases = map[string]string{"5sim": "fivesim"}

// CanonicalType is the adapter type typ names: itself, or the type an
// alias stands for.
func CanonicalType(typ string) string {
	if c, ok := typeAliases[typ]; ok {
		return c
	}
	return typ
}

// dialects of smsactivate-type platforms.
var dialects = []string{"classic", "hero"}

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	decimalRE  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	codeRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	phoneRE    = regexp.MustCompile(`^[0-9]{6,15}$`)
)

// problems collects validation errors, each prefixed by the key it is about.
type problems []error

// maxValueOfMinute bounds routing.value_of_minute: beyond it the figure
// is a typo (a minute worth a million units), not a policy.
const maxValueOfMinute = 1_000_000

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *problems) positive(key string, d time.Duration) {
	if d <= 0 {
		p.add(key, "must be > 0, got %s", d)
	}
}

func (p *problems) atLeast(key string, v, least int) {
	if v < least {
		p.add(key, "must be >= %d, got %d", least, v)
	}
}

func (p *problems) oneOf(key, what, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		p.add(key, "unknown %s %q (want %s)", what, v, strings.Join(allowed, "|"))
	}
}

// currency checks an ISO 4217 code that prices are converted from or to.
func (p *problems) currency(key, cur string, fx FX) {
	switch {
	case !currencyRE.MatchString(cur):
		p.add(key, "want 3 upper-case letters (ISO 4217), got %q", cur)
	case cur == fx.BaseCurrency:
	case fx.Rates[cur] == "":
		p.add(key, "no fx rate for %s (add fx.rates.%s)", cur, cur)
	}
}

// Validate checks the whole configuration and returns every problem found,
// joined; each names its key as in "platforms[2].url: …". Run it after
// ApplyDefaults.
func (c *Config) Validate() error {
	var p problems
	c.validateServer(&p)

	if c.Ledger.URL == "" {
		p.add("ledger.url", "required")
	}
	p.oneOf("ledger.synchronous", "mode", c.Ledger.Synchronous, []string{"NORMAL", "FULL"})

	p.positive("recovery.outbox_tick", c.Recovery.OutboxTick)
	p.positive("recovery.retry_min", c.Recovery.RetryMin)
	p.positive("recovery.retry_max", c.Recovery.RetryMax)
	if c.Recovery.RetryMax < c.Recovery.RetryMin {
		p.add("recovery.retry_max", "must be at least retry_min")
	}
	p.positive("recovery.intent_grace", c.Recovery.IntentGrace)
	p.positive("recovery.intent_every", c.Recovery.IntentEvery)
	if c.Recovery.Reconcile < c.Recovery.IntentGrace {
		p.add("recovery.reconcile", "must be at least intent_grace")
	}

	p.positive("cache.countries", c.Cache.Countries)
	p.positive("cache.prices", c.Cache.Prices)
	p.positive("cache.status", c.Cache.Status)
	p.positive("cache.codes", c.Cache.Codes)

	p.oneOf("routing.strategy", "strategy", c.Routing.Strategy, strategies)
	p.atLeast("routing.max_attempts", c.Routing.MaxAttempts, 1)
	p.positive("routing.deadline", c.Routing.Deadline)
	p.positive("routing.half_life", c.Routing.HalfLife)
	p.positive("routing.give_up", c.Routing.GiveUp)
	// A positive, finite rate: with 0 a number that never delivers would
	// cost the value strategy nothing, and a lower delivery rate would not
	// rank worse.
	if v := c.Routing.ValueOfMinute; !(v > 0 && v <= maxValueOfMinute) {
		p.add("routing.value_of_minute", "must be in (0, %d] base currency units, got %v", maxValueOfMinute, v)
	}
	if c.Routing.Probe < 0 {
		p.add("routing.probe", "must be >= 0 (0 = no probes), got %s", c.Routing.Probe)
	}
	if c.Routing.Refresh < 0 {
		p.add("routing.refresh", "must be >= 0 (0 = never), got %s", c.Routing.Refresh)
	}

	p.atLeast("breaker.consecutive_failures", c.Breaker.ConsecutiveFailures, 1)
	p.positive("breaker.open_timeout", c.Breaker.OpenTimeout)
	p.atLeast("breaker.half_open_requests", c.Breaker.HalfOpenRequests, 1)
	p.positive("breaker.interval", c.Breaker.Interval)
	if c.Breaker.FailureRatio <= 0 || c.Breaker.FailureRatio > 1 {
		p.add("breaker.failure_ratio", "must be in (0, 1], got %v", c.Breaker.FailureRatio)
	}
	p.atLeast("breaker.min_requests", c.Breaker.MinRequests, 1)
	if c.Breaker.MaxOpenTimeout < c.Breaker.OpenTimeout {
		p.add("breaker.max_open_timeout", "must be >= breaker.open_timeout (%s), got %s", c.Breaker.OpenTimeout, c.Breaker.MaxOpenTimeout)
	}
	p.positive("health.interval", c.Health.Interval)
	p.positive("api.max_wait", c.API.MaxWait)
	p.positive("api.sse_heartbeat", c.API.SSEHeartbeat)
	p.positive("webhooks.timeout", c.Webhooks.Timeout)
	p.positive("webhooks.give_up", c.Webhooks.GiveUp)
	p.positive("webhooks.retry_max", c.Webhooks.RetryMax)
	if u := c.Alerts.WebhookURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p.add("alerts.webhook_url", "want an http(s) URL")
		}
	}

	c.validateFX(&p)

	p.oneOf("log.level", "level", c.Log.Level, []string{"debug", "info", "warn", "error"})
	p.oneOf("log.format", "format", c.Log.Format, []string{"json", "console"})

	if c.Admin.KeySHA256 != "" && !isSHA256Hex(c.Admin.KeySHA256) {
		p.add("admin.key_sha256", "want 64 hex characters (a sha256)")
	}

	c.validateSimulator(&p)

	c.validatePlatforms(&p)
	c.validateTenants(&p)
	return errors.Join(p...)
}

func (c *Config) validateServer(p *problems) {
	s := c.Server
	if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		p.add("server.listen", "want host:port, got %q", s.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add("server.listen", "want a port number 0-65535, got %q", port)
	}
	p.positive("server.header_timeout", s.HeaderTimeout)
	p.positive("server.read_timeout", s.ReadTimeout)
	p.positive("server.write_timeout", s.WriteTimeout)
	p.positive("server.idle_timeout", s.IdleTimeout)
	p.atLeast("server.max_body_bytes", s.MaxBodyBytes, 1)
	p.positive("server.request_timeout", s.RequestTimeout)
	p.positive("server.shutdown_timeout", s.ShutdownTimeout)
	p.atLeast("server.max_conns", s.MaxConns, 0)
	p.atLeast("server.max_conns_per_ip", s.MaxConnsPerIP, 0)
}

func (c *Config) validateFX(p *problems) {
	if !currencyRE.MatchString(c.FX.BaseCurrency) {
		p.add("fx.base_currency", "want 3 upper-case letters (ISO 4217), got %q", c.FX.BaseCurrency)
	}
	for _, cur := range slices.Sorted(maps.Keys(c.FX.Rates)) {
		key := "fx.rates." + cur
		rate := c.FX.Rates[cur]
		if !currencyRE.MatchString(cur) {
			p.add(key, "want a currency of 3 upper-case letters (ISO 4217)")
			continue
		}
		r, ok := new(big.Rat).SetString(rate)
		if !decimalRE.MatchString(rate) || !ok || r.Sign() <= 0 {
			p.add(key, "not a positive decimal: %q", rate)
			continue
		}
		if cur == c.FX.BaseCurrency && r.Cmp(big.NewRat(1, 1)) != 0 {
			p.add(key, "the base currency's rate is 1, got %q", rate)
		}
	}
}

func (c *Config) validatePlatforms(p *problems) {
	seen := map[string]int{} // code → index
	for i, pl := range c.Platforms {
		at := func(field string) string { return fmt.Sprintf("platforms[%d].%s", i, field) }

		switch j, dup := seen[pl.Code]; {
		case pl.Code == "":
			p.add(at("code"), "required")
		case !codeRE.MatchString(pl.Code):
			p.add(at("code"), "want lower-case letters, digits, '-' or '_', got %q", pl.Code)
		case dup:
			p.add(at("code"), "duplicate %q (also platforms[%d])", pl.Code, j)
		default:
			seen[pl.Code] = i
		}

		if !slices.Contains(platformTypes, CanonicalType(pl.Type)) {
			p.add(at("type"), "unknown type %q (want %s, or 5sim for fivesim; type defaults to code)",
				pl.Type, strings.Join(platformTypes, "|"))
		}
		if pl.Type == "smsactivate" {
			p.oneOf(at("dialect"), "dialect", pl.Dialect, dialects)
		} else if pl.Dialect != "" {
			p.add(at("dialect"), "only smsactivate-type platforms have a dialect")
		}

		if msg := checkPlatformURL(pl.URL); msg != "" {
			p.add(at("url"), "%s", msg)
		}

		if pl.Currency != "" {
			p.currency(at("currency"), pl.Currency, c.FX)
		}
		p.atLeast(at("weight"), pl.Weight, 1)
		p.positive(at("poll_interval"), pl.PollInterval)
		p.positive(at("timeout"), pl.Timeout)
		p.atLeast(at("max_active"), pl.MaxActive, 0)
		if pl.BalanceAlert != "" && !decimalRE.MatchString(pl.BalanceAlert) {
			p.add(at("balance_alert"), "not a decimal")
		}
		if pl.MinSuccessRate < 0 || pl.MinSuccessRate > 100 || math.IsNaN(pl.MinSuccessRate) {
			p.add(at("min_success_rate"), "must be a percentage 0..100 (0 = off)")
		}
		p.atLeast(at("min_success_sample"), pl.MinSuccessSample, 1)
		p.positive(at("penalty_backoff"), pl.PenaltyBackoff)
		if isPoolType(pl.Type) {
			pl.Pool.validate(p, at, pl.Type, pl.URL == "sim")
		}
	}
}

func (c *Pool) validate(p *problems, at func(string) string, typ string, sim bool) {
	for _, k := range []struct {
		key, v string
	}{{"pool.price", c.Price}, {"pool.rent", c.Rent}} {
		if k.v != "" && !decimalRE.MatchString(k.v) {
			p.add(at(k.key), "not a decimal")
		}
	}
	p.atLeast(at("pool.expected_uses"), c.ExpectedUses, 1)
	p.positive(at("pool.cooldown"), c.Cooldown)
	p.positive(at("pool.quarantine"), c.Quarantine)
	p.positive(at("pool.cancel_cooldown"), c.CancelCooldown)
	if n := len(c.WebhookSecret.Reveal()); n > 0 && n < 16 {
		p.add(at("pool.webhook_secret"), "too short to be unguessable: want at least 16 characters")
	}
	p.positive(at("pool.refresh"), c.Refresh)
	p.positive(at("pool.push_fallback"), c.PushFallback)
	if typ == "textnow" && len(c.Accounts) == 0 && !sim {
		p.add(at("pool.accounts"), "a textnow platform needs at least one account")
	}
	if typ != "textnow" && len(c.Accounts) > 0 {
		p.add(at("pool.accounts"), "only textnow platforms have accounts")
	}
	users := map[string]bool{}
	for j, a := range c.Accounts {
		key := func(f string) string { return at(fmt.Sprintf("pool.accounts[%d].%s", j, f)) }
		if a.User == "" {
			p.add(key("user"), "required")
		} else if users[a.User] {
			p.add(key("user"), "duplicate %q", a.User)
		}
		users[a.User] = true
		if a.Cookie == "" && !sim {
			p.add(key("cookie"), "required (set it via env)")
		}
		p.oneOf(key("country"), "country", a.Country, []string{"us", "ca"})
		if a.Phone != "" && !phoneRE.MatchString(a.Phone) {
			p.add(key("phone"), "want 10 or 11 digits, got %q", a.Phone)
		}
	}
	for j, n := range c.Numbers {
		if !phoneRE.MatchString(n.Phone) {
			p.add(at(fmt.Sprintf("pool.numbers[%d].phone", j)), "want digits with the country calling code, got %q", n.Phone)
		}
	}
	for svc, re := range c.CodePatterns {
		if _, err := regexp.Compile(re); err != nil {
			p.add(at("pool.code_patterns."+svc), "%v", err)
		}
		if _, ok := catalog.ServiceByCode(svc); !ok {
			p.add(at("pool.code_patterns."+svc), "unknown service %q", svc)
		}
	}
	for svc, list := range c.Senders {
		if _, ok := catalog.ServiceByCode(svc); !ok {
			p.add(at("pool.senders."+svc), "unknown service %q", svc)
		}
		for j, s := range list {
			if strings.TrimSpace(s) == "" {
				p.add(at(fmt.Sprintf("pool.senders.%s[%d]", svc, j)), "empty: it would match every sender")
			}
		}
	}
	switch {
	case typ == "textnow":
		p.positive(at("pool.min_gap"), c.MinGap)
	case c.MinGap != 0:
		p.add(at("pool.min_gap"), "only textnow platforms pace their accounts")
	}
}

func (c *Config) validateTenants(p *problems) {
	names := map[string]int{}
	keys := map[[32]byte]int{}
	for i, t := range c.Tenants {
		at := func(field string) string { return fmt.Sprintf("tenants[%d].%s", i, field) }

		switch j, dup := names[t.Name]; {
		case t.Name == "":
			p.add(at("name"), "required")
		case dup:
			p.add(at("name"), "duplicate %q (also tenants[%d])", t.Name, j)
		default:
			names[t.Name] = i
		}

		switch {
		case t.Key == "" && t.KeySHA256 == "":
			p.add(at("key"), "one of key or key_sha256 is required")
		case t.Key == "" && !isSHA256Hex(t.KeySHA256):
			p.add(at("key_sha256"), "want 64 hex characters (a sha256)")
		default:
			sum, _ := t.KeyHash()
			if j, dup := keys[sum]; dup {
				// Never print the key itself.
				p.add(at("key"), "same key as tenants[%d]", j)
			} else {
				keys[sum] = i
			}
		}

		if t.Strategy != c.Routing.Strategy { // else already reported
			p.oneOf(at("strategy"), "strategy", t.Strategy, strategies)
		}
		p.currency(at("currency"), t.Currency, c.FX)
		if t.Rate < 0 {
			p.add(at("rate"), "must be >= 0, got %v", t.Rate)
		}
		p.atLeast(at("max_active"), t.MaxActive, 0)
		for j, code := range t.Platforms {
			if !slices.ContainsFunc(c.Platforms, func(pl Platform) bool { return pl.Code == code }) {
				p.add(fmt.Sprintf("tenants[%d].platforms[%d]", i, j), "unknown platform %q", code)
			}
		}
		if _, err := t.MarkupPPM(); err != nil {
			p.add(at("markup_percent"), "%v (want percent, 0 to %d, at most 4 decimal places)", err, maxMarkupPercent)
		}
		if _, err := t.MarkupMicros(); err != nil {
			p.add(at("markup_fixed"), "%v (want a decimal in the tenant's currency, 0 to %d, at most 6 decimal places)", err, maxMarkupFixed)
		}
		t.validateWebhook(p, at)
	}
}

// validateWebhook checks a tenant's webhook keys; the secret is never
// printed.
func (t Tenant) validateWebhook(p *problems, at func(string) string) {
	if t.WebhookURL != "" {
		if msg := checkWebhookURL(t.WebhookURL); msg != "" {
			p.add(at("webhook_url"), "%s", msg)
		}
		if n := len(t.WebhookSecret.Reveal()); n < 16 {
			p.add(at("webhook_secret"), "required with webhook_url, at least 16 bytes (got %d); prefer env SMSGATE_TENANTS__<i>__WEBHOOK_SECRET", n)
		}
	}
	switch t.WebhookFormat {
	case "", "smsgate", "smsactivate":
	default:
		p.add(at("webhook_format"), `want "smsgate" or "smsactivate", got %q`, t.WebhookFormat)
	}
}

// checkWebhookURL returns what is wrong with a tenant's webhook url, or "".
func checkWebhookURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http(s) URL"
	}
	if u.User != nil {
		return "must not carry credentials (the body is signed with webhook_secret)"
	}
	return ""
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// checkPlatformURL returns what is wrong with a platform's url, or "".
func checkPlatformURL(s string) string {
	if s == "sim" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return `must be "sim" or an http(s) URL`
	}
	if u.User != nil || u.RawQuery != "" {
		// It would print credentials wherever the URL is logged.
		return "must not carry credentials or a query string; use key, user and password"
	}
	return ""
}
