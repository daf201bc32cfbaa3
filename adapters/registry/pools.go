package registry

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
)

// PoolSpec is what a pool platform (textnow, receivesms) needs beyond a
// Spec: where its leases live and how it hands numbers out.
type PoolSpec struct {
	Store    pool.Store
	Accounts []textnow.Account // textnow only
	// Only limits the pool to these phones (value: country override, "" none).
	Only           map[string]string
	Price          int64 // per activation, micro-units of the platform currency
	Lifetime       time.Duration
	Cooldown       time.Duration
	CancelCooldown time.Duration
	Quarantine     time.Duration
	Refresh        time.Duration
	PushFallback   time.Duration
	Senders        map[string][]string
	Patterns       map[string]string
	// AcceptUnattributed: an SMS naming no known service may be any order's
	// code (pool.Options.AcceptUnattributed).
	AcceptUnattributed bool
	// MinGap paces each TextNow account's calls (textnow.Options.MinGap);
	// 0 = the reader's default.
	MinGap        time.Duration
	WebhookSecret string
	Now           func() time.Time // default time.Now
}

// poolKind is one pool adapter type: its reader and its simulator.
type poolKind struct {
	currency string
	source   func(s Spec) (pool.Source, error)
	// sim fills the simulated account (mc.Key is its credential) and
	// returns the skin and, for upstreams that call back, the setter of the
	// callback URL.
	sim func(m *simulator.Market, s *Spec) (fasthttp.RequestHandler, func(string))
}

var pools = map[string]poolKind{
	"textnow": {
		currency: "USD",
		source: func(s Spec) (pool.Source, error) {
			return textnow.New(textnow.Options{BaseURL: s.URL, Accounts: s.Pool.Accounts, Timeout: s.Timeout, MinGap: s.Pool.MinGap})
		},
		sim: func(m *simulator.Market, s *Spec) (fasthttp.RequestHandler, func(string)) {
			if len(s.Pool.Accounts) == 0 {
				for i := range 3 {
					s.Pool.Accounts = append(s.Pool.Accounts, textnow.Account{User: fmt.Sprintf("demo%d", i+1)})
				}
			}
			for i := range s.Pool.Accounts {
				a := &s.Pool.Accounts[i]
				if a.Phone == "" {
					a.Phone = fmt.Sprintf("1212555%04d", 100+i)
				}
				if a.Country == "" {
					a.Country = "us"
				}
				a.Cookie = m.Key() // the simulated accounts are logged in with the market's key
				m.AddNumber(simulator.InboxNumber{Phone: a.Phone, Country: a.Country, Account: a.User})
			}
			return textnow.NewSim(m).Handler(), nil
		},
	},
	"receivesms": {
		currency: "USD",
		source: func(s Spec) (pool.Source, error) {
			return receivesms.New(receivesms.Options{BaseURL: s.URL, Key: s.Key, Currency: s.Currency, Timeout: s.Timeout, Now: s.Pool.Now})
		},
		sim: func(m *simulator.Market, s *Spec) (fasthttp.RequestHandler, func(string)) {
			phones := []string{"12025550143", "12025550187", "447700900123"}
			countries := []string{"us", "us", "gb"}
			if len(s.Pool.Only) > 0 {
				phones, countries = phones[:0], countries[:0]
				for p, c := range s.Pool.Only {
					phones, countries = append(phones, p), append(countries, c)
				}
			}
			now := m.Now()
			for i, p := range phones {
				m.AddNumber(simulator.InboxNumber{Phone: p, Country: countries[i], ExpiresAt: now.AddDate(0, 1, 0)})
			}
			sim := receivesms.NewSim(m, receivesms.SimOptions{})
			return sim.Handler(), sim.SetCallback
		},
	},
}

func isPool(typ string) bool { _, ok := pools[typ]; return ok }

