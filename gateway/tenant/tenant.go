// Package tenant is the tenant table: tenants from config, their keys kept
// only as sha256, one lookup per request that yields the *Tenant handle
// every later step uses, and the price a tenant pays (pricing.go).
package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"smsgate/config"
	"smsgate/limits"
)

// Tenant is a client of the gateway, as loaded from config. The key is kept
// only as its sha256.
type Tenant struct {
	Name      string
	rateKey   string // Key(Name), made once (New)
	keyHash   [32]byte
	Strategy  string
	Currency  string
	Rate      float64
	MaxActive int
	Platforms map[string]bool // nil = every enabled platform
	Markup    Markup          // over the upstream price (pricing.go)
	// Wallet: the tenant pays from a prepaid wallet in the ledger (held at
	// purchase, captured at the first code, released otherwise); false is
	// operator mode, where nothing is debited.
	Wallet bool
	// WebhookURL receives the tenant's order events ("" = none), in
	// WebhookFormat ("smsgate" or "smsactivate"), signed with the secret.
	WebhookURL    string
	WebhookFormat string
	webhookSecret config.Secret
}

// WebhookSecret is the key the tenant's webhooks are signed with (never
// log it).
func (t *Tenant) WebhookSecret() config.Secret { return t.webhookSecret }

// Hooked reports whether the tenant receives webhooks.
func (t *Tenant) Hooked() bool { return t.WebhookURL != "" }

// Allows reports whether the tenant may use the platform.
func (t *Tenant) Allows(platform string) bool { return t.Platforms == nil || t.Platforms[platform] }

// Tenants finds a tenant by key.
type Tenants struct {
	byHash map[[32]byte]*Tenant
	byName map[string]*Tenant
	names  []string
	hashes atomic.Int64 // key hashes computed (the alloc test counts one per request)
}

// Hashes is how many keys have been hashed since start.
func (ts *Tenants) Hashes() int64 { return ts.hashes.Load() }

// New loads the tenants from config; plain keys are hashed here and
// dropped.
func New(list []config.Tenant, defaultCurrency, defaultStrategy string) (*Tenants, error) {
	ts := &Tenants{byHash: map[[32]byte]*Tenant{}, byName: map[string]*Tenant{}}
	for i, ct := range list {
		h, err := ct.KeyHash()
		if err != nil {
			return nil, fmt.Errorf("tenants[%d]: %w", i, err)
		}
		t := &Tenant{Name: ct.Name, rateKey: Key(ct.Name), keyHash: h, Strategy: ct.Strategy, Currency: ct.Currency, Rate: ct.Rate, MaxActive: ct.MaxActive, Wallet: ct.Wallet,
			WebhookURL: ct.WebhookURL, WebhookFormat: ct.WebhookFormat, webhookSecret: ct.WebhookSecret}
		if t.WebhookFormat == "" {
			t.WebhookFormat = "smsgate"
		}
		if t.Currency == "" {
			t.Currency = defaultCurrency
		}
		if t.Markup.PPM, err = ct.MarkupPPM(); err != nil {
			return nil, fmt.Errorf("tenants[%d].markup_percent: %w", i, err)
		}
		if t.Markup.Fixed, err = ct.MarkupMicros(); err != nil {
			return nil, fmt.Errorf("tenants[%d].markup_fixed: %w", i, err)
		}
		if t.Strategy == "" {
			t.Strategy = defaultStrategy
		}
		if len(ct.Platforms) > 0 {
			t.Platforms = map[string]bool{}
			for _, p := range ct.Platforms {
				t.Platforms[p] = true
			}
		}
		ts.byHash[h] = t
		ts.byName[t.Name] = t
		ts.names = append(ts.names, t.Name)
	}
	return ts, nil
}

// ByKey returns the tenant owning key. The lookup is by the key's sha256,
// and the stored hash is compared in constant time, so neither the map
// nor the comparison times the key itself.
func (ts *Tenants) ByKey(key string) (*Tenant, bool) { return ts.ByKeyBytes([]byte(key)) }

// ByKeyBytes is ByKey for a key still in the request's buffer.
func (ts *Tenants) ByKeyBytes(key []byte) (*Tenant, bool) {
	ts.hashes.Add(1)
	h := sha256.Sum256(key)
	t, ok := ts.byHash[h]
	if !ok || subtle.ConstantTimeCompare(t.keyHash[:], h[:]) != 1 {
		return nil, false
	}
	return t, true
}

// ByName returns the tenant with that name.
func (ts *Tenants) ByName(name string) (*Tenant, bool) {
	t, ok := ts.byName[name]
	return t, ok
}

// Names lists the tenants' names in config order.
func (ts *Tenants) Names() []string { return ts.names }

// Key is the tenant's key in rate and cap tables.
func Key(name string) string { return "tenant:" + name }

// Limiter spends tenants' request tokens.
type Limiter struct{ rates limits.Rates }

// NewLimiter limits tenants' request rates in rates.
func NewLimiter(rates limits.Rates) *Limiter { return &Limiter{rates: rates} }

// Allow spends one of the tenant's request tokens; when none is left it
// says how long until one is.
func (l *Limiter) Allow(t *Tenant) (bool, time.Duration) {
	key := t.rateKey
	if key == "" { // a Tenant not made by New (tests)
		key = Key(t.Name)
	}
	return l.rates.Allow(key, t.Rate, max(1, int(t.Rate)))
}

// RetryAfter renders a wait as whole seconds, at least 1 (Retry-After).
func RetryAfter(d time.Duration) string {
	sec := int((d + time.Second - 1) / time.Second)
	if sec < 1 {
		sec = 1
	}
	return strconv.Itoa(sec)
}
