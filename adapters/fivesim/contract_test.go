package fivesim_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/fivesim"
	"smsgate/adapters/simulator"
)

// TestContract runs the shared suite against both readings of 5SIM's
// uncertain early-cancel guard: with it ("you need to wait time" inside the
// market's 2-minute guard) and without it.
func TestContract(t *testing.T) {
	client := func(url, key string, timeout time.Duration) (adapters.Platform, error) {
		return fivesim.New(fivesim.Options{BaseURL: url, Key: key, Currency: "RUB", Timeout: timeout})
	}
	readings := []struct {
		name  string
		opt   fivesim.SkinOptions
		guard time.Duration
	}{
		{"cancel guard", fivesim.SkinOptions{}, 2 * time.Minute},
		{"no cancel guard, errors with 200", fivesim.SkinOptions{NoCancelGuard: true, ErrorStatus: 200}, 0},
	}
	for _, r := range readings {
		t.Run(r.name, func(t *testing.T) {
			adapterstest.Run(t, adapterstest.Platform{
				Skin:     func(m *simulator.Market) fasthttp.RequestHandler { return fivesim.NewSkinWith(m, r.opt) },
				Client:   client,
				Currency: "RUB",
				// Extra SMS arrive on the open order; Check returns them all.
				CanRequestAnother: true,
				CancelGuard:       r.guard,
				// GET /v1/user/ban/{id}.
				CanBan: true,
				// The docs' examples expire 15 minutes after purchase.
				Lifetime: 15 * time.Minute,
			})
		})
	}
}
