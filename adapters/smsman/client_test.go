package smsman_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsman"
)

const testKey = "smsman-test-token-0123"

var ctx = context.Background()

// request is what the wire tests compare of a recorded request.
type request struct {
	Method, Path, Auth string
	Query              map[string]string
}

func summary(r adapterstest.Request) request {
	return request{Method: r.Method, Path: r.Path, Auth: r.Header.Get("Authorization"), Query: r.Query}
}

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	rec    *adapterstest.Recorder
	client *smsman.Client
}

func newFixture(t *testing.T, opt smsman.SkinOptions, codeDelay time.Duration) *fixture {
	t.Helper()
	rec := &adapterstest.Recorder{}
	h := adapterstest.Serve(t, simulator.Config{Currency: "RUB", Key: testKey, CodeDelay: codeDelay},
		func(m *simulator.Market) fasthttp.RequestHandler { return rec.Wrap(smsman.NewSkinWith(m, opt)) })
	c, err := smsman.New(smsman.Options{BaseURL: h.Server.URL, Key: testKey, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, rec: rec, client: c}
}

func TestRequestsOnTheWire(t *testing.T) {
	f := newFixture(t, smsman.SkinOptions{}, -1)
	call := func(method string, q map[string]string) request {
		full := map[string]string{"token": testKey}
		for k, v := range q {
			full[k] = v
		}
		// The token travels in the query, never in a header.
		return request{Method: "GET", Path: "/control/" + method, Query: full}
	}
	expect := func(what string, want ...request) {
		t.Helper()
		var got []request
		for _, r := range f.rec.Take() {
			got = append(got, summary(r))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d requests %+v; want %+v", what, len(got), got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Method != w.Method || g.Path != w.Path || g.Auth != "" || !maps.Equal(g.Query, w.Query) {
				t.Fatalf("%s: request %d = %+v; want %+v", what, i, g, w)
			}
		}
	}

	if _, err := f.client.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	expect("balance", call("get-balance", nil))

	// The first purchase loads the catalogue, then buys with its ids
	// (us = 5, tg = 3 in the skin), then reads the price it does not tell.
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	expect("first buy",
		call("countries", nil), call("applications", nil),
		call("get-number", map[string]string{"country_id": "5", "application_id": "3"}),
		call("get-prices", map[string]string{"country_id": "5"}))

	// A cap goes as maxPrice with the account currency.
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "vk", MaxPrice: adapters.Money{Micros: 2_500_000, Currency: "RUB"}}); err != nil {
		t.Fatal(err)
	}
	expect("buy with cap: no catalogue call",
		call("get-number", map[string]string{"country_id": "1", "application_id": "1", "maxPrice": "2.5", "currency": "RUB"}),
		call("get-prices", map[string]string{"country_id": "1"}))

	if _, err := f.client.Check(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	expect("check", call("get-sms", map[string]string{"request_id": p.UpstreamID}))

	steps := []struct {
		name, status string
		do           func(id string) error
	}{
		{"ready", "ready", func(id string) error { return f.client.Ready(ctx, id) }},
		{"cancel", "reject", func(id string) error { return f.client.Cancel(ctx, id) }},
	}
	for _, s := range steps {
		if err := s.do(p.UpstreamID); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		expect(s.name, call("set-status", map[string]string{"request_id": p.UpstreamID, "status": s.status}))
	}
	p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	f.rec.Take()
	f.market.DeliverSMS(adapterstest.MarketID(t, p2.UpstreamID), "Telegram code 12345")
	if err := f.client.RequestAnother(ctx, p2.UpstreamID); err != nil {
		t.Fatal(err)
	}
	expect("another", call("set-status", map[string]string{"request_id": p2.UpstreamID, "status": "retrysms"}))
	if err := f.client.Finish(ctx, p2.UpstreamID); err != nil {
		t.Fatal(err)
	}
	expect("finish", call("set-status", map[string]string{"request_id": p2.UpstreamID, "status": "close"}))

	if _, err := f.client.Offers(ctx, "tg", "ru"); err != nil {
		t.Fatal(err)
	}
	expect("offers in a country", call("get-prices", map[string]string{"country_id": "1"}))
	if _, err := f.client.Offers(ctx, "tg", ""); err != nil {
		t.Fatal(err)
	}
	expect("offers everywhere", call("get-prices", nil))
	if _, err := f.client.Countries(ctx); err != nil {
		t.Fatal(err)
	}
	expect("countries come from the cached catalogue")

	for _, tc := range []struct {
		req  adapters.BuyRequest
		want error
	}{
		{adapters.BuyRequest{Country: "zz", Service: "tg"}, adapters.ErrBadCountry},                     // not a canonical country
		{adapters.BuyRequest{Country: "tz", Service: "tg"}, adapters.ErrBadCountry},                     // canonical, not listed by SMS-Man
		{adapters.BuyRequest{Country: "us", Service: "hx"}, adapters.ErrBadService},                     // canonical, not listed
		{adapters.BuyRequest{Country: "us", Service: "tg", Operator: "verizon"}, adapters.ErrNoNumbers}, // no operator choice
	} {
		if _, err := f.client.Buy(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Fatalf("buy %+v = %v; want %v", tc.req, err, tc.want)
		}
	}
	if _, err := f.client.Check(ctx, "1&token=x"); !errors.Is(err, adapters.ErrNoActivation) {
		t.Fatalf("check of a non-numeric id = %v; want ErrNoActivation", err)
	}
	expect("codes SMS-Man does not sell, bad ids")
}