func buildPool(s Spec) (adapters.Platform, error) {
	k := pools[s.Type]
	if s.Pool.Store == nil {
		return nil, fmt.Errorf("platform %s: a pool platform needs a ledger that keeps leases", s.Code)
	}
	src, err := k.source(s)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", s.Code, err)
	}
	ps := s.Pool
	return pool.New(pool.Options{
		Code: s.Code, Source: src, Store: ps.Store, Currency: s.Currency, Price: ps.Price,
		Lifetime: ps.Lifetime, Cooldown: ps.Cooldown, CancelCooldown: ps.CancelCooldown, Quarantine: ps.Quarantine, Refresh: ps.Refresh,
		Only: ps.Only, Senders: ps.Senders, Patterns: ps.Patterns, AcceptUnattributed: ps.AcceptUnattributed,
		WebhookSecret: ps.WebhookSecret, PushFallback: ps.PushFallback, Now: ps.Now,
	})
}

// servePoolSim starts a pool platform's simulated upstream. A simulated
// upstream that calls back gets a made-up webhook secret when none is set;
// Sim.SetGateway then points its callbacks at the gateway.
func servePoolSim(addr string, s Spec, mc simulator.Config) (*Sim, error) {
	k := pools[s.Type]
	if mc.InboxEvery == 0 {
		// Demo numbers also get other services' SMS (and noise), one every
		// two code delays: the pool must tell the order's code from them.
		mc.InboxEvery = 2 * mc.CodeDelay
	}
	m := simulator.New(mc)
	h, setCallback := k.sim(m, &s)
	srv, err := simulator.ServeAddr(addr, m.Admin(h))
	if err != nil {
		return nil, fmt.Errorf("platform %s: cannot start simulator: %w", s.Code, err)
	}
	s.URL, s.Key = srv.URL, mc.Key
	if setCallback != nil && s.Pool.WebhookSecret == "" {
		s.Pool.WebhookSecret = randomKey()
	}
	sim := &Sim{Market: m, Server: srv, Spec: s}
	if setCallback != nil && mc.InboxEvery > 0 {
		// Nobody reads a pushing upstream's inbox: send its demo SMS on time.
		stop := make(chan struct{})
		sim.stop = func() { close(stop) }
		go func() {
			t := time.NewTicker(mc.InboxEvery / 4)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					m.FlushInbox()
				}
			}
		}()
	}
	if setCallback != nil {
		secret := s.Pool.WebhookSecret
		sim.setGateway = func(base string) {
			setCallback(base + "/webhooks/" + s.Type + "?secret=" + url.QueryEscape(secret))
		}
	}
	return sim, nil
}

// simPool is a simulated pool platform: the pool, and the simulated
// services on the other side. When the pool hands a number out for a
// service (or the client asks for another code), the client would type
// the number into that service, which sends its code: the market is told
// (RequestCode), as a marketplace simulator sends an order's SMS itself.
// Every other method is the pool's.
type simPool struct {
	*pool.Pool
	m *simulator.Market
}

func (s *simPool) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	pur, err := s.Pool.Buy(ctx, r)
	if err == nil {
		s.m.RequestCode(pur.Phone, r.Service)
	}
	return pur, err
}

func (s *simPool) RequestAnother(ctx context.Context, upstreamID string) error {
	err := s.Pool.RequestAnother(ctx, upstreamID)
	if err == nil {
		s.again(ctx, upstreamID)
	}
	return err
}

func (s *simPool) RequestAnotherAfter(ctx context.Context, upstreamID string, last time.Time) error {
	err := s.Pool.RequestAnotherAfter(ctx, upstreamID, last)
	if err == nil {
		s.again(ctx, upstreamID)
	}
	return err
}

// again asks the lease's service for another code, finding the lease's
// number and service in the pool's own listing.
func (s *simPool) again(ctx context.Context, upstreamID string) {
	views, err := s.Pool.Numbers(ctx)
	if err != nil {
		return // no new code then: the client may ask again
	}
	for _, v := range views {
		if v.LeaseID != 0 && strconv.FormatInt(v.LeaseID, 10) == upstreamID {
			s.m.RequestCode(v.Phone, v.LeasedFor)
			return
		}
	}
}
