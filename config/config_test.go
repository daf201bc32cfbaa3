package config

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeConfig writes body to a gateway.toml in a fresh directory and
// returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// baseTOML is a small valid file the load tests start from: two platforms
// and two tenants, so index overrides have something to hit.
const baseTOML = `
[server]
listen = "127.0.0.1:8081"
read_timeout = "750ms"

[routing]
strategy = "price"

[fx]
base_currency = "USD"
[fx.rates]
RUB = "0.011"

[[platforms]]
code = "smsactivate"
url = "sim"
currency = "RUB"

[[platforms]]
code = "fivesim"
url = "https://5sim.example/v1"
enabled = false
rate = 2.5

[[tenants]]
name = "alice"
key = "alice-key"

[[tenants]]
name = "bob"
key_sha256 = "` + "4ea1b4ff1c9ad71e4de7b5bfbd4b2a4a5b0c5d4eb0b8b1df7ab0b9d1bce30b50" + `"
platforms = ["fivesim"]
markup_percent = 12.5
markup_fixed = "0.05"
`

func TestLoadFile(t *testing.T) {
	c, err := Load(writeConfig(t, baseTOML), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen from file", c.Server.Listen, "127.0.0.1:8081"},
		{"duration string", c.Server.ReadTimeout, 750 * time.Millisecond},
		{"server.write_timeout default", c.Server.WriteTimeout, 10 * time.Second},
		{"routing.strategy from file", c.Routing.Strategy, "price"},
		{"routing.max_attempts default", c.Routing.MaxAttempts, 3},
		{"routing.half_life default", c.Routing.HalfLife, 2 * time.Hour},
		{"routing.give_up default", c.Routing.GiveUp, 2 * time.Minute},
		{"routing.value_of_minute default", c.Routing.ValueOfMinute, 0.25},
		{"routing.refresh default", c.Routing.Refresh, 10 * time.Second},
		{"routing.probe default", c.Routing.Probe, 90 * time.Second},
		{"fx rate", c.FX.Rates["RUB"], "0.011"},
		{"platform count", len(c.Platforms), 2},
		{"platform type defaults to code", c.Platforms[1].Type, "fivesim"},
		{"platform priority defaults to index", c.Platforms[1].Priority, 1},
		{"platform rate from file", c.Platforms[1].Rate, 2.5},
		{"platform rate default", c.Platforms[0].Rate, 10.0},
		{"platform weight default", c.Platforms[0].Weight, 1},
		{"platform poll_interval default", c.Platforms[0].PollInterval, 5 * time.Second},
		{"platform timeout default", c.Platforms[0].Timeout, 10 * time.Second},
		{"smsactivate dialect default", c.Platforms[0].Dialect, "classic"},
		{"other types get no dialect", c.Platforms[1].Dialect, ""},
		{"enabled default", c.Platforms[0].IsEnabled(), true},
		{"enabled = false", c.Platforms[1].IsEnabled(), false},
		{"tenant strategy defaults to routing.strategy", c.Tenants[0].Strategy, "price"},
		{"tenant currency defaults to base", c.Tenants[0].Currency, "USD"},
		{"tenant platforms", c.Tenants[1].Platforms, []string{"fivesim"}},
		// A TOML float reaches the config as its decimal text, never as a float.
		{"tenant markup_percent from a TOML number", c.Tenants[1].MarkupPercent, Decimal("12.5")},
		{"tenant markup_fixed from a string", c.Tenants[1].MarkupFixed, Decimal("0.05")},
		{"tenant markup default", c.Tenants[0].MarkupPercent, Decimal("")},
		// Load keeps no plain tenant key: it is replaced by its hash.
		{"tenant key cleared", c.Tenants[0].Key, Secret("")},
		{"tenant key hashed", c.Tenants[0].KeySHA256, sha256Hex("alice-key")},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v; want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(c Config) (got, want any)
	}{
		{"scalar",
			[]string{"SMSGATE_SERVER__LISTEN=127.0.0.1:9000"},
			func(c Config) (any, any) { return c.Server.Listen, "127.0.0.1:9000" }},
		{"test settings are not config keys",
			[]string{"SMSGATE_TEST_POSTGRES=postgres://x", "SMSGATE_TEST_REDIS=127.0.0.1:6379", "SMSGATE_SERVER__LISTEN=127.0.0.1:9001"},
			func(c Config) (any, any) { return c.Server.Listen, "127.0.0.1:9001" }},
		{"single underscore stays in the key name",
			[]string{"SMSGATE_ROUTING__MAX_ATTEMPTS=2"},
			func(c Config) (any, any) { return c.Routing.MaxAttempts, 2 }},
		{"duration",
			[]string{"SMSGATE_BREAKER__OPEN_TIMEOUT=1m30s"},
			func(c Config) (any, any) { return c.Breaker.OpenTimeout, 90 * time.Second }},
		{"nested map keeps currency case",
			[]string{"SMSGATE_FX__RATES__RUB=0.0105"},
			func(c Config) (any, any) { return c.FX.Rates["RUB"], "0.0105" }},
		{"new fx rate",
			[]string{"SMSGATE_FX__RATES__EUR=1.08"},
			func(c Config) (any, any) { return c.FX.Rates, map[string]string{"RUB": "0.011", "EUR": "1.08"} }},
		{"section the file does not have",
			[]string{"SMSGATE_ADMIN__KEY=root"},
			func(c Config) (any, any) { return c.Admin.Key.Reveal(), "root" }},
		{"indexed platform key",
			[]string{"SMSGATE_PLATFORMS__0__KEY=abc"},
			func(c Config) (any, any) {
				return []string{c.Platforms[0].Key.Reveal(), c.Platforms[1].Key.Reveal()}, []string{"abc", ""}
			}},
		{"indexed platform key keeps the rest of the element",
			[]string{"SMSGATE_PLATFORMS__1__KEY=xyz"},
			func(c Config) (any, any) {
				p := c.Platforms[1]
				return []any{p.Key.Reveal(), p.Code, p.URL, p.Rate}, []any{"xyz", "fivesim", "https://5sim.example/v1", 2.5}
			}},
		{"indexed bool",
			[]string{"SMSGATE_PLATFORMS__1__ENABLED=true"},
			func(c Config) (any, any) { return c.Platforms[1].IsEnabled(), true }},
		{"indexed tenant key replaces key_sha256",
			[]string{"SMSGATE_TENANTS__1__KEY=bob-secret"},
			func(c Config) (any, any) { return c.Tenants[1].KeySHA256, sha256Hex("bob-secret") }},
		{"indexed tenant list, comma-separated",
			[]string{"SMSGATE_TENANTS__0__PLATFORMS=smsactivate,fivesim"},
			func(c Config) (any, any) { return c.Tenants[0].Platforms, []string{"smsactivate", "fivesim"} }},
		{"indexed tenant markup from env",
			[]string{"SMSGATE_TENANTS__0__MARKUP_PERCENT=7.25", "SMSGATE_TENANTS__0__MARKUP_FIXED=0.1"},
			func(c Config) (any, any) {
				return []Decimal{c.Tenants[0].MarkupPercent, c.Tenants[0].MarkupFixed}, []Decimal{"7.25", "0.1"}
			}},
		{"scalar and indexed together",
			[]string{"SMSGATE_SERVER__LISTEN=:9001", "SMSGATE_TENANTS__0__KEY=k0", "SMSGATE_PLATFORMS__0__KEY=p0"},
			func(c Config) (any, any) {
				return []string{c.Server.Listen, c.Tenants[0].KeySHA256, c.Platforms[0].Key.Reveal()},
					[]string{":9001", sha256Hex("k0"), "p0"}
			}},
		{"other variables are ignored",
			[]string{"HOME=/root", "SMSGATEWAY=1", "PATH=/bin"},
			func(c Config) (any, any) { return c.Server.Listen, "127.0.0.1:8081" }},
	}
	path := writeConfig(t, baseTOML)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(path, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tc.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v; want %#v", got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		body string // "" = baseTOML
		env  []string
		want []string // substrings of the error
	}{
		// budget was accepted and never enforced: it is refused with the way out.
		{name: "removed tenant budget",
			body: strings.Replace(baseTOML, `platforms = ["fivesim"]`, "platforms = [\"fivesim\"]\nbudget = \"12.50\"", 1),
			want: []string{"tenants[1].budget: removed: use wallet = true with a top-up as the spend cap"}},
		{name: "removed tenant budget from env",
			env:  []string{"SMSGATE_TENANTS__0__BUDGET=5"},
			want: []string{"tenants[0].budget: removed: use wallet = true", "(from env SMSGATE_TENANTS__0__BUDGET)"}},
		{name: "markup_percent as a TOML bool",
			body: strings.Replace(baseTOML, "markup_percent = 12.5", "markup_percent = true", 1),
			want: []string{"tenants[1].markup_percent: want a decimal number"}},
		{name: "markup_percent out of range names the key",
			body: strings.Replace(baseTOML, "markup_percent = 12.5", "markup_percent = 1e4", 1),
			want: []string{`tenants[1].markup_percent: "10000" is above the maximum 1000`}},
		{name: "unknown key in a section names the key and the file",
			body: baseTOML + "\n[log]\nlevl = \"debug\"\n",
			want: []string{"unknown key log.levl", "gateway.toml"}},
		{name: "unknown key in a list element",
			body: strings.Replace(baseTOML, `code = "fivesim"`, "code = \"fivesim\"\napi_key = \"x\"", 1),
			want: []string{"unknown key platforms[1].api_key"}},
		{name: "unknown section",
			body: baseTOML + "\n[servre]\nlisten = \":1\"\n",
			want: []string{"unknown key servre"}},
		{name: "unknown key from env names the variable",
			env:  []string{"SMSGATE_SERVER__LISTN=:1"},
			want: []string{"unknown key server.listn", "from env SMSGATE_SERVER__LISTN"}},
		{name: "unknown indexed key from env",
			env:  []string{"SMSGATE_TENANTS__0__KYE=x"},
			want: []string{"unknown key tenants[0].kye", "SMSGATE_TENANTS__0__KYE"}},
		{name: "index past the end of the list",
			env:  []string{"SMSGATE_PLATFORMS__2__KEY=x"},
			want: []string{"SMSGATE_PLATFORMS__2__KEY: platforms[2] does not exist (2 configured)"}},
		{name: "index into a list the file does not have",
			body: "[server]\n",
			env:  []string{"SMSGATE_TENANTS__0__KEY=x"},
			want: []string{"SMSGATE_TENANTS__0__KEY: tenants[0] does not exist"}},
		{name: "index into a table",
			env:  []string{"SMSGATE_SERVER__0__LISTEN=x"},
			want: []string{"server is a table, not a list"}},
		{name: "whole list element",
			env:  []string{"SMSGATE_PLATFORMS__0=x"},
			want: []string{"SMSGATE_PLATFORMS__0: names a whole list element"}},
		{name: "empty segment",
			env:  []string{"SMSGATE_SERVER____LISTEN=x"},
			want: []string{"SMSGATE_SERVER____LISTEN: empty key segment"}},
		// mapstructure would take a bare number as nanoseconds.
		{name: "duration as a number",
			body: baseTOML + "\n[cache]\nprices = 3600\n",
			want: []string{"cache.prices: want a duration string"}},
		{name: "bad duration",
			env:  []string{"SMSGATE_ROUTING__DEADLINE=soon"},
			want: []string{"routing.deadline: want a duration", `"soon"`}},
		{name: "wrong type names the key",
			env:  []string{"SMSGATE_ROUTING__MAX_ATTEMPTS=many"},
			want: []string{"routing.max_attempts: "}},
		{name: "validation error names file and key",
			env:  []string{"SMSGATE_ROUTING__STRATEGY=foo"},
			want: []string{"invalid config", "gateway.toml", `routing.strategy: unknown strategy "foo"`}},
		{name: "toml syntax error names file and line",
			body: "[server]\nlisten = \"127.0.0.1:8080\"\nread_timeout = 10s\n",
			want: []string{"gateway.toml:3:"}},
		// go-toml reports no line for this one.
		{name: "duplicate toml key names file and key",
			body: "[server]\nlisten = \"a:1\"\n\nlisten = \"b:2\"\n",
			want: []string{"gateway.toml: toml: key listen is already defined"}},
		{name: "unterminated string names file and line",
			body: "[server]\n\nlisten = \"127.0.0.1:8080\n",
			want: []string{"gateway.toml:3:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == "" {
				body = baseTOML
			}
			_, err := Load(writeConfig(t, body), tc.env)
			if err == nil {
				t.Fatalf("got no error; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v; want an error naming %s", err, path)
	}
}

// TestLoadEmptyFile: an empty file yields exactly the defaults.
func TestLoadEmptyFile(t *testing.T) {
	c, err := Load(writeConfig(t, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := Defaults(); !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	checks := []struct {
		key       string
		got, want any
	}{
		{"server.listen", d.Server.Listen, "127.0.0.1:8080"},
		{"server.read_timeout", d.Server.ReadTimeout, 10 * time.Second},
		{"server.write_timeout", d.Server.WriteTimeout, 10 * time.Second},
		{"server.idle_timeout", d.Server.IdleTimeout, 60 * time.Second},
		{"server.max_body_bytes", d.Server.MaxBodyBytes, 65536},
		{"server.request_timeout", d.Server.RequestTimeout, 15 * time.Second},
		{"server.shutdown_timeout", d.Server.ShutdownTimeout, 10 * time.Second},
		{"ledger.url", d.Ledger.URL, "data/smsgate.db"},
		{"ledger.synchronous", d.Ledger.Synchronous, "NORMAL"},
		{"cache", d.Cache, Cache{24 * time.Hour, time.Hour, 5 * time.Minute, 10 * time.Minute}},
		{"routing", d.Routing, Routing{Strategy: "priority", MaxAttempts: 3, Deadline: 20 * time.Second, HalfLife: 2 * time.Hour,
			GiveUp: 2 * time.Minute, Probe: 90 * time.Second, ValueOfMinute: 0.25, Refresh: 10 * time.Second}},
		{"breaker", d.Breaker, Breaker{ConsecutiveFailures: 5, OpenTimeout: 30 * time.Second, HalfOpenRequests: 1, Interval: 60 * time.Second,
			FailureRatio: 0.5, MinRequests: 20, MaxOpenTimeout: 300 * time.Second}},
		{"health", d.Health, Health{Interval: 5 * time.Minute}},
		{"fx.base_currency", d.FX.BaseCurrency, "USD"},
		{"log", d.Log, Log{"info", "console"}},
		{"simulator", d.Simulator, Simulator{CodeDelay: 5 * time.Second, Stock: 500, Balance: "1000", Seed: 1,
			SimMarket: SimMarket{Delivery: 1, PriceInterval: time.Minute, PriceMin: 0.5, PriceMax: 2}}},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v; want %#v", tc.key, tc.got, tc.want)
		}
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v; want nil", err)
	}
}

func TestApplyDefaults(t *testing.T) {
	c := Defaults()
	c.FX.BaseCurrency = "EUR"
	c.Routing.Strategy = "value"
	c.Platforms = []Platform{
		{Code: "smsactivate"},
		{Code: "fivesim", Priority: -1, Weight: 3, Rate: -1, Timeout: time.Second},
		{Code: "hero", Type: "smsactivate", Dialect: "hero"},
	}
	c.Tenants = []Tenant{{Name: "a"}, {Name: "b", Strategy: "price", Currency: "USD"}}
	c.ApplyDefaults()

	want := []Platform{
		{Code: "smsactivate", Type: "smsactivate", Priority: 0, Weight: 1, Dialect: "classic",
			PollInterval: 5 * time.Second, Rate: 10, Timeout: 10 * time.Second, MinSuccessSample: 20, PenaltyBackoff: 30 * time.Second},
		// Set values are kept; a negative rate (unlimited) survives.
		{Code: "fivesim", Type: "fivesim", Priority: -1, Weight: 3,
			PollInterval: 5 * time.Second, Rate: -1, Timeout: time.Second, MinSuccessSample: 20, PenaltyBackoff: 30 * time.Second},
		{Code: "hero", Type: "smsactivate", Priority: 2, Weight: 1, Dialect: "hero",
			PollInterval: 5 * time.Second, Rate: 10, Timeout: 10 * time.Second, MinSuccessSample: 20, PenaltyBackoff: 30 * time.Second},
	}
	if !reflect.DeepEqual(c.Platforms, want) {
		t.Errorf("platforms:\ngot  %+v\nwant %+v", c.Platforms, want)
	}
	wantT := []Tenant{
		{Name: "a", Strategy: "value", Currency: "EUR"},
		{Name: "b", Strategy: "price", Currency: "USD"},
	}
	if !reflect.DeepEqual(c.Tenants, wantT) {
		t.Errorf("tenants:\ngot  %+v\nwant %+v", c.Tenants, wantT)
	}
}

// validConfig is a valid Config the validation cases break one key of.
func validConfig() Config {
	c := Defaults()
	c.FX.Rates = map[string]string{"RUB": "0.011", "EUR": "1.08"}
	c.Platforms = []Platform{
		{Code: "smsactivate", URL: "sim", Currency: "RUB"},
		{Code: "herosms", Type: "smsactivate", URL: "https://hero-sms.com", Currency: "USD", Dialect: "hero"},
		{Code: "fivesim", URL: "http://127.0.0.1:9999/v1"},
	}
	c.Tenants = []Tenant{
		{Name: "alice", Key: "alice-key", Platforms: []string{"herosms"}, MarkupPercent: "10", MarkupFixed: "0.05"},
		{Name: "bob", KeySHA256: sha256Hex("bob-key"), Currency: "EUR"},
	}
	c.ApplyDefaults()
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(c *Config)
		want   []string // substrings of the error; none = valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"base currency rate of 1 is allowed", func(c *Config) { c.FX.Rates["USD"] = "1.000" }, nil},

		{"listen without port", func(c *Config) { c.Server.Listen = "localhost" },
			[]string{`server.listen: want host:port, got "localhost"`}},
		{"listen with bad port", func(c *Config) { c.Server.Listen = ":http8080" },
			[]string{"server.listen: want a port number"}},
		{"zero timeout", func(c *Config) { c.Server.ReadTimeout = 0 },
			[]string{"server.read_timeout: must be > 0"}},
		{"zero body limit", func(c *Config) { c.Server.MaxBodyBytes = 0 },
			[]string{"server.max_body_bytes: must be >= 1"}},
		{"ledger url", func(c *Config) { c.Ledger.URL = "" }, []string{"ledger.url: required"}},
		{"ledger synchronous", func(c *Config) { c.Ledger.Synchronous = "OFF" },
			[]string{`ledger.synchronous: unknown mode "OFF"`}},
		// A zero ristretto TTL means "never expires".
		{"zero cache ttl", func(c *Config) { c.Cache.Status = 0 }, []string{"cache.status: must be > 0"}},
		{"unknown strategy", func(c *Config) { c.Routing.Strategy = "foo" },
			[]string{`routing.strategy: unknown strategy "foo" (want price|success|balance|random|priority|value)`}},
		{"max_attempts", func(c *Config) { c.Routing.MaxAttempts = 0 },
			[]string{"routing.max_attempts: must be >= 1"}},
		{"deadline", func(c *Config) { c.Routing.Deadline = -time.Second },
			[]string{"routing.deadline: must be > 0"}},
		{"half_life", func(c *Config) { c.Routing.HalfLife = 0 },
			[]string{"routing.half_life: must be > 0"}},
		{"give_up", func(c *Config) { c.Routing.GiveUp = -time.Minute },
			[]string{"routing.give_up: must be > 0"}},
		{"value_of_minute zero", func(c *Config) { c.Routing.ValueOfMinute = 0 },
			[]string{"routing.value_of_minute: must be in (0, 1000000]"}},
		{"value_of_minute NaN", func(c *Config) { c.Routing.ValueOfMinute = math.NaN() },
			[]string{"routing.value_of_minute: must be in (0, 1000000]"}},
		{"value_of_minute huge", func(c *Config) { c.Routing.ValueOfMinute = 2e6 },
			[]string{"routing.value_of_minute: must be in (0, 1000000]"}},
		{"probe", func(c *Config) { c.Routing.Probe = -time.Minute },
			[]string{"routing.probe: must be >= 0"}},
		{"refresh", func(c *Config) { c.Routing.Refresh = -time.Second },
			[]string{"routing.refresh: must be >= 0"}},
		// gobreaker never clears counts with Interval <= 0.
		{"breaker interval", func(c *Config) { c.Breaker.Interval = 0 },
			[]string{"breaker.interval: must be > 0"}},
		{"breaker failures", func(c *Config) { c.Breaker.ConsecutiveFailures = 0 },
			[]string{"breaker.consecutive_failures: must be >= 1"}},
		{"base currency", func(c *Config) { c.FX.BaseCurrency = "usd" },
			[]string{`fx.base_currency: want 3 upper-case letters`}},
		{"fx rate not a number", func(c *Config) { c.FX.Rates["RUB"] = "abc" },
			[]string{"fx.rates.RUB: not a positive decimal"}},
		{"fx rate zero", func(c *Config) { c.FX.Rates["RUB"] = "0.00" },
			[]string{"fx.rates.RUB: not a positive decimal"}},
		{"fx rate negative", func(c *Config) { c.FX.Rates["RUB"] = "-1" },
			[]string{"fx.rates.RUB: not a positive decimal"}},
		{"fx currency lower-case", func(c *Config) { c.FX.Rates["gbp"] = "1.2" },
			[]string{"fx.rates.gbp: want a currency"}},
		{"base currency rate not 1", func(c *Config) { c.FX.Rates["USD"] = "2" },
			[]string{"fx.rates.USD: the base currency's rate is 1"}},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, []string{`log.level: unknown level "verbose"`}},
		{"log format", func(c *Config) { c.Log.Format = "text" }, []string{`log.format: unknown format "text"`}},
		{"admin key_sha256", func(c *Config) { c.Admin.KeySHA256 = "abc" },
			[]string{"admin.key_sha256: want 64 hex characters"}},
		{"simulator balance", func(c *Config) { c.Simulator.Balance = "lots" },
			[]string{`simulator.balance: not a decimal: "lots"`}},

		{"platform url", func(c *Config) { c.Platforms[2].URL = "ftp://x" },
			[]string{`platforms[2].url: must be "sim" or an http(s) URL`}},
		{"platform url empty", func(c *Config) { c.Platforms[0].URL = "" },
			[]string{`platforms[0].url: must be "sim" or an http(s) URL`}},
		// A key in the URL would be printed wherever the URL is logged.
		{"platform url with key", func(c *Config) { c.Platforms[1].URL = "https://hero-sms.com/stubs/handler_api.php?api_key=x" },
			[]string{"platforms[1].url: must not carry credentials"}},
		{"platform code missing", func(c *Config) { c.Platforms[1].Code = "" },
			[]string{"platforms[1].code: required"}},
		{"platform code charset", func(c *Config) { c.Platforms[1].Code = "Hero SMS" },
			[]string{"platforms[1].code: want lower-case"}},
		{"duplicate platform code", func(c *Config) { c.Platforms[2].Code = "smsactivate"; c.Platforms[2].Type = "fivesim" },
			[]string{`platforms[2].code: duplicate "smsactivate" (also platforms[0])`}},
		{"platform type", func(c *Config) { c.Platforms[2].Type = "sms-man" },
			[]string{`platforms[2].type: unknown type "sms-man" (want smsactivate|fivesim|smsman|onlinesim|smspva|smsreg|getsmscode|smsservice|textnow|receivesms`}},
		{"dialect", func(c *Config) { c.Platforms[1].Dialect = "modern" },
			[]string{`platforms[1].dialect: unknown dialect "modern" (want classic|hero)`}},
		{"dialect on another type", func(c *Config) { c.Platforms[2].Dialect = "hero" },
			[]string{"platforms[2].dialect: only smsactivate-type platforms"}},
		{"platform currency format", func(c *Config) { c.Platforms[0].Currency = "rub" },
			[]string{`platforms[0].currency: want 3 upper-case letters (ISO 4217), got "rub"`}},
		{"platform currency without fx rate", func(c *Config) { c.Platforms[0].Currency = "GBP" },
			[]string{"platforms[0].currency: no fx rate for GBP (add fx.rates.GBP)"}},
		{"platform weight", func(c *Config) { c.Platforms[0].Weight = -2 },
			[]string{"platforms[0].weight: must be >= 1"}},
		{"platform timeout", func(c *Config) { c.Platforms[1].Timeout = -time.Second },
			[]string{"platforms[1].timeout: must be > 0"}},
		{"platform poll_interval", func(c *Config) { c.Platforms[1].PollInterval = -time.Second },
			[]string{"platforms[1].poll_interval: must be > 0"}},
		{"platform min_success_rate above 100", func(c *Config) { c.Platforms[0].MinSuccessRate = 101 },
			[]string{"platforms[0].min_success_rate: must be a percentage 0..100"}},
		{"platform min_success_rate negative", func(c *Config) { c.Platforms[0].MinSuccessRate = -1 },
			[]string{"platforms[0].min_success_rate: must be a percentage 0..100"}},
		{"platform min_success_rate 7 %", func(c *Config) { c.Platforms[0].MinSuccessRate = 7 }, nil},
		{"platform min_success_sample", func(c *Config) { c.Platforms[1].MinSuccessSample = -1 },
			[]string{"platforms[1].min_success_sample: must be >= 1"}},
		{"platform penalty_backoff", func(c *Config) { c.Platforms[2].PenaltyBackoff = -time.Second },
			[]string{"platforms[2].penalty_backoff: must be > 0"}},
		{"platform max_active", func(c *Config) { c.Platforms[1].MaxActive = -1 },
			[]string{"platforms[1].max_active: must be >= 0"}},

		{"tenant without key", func(c *Config) { c.Tenants[0].Key = "" },
			[]string{"tenants[0].key: one of key or key_sha256 is required"}},
		{"tenant key_sha256 not hex", func(c *Config) { c.Tenants[1].KeySHA256 = strings.Repeat("z", 64) },
			[]string{"tenants[1].key_sha256: want 64 hex characters"}},
		{"tenant key_sha256 short", func(c *Config) { c.Tenants[1].KeySHA256 = "abcd" },
			[]string{"tenants[1].key_sha256: want 64 hex characters"}},
		{"tenant name missing", func(c *Config) { c.Tenants[1].Name = "" }, []string{"tenants[1].name: required"}},
		{"duplicate tenant name", func(c *Config) { c.Tenants[1].Name = "alice" },
			[]string{`tenants[1].name: duplicate "alice" (also tenants[0])`}},
		// One as key, the other as key_sha256: still the same key.
		{"duplicate tenant key", func(c *Config) { c.Tenants[1].KeySHA256 = sha256Hex("alice-key") },
			[]string{"tenants[1].key: same key as tenants[0]"}},
		{"tenant strategy", func(c *Config) { c.Tenants[1].Strategy = "cheapest" },
			[]string{`tenants[1].strategy: unknown strategy "cheapest"`}},
		{"tenant currency without fx rate", func(c *Config) { c.Tenants[1].Currency = "JPY" },
			[]string{"tenants[1].currency: no fx rate for JPY"}},
		{"tenant unknown platform", func(c *Config) { c.Tenants[0].Platforms = []string{"herosms", "nope"} },
			[]string{`tenants[0].platforms[1]: unknown platform "nope"`}},
		{"markup_percent not a decimal", func(c *Config) { c.Tenants[0].MarkupPercent = "ten" },
			[]string{`tenants[0].markup_percent: not a non-negative decimal: "ten"`}},
		// A discount is not a markup: a negative one could sell below cost.
		{"markup_percent negative", func(c *Config) { c.Tenants[0].MarkupPercent = "-5" },
			[]string{`tenants[0].markup_percent: not a non-negative decimal: "-5"`}},
		{"markup_percent above 1000", func(c *Config) { c.Tenants[0].MarkupPercent = "1000.0001" },
			[]string{`tenants[0].markup_percent: "1000.0001" is above the maximum 1000`}},
		{"markup_percent of 1000 is allowed", func(c *Config) { c.Tenants[0].MarkupPercent = "1000" }, nil},
		// ppm holds 4 decimal places of a percent; a fifth would be rounded silently.
		{"markup_percent with 5 decimal places", func(c *Config) { c.Tenants[0].MarkupPercent = "1.00001" },
			[]string{`tenants[0].markup_percent: "1.00001" has more than 4 decimal places`}},
		{"markup_percent trailing zeros do not count", func(c *Config) { c.Tenants[0].MarkupPercent = "1.500000" }, nil},
		{"markup_fixed negative", func(c *Config) { c.Tenants[0].MarkupFixed = "-0.01" },
			[]string{`tenants[0].markup_fixed: not a non-negative decimal: "-0.01"`}},
		{"markup_fixed with 7 decimal places", func(c *Config) { c.Tenants[0].MarkupFixed = "0.0000001" },
			[]string{`tenants[0].markup_fixed: "0.0000001" has more than 6 decimal places`}},
		{"markup_fixed above the maximum", func(c *Config) { c.Tenants[0].MarkupFixed = "1000000.01" },
			[]string{`tenants[0].markup_fixed: "1000000.01" is above the maximum 1000000`}},
		{"markup_fixed huge", func(c *Config) { c.Tenants[0].MarkupFixed = "99999999999999999999" },
			[]string{`tenants[0].markup_fixed: "99999999999999999999" is above the maximum 1000000`}},
		{"tenant rate", func(c *Config) { c.Tenants[0].Rate = -1 }, []string{"tenants[0].rate: must be >= 0"}},

		{"every problem is reported", func(c *Config) {
			c.Server.Listen = "x"
			c.Platforms[2].URL = "ftp://x"
			c.Tenants[0].Key = ""
		}, []string{"server.listen:", "platforms[2].url:", "tenants[0].key:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.break_(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("got %v; want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q; want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "alice-key") {
				t.Errorf("error %q prints a tenant key", err)
			}
		})
	}
}

