package smsman_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsman"
)

func TestContract(t *testing.T) {
	adapterstest.Run(t, adapterstest.Platform{
		Skin: func(m *simulator.Market) fasthttp.RequestHandler { return smsman.NewSkin(m) },
		Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
			return smsman.New(smsman.Options{BaseURL: url, Key: key, Currency: "RUB", Timeout: timeout})
		},
		Currency: "RUB",
		// set-status retrysms: low confidence, so tried; a refusal is ErrBadState.
		CanRequestAnother: true,
		// No cancel guard is documented (the skin closes early rejects anyway).
		CancelGuard: 0,
		// About 20 minutes, from one bot's text; not in the docs.
		Lifetime: 20 * time.Minute,
	})
}
