package ops

import (
	"context"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/breaker"
	"smsgate/gateway/fx"
	"smsgate/gateway/market"
	"smsgate/gateway/platform"
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

// Balances is where a balance read goes (market.Market and its book):
// routing's next read, in the platform's currency.
type Balances interface {
	InCurrency(m adapters.Money, currency string) (int64, bool)
	Book() *market.BalanceBook
}

// HealthChecker fetches each platform's balance every interval, recording
// latency and errors; its balances feed routing (the balance book) and
// alerts.
type HealthChecker struct {
	platforms []*platform.Platform
	balances  Balances
	fx        *fx.FX
	alerts    *Alerter
	now       func() time.Time
	interval  time.Duration

	// round lets one round of checks run at a time: a round asked for by
	// the admin (or a test) waits for the periodic one instead of racing it
	// and recording an older balance after a newer one.
	round sync.Mutex

	mu    sync.Mutex
	state map[string]*healthRecord // by platform code; guarded by mu
}

type healthRecord struct {
	h Health
}

// NewHealthChecker checks platforms every interval once Run runs.
func NewHealthChecker(platforms []*platform.Platform, b Balances, conv *fx.FX, alerts *Alerter, now func() time.Time,
	interval time.Duration) *HealthChecker {
	hc := &HealthChecker{platforms: platforms, balances: b, fx: conv, alerts: alerts, now: now, interval: interval,
		state: map[string]*healthRecord{}}
	for _, p := range platforms {
		hc.state[p.Code] = &healthRecord{h: Health{Platform: p.Code, State: "unknown", Currency: p.Currency, BaseCurrency: conv.Base()}}
	}
	return hc
}

// Run checks every platform each interval until ctx ends; its owner runs
// it on a goroutine it waits for.
func (hc *HealthChecker) Run(ctx context.Context) {
	t := time.NewTicker(hc.interval)
	defer t.Stop()
	for {
		hc.CheckAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckAll checks every enabled platform concurrently and waits.
func (hc *HealthChecker) CheckAll(ctx context.Context) {
	hc.round.Lock()
	defer hc.round.Unlock()
	var wg sync.WaitGroup
	for _, p := range hc.platforms {
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

func (hc *HealthChecker) check(ctx context.Context, p *platform.Platform) {
	since := hc.balances.Book().Spent(p.Code)
	cctx, cancel := p.CallCtx(ctx)
	start := time.Now()
	bal, err := p.Adapter.Balance(cctx)
	lat := time.Since(start)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		if m, ok := hc.balances.InCurrency(bal, p.Currency); ok {
			hc.balances.Book().Read(p.Code, m, since) // routing's next read
		}
	}
	now := hc.now().UTC()
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
		if b, err := hc.fx.ToBase(bal); err == nil {
			r.h.BaseBalance = adapters.FormatDecimal(b.Micros, 2)
		}
	}
	hc.mu.Unlock()

	if err != nil {
		hc.alerts.Raise("health_failing", p.Code, "balance check failed: "+err.Error())
		return
	}
	hc.alerts.Clear("health_failing", p.Code)
	hc.alerts.Clear("auth", p.Code)
	if p.BalanceAlert > 0 {
		if bal.Micros < p.BalanceAlert {
			hc.alerts.Raise("low_balance", p.Code, "balance "+adapters.FormatDecimal(bal.Micros, 2)+" "+bal.Currency+
				" below "+adapters.FormatDecimal(p.BalanceAlert, 2))
		} else {
			hc.alerts.Clear("low_balance", p.Code)
		}
	}
}

// Snapshot is the platform's health with its breaker's current state.
func (hc *HealthChecker) Snapshot(p *platform.Platform) Health {
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