func TestKeyHash(t *testing.T) {
	want := sha256.Sum256([]byte("k"))
	tests := []struct {
		name    string
		tenant  Tenant
		wantErr bool
	}{
		{"key", Tenant{Key: "k"}, false},
		{"key_sha256", Tenant{KeySHA256: sha256Hex("k")}, false},
		{"upper-case hex", Tenant{KeySHA256: strings.ToUpper(sha256Hex("k"))}, false},
		{"key wins over key_sha256", Tenant{Key: "k", KeySHA256: sha256Hex("other")}, false},
		{"neither", Tenant{}, true},
		{"bad hex", Tenant{KeySHA256: "xyz"}, true},
	}
	for _, tc := range tests {
		got, err := tc.tenant.KeyHash()
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: got no error", tc.name)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: got %x, %v; want %x", tc.name, got, err, want)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const secret = "sk-live-3f9a"
	c := validConfig()
	c.Platforms[0].Key = secret
	c.Platforms[0].Password = secret
	c.Tenants[0].Key = secret
	c.Admin.Key = secret
	c.Platforms[0].Pool.WebhookSecret = secret
	c.Platforms[0].Pool.Accounts = []PoolAccount{{User: "jdoe", Cookie: secret, CSRF: secret, CSRFToken: secret}}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		outputs[verb+" of Config"] = fmt.Sprintf(verb, c)
		outputs[verb+" of *Config"] = fmt.Sprintf(verb, &c)
		outputs[verb+" of Secret"] = fmt.Sprintf(verb, c.Admin.Key)
	}
	outputs["String"] = c.Admin.Key.String()
	outputs["GoString"] = c.Admin.Key.GoString()
	outputs["Println"] = fmt.Sprintln(c.Platforms[0])
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json.Marshal"] = string(js)
	text, _ := c.Admin.Key.MarshalText()
	outputs["MarshalText"] = string(text)

	hexSecret := hex.EncodeToString([]byte(secret))
	for name, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), hexSecret) {
			t.Errorf("%s prints the secret: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: got %s; want [redacted] in it", name, out)
		}
	}

	if got := c.Admin.Key.Reveal(); got != secret {
		t.Errorf("Reveal() = %q; want %q", got, secret)
	}
	// An empty secret shows as empty, so "not set" is visible.
	var empty Secret
	if got := fmt.Sprintf("%v|%s|%+v", empty, empty, empty); got != "||" {
		t.Errorf("empty secret printed as %q; want empty", got)
	}
	if got := fmt.Sprintf("%#v", empty); got != `""` {
		t.Errorf("empty secret %%#v printed as %s; want \"\"", got)
	}
}

