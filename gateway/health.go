package gateway

import (
	"context"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/breaker"
)

// Health is one platform's last check, as /api/sms/platforms/{code}/health
// shows it.
type Health struct {
	Platform     string    `json:"platform"`
	State        string    `json:"state"` // up, down, unknown
	Breaker      string    `json:"breaker"`
	BreakerTrips int       `json:"breakerTrips"`
	Balance      string    `json:"balance,omitempty"` // platform currency
	Currency     string    `json:"currency"`
	BaseBalance  string    `json:"baseBalance,omitempty"`
	BaseCurrency string    `json:"baseCurrency"`
	LatencyMs    float64   `json:"latencyMs"`
	LastError    string    `json:"lastError,omitempty"`
	CheckedAt    time.Time `json:"checkedAt"`
	Enabled      bool      `json:"enabled"`
}

// healthChecker fetches each platform's balance every interval, recording
// latency and errors; its balances feed routing (balanceBook) and alerts.
type healthChecker struct {
	g        *Gateway
	interval time.Duration

	mu    sync.Mutex
	state map[string]*healthRecord // by platform code; guarded by mu
}

type healthRecord struct {
	h Health
}

func newHealthChecker(g *Gateway, interval time.Duration) *healthChecker {
	hc := &healthChecker{g: g, interval: interval, state: map[string]*healthRecord{}}
	for _, p := range g.platforms {
		hc.state[p.Code] = &healthRecord{h: Health{Platform: p.Code, State: "unknown", Currency: p.Currency, BaseCurrency: g.fx.Base()}}
	}
	return hc
}

// run checks every platform each interval until ctx ends; its owner runs
// it on a goroutine it waits for.
func (hc *healthChecker) run(ctx context.Context) {
	t := time.NewTicker(hc.interval)
	defer t.Stop()
	for {
		hc.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkAll checks every enabled platform concurrently and waits.
func (hc *healthChecker) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range hc.g.platforms {
		if !p.Current().Enabled {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc.check(ctx, p)
		}()
	}
	wg.Wait()
}

func (hc *healthChecker) check(ctx context.Context, p *Platform) {
	g := hc.g
	since := g.market.Book().Spent(p.Code)
	cctx, cancel := p.CallCtx(ctx)
	start := time.Now()
	bal, err := p.Adapter.Balance(cctx)
	lat := time.Since(start)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		if m, ok := g.market.InCurrency(bal, p.Currency); ok {
			g.market.Book().Read(p.Code, m, since) // routing's next read
		}
	}
	now := g.now().UTC()
	hc.mu.Lock()
	r := hc.state[p.Code]
	r.h.CheckedAt = now
	r.h.LatencyMs = float64(lat.Microseconds()) / 1000
	if err != nil {
		r.h.State = "down"
		r.h.LastError = err.Error()
	} else {
		r.h.State = "up"
		r.h.LastError = ""
		r.h.Balance = adapters.FormatDecimal(bal.Micros, 2)
		if b, err := g.fx.ToBase(bal); err == nil {
			r.h.BaseBalance = adapters.FormatDecimal(b.Micros, 2)
		}
	}
	hc.mu.Unlock()

	if err != nil {
		g.alerts.Raise("health_failing", p.Code, "balance check failed: "+err.Error())
		return
	}
	g.alerts.Clear("health_failing", p.Code)
	g.alerts.Clear("auth", p.Code)
	if p.BalanceAlert > 0 {
		if bal.Micros < p.BalanceAlert {
			g.alerts.Raise("low_balance", p.Code, "balance "+adapters.FormatDecimal(bal.Micros, 2)+" "+bal.Currency+
				" below "+adapters.FormatDecimal(p.BalanceAlert, 2))
		} else {
			g.alerts.Clear("low_balance", p.Code)
		}
	}
}

// snapshot is the platform's health with its breaker's current state.
func (hc *healthChecker) snapshot(p *Platform) Health {
	hc.mu.Lock()
	h := hc.state[p.Code].h
	hc.mu.Unlock()
	h.Enabled = p.Current().Enabled
	if p.Breaker() != nil {
		s := p.Breaker().Snapshot()
		h.Breaker, h.BreakerTrips = string(s.State), s.Trips
		if s.State == breaker.Open && h.State == "up" {
			h.State = "down"
		}
	}
	return h
}
