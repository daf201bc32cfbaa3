package smsservice_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsservice"
)

func platform(rec *adapterstest.Recorder) adapterstest.Platform {
	return adapterstest.Platform{
		Skin: func(m *simulator.Market) fasthttp.RequestHandler {
			h := smsservice.NewSkin(m)
			if rec == nil {
				return h
			}
			return rec.Wrap(h)
		},
		Client: func(url, key string, timeout time.Duration) (adapters.Platform, error) {
			return smsservice.New(smsservice.Options{BaseURL: url, Key: key, Currency: "USD", Timeout: timeout})
		},
		Currency:          "USD",
		CanRequestAnother: true,
		CancelGuard:       2 * time.Minute, // SA-family rule; the skin enforces it through the market
	}
}

func TestContract(t *testing.T) { adapterstest.Run(t, platform(nil)) }

// TestRequests asserts the quirks on the wire: no ".php", lang=en on every
// call for a USD account, getNumber (not V2), catalogue via
// getServicesAndCost, and a bare-number balance understood.
func TestRequests(t *testing.T) {
	rec := &adapterstest.Recorder{}
	h := adapterstest.Start(t, platform(rec), simulator.Config{Balance: 463_020_000}, adapterstest.Key, time.Second)
	ctx := context.Background()
	b, err := h.Platform.Balance(ctx)
	if err != nil || b.Micros != 463_020_000 || b.Currency != "USD" {
		t.Fatalf("balance = %v, %v; want 463.02 USD from a bare number", b, err)
	}
	p, err := h.Platform.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	want := h.Market.Offers("ru", "tg")[0].Price
	if p.Price.Micros != want {
		t.Fatalf("price %d; want %d from getServicesAndCost", p.Price.Micros, want)
	}
	var reqs []string // "METHOD path?query"
	for _, r := range rec.Take() {
		reqs = append(reqs, r.Method+" "+r.Path+"?"+r.RawQuery)
	}
	wantSeq := []string{"action=getBalance", "action=getNumber", "action=getServicesAndCost"}
	if len(reqs) != len(wantSeq) {
		t.Fatalf("requests %v; want %d", reqs, len(wantSeq))
	}
	for i, r := range reqs {
		if !strings.HasPrefix(r, "GET "+smsservice.Path+"?") || !strings.Contains(r, "lang=en") ||
			!strings.Contains(r, "api_key="+adapterstest.Key) || !strings.Contains(r, wantSeq[i]) {
			t.Errorf("request %d = %q; want GET %s with lang=en, api_key and %s", i, r, smsservice.Path, wantSeq[i])
		}
	}
	if !strings.Contains(reqs[1], "country=0") || !strings.Contains(reqs[1], "service=tg") {
		t.Errorf("getNumber request %q lacks country=0/service=tg", reqs[1])
	}
}

func TestRUBAccountUsesLangRU(t *testing.T) {
	if l, _ := smsservice.Lang("RUB"); l != "ru" {
		t.Fatalf("lang for RUB = %q", l)
	}
	if _, err := smsservice.New(smsservice.Options{BaseURL: "http://127.0.0.1:1", Currency: "EUR"}); err == nil {
		t.Fatal("EUR account accepted; the platform has only RUB and USD")
	}
	// A USD market asked with lang=ru: the other account is empty.
	m := simulator.New(simulator.Config{Currency: "USD", Key: "k"})
	srv, _ := simulator.Serve(smsservice.NewSkin(m))
	defer srv.Close()
	c, _ := smsservice.New(smsservice.Options{BaseURL: srv.URL, Key: "k", Currency: "RUB", Timeout: time.Second})
	if _, err := c.Buy(context.Background(), adapters.BuyRequest{Country: "ru", Service: "tg"}); !errors.Is(err, adapters.ErrNoBalance) {
		t.Fatalf("buy on the empty RUB account = %v; want ErrNoBalance", err)
	}
}

func FuzzParseServicesAndCost(f *testing.F) {
	f.Add([]byte(`[{"id": "tg", "name": "Telegram", "price": 0.35, "quantity": 120},{"id": "dr", "name": "ChatGPT (openAI.com)", "price": 0.22, "quantity": 15}]`))
	f.Add([]byte(`[{"id":"tg","cost":"0.35","quantity":"1"}]`))
	f.Add([]byte(`NO_NUMBERS`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := smsservice.ParseServicesAndCost(b); err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("error %v is not ErrUnavailable", err)
		}
	})
}

func FuzzParseCountries(f *testing.F) {
	f.Add([]byte(`[{"id": 0, "name": "Россия", "operators": {"any": "any", "tele2": "tele2"}}]`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := smsservice.ParseCountries(b); err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("error %v is not ErrUnavailable", err)
		}
	})
}
