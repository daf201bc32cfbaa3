package onlinesim_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/onlinesim"
	"smsgate/adapters/simulator"
)

// TestContract runs the shared suite over the default skin and over the
// stricter readings of the protocol the client must also survive.
func TestContract(t *testing.T) {
	variants := []struct {
		name string
		o    onlinesim.SkinOptions
	}{
		{"default", onlinesim.SkinOptions{}},
		// The number missing from getNum and [] on the first getState (§3.3, §3.4).
		{"late number", onlinesim.SkinOptions{LateNumber: true, EmptyFirst: true, InPoolPolls: 2}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			adapterstest.Run(t, adapterstest.Platform{
				Skin: func(m *simulator.Market) fasthttp.RequestHandler { return onlinesim.NewSkinWith(m, v.o) },
				Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
					return onlinesim.New(onlinesim.Options{
						BaseURL: url, Key: key, Currency: "RUB", Timeout: timeout,
						PollInterval: 10 * time.Millisecond,
					})
				},
				Currency:          "RUB",
				CanRequestAnother: true,
				CancelGuard:       2 * time.Minute,
			})
		})
	}
}
