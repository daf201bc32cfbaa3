package getsmscode_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/getsmscode"
	"smsgate/adapters/simulator"
)

// TestContract runs the shared suite with GetSMSCode's real capabilities:
// no second SMS on one number, no cancel guard, a hold time the protocols
// file suggests simulating as 10 minutes, dollars.
func TestContract(t *testing.T) {
	adapterstest.Run(t, adapterstest.Platform{
		Skin: func(m *simulator.Market) fasthttp.RequestHandler { return getsmscode.NewSkin(m) },
		Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
			return getsmscode.New(getsmscode.Options{BaseURL: url, User: "contract@example.com", Key: key, Timeout: timeout})
		},
		Currency:     getsmscode.DefaultCurrency,
		Lifetime:     10 * time.Minute,
		StockUnknown: true, // the API has prices but no stock figures
		CanBan:       true, // addblack
	})
}
