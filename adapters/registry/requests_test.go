package registry_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/registry"
	"smsgate/adapters/simulator"
	"smsgate/ledger"
)

// TestSimCountsRequests: every simulated platform StartSim starts counts
// the requests its adapter sends, list calls included, and answers the
// same counts over HTTP at /_sim/requests.
func TestSimCountsRequests(t *testing.T) {
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "l.db"), ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	for _, typ := range registry.Types() {
		t.Run(typ, func(t *testing.T) {
			spec := registry.Spec{Code: typ, Type: typ, Timeout: 5 * time.Second}
			if registry.IsPool(typ) {
				spec.Pool = registry.PoolSpec{Store: store, MinGap: time.Millisecond}
			}
			sim, err := registry.StartSim(spec, simulator.Config{Clock: simulator.NewManualClock(time.Time{})})
			if err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			// A pool answers its balance itself; its purchase reads the
			// upstream. Whether they succeed does not matter here (SMS-REG
			// sells no "us"): what the upstream received is counted.
			sim.Platform.Balance(ctx)                                                //nolint:errcheck
			sim.Platform.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"}) //nolint:errcheck
			before := sim.Requests()
			if l, ok := sim.Platform.(adapters.ActiveLister); ok {
				// Counted even where the protocol refuses it (SMS-Service
				// has no list): the upstream received it all the same.
				l.ActiveOrders(ctx) //nolint:errcheck
				if after := sim.Requests(); total(after) <= total(before) {
					t.Fatalf("the list call was not counted: %v, then %v", before, after)
				}
			}
			code, body, err := fasthttp.Get(nil, sim.Server.URL+simulator.RequestsPath)
			var got map[string]int64
			if err == nil {
				err = json.Unmarshal(body, &got)
			}
			if err != nil || code != 200 {
				t.Fatalf("GET %s = %d %q, %v", simulator.RequestsPath, code, body, err)
			}
			want := sim.Requests()
			if total(want) == 0 || len(got) != len(want) {
				t.Fatalf("over HTTP %v; in Go %v", got, want)
			}
			for k, n := range want {
				if got[k] != n {
					t.Fatalf("over HTTP %v; in Go %v", got, want)
				}
			}
		})
	}
}

func total(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}