// TestCatalogueOnce: the countries and applications lists are fetched once
// and serve every later purchase, offer and country list, even when the
// first purchases arrive together.
func TestCatalogueOnce(t *testing.T) {
	f := newFixture(t, smsman.SkinOptions{}, -1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.Offers(ctx, "tg", "gb"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.Countries(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, a, b := f.market.Calls("countries"), f.market.Calls("applications"), f.market.Calls("get-number"); n != 1 || a != 1 || b != 11 {
		t.Fatalf("countries %d, applications %d calls for %d purchases; want 1, 1, 11", n, a, b)
	}
}

// TestCodeMapping: canonical codes reach SMS-Man as its numeric ids, and
// its ids come back as canonical codes.
func TestCodeMapping(t *testing.T) {
	f := newFixture(t, smsman.SkinOptions{}, -1)
	f.market.SetStock("gb", "tg", 9)
	offers, err := f.client.Offers(ctx, "tg", "gb")
	if err != nil || len(offers) != 1 {
		t.Fatalf("offers = %+v, %v; want one", offers, err)
	}
	want := f.market.Offers("gb", "tg")[0]
	if o := offers[0]; o.Country != "gb" || o.Service != "tg" || o.Price.Micros != want.Price || o.Count != 9 || o.Price.Currency != "RUB" {
		t.Fatalf("offer %+v; want gb/tg %d RUB, 9", o, want.Price)
	}
	all, err := f.client.Offers(ctx, "", "")
	if err != nil || len(all) != len(f.market.Offers("", "")) {
		t.Fatalf("all offers: %d, %v; want %d", len(all), err, len(f.market.Offers("", "")))
	}
	countries, err := f.client.Countries(ctx)
	if err != nil || !slices.Equal(countries, f.market.Countries()) {
		t.Fatalf("countries = %v, %v; want %v", countries, err, f.market.Countries())
	}
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := f.market.Get(adapterstest.MarketID(t, p.UpstreamID))
	if o.Country != "gb" || o.Service != "tg" || !strings.HasPrefix(p.Phone, "44") || p.Price.Micros != o.Price {
		t.Fatalf("purchase %+v of market order %s/%s at %d; want gb/tg, +44, the market price", p, o.Country, o.Service, o.Price)
	}
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t, smsman.SkinOptions{}, 10*time.Second)
	bal0, err := f.client.Balance(ctx)
	if err != nil || bal0.Micros != 1000*adapters.Micro || bal0.Currency != "RUB" {
		t.Fatalf("balance = %v, %v; want 1000 RUB", bal0, err)
	}
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateWaiting {
		t.Fatalf("before the code %+v, %v; want waiting (wait_sms)", u, err)
	}
	if err := f.client.Ready(ctx, p.UpstreamID); err != nil {
		t.Fatalf("ready: %v", err)
	}
	if err := f.client.Finish(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("close without a code = %v; want ErrBadState", err)
	}
	f.clock.Advance(10 * time.Second)
	u, err := f.client.Check(ctx, p.UpstreamID)
	if err != nil || u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || len(u.SMS[0].Code) != 6 || u.SMS[0].Text != u.SMS[0].Code {
		t.Fatalf("after the delay %+v, %v; want one code, text = code", u, err)
	}
	first := u.SMS[0]
	f.clock.Advance(3 * time.Second)
	if u2, _ := f.client.Check(ctx, p.UpstreamID); !u2.SMS[0].ReceivedAt.Equal(first.ReceivedAt) {
		t.Fatalf("the same code seen again at %v; want its first sight %v", u2.SMS[0].ReceivedAt, first.ReceivedAt)
	}
	if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("reject with a code = %v; want ErrBadState", err)
	}
	if err := f.client.RequestAnother(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.client.Check(ctx, p.UpstreamID); u.State != adapters.StateWaiting {
		t.Fatalf("after retrysms %+v; want waiting for the next SMS", u)
	}
	f.clock.Advance(10 * time.Second)
	u, _ = f.client.Check(ctx, p.UpstreamID)
	if u.State != adapters.StateCodeReceived || u.SMS[0].Code == first.Code {
		t.Fatalf("second code %+v; want a new one", u)
	}
	if err := f.client.Finish(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State.Active() {
		t.Fatalf("after close %+v, %v; want the closed answer read as an end", u, err)
	}
	if err := f.client.Finish(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("close again = %v; want ErrBadState", err)
	}
	bal1, _ := f.client.Balance(ctx)
	if bal1.Micros != bal0.Micros-p.Price.Micros {
		t.Fatalf("balance %v after one finished order of %v; want %v charged", bal1, p.Price, bal0)
	}

	// Reject at once (no guard), "used" and expiry all refund.
	f2 := newFixture(t, smsman.SkinOptions{}, -1)
	bal2, _ := f2.client.Balance(ctx)
	p1, _ := f2.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	if err := f2.client.Cancel(ctx, p1.UpstreamID); err != nil {
		t.Fatalf("reject at once: %v", err)
	}
	p2, _ := f2.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	f2.market.Ban(adapterstest.MarketID(t, p2.UpstreamID)) // what set-status used does
	p3, _ := f2.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	f2.clock.Advance(20 * time.Minute)
	for _, p := range []adapters.Purchase{p1, p2, p3} {
		if u, err := f2.client.Check(ctx, p.UpstreamID); err != nil || u.State.Active() {
			t.Fatalf("closed request %s: %+v, %v; want an end", p.UpstreamID, u, err)
		}
	}
	if bal, _ := f2.client.Balance(ctx); bal != bal2 {
		t.Fatalf("balance %v; want all three refunded to %v", bal, bal2)
	}
}

func TestPriceCap(t *testing.T) {
	f := newFixture(t, smsman.SkinOptions{}, -1)
	price := f.market.Offers("us", "tg")[0].Price
	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg", MaxPrice: adapters.Money{Micros: price - 10_000, Currency: "RUB"}})
	var pf *adapters.PriceFloorError
	if !errors.As(err, &pf) || pf.Min.Micros != price || pf.Min.Currency != "RUB" {
		t.Fatalf("buy under the price = %v; want a price floor of %d", err, price)
	}
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg", MaxPrice: adapters.Money{Micros: price, Currency: "RUB"}})
	if err != nil || p.Price.Micros != price {
		t.Fatalf("buy at the price = %+v, %v", p, err)
	}
	f.market.SetStock("us", "tg", 0)
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg", MaxPrice: adapters.Money{Micros: price - 10_000}}); !errors.Is(err, adapters.ErrNoNumbers) || errors.Is(err, adapters.ErrPriceTooHigh) {
		t.Fatalf("buy with no stock under a cap = %v; want ErrNoNumbers", err)
	}
}

// TestReadings runs the client against each reading the skin can produce
// of the facts the protocols file leaves open.
func TestReadings(t *testing.T) {
	t.Run("no retrysms", func(t *testing.T) {
		f := newFixture(t, smsman.SkinOptions{NoRetrySMS: true}, -1)
		p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		f.market.DeliverSMS(adapterstest.MarketID(t, p.UpstreamID), "code 123456")
		if err := f.client.RequestAnother(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
			t.Fatalf("retrysms refused = %v; want ErrBadState", err)
		}
	})
	t.Run("prices as an array", func(t *testing.T) {
		f := newFixture(t, smsman.SkinOptions{PricesArray: true}, -1)
		f.market.SetStock("ru", "wa", 4)
		offers, err := f.client.Offers(ctx, "wa", "ru")
		if err != nil || len(offers) != 1 || offers[0].Count != 4 || offers[0].Price.Micros != f.market.Offers("ru", "wa")[0].Price {
			t.Fatalf("offers = %+v, %v", offers, err)
		}
		if p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "wa"}); err != nil || p.Price.Micros <= 0 {
			t.Fatalf("buy = %+v, %v; want the price from the array", p, err)
		}
	})
	t.Run("sms_text", func(t *testing.T) {
		f := newFixture(t, smsman.SkinOptions{SMSText: true}, -1)
		p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		f.market.DeliverSMS(adapterstest.MarketID(t, p.UpstreamID), "Telegram code 44556")
		u, err := f.client.Check(ctx, p.UpstreamID)
		if err != nil || len(u.SMS) != 1 || u.SMS[0].Code != "44556" || u.SMS[0].Text != "Telegram code 44556" {
			t.Fatalf("update %+v, %v; want code and full text", u, err)
		}
	})
	for _, code := range []string{"no_activation", "request_not_found", "wrong_request"} {
		t.Run("closed as "+code, func(t *testing.T) {
			f := newFixture(t, smsman.SkinOptions{ClosedCode: code}, -1)
			p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
			if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
				t.Fatal(err)
			}
			if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateCancelled {
				t.Fatalf("check = %+v, %v; want cancelled", u, err)
			}
			if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
				t.Fatalf("reject again = %v; want ErrBadState", err)
			}
		})
	}
}

