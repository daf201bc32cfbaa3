// Package registry builds a platform adapter from its configuration, and
// for url = "sim" starts the platform's simulated upstream on loopback and
// points the adapter at it. It is the one place that knows every adapter.
package registry

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/fivesim"
	"smsgate/adapters/getsmscode"
	"smsgate/adapters/onlinesim"
	"smsgate/adapters/pool"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
	"smsgate/adapters/smsman"
	"smsgate/adapters/smspva"
	"smsgate/adapters/smsreg"
	"smsgate/adapters/smsservice"
)

// Spec is what an adapter needs to reach its platform.
type Spec struct {
	Code     string // unique platform code ("smsactivate", "hero")
	Type     string // adapter type ("smsactivate", "fivesim", …)
	URL      string // base URL, or "sim"
	Key      string
	User     string
	Password string
	Currency string // account currency; "" = the type's default
	Dialect  string // smsactivate only: classic|hero
	Timeout  time.Duration
	Pool     PoolSpec // pool platforms (textnow, receivesms) only
}

// kind is one adapter type: how to build its client and its protocol skin.
type kind struct {
	currency string // the platform's usual account currency
	client   func(s Spec) (adapters.Platform, error)
	skin     func(m *simulator.Market, s Spec) (fasthttp.RequestHandler, error)
	// sim adapts the market config and spec to the platform's own rules
	// (order lifetime, a login the skin requires); may be nil.
	sim func(mc *simulator.Config, s *Spec)
}

