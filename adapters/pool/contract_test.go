package pool_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
	"smsgate/ledger"
)

// openStore opens a fresh SQLite ledger for the test: leases are real
// ledger rows, as in the gateway.
func openStore(t testing.TB) *ledger.SQLite {
	t.Helper()
	s, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "ledger.db"), ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The marketplace contract, run against both pool platforms through their
// simulators (with the suite's documented skips for pools).

func TestContractTextNow(t *testing.T) {
	adapterstest.Run(t, adapterstest.Platform{
		Skin:     func(m *simulator.Market) fasthttp.RequestHandler { return textnow.NewSim(m).Handler() },
		Currency: "USD",
		Pool: &adapterstest.PoolSpec{
			Account:   func(i int) string { return fmt.Sprintf("user%d", i) },
			NoBalance: true,
			Client: func(h *adapterstest.Harness, baseURL, key string, timeout time.Duration) (adapters.Platform, error) {
				var accts []textnow.Account
				for _, n := range h.Market.Numbers() {
					accts = append(accts, textnow.Account{User: n.Account, Cookie: key})
				}
				// No pacing: the suite's clock is manual and its calls few.
				src, err := textnow.New(textnow.Options{BaseURL: baseURL, Accounts: accts, Timeout: timeout, MinGap: -1})
				if err != nil {
					return nil, err
				}
				return pool.New(pool.Options{Code: "textnow", Source: src, Store: openStore(h.TB), Now: h.Clock.Now})
			},
		},
	})
}

func TestContractReceiveSMS(t *testing.T) {
	const price = 100_000 // 0.10 USD
	adapterstest.Run(t, adapterstest.Platform{
		Skin: func(m *simulator.Market) fasthttp.RequestHandler {
			return receivesms.NewSim(m, receivesms.SimOptions{}).Handler()
		},
		Currency: "USD",
		Pool: &adapterstest.PoolSpec{
			Price: price,
			Client: func(h *adapterstest.Harness, baseURL, key string, timeout time.Duration) (adapters.Platform, error) {
				src, err := receivesms.New(receivesms.Options{BaseURL: baseURL, Key: key, Timeout: timeout, Now: h.Clock.Now})
				if err != nil {
					return nil, err
				}
				return pool.New(pool.Options{Code: "receivesms", Source: src, Store: openStore(h.TB), Price: price, Now: h.Clock.Now})
			},
		},
	})
}