func TestBuyErrorsFromTheSkin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fixture)
		want  error
	}{
		{"no_numbers", func(f *fixture) { f.market.SetStock("us", "tg", 0) }, adapters.ErrNoNumbers},
		{"balance", func(f *fixture) { f.market.SetBalance(0) }, adapters.ErrNoBalance},
		{"account banned", func(f *fixture) { f.market.SetBanned(f.clock.Now().Add(time.Hour)) }, adapters.ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, smsman.SkinOptions{}, -1)
			tc.setup(f)
			_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if !errors.Is(err, tc.want) || errors.Is(err, adapters.ErrOutcomeUnknown) {
				t.Fatalf("buy = %v; want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error %q shows the key", err)
			}
		})
	}
}

const (
	docCountries    = `{"1": {"id": "1", "title": "Russia", "code": "RU"}, "5": {"id": "5", "title": "USA", "code": "US"}, "7": {"id": "7", "title": "United Kingdom", "code": "UK"}, "9": {"id": "9", "title": "Germany", "code": ""}}`
	docApplications = `{"1": {"id": "1", "title": "VK", "code": "vk"}, "3": {"id": "3", "title": "Telegram", "code": "tg"}, "8": {"id": "8", "title": "WhatsApp", "code": "whatsapp"}}`
)