// TestSecretFromFile: secrets decode from TOML strings through koanf.
func TestSecretFromFile(t *testing.T) {
	body := strings.Replace(baseTOML, `code = "fivesim"`, "code = \"fivesim\"\nkey = \"file-key\"\npassword = \"pw\"", 1)
	c, err := Load(writeConfig(t, body), []string{"SMSGATE_ADMIN__KEY=adm"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Platforms[1].Key.Reveal(), c.Platforms[1].Password.Reveal(), c.Admin.Key.Reveal()}
	if want := []string{"file-key", "pw", "adm"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
}

// TestPoolSettings: a pool platform's accounts come from the file, their
// cookies from the environment; defaults and validation name the key.
func TestPoolSettings(t *testing.T) {
	body := baseTOML + `
[[platforms]]
code = "tn"
type = "textnow"
url = "https://www.textnow.example"
[platforms.pool]
price = "0.05"
senders = { tg = ["Telegram"] }
[[platforms.pool.accounts]]
user = "jdoe"
[[platforms.pool.accounts]]
user = "ann"
country = "ca"
`
	path := writeConfig(t, body)
	c, err := Load(path, []string{"SMSGATE_PLATFORMS__2__POOL__ACCOUNTS__0__COOKIE=c0", "SMSGATE_PLATFORMS__2__POOL__ACCOUNTS__1__COOKIE=c1",
		"SMSGATE_PLATFORMS__2__POOL__WEBHOOK_SECRET=webhook-secret-0123"})
	if err != nil {
		t.Fatal(err)
	}
	pool := c.Platforms[2].Pool
	if len(pool.Accounts) != 2 || pool.Accounts[0].Cookie.Reveal() != "c0" || pool.Accounts[1].Cookie.Reveal() != "c1" ||
		pool.Accounts[0].Country != "us" || pool.Accounts[1].Country != "ca" || pool.WebhookSecret.Reveal() != "webhook-secret-0123" {
		t.Fatalf("pool accounts %+v", pool)
	}
	if pool.Cooldown != 24*time.Hour || pool.Quarantine != 720*time.Hour || pool.ExpectedUses != 30 || pool.Price != "0.05" ||
		!reflect.DeepEqual(pool.Senders, map[string][]string{"tg": {"Telegram"}}) || pool.AcceptUnattributed || pool.MinGap != time.Second {
		t.Fatalf("pool defaults %+v", pool)
	}
	// A real account without its cookie is a configuration error naming it.
	_, err = Load(path, []string{"SMSGATE_PLATFORMS__2__POOL__ACCOUNTS__0__COOKIE=c0"})
	if err == nil || !strings.Contains(err.Error(), "platforms[2].pool.accounts[1].cookie") {
		t.Fatalf("missing cookie: %v", err)
	}
	bad := strings.Replace(body, `price = "0.05"`, "price = \"free\"\ncode_patterns = { tg = \"(\" }", 1)
	_, err = Load(writeConfig(t, bad), []string{"SMSGATE_PLATFORMS__2__POOL__ACCOUNTS__0__COOKIE=c0", "SMSGATE_PLATFORMS__2__POOL__ACCOUNTS__1__COOKIE=c1",
		"SMSGATE_PLATFORMS__2__POOL__WEBHOOK_SECRET=s3kr1t"})
	if err == nil || !strings.Contains(err.Error(), "platforms[2].pool.price") || !strings.Contains(err.Error(), "platforms[2].pool.code_patterns.tg") ||
		!strings.Contains(err.Error(), "platforms[2].pool.webhook_secret") || strings.Contains(err.Error(), "s3kr1t") {
		t.Fatalf("bad pool settings: %v", err)
	}
}

// TestPoolAttributionSettings: accept_unattributed is off unless set (in
// the file or the environment); senders and code_patterns name catalogue
// services; min_gap paces TextNow accounts only.
func TestPoolAttributionSettings(t *testing.T) {
	pool := func(typ, settings string) string {
		return baseTOML + `
[[platforms]]
code = "p"
type = "` + typ + `"
url = "sim"
[platforms.pool]
` + settings + "\n"
	}
	c, err := Load(writeConfig(t, pool("receivesms", "accept_unattributed = true")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Platforms[2].Pool; !p.AcceptUnattributed || p.MinGap != 0 {
		t.Fatalf("accept_unattributed from the file: %+v", p)
	}
	c, err = Load(writeConfig(t, pool("textnow", `min_gap = "250ms"`)), []string{"SMSGATE_PLATFORMS__2__POOL__ACCEPT_UNATTRIBUTED=true"})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Platforms[2].Pool; !p.AcceptUnattributed || p.MinGap != 250*time.Millisecond {
		t.Fatalf("accept_unattributed from the environment, min_gap: %+v", p)
	}
	for _, bad := range []struct{ typ, settings, want string }{
		{"textnow", `accept_unattributed = "yes please"`, "accept_unattributed"},
		{"textnow", `senders = { telgram = ["Telegram"] }`, "platforms[2].pool.senders.telgram: unknown service"},
		{"textnow", `senders = { tg = ["Telegram", " "] }`, "platforms[2].pool.senders.tg[1]: empty"},
		{"textnow", `code_patterns = { telgram = '(\d{5})' }`, "platforms[2].pool.code_patterns.telgram: unknown service"},
		{"textnow", `min_gap = "-1s"`, "platforms[2].pool.min_gap: must be > 0"},
		{"receivesms", `min_gap = "1s"`, "platforms[2].pool.min_gap: only textnow"},
	} {
		_, err := Load(writeConfig(t, pool(bad.typ, bad.settings)), nil)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %s: %v; want an error about %q", bad.typ, bad.settings, err, bad.want)
		}
	}
}

// TestShippedConfig: the gateway.toml in the repository loads and
// validates, and configures what `go run .` expects.
func TestShippedConfig(t *testing.T) {
	c, err := Load("../gateway.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every adapter type that sells activations, each from its simulator.
	types := map[string]bool{}
	for _, p := range c.Platforms {
		types[p.Type] = true
	}
	for _, want := range []string{"smsactivate", "fivesim", "smsman", "onlinesim", "smspva", "smsreg", "getsmscode", "smsservice"} {
		if !types[want] {
			t.Errorf("gateway.toml lacks a %s platform", want)
		}
	}
	if c.Platforms[0].Code != "smsactivate" || c.Platforms[1].Code != "herosms" {
		t.Fatalf("platforms: got %+v", c.Platforms)
	}
	// The codes the seed's clients send ("platform": "5sim").
	codes := map[string]string{} // code → type
	for _, p := range c.Platforms {
		codes[p.Code] = p.Type
	}
	for _, want := range []string{"smsactivate", "smspva", "5sim", "smsman", "getsmscode", "smsreg", "onlinesim", "textnow", "receivesms", "smsservice"} {
		if _, ok := codes[want]; !ok {
			t.Errorf("gateway.toml lacks the platform code %q", want)
		}
	}
	if codes["5sim"] != "fivesim" {
		t.Errorf("platform 5sim has type %q; want fivesim", codes["5sim"])
	}
	for i, p := range c.Platforms {
		if p.URL != "sim" || p.Key != "" {
			t.Errorf("platforms[%d]: the shipped file must use the simulator and hold no key; got url %q", i, p.URL)
		}
	}
	if c.Platforms[0].Dialect != "classic" || c.Platforms[1].Dialect != "hero" {
		t.Errorf("dialects: got %q, %q", c.Platforms[0].Dialect, c.Platforms[1].Dialect)
	}
	if len(c.Tenants) != 2 || c.Tenants[0].Name != "demo" || c.Tenants[0].KeySHA256 != sha256Hex("demo-key-change-me") || c.Tenants[0].Wallet ||
		c.Tenants[1].Name != "wallet-demo" || !c.Tenants[1].Wallet || c.Tenants[1].KeySHA256 != sha256Hex("demo-wallet-key") {
		t.Errorf("tenants: want the operator-mode demo and the wallet demo; got %+v", c.Tenants)
	}

	// The documented way to replace the demo key works on the shipped file.
	c, err = Load("../gateway.toml", []string{"SMSGATE_TENANTS__0__KEY=real", "SMSGATE_PLATFORMS__1__KEY=hk"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Tenants[0].KeySHA256 != sha256Hex("real") || c.Platforms[1].Key.Reveal() != "hk" {
		t.Errorf("env overrides on the shipped file did not apply: %+v %+v", c.Tenants[0], c.Platforms[1])
	}
}

// TestShippedConfigDocumentsEveryKey: every key of Config appears in
// gateway.toml, set or commented out, with a comment — so the file stays
// the reference as fields are added.
func TestShippedConfigDocumentsEveryKey(t *testing.T) {
	f, err := os.Open("../gateway.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		tableRE = regexp.MustCompile(`^#?\s*\[\[?([a-z_.]+)\]\]?`)
		keyRE   = regexp.MustCompile(`^#?\s*([a-z_0-9]+)\s*=.*#`)
		table   string
		have    = map[string]bool{}
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := tableRE.FindStringSubmatch(line); m != nil {
			table = m[1]
		} else if m := keyRE.FindStringSubmatch(line); m != nil {
			have[table+"."+m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, key := range leafKeys(reflect.TypeFor[Config](), "") {
		if !have[key] {
			t.Errorf("gateway.toml does not document %s (with a comment)", key)
		}
	}
}

// leafKeys lists the koanf key paths of t's fields; maps (fx.rates,
// simulator.platforms) are free-form and skipped.
func leafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		key := prefix + f.Tag.Get("koanf")
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map:
		case f.Tag.Get("koanf") == ",squash": // its keys are the parent's
			keys = append(keys, leafKeys(ft, prefix)...)
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			keys = append(keys, leafKeys(ft, key+".")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

// TestPlatformTypeAlias: "5sim" is a platform code (it starts with a
// digit) and an alias of the fivesim type, from the file, from the code's
// default and from the environment.
func TestPlatformTypeAlias(t *testing.T) {
	body := strings.Replace(baseTOML, `code = "fivesim"`, `code = "5sim"`, 1)
	body = strings.Replace(body, `platforms = ["fivesim"]`, `platforms = ["5sim"]`, 1)
	cases := []struct {
		name     string
		body     string
		env      []string
		code     string
		wantType string
		wantErr  string
	}{
		{name: "code 5sim, type from the code", body: body, code: "5sim", wantType: "fivesim"},
		{name: "type 5sim", body: strings.Replace(baseTOML, `code = "fivesim"`, "code = \"fivesim\"\ntype = \"5sim\"", 1),
			code: "fivesim", wantType: "fivesim"},
		{name: "type 5sim from env", body: baseTOML, env: []string{"SMSGATE_PLATFORMS__1__TYPE=5sim"}, code: "fivesim", wantType: "fivesim"},
		{name: "env overrides on the 5sim platform", body: body,
			env:  []string{"SMSGATE_PLATFORMS__1__KEY=k5", "SMSGATE_TENANTS__0__PLATFORMS=smsactivate,5sim"},
			code: "5sim", wantType: "fivesim"},
		{name: "not an alias", body: strings.Replace(baseTOML, `code = "fivesim"`, "code = \"fivesim\"\ntype = \"6sim\"", 1),
			wantErr: `platforms[1].type: unknown type "6sim"`},
		{name: "tenant naming the old code", body: strings.Replace(baseTOML, `code = "fivesim"`, `code = "5sim"`, 1),
			wantErr: `tenants[1].platforms[0]: unknown platform "fivesim"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tc.body), tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.Platforms[1]
			if p.Code != tc.code || p.Type != tc.wantType {
				t.Fatalf("platforms[1] = code %q type %q; want %q %q", p.Code, p.Type, tc.code, tc.wantType)
			}
			if len(tc.env) > 1 && (p.Key.Reveal() != "k5" || !reflect.DeepEqual(c.Tenants[0].Platforms, []string{"smsactivate", "5sim"})) {
				t.Fatalf("env overrides: key set %v, tenant platforms %v", p.Key.Reveal() == "k5", c.Tenants[0].Platforms)
			}
		})
	}
	if got := CanonicalType("5sim"); got != "fivesim" {
		t.Errorf("CanonicalType(5sim) = %q", got)
	}
}

// TestMarkupUnits: the integers pricing computes with, exactly.
func TestMarkupUnits(t *testing.T) {
	f := func(percent, fixed Decimal, wantPPM, wantMicros int64) {
		t.Helper()
		tn := Tenant{MarkupPercent: percent, MarkupFixed: fixed}
		ppm, err := tn.MarkupPPM()
		if err != nil || ppm != wantPPM {
			t.Errorf("MarkupPPM(%q) = %d, %v; want %d", percent, ppm, err, wantPPM)
		}
		micros, err := tn.MarkupMicros()
		if err != nil || micros != wantMicros {
			t.Errorf("MarkupMicros(%q) = %d, %v; want %d", fixed, micros, err, wantMicros)
		}
	}
	f("", "", 0, 0)
	f("0", "0", 0, 0)
	f("10", "0.05", 100_000, 50_000)
	f("12.5", "1", 125_000, 1_000_000)
	f("0.0001", "0.000001", 1, 1)
	f("1000", "1000000", 10_000_000, 1_000_000_000_000)
	f("7.2500", "0.100000", 72_500, 100_000)
	f(" 3 ", "2", 30_000, 2_000_000)
}

// TestLoadMarkupForms: a markup may be written as a TOML integer, float or
// string; each reaches the config as its decimal text.
func TestLoadMarkupForms(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want Decimal
	}{
		{"markup_percent = 10", "10"},
		{"markup_percent = 12.5", "12.5"},
		{"markup_percent = 0.0001", "0.0001"},
		{`markup_percent = "7.25"`, "7.25"},
	} {
		c, err := Load(writeConfig(t, strings.Replace(baseTOML, "markup_percent = 12.5", tc.toml, 1)), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.toml, err)
		}
		if got := c.Tenants[1].MarkupPercent; got != tc.want {
			t.Errorf("%s: got %q; want %q", tc.toml, got, tc.want)
		}
	}
}

// TestTenantWebhook: a tenant's webhook secret comes from the environment
// and is required with its URL; errors name the key, never the secret; the
// format is smsgate or smsactivate.
func TestTenantWebhook(t *testing.T) {
	body := strings.Replace(baseTOML, "[[tenants]]", "[[tenants]]\nwebhook_url = \"https://hooks.example/smsgate\"", 1)
	path := writeConfig(t, body)
	c, err := Load(path, []string{"SMSGATE_TENANTS__0__WEBHOOK_SECRET=a-webhook-secret-0123"})
	if err != nil {
		t.Fatal(err)
	}
	if tc := c.Tenants[0]; tc.WebhookURL != "https://hooks.example/smsgate" || tc.WebhookSecret.Reveal() != "a-webhook-secret-0123" ||
		strings.Contains(fmt.Sprintf("%v %+v", tc, tc), "a-webhook-secret-0123") {
		t.Fatalf("tenant webhook %+v", tc)
	}
	_, err = Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), "tenants[0].webhook_secret") {
		t.Fatalf("url without secret: %v", err)
	}
	_, err = Load(path, []string{"SMSGATE_TENANTS__0__WEBHOOK_SECRET=short-s3kr1t"})
	if err == nil || !strings.Contains(err.Error(), "tenants[0].webhook_secret") || strings.Contains(err.Error(), "short-s3kr1t") {
		t.Fatalf("short secret: %v", err)
	}
	bad := strings.Replace(body, "webhook_url = \"https://hooks.example/smsgate\"", "webhook_url = \"ftp://x\"\nwebhook_format = \"xml\"", 1)
	_, err = Load(writeConfig(t, bad), []string{"SMSGATE_TENANTS__0__WEBHOOK_SECRET=a-webhook-secret-0123"})
	if err == nil || !strings.Contains(err.Error(), "tenants[0].webhook_url") || !strings.Contains(err.Error(), "tenants[0].webhook_format") {
		t.Fatalf("bad url and format: %v", err)
	}
}
