package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/gateway"
	"smsgate/ledger"
)

// staticPlatform answers from memory: the benchmark measures the routing
// decision, not HTTP.
type staticPlatform struct {
	code  string
	price int64
}

func (s staticPlatform) Code() string { return s.code }
func (s staticPlatform) Balance(context.Context) (adapters.Money, error) {
	return adapters.Money{Micros: 100 * adapters.Micro, Currency: "USD"}, nil
}
func (s staticPlatform) Buy(context.Context, adapters.BuyRequest) (adapters.Purchase, error) {
	return adapters.Purchase{}, adapters.ErrNoNumbers
}
func (s staticPlatform) Check(context.Context, string) (adapters.Update, error) {
	return adapters.Update{}, nil
}
func (s staticPlatform) Ready(context.Context, string) error          { return nil }
func (s staticPlatform) Finish(context.Context, string) error         { return nil }
func (s staticPlatform) Cancel(context.Context, string) error         { return nil }
func (s staticPlatform) RequestAnother(context.Context, string) error { return nil }
func (s staticPlatform) Offers(_ context.Context, service, country string) ([]adapters.Offer, error) {
	return []adapters.Offer{{Country: country, Service: service, Price: adapters.Money{Micros: s.price, Currency: "USD"}, Count: 100}}, nil
}
func (s staticPlatform) Countries(context.Context) ([]string, error) { return []string{"us"}, nil }

// BenchmarkRoutingDecision: the cost of choosing among 10 platforms
// (cached offers, breaker states, statistics, sorting) per strategy.
func BenchmarkRoutingDecision(b *testing.B) {
	cfg := config.Defaults()
	cfg.Tenants = []config.Tenant{{Name: "a", Key: keyA}}
	cfg.ApplyDefaults()
	store, err := ledger.OpenSQLite(b.TempDir()+"/l.db", ledger.SQLiteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var plats []*gateway.Platform
	for i := 0; i < 10; i++ {
		plats = append(plats, &gateway.Platform{Code: fmt.Sprintf("p%d", i), Adapter: staticPlatform{fmt.Sprintf("p%d", i), int64(100_000 * (10 - i))},
			Priority: i, Weight: i + 1, Currency: "USD", Enabled: true, Timeout: time.Second})
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Platforms: plats, Store: store, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	g.CheckHealth(ctx)
	ten, _ := g.Tenants().ByName("a")
	for _, s := range gateway.Strategies {
		b.Run(s, func(b *testing.B) {
			req := gateway.BuyRequest{Country: "us", Service: "tg", Strategy: s}
			if _, err := g.Recommend(ctx, ten, req); err != nil { // fill the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Recommend(ctx, ten, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