// newCanned is a fake SMS-Man answering by path, its catalogue in place.
func newCanned(t *testing.T) (*adapterstest.Script, *smsman.Client) {
	t.Helper()
	fake := adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string { return string(ctx.Path()) })
	fake.Reply("/control/countries", 200, docCountries)
	fake.Reply("/control/applications", 200, docApplications)
	fake.Reply("/control/get-prices", 200, `{"3": {"application_id": "3", "country_id": "1", "cost": "15.00", "count": 6455, "country": "Russia", "application": "Telegram"}}`)
	url := adapterstest.ServeHandler(t, fake.Handle)
	c, err := smsman.New(smsman.Options{BaseURL: url, Key: testKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

// TestCatalogueMatching: ISO codes map by code, "UK" by the alias file,
// a country without a code by its title, and an application whose code is
// not SMS-Activate's by its title.
func TestCatalogueMatching(t *testing.T) {
	fake, c := newCanned(t)
	countries, err := c.Countries(ctx)
	if err != nil || !slices.Equal(countries, []string{"de", "gb", "ru", "us"}) {
		t.Fatalf("countries = %v, %v; want de gb ru us", countries, err)
	}
	fake.Reply("/control/get-number", 200, `{"request_id": 1, "country_id": 7, "application_id": 8, "number": "447700900123"}`)
	fake.Reply("/control/get-prices", 200, `{"7":{"8":{"cost":"15","count":6455}}}`)
	p, err := c.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
	if err != nil || p.UpstreamID != "1" || p.Phone != "447700900123" || p.Price.Micros != 15*adapters.Micro {
		t.Fatalf("buy gb/wa = %+v, %v", p, err)
	}
}

// TestDocumentedAnswers: each documented answer becomes the canonical
// error or value the gateway branches on, whatever its HTTP status.
func TestDocumentedAnswers(t *testing.T) {
	buy := func(c *smsman.Client) error {
		_, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		return err
	}
	balance := func(c *smsman.Client) error { _, err := c.Balance(ctx); return err }
	cancel := func(c *smsman.Client) error { return c.Cancel(ctx, "1") }
	finish := func(c *smsman.Client) error { return c.Finish(ctx, "1") }
	offers := func(c *smsman.Client) error { _, err := c.Offers(ctx, "tg", "ru"); return err }
	for _, tc := range []struct {
		name    string
		call    func(c *smsman.Client) error
		path    string
		status  int
		body    string
		want    error
		unknown bool
	}{
		{"balance", balance, "get-balance", 200, `{"balance": "799.70"}`, nil, false},
		{"balance, newer fields", balance, "get-balance", 200, `{"balance":"799.70","hold":12.5,"channels":3,"active_channels":1,"rating":"5"}`, nil, false},
		{"wrong_token", balance, "get-balance", 200, `{"success": false, "error_code": "wrong_token", "error_msg": "Wrong token!"}`, adapters.ErrAuth, false},
		{"wrong_token, message object", balance, "get-balance", 401, `{"success":false,"error_code":"wrong_token","error_msg":{"token":"Wrong token!"}}`, adapters.ErrAuth, false},
		{"401 without body", balance, "get-balance", 401, ``, adapters.ErrAuth, false},
		{"balance unreadable", balance, "get-balance", 200, `{"balance":"lots"}`, adapters.ErrUnavailable, false},
		{"number", buy, "get-number", 200, `{"request_id": 1, "country_id": 1, "application_id": 3, "number": "79002415539"}`, nil, false},
		{"no_numbers", buy, "get-number", 200, `{"success":false,"error_code":"no_numbers","error_msg":"No Numbers, try again."}`, adapters.ErrNoNumbers, false},
		{"wrong_application_id 400", buy, "get-number", 400, `{"success":false,"error_code":"wrong_application_id","error_msg":"Wrong application ID!"}`, adapters.ErrBadService, false},
		// Variants public clients check for (the skin's: variants_test.go).
		{"no_free_phones", buy, "get-number", 200, `{"success":false,"error_code":"no_free_phones","error_msg":"No free phones"}`, adapters.ErrNoNumbers, false},
		{"no numbers in words, other code", buy, "get-number", 200, `{"success":false,"error_code":"numbers_not_found","error_msg":"No Numbers, try again"}`, adapters.ErrNoNumbers, false},
		{"no numbers in words, no code, 400", buy, "get-number", 400, `{"success":false,"error_msg":"No Numbers, try again"}`, adapters.ErrNoNumbers, false},
		{"wrong_service_id 400", buy, "get-number", 400, `{"success":false,"error_code":"wrong_service_id","error_msg":"Wrong service ID!"}`, adapters.ErrBadService, false},
		{"wrong_country_id", buy, "get-number", 400, `{"success":false,"error_code":"wrong_country_id","error_msg":"Wrong country ID!"}`, adapters.ErrBadCountry, false},
		{"balance message, unknown code", buy, "get-number", 200, `{"success":false,"error_code":"not_enough_money","error_msg":"The price is more than the balance. Need more funds, please charge your balance"}`, adapters.ErrNoBalance, false},
		{"balance message, no code", buy, "get-number", 200, `{"success":false,"error_msg":"The price is more than the balance. Need more funds, please charge your balance"}`, adapters.ErrNoBalance, false},
		{"unknown code", buy, "get-number", 200, `{"success":false,"error_code":"something_new","error_msg":"?"}`, adapters.ErrUnavailable, false},
		{"key echoed", buy, "get-number", 200, `{"success":false,"error_code":"` + testKey + `"}`, adapters.ErrUnavailable, false},
		{"number unreadable", buy, "get-number", 200, `{"request_id": 1, "number": null}`, adapters.ErrOutcomeUnknown, true},
		{"number truncated", buy, "get-number", 200, `{"request_id": 1, "numb`, adapters.ErrOutcomeUnknown, true},
		{"html", buy, "get-number", 200, simulator.GarbageBody, adapters.ErrUnavailable, false},
		{"502", buy, "get-number", 502, `{"success":false,"error_code":"no_numbers"}`, adapters.ErrUnavailable, false},
		{"429", buy, "get-number", 429, `Too Many Requests`, adapters.ErrUnavailable, false},
		{"set-status ok", cancel, "set-status", 200, `{"request_id": 1, "success": true}`, nil, false},
		{"set-status refused", cancel, "set-status", 200, `{"request_id": 1, "success": false}`, adapters.ErrBadState, false},
		{"set-status wrong_status", finish, "set-status", 200, `{"success":false,"error_code":"wrong_status","error_msg":"Wrong status!"}`, adapters.ErrBadState, false},
		{"set-status closed", cancel, "set-status", 200, `{"success":false,"error_code":"request_not_found","error_msg":"?"}`, adapters.ErrBadState, false},
		{"close while waiting", finish, "set-status", 200, `{"request_id":1,"error_code":"wait_sms","error_msg":"Still waiting..."}`, adapters.ErrBadState, false},
		{"reject too early (undocumented)", cancel, "set-status", 200, `{"success":false,"error_code":"cancel_denied","error_msg":"Please wait 2 minutes"}`, adapters.ErrEarlyCancel, false},
		{"set-status without success", cancel, "set-status", 200, `{"request_id": 1}`, adapters.ErrUnavailable, false},
		{"prices nested", offers, "get-prices", 200, `{"1":{"3":{"cost":"15","count":6455}}}`, nil, false},
		{"prices array", offers, "get-prices", 200, `[{"application_id":"3","country_id":"1","cost":"15.00","count":6455}]`, nil, false},
		{"prices garbage", offers, "get-prices", 200, `"prices"`, adapters.ErrUnavailable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, c := newCanned(t)
			fake.Reply("/control/"+tc.path, tc.status, tc.body)
			adapterstest.CheckErr(t, tc.call(c), tc.want, tc.unknown, testKey)
		})
	}
}

// TestSMSAnswers: every get-sms answer maps to one state.
func TestSMSAnswers(t *testing.T) {
	fake, c := newCanned(t)
	for _, tc := range []struct {
		body string
		want adapters.State
		code string
	}{
		{`{"request_id": 1, "error_code": "wait_sms", "error_msg": "Still waiting..."}`, adapters.StateWaiting, ""},
		{`{"request_id": 1, "country_id": 1, "application_id": 1, "number": "79002415539", "sms_code": "12345"}`, adapters.StateCodeReceived, "12345"},
		{`{"request_id": 1, "sms_code": 12345}`, adapters.StateCodeReceived, "12345"},
		{`{"request_id": 1, "sms_code": ""}`, adapters.StateWaiting, ""},
		{`{"success":false,"error_code":"no_activation","error_msg":"?"}`, adapters.StateCancelled, ""},
		{`{"success":false,"error_code":"request_not_found"}`, adapters.StateCancelled, ""},
		{`{"success":false,"error_code":"wrong_request"}`, adapters.StateCancelled, ""},
	} {
		fake.Reply("/control/get-sms", 200, tc.body)
		u, err := c.Check(ctx, "1")
		if err != nil || u.State != tc.want || (tc.code != "" && (len(u.SMS) != 1 || u.SMS[0].Code != tc.code)) || (tc.code == "" && len(u.SMS) != 0) {
			t.Fatalf("%s: %+v, %v; want %s %q", tc.body, u, err, tc.want, tc.code)
		}
	}
	fake.Reply("/control/get-sms", 200, `{"success":false,"error_code":"wrong_token","error_msg":"Wrong token!"}`)
	if _, err := c.Check(ctx, "1"); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("get-sms wrong_token = %v; want ErrAuth", err)
	}
	fake.Reply("/control/get-sms", 200, `{"request_id":1}`)
	if _, err := c.Check(ctx, "1"); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("get-sms without code or error = %v; want ErrUnavailable", err)
	}
}

