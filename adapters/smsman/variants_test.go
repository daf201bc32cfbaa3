package smsman_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsman"
)

// TestProtocolVariants holds the client to the ways public clients of
// SMS-Man have seen it say "out of stock" and "unknown service", each
// answered by the skin over loopback: a variant the client misread as an
// unknown error would be ErrUnavailable, which trips the breaker and takes
// a healthy platform out of the rotation.
func TestProtocolVariants(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opt      smsman.SkinOptions
		soldOut  bool   // the pair has no stock (else the service is withdrawn)
		want     error  // canonical error of the purchase
		inAnswer string // what the skin's get-number answer must carry
	}{
		// The docs' code: the baseline the variants must match.
		{"no_numbers", smsman.SkinOptions{}, true, adapters.ErrNoNumbers, `"error_code":"no_numbers"`},
		// Stock out under the code some clients check for.
		{"no_free_phones", smsman.SkinOptions{NoNumbers: "no_free_phones"}, true, adapters.ErrNoNumbers, `"error_code":"no_free_phones"`},
		// Stock out said only in words, no error_code.
		{"message only", smsman.SkinOptions{NoNumbers: smsman.NoNumbersMessageOnly}, true, adapters.ErrNoNumbers, `"error_msg":"No Numbers, try again"`},
		// The docs' unknown-application code.
		{"wrong_application_id", smsman.SkinOptions{}, false, adapters.ErrBadService, `"error_code":"wrong_application_id"`},
		// The same under the code other clients check for.
		{"wrong_service_id", smsman.SkinOptions{WrongServiceCode: "wrong_service_id"}, false, adapters.ErrBadService, `"error_code":"wrong_service_id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &adapterstest.Recorder{}
			// The catalogue comes from a market that sells Telegram; the
			// purchase goes to one that no longer does (an application
			// withdrawn after the client loaded the catalogue), or to one
			// where it is sold out.
			mc := simulator.Config{Currency: "RUB", Key: testKey, CodeDelay: -1}
			if !tc.soldOut {
				mc.Services = []string{"vk"}
			}
			h := adapterstest.Serve(t, mc, func(m *simulator.Market) fasthttp.RequestHandler {
				catalogue := smsman.NewSkinWith(simulator.New(simulator.Config{Currency: "RUB", Key: testKey}), tc.opt)
				buy := rec.Wrap(smsman.NewSkinWith(m, tc.opt))
				return func(ctx *fasthttp.RequestCtx) {
					switch string(ctx.Path()) {
					case "/control/countries", "/control/applications":
						catalogue(ctx)
					default:
						buy(ctx)
					}
				}
			})
			if tc.soldOut {
				h.Market.SetStock("us", "tg", 0)
			}
			c, err := smsman.New(smsman.Options{BaseURL: h.Server.URL, Key: testKey, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if !errors.Is(err, tc.want) || adapters.PlatformFault(err) {
				t.Fatalf("buy = %v; want %v, not a platform fault", err, tc.want)
			}
			var answer string
			for _, r := range rec.Take() {
				if r.Path == "/control/get-number" {
					answer = r.Answer
				}
			}
			if !strings.Contains(answer, tc.inAnswer) {
				t.Fatalf("get-number answered %q; want it to carry %s", answer, tc.inAnswer)
			}
			if tc.opt.NoNumbers == smsman.NoNumbersMessageOnly && strings.Contains(answer, "error_code") {
				t.Fatalf("get-number answered %q; want no error_code", answer)
			}
		})
	}
}