var kinds = map[string]kind{
	"fivesim": {
		currency: "RUB",
		client: func(s Spec) (adapters.Platform, error) {
			return fivesim.New(fivesim.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return fivesim.NewSkin(m), nil },
	},
	"smsman": {
		currency: "RUB",
		client: func(s Spec) (adapters.Platform, error) {
			return smsman.New(smsman.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return smsman.NewSkin(m), nil },
	},
	"onlinesim": {
		currency: onlinesim.DefaultCurrency,
		client: func(s Spec) (adapters.Platform, error) {
			return onlinesim.New(onlinesim.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return onlinesim.NewSkin(m), nil },
	},
	"smsreg": {
		currency: smsreg.DefaultCurrency,
		client: func(s Spec) (adapters.Platform, error) {
			return smsreg.New(smsreg.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return smsreg.NewSkin(m), nil },
	},
	"smspva": {
		currency: smspva.DefaultCurrency,
		client: func(s Spec) (adapters.Platform, error) {
			return smspva.New(smspva.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return smspva.NewSkin(m), nil },
		// Orders close themselves after about 10 minutes there.
		sim: func(mc *simulator.Config, _ *Spec) { mc.Lifetime = smspva.Lifetime },
	},
	"getsmscode": {
		currency: getsmscode.DefaultCurrency,
		client: func(s Spec) (adapters.Platform, error) {
			return getsmscode.New(getsmscode.Options{Code: s.Code, BaseURL: s.URL, User: s.User, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return getsmscode.NewSkin(m), nil },
		sim: func(mc *simulator.Config, s *Spec) {
			mc.Lifetime = 10 * time.Minute
			if s.User == "" {
				s.User = "sim@example.com" // the protocol logs in by username as well as token
			}
		},
	},
	"smsservice": {
		currency: "USD",
		client: func(s Spec) (adapters.Platform, error) {
			return smsservice.New(smsservice.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, _ Spec) (fasthttp.RequestHandler, error) { return smsservice.NewSkin(m), nil },
	},
	"smsactivate": {
		currency: "RUB",
		client: func(s Spec) (adapters.Platform, error) {
			return smsactivate.New(smsactivate.Options{Code: s.Code, BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout})
		},
		skin: func(m *simulator.Market, s Spec) (fasthttp.RequestHandler, error) {
			d, err := smsactivate.ParseDialect(s.Dialect)
			if err != nil {
				return nil, err
			}
			return smsactivate.NewSkin(m, d), nil
		},
	},
}

// aliases are other names of adapter types: "5sim" is what 5SIM calls
// itself (config.CanonicalType knows the same ones).
var aliases = map[string]string{"5sim": "fivesim"}

// canonical is the adapter type typ names.
func canonical(typ string) string {
	if c, ok := aliases[typ]; ok {
		return c
	}
	return typ
}

// names are the platforms' display names by adapter type.
var names = map[string]string{
	"smsactivate": "SMS-Activate protocol", "fivesim": "5SIM", "smsman": "SMS-Man", "onlinesim": "OnlineSIM",
	"smspva": "SMS-PVA", "smsreg": "SMS-REG", "getsmscode": "GetSMSCode", "smsservice": "SMS-Service",
	"textnow": "TextNow (pool)", "receivesms": "Receive-SMS (pool)",
}

// DisplayName is a human name for a platform of that type and code.
func DisplayName(typ, code string) string {
	typ = canonical(typ)
	n, ok := names[typ]
	if !ok {
		return code
	}
	if typ == "smsactivate" && code != "smsactivate" {
		return n + " (" + code + ")" // e.g. a HeroSMS account
	}
	return n
}

// Types lists the adapter types, sorted.
func Types() []string {
	out := make([]string, 0, len(kinds)+len(pools))
	for k := range kinds {
		out = append(out, k)
	}
	for k := range pools {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefaultCurrency is the type's usual account currency ("" if unknown type).
func DefaultCurrency(typ string) string {
	typ = canonical(typ)
	if k, ok := pools[typ]; ok {
		return k.currency
	}
	return kinds[typ].currency
}

// IsPool reports whether platforms of that type are pools: the gateway
// owns their numbers (Spec.Pool applies).
func IsPool(typ string) bool { return isPool(canonical(typ)) }

func (s Spec) withDefaults() (Spec, kind, error) {
	s.Type = canonical(s.Type)
	if isPool(s.Type) {
		if s.Currency == "" {
			s.Currency = pools[s.Type].currency
		}
		return s, kind{}, nil
	}
	k, ok := kinds[s.Type]
	if !ok {
		return s, k, fmt.Errorf("platform %s: unknown type %q", s.Code, s.Type)
	}
	if s.Currency == "" {
		s.Currency = k.currency
	}
	return s, k, nil
}

// Build returns the adapter for a real platform.
func Build(s Spec) (adapters.Platform, error) {
	s, k, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	if isPool(s.Type) {
		return buildPool(s)
	}
	return k.client(s)
}

// Sim is a simulated platform: its market, the loopback server speaking
// the platform's protocol, and the adapter pointed at it.
type Sim struct {
	Market *simulator.Market
	Server *simulator.Server
	// Spec is what an adapter reaches the server with: URL and Key, and
	// User, Pool.Accounts and Pool.WebhookSecret where the platform needs
	// them.
	Spec Spec
	// Platform is the adapter over the server (StartSim); nil from ServeSim.
	Platform adapters.Platform
	// setGateway points the callbacks of an upstream that calls back at
	// the gateway; nil for the others.
	setGateway func(baseURL string)
	stop       func() // ends the simulator's own goroutines; nil if none
}

// Close stops the simulated upstream.
func (s *Sim) Close() error {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	return s.Server.Close()
}

// SetGateway tells a simulated upstream that calls back (receivesms) the
// gateway's base URL ("http://127.0.0.1:8080"), once it listens. A no-op
// for the others.
func (s *Sim) SetGateway(baseURL string) {
	if s.setGateway != nil {
		s.setGateway(baseURL)
	}
}

// Requests is how many requests the simulated upstream received, by the
// protocol's name for the call (simulator.Market.Requests); its server
// answers the same at simulator.RequestsPath.
func (s *Sim) Requests() map[string]int64 { return s.Market.Requests() }

// StartSim starts the platform's simulator on a free loopback port with
// market config mc (its Currency and Key are taken from the spec /
// generated) and builds the adapter against it.
func StartSim(s Spec, mc simulator.Config) (*Sim, error) {
	return StartSimAt("127.0.0.1:0", s, mc)
}

// StartSimAt is StartSim listening on addr ("host:port"; port 0 = a free
// one).
func StartSimAt(addr string, s Spec, mc simulator.Config) (*Sim, error) {
	sim, err := ServeSim(addr, s, mc)
	if err != nil {
		return nil, err
	}
	if sim.Platform, err = sim.adapter(); err != nil {
		sim.Close()
		return nil, err
	}
	return sim, nil
}

// ServeSim starts the platform's simulated upstream on addr with no
// adapter in this process (Sim.Spec says how one reaches it), for an
// upstream run in its own process. Every simulator server starts here: it
// answers the protocol and, beside it, the request counts
// (simulator.Market.Admin).
func ServeSim(addr string, s Spec, mc simulator.Config) (*Sim, error) {
	s, k, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	mc.Currency = s.Currency
	if mc.Key == "" {
		mc.Key = randomKey()
	}
	if isPool(s.Type) {
		return servePoolSim(addr, s, mc)
	}
	if k.sim != nil {
		k.sim(&mc, &s)
	}
	m := simulator.New(mc)
	h, err := k.skin(m, s)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", s.Code, err)
	}
	srv, err := simulator.ServeAddr(addr, m.Admin(h))
	if err != nil {
		return nil, fmt.Errorf("platform %s: cannot start simulator: %w", s.Code, err)
	}
	s.URL, s.Key = srv.URL, mc.Key
	return &Sim{Market: m, Server: srv, Spec: s}, nil
}

// adapter builds the adapter over the simulator's server.
func (s *Sim) adapter() (adapters.Platform, error) {
	if isPool(s.Spec.Type) {
		p, err := buildPool(s.Spec)
		if err != nil {
			return nil, err
		}
		return &simPool{Pool: p.(*pool.Pool), m: s.Market}, nil
	}
	return kinds[s.Spec.Type].client(s.Spec)
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
