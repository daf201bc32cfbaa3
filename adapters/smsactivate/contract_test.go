package smsactivate_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
)

func TestContract(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.name, func(t *testing.T) {
			adapterstest.Run(t, adapterstest.Platform{
				Skin: func(m *simulator.Market) fasthttp.RequestHandler { return smsactivate.NewSkin(m, dc.d) },
				Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
					return smsactivate.New(smsactivate.Options{BaseURL: url, Key: key, Currency: "RUB", Timeout: timeout})
				},
				Currency:          "RUB",
				CanRequestAnother: true,
				CancelGuard:       2 * time.Minute,
			})
		})
	}
}
