package smspva_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smspva"
)

// TestContract runs the shared suite with SMS-PVA's real capabilities:
// another SMS on the same order (clearsms), no cancel guard, orders that
// close themselves after 10 minutes, dollars.
func TestContract(t *testing.T) {
	adapterstest.Run(t, adapterstest.Platform{
		Skin: func(m *simulator.Market) fasthttp.RequestHandler { return smspva.NewSkin(m) },
		Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
			return smspva.New(smspva.Options{BaseURL: url, Key: key, Timeout: timeout})
		},
		Currency:          smspva.DefaultCurrency,
		CanRequestAnother: true,
		Lifetime:          smspva.Lifetime,
		// PUT /activation/blocknumber/{id}.
		CanBan: true,
	})
}
