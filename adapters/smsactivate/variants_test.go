package smsactivate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
)

// TestActiveActivationsVariants reads getActiveActivations from the skin
// in every layout SMS-Activate and HeroSMS have been seen to use, in both
// dialects. The gateway lists active orders to find a purchase whose
// answer was lost: a layout read as an empty list would lose that number
// (bought, never recorded), one read as an error would leave it unfound
// and trip the breaker.
func TestActiveActivationsVariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout smsactivate.ActiveLayout
		list   string // what the answer with one order must carry
		none   string // the whole answer with none
	}{
		// The docs' layout and "none": the baseline.
		{"docs", smsactivate.ActiveLayout{}, `"activeActivations":[{`, `{"status":"error","error":"NO_ACTIVATIONS"}`},
		// HeroSMS answers with the list under "data".
		{"data", smsactivate.ActiveLayout{List: smsactivate.ActiveListData}, `"data":[{`, `{"status":"error","error":"NO_ACTIVATIONS"}`},
		// HeroSMS, paged: the list under activeActivations.rows.
		{"rows", smsactivate.ActiveLayout{List: smsactivate.ActiveListRows}, `"activeActivations":{"rows":[{`, `{"status":"error","error":"NO_ACTIVATIONS"}`},
		// "None" as the bare token some clients see, with either list layout.
		{"bare none", smsactivate.ActiveLayout{BareNone: true}, `"activeActivations":[{`, `NO_ACTIVATIONS`},
		{"rows, bare none", smsactivate.ActiveLayout{List: smsactivate.ActiveListRows, BareNone: true}, `"rows":[{`, `NO_ACTIVATIONS`},
	} {
		for _, dc := range dialects {
			t.Run(tc.name+"/"+dc.name, func(t *testing.T) {
				rec := &adapterstest.Recorder{}
				h := adapterstest.Serve(t, simulator.Config{Currency: "RUB", Key: testKey, CodeDelay: -1},
					func(m *simulator.Market) fasthttp.RequestHandler {
						return rec.Wrap(smsactivate.NewSkinWith(m, smsactivate.SkinOptions{Dialect: dc.d, Active: tc.layout}))
					})
				c, err := smsactivate.New(smsactivate.Options{BaseURL: h.Server.URL, Key: testKey, Currency: "RUB", Timeout: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				answer := func() string {
					t.Helper()
					var last string
					for _, r := range rec.Take() {
						if r.Query["action"] == "getActiveActivations" {
							last = r.Answer
						}
					}
					return last
				}

				list, err := c.ActiveOrders(ctx)
				if err != nil || len(list) != 0 {
					t.Fatalf("active with none = %+v, %v; want an empty list", list, err)
				}
				if got := answer(); got != tc.none {
					t.Fatalf("skin answered none as %q; want %q", got, tc.none)
				}

				p, err := c.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
				if err != nil {
					t.Fatal(err)
				}
				rec.Take()
				list, err = c.ActiveOrders(ctx)
				want := adapters.ActiveOrder{UpstreamID: p.UpstreamID, Phone: p.Phone, Country: "us", Service: "tg"}
				if err != nil || len(list) != 1 || list[0] != want {
					t.Fatalf("active = %+v, %v; want [%+v]", list, err, want)
				}
				if got := answer(); !strings.Contains(got, tc.list) {
					t.Fatalf("skin answered %q; want the layout %s", got, tc.list)
				}
			})
		}
	}
}
