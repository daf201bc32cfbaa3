package config

import "time"

// Defaults returns the configuration used for every key that gateway.toml
// and the environment leave unset. Together with ApplyDefaults (which fills
// per-platform and per-tenant values that depend on other keys) it is the
// only place defaults live; gateway.toml repeats them as documentation.
func Defaults() Config {
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			HeaderTimeout:   5 * time.Second,
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    10 * time.Second,
			IdleTimeout:     60 * time.Second,
			MaxBodyBytes:    64 << 10,
			RequestTimeout:  15 * time.Second,
			ShutdownTimeout: 10 * time.Second,
			MaxConns:        4096,
			MaxConnsPerIP:   1024,
		},
		Ledger: Ledger{
			URL:         "data/smsgate.db",
			Synchronous: "NORMAL",
		},
		Recovery: Recovery{
			OutboxTick:  time.Second,
			RetryMin:    2 * time.Second,
			RetryMax:    5 * time.Minute,
			IntentGrace: 2 * time.Minute,
			IntentEvery: time.Minute,
			Reconcile:   10 * time.Minute,
		},
		Cache: Cache{
			Countries: 24 * time.Hour,
			Prices:    time.Hour,
			Status:    5 * time.Minute,
			Codes:     10 * time.Minute,
		},
		Routing: Routing{
			Strategy:    "priority",
			MaxAttempts: 3,
			Deadline:    20 * time.Second,
			HalfLife:    2 * time.Hour,
			GiveUp:      2 * time.Minute,
			Probe:       90 * time.Second,
			// A minute of a registration run's waiting is worth about what
			// a cheap number costs: time and price both count.
			ValueOfMinute: 0.25,
			Refresh:       10 * time.Second,
		},
		Breaker: Breaker{
			ConsecutiveFailures: 5,
			OpenTimeout:         30 * time.Second,
			HalfOpenRequests:    1,
			Interval:            60 * time.Second,
			FailureRatio:        0.5,
			MinRequests:         20,
			MaxOpenTimeout:      300 * time.Second,
		},
		Health:   Health{Interval: 5 * time.Minute},
		API:      API{MaxWait: 60 * time.Second, SSEHeartbeat: 15 * time.Second},
		Webhooks: Webhooks{Timeout: 10 * time.Second, GiveUp: 24 * time.Hour, RetryMax: time.Hour},
		Redis:    Redis{Prefix: "smsgate:"},
		FX:       FX{BaseCurrency: "USD"},
		Log:      Log{Level: "info", Format: "console"},
		Simulator: Simulator{
			CodeDelay: 5 * time.Second,
			Stock:     500,
			Balance:   "1000",
			Seed:      1,
			SimMarket: SimMarket{Delivery: 1, PriceInterval: time.Minute, PriceMin: 0.5, PriceMax: 2},
		},
	}
}

// Per-platform defaults, applied by ApplyDefaults to zero fields.
const (
	defaultWeight       = 1
	defaultPollInterval = 5 * time.Second
	defaultRate         = 10 // requests/s
	defaultTimeout      = 10 * time.Second
	// defaultMinSuccessSample: recent ended orders before min_success_rate applies.
	defaultMinSuccessSample = 20
	// defaultPenaltyBackoff: a penalty that tells no time lasts this long.
	defaultPenaltyBackoff = 30 * time.Second
	defaultDialect        = "classic" // for smsactivate-type platforms
)

// ApplyDefaults fills the per-platform and per-tenant values left zero:
// a platform's Type (= Code; an alias such as "5sim" becomes its canonical
// type), Priority (= its index), Weight, PollInterval,
// Rate, Timeout and, for smsactivate-type platforms, Dialect; a tenant's
// Strategy (= routing.strategy) and Currency (= fx.base_currency). Load calls
// it before Validate; call it yourself on a Config built in code.
func (c *Config) ApplyDefaults() {
	for i := range c.Platforms {
		p := &c.Platforms[i]
		if p.Type == "" {
			p.Type = p.Code
		}
		// One name per adapter from here on: display names, dialect and
		// pool rules all key on the canonical type.
		p.Type = CanonicalType(p.Type)
		if p.Priority == 0 {
			p.Priority = i
		}
		if p.Weight == 0 {
			p.Weight = defaultWeight
		}
		if p.PollInterval == 0 {
			p.PollInterval = defaultPollInterval
		}
		if p.Rate == 0 {
			p.Rate = defaultRate
		}
		if p.Timeout == 0 {
			p.Timeout = defaultTimeout
		}
		if p.MinSuccessSample == 0 {
			p.MinSuccessSample = defaultMinSuccessSample
		}
		if p.PenaltyBackoff == 0 {
			p.PenaltyBackoff = defaultPenaltyBackoff
		}
		if p.Dialect == "" && p.Type == "smsactivate" {
			p.Dialect = defaultDialect
		}
		if isPoolType(p.Type) {
			p.Pool.applyDefaults(p.Type)
		}
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Strategy == "" {
			t.Strategy = c.Routing.Strategy
		}
		if t.Currency == "" {
			t.Currency = c.FX.BaseCurrency
		}
	}
}

// isPoolType: the platform's numbers are owned by the gateway, not bought.
func isPoolType(typ string) bool { return typ == "textnow" || typ == "receivesms" }

func (p *Pool) applyDefaults(typ string) {
	if p.MinGap == 0 && typ == "textnow" {
		p.MinGap = time.Second
	}
	if p.ExpectedUses == 0 {
		p.ExpectedUses = 30
	}
	if p.Cooldown == 0 {
		p.Cooldown = 24 * time.Hour
	}
	if p.Quarantine == 0 {
		p.Quarantine = 720 * time.Hour
	}
	if p.CancelCooldown == 0 {
		p.CancelCooldown = 20 * time.Minute
	}
	if p.Refresh == 0 {
		p.Refresh = 5 * time.Minute
	}
	if p.PushFallback == 0 {
		p.PushFallback = time.Minute
	}
	for i := range p.Accounts {
		if p.Accounts[i].Country == "" {
			p.Accounts[i].Country = "us"
		}
	}
}
