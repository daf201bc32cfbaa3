package smsreg_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsreg"
)

// TestContract runs the shared suite. The skin assigns the number on the
// second getState; Buy polls every 10 ms here, so it completes at once.
// SMS-REG sells in ru, ua, kz and cn only, and has no cancel guard.
func TestContract(t *testing.T) {
	variants := []struct {
		name string
		o    smsreg.SkinOptions
	}{
		{"default", smsreg.SkinOptions{}},
		// The other readings: "0" error answers, full_msg next to msg, and a
		// number that takes three polls.
		{"variants", smsreg.SkinOptions{ZeroErrors: true, FullMsg: true, InPoolPolls: 3}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			adapterstest.Run(t, adapterstest.Platform{
				Skin: func(m *simulator.Market) fasthttp.RequestHandler { return smsreg.NewSkinWith(m, v.o) },
				Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
					return smsreg.New(smsreg.Options{BaseURL: url, Key: key, Timeout: timeout, PollInterval: 10 * time.Millisecond})
				},
				Currency:          "RUB",
				Country:           "ru",
				Service:           "tg",
				CanRequestAnother: true,
			})
		})
	}
}
