package pool_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
	"smsgate/ledger"
)

// benchPool is a Receive-SMS pool of n numbers over a SQLite ledger, on
// the wall clock.
func benchPool(b *testing.B, n int) *pool.Pool {
	h := adapterstest.Serve(b, simulator.Config{Key: adapterstest.Key}, func(m *simulator.Market) fasthttp.RequestHandler {
		return receivesms.NewSim(m, receivesms.SimOptions{}).Handler()
	})
	for i := range n {
		h.Market.AddNumber(simulator.InboxNumber{Phone: adapterstest.PoolPhone(i), Country: "us"})
	}
	store, err := ledger.OpenSQLite(filepath.Join(b.TempDir(), "l.db"), ledger.SQLiteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	src, err := receivesms.New(receivesms.Options{BaseURL: h.Server.URL, Key: adapterstest.Key, Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	// No cancel cooldown: the loops cancel and buy the same service again.
	p, err := pool.New(pool.Options{Code: "rs", Source: src, Store: store, CancelCooldown: time.Nanosecond})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkBuyCancel: one lease and its release (ledger transaction,
// watermark read of the number over loopback, ledger end), one buyer.
func BenchmarkBuyCancel(b *testing.B) {
	p := benchPool(b, 100)
	r := adapters.BuyRequest{Country: "us", Service: "tg"}
	for b.Loop() {
		pur, err := p.Buy(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Cancel(ctx, pur.UpstreamID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuyCancelParallel: the same with GOMAXPROCS×4 buyers racing for
// 100 numbers (a NO_NUMBERS answer counts as an operation too).
func BenchmarkBuyCancelParallel(b *testing.B) {
	p := benchPool(b, 100)
	r := adapters.BuyRequest{Country: "us", Service: "tg"}
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pur, err := p.Buy(ctx, r)
			if err != nil {
				continue
			}
			if err := p.Cancel(ctx, pur.UpstreamID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCheck: one poll of a leased number (ledger read, messages read
// over loopback, code extraction).
func BenchmarkCheck(b *testing.B) {
	p := benchPool(b, 1)
	pur, err := p.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Check(ctx, pur.UpstreamID); err != nil {
			b.Fatal(err)
		}
	}
}