// TestSkinAnswers pins the skin's bytes where the protocols file fixes them.
func TestSkinAnswers(t *testing.T) {
	clock := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := simulator.New(simulator.Config{Currency: "RUB", Clock: clock, Key: testKey, Balance: 799_700_000, CodeDelay: -1})
	srv, err := simulator.Serve(smsman.NewSkin(m))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		status, body, err := fasthttp.GetTimeout(nil, srv.URL+path, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body)
	}
	tok := "token=" + testKey
	m.SetStock("ru", "vk", 32302)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/control/get-balance?" + tok, 200, `{"balance":"799.70"}`},
		{"/control/get-balance?token=nope", 200, `{"success":false,"error_code":"wrong_token","error_msg":"Wrong token!"}`},
		{"/control/get-balance", 200, `{"success":false,"error_code":"wrong_token","error_msg":"Wrong token!"}`},
		{"/control/get-number?country_id=1&application_id=99999&" + tok, 400, `{"success":false,"error_code":"wrong_application_id","error_msg":"Wrong application ID!"}`},
		{"/control/get-sms?request_id=42&" + tok, 200, `{"success":false,"error_code":"no_activation","error_msg":"Request not found or closed"}`},
		{"/control/limits?country_id=1&application_id=1&" + tok, 200, `[{"application_id":"1","country_id":"1","numbers":"32302"}]`},
		{"/control/countries?" + tok, 200, `{"1":{"id":"1","title":"Russia","code":"RU"},`},
		{"/control/nosuch?" + tok, 404, `Not Found`},
	} {
		status, body := get(tc.path)
		if status != tc.status || !strings.HasPrefix(body, tc.body) || (!strings.HasSuffix(tc.body, ",") && body != tc.body) {
			t.Fatalf("GET %s = %d %s; want %d %s", tc.path, status, body, tc.status, tc.body)
		}
	}
	_, body := get("/control/get-number?country_id=1&application_id=1&" + tok)
	if !strings.HasPrefix(body, `{"request_id":`) || !strings.Contains(body, `,"country_id":1,"application_id":1,"number":"7`) || !strings.HasSuffix(body, `"}`) {
		t.Fatalf("get-number = %s", body)
	}
	id := strings.TrimPrefix(strings.Split(body, ",")[0], `{"request_id":`)
	if _, body := get("/control/get-sms?request_id=" + id + "&" + tok); body != `{"request_id":`+id+`,"error_code":"wait_sms","error_msg":"Still waiting..."}` {
		t.Fatalf("get-sms while waiting = %s", body)
	}
	if _, body := get("/control/set-status?request_id=" + id + "&status=reject&" + tok); body != `{"request_id":`+id+`,"success":true}` {
		t.Fatalf("set-status reject = %s", body)
	}
	// POST forms work too, as the docs allow.
	status, pbody, err := fasthttp.Post(nil, srv.URL+"/control/get-balance", postArgs("token", testKey))
	if err != nil || status != 200 || string(pbody) != `{"balance":"799.70"}` {
		t.Fatalf("POST get-balance = %d %s, %v", status, pbody, err)
	}
}

func postArgs(kv ...string) *fasthttp.Args {
	a := &fasthttp.Args{}
	for i := 0; i+1 < len(kv); i += 2 {
		a.Add(kv[i], kv[i+1])
	}
	return a
}
