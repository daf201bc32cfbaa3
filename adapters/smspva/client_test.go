package smspva_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/smspva"
)

const testKey = "pva-test-key-7f3a9c"

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	rec    *adapterstest.Recorder
	url    string
	client *smspva.Client
}

// newFixture serves a market through the skin (behind a recorder) on
// loopback and points a client at it, the way the gateway is wired.
func newFixture(t *testing.T, mc simulator.Config, o smspva.SkinOptions) *fixture {
	t.Helper()
	mc.Key, mc.Lifetime = testKey, smspva.Lifetime
	if mc.CodeDelay == 0 {
		mc.CodeDelay = 5 * time.Second
	}
	rec := &adapterstest.Recorder{}
	h := adapterstest.Serve(t, mc, func(m *simulator.Market) fasthttp.RequestHandler { return rec.Wrap(smspva.NewSkinWith(m, o)) })
	c, err := smspva.New(smspva.Options{BaseURL: h.Server.URL, Key: testKey, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, rec: rec, url: h.Server.URL, client: c}
}

func (f *fixture) order(t *testing.T, upstreamID string) simulator.Order {
	t.Helper()
	o, err := f.market.Get(adapterstest.MarketID(t, upstreamID))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// wantWire asserts the exact requests sent: method and path, no query
// string, no body, and the key only in the apikey header.
func wantWire(t *testing.T, got []adapterstest.Request, want ...string) {
	t.Helper()
	var lines []string
	for _, r := range got {
		lines = append(lines, r.Method+" "+r.Path)
		if r.RawQuery != "" || r.Body != "" {
			t.Errorf("%s %s: query %q body %q; want neither", r.Method, r.Path, r.RawQuery, r.Body)
		}
		if k := r.Header.Get("apikey"); k != testKey {
			t.Errorf("%s %s: apikey header %q; want the key", r.Method, r.Path, k)
		}
		if n := strings.Count(r.RawHeader, testKey); n != 1 {
			t.Errorf("%s %s: the key appears %d times in the headers; want once", r.Method, r.Path, n)
		}
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("requests:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestWireRequests(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()

	if _, err := f.client.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/balance")

	// gb is "UK" on the wire; tg is opt29.
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/serviceprice/UK/opt29", "GET /activation/number/UK/opt29")

	if _, err := f.client.Check(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/sms/"+p.UpstreamID)

	f.clock.Advance(5 * time.Second)
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateCodeReceived {
		t.Fatalf("check after the delay = %+v, %v", u, err)
	}
	if err := f.client.RequestAnother(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Ready(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	// No finish call exists: Finish and the checks after it stay local.
	if err := f.client.Finish(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateFinished {
		t.Fatalf("check after finish = %+v, %v; want finished", u, err)
	}
	wantWire(t, f.rec.Take())

	p2, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client.Cancel(ctx, p2.UpstreamID); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/serviceprice/US/opt20", "GET /activation/number/US/opt20",
		"PUT /activation/cancelorder/"+p2.UpstreamID)

	p3, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5 * time.Second)
	f.client.Check(ctx, p3.UpstreamID)
	f.rec.Take()
	if err := f.client.RequestAnother(ctx, p3.UpstreamID); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "PUT /activation/clearsms/"+p3.UpstreamID)

	if _, err := f.client.Offers(ctx, "tg", "us"); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/countnumbers/US", "GET /activation/serviceprice/US/opt29")

	if _, err := f.client.Karma(ctx); err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/userinfo")
}

// SMS-PVA sends national numbers; a Purchase carries international digits.
func TestNationalNumberBecomesInternational(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	for _, iso := range []string{"gb", "us", "ru", "kz", "de", "ca"} {
		t.Run(iso, func(t *testing.T) {
			p, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: iso, Service: "tg"})
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.rec.Take()
			var ans struct {
				Data struct {
					PhoneNumber json.Number `json:"phoneNumber"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(reqs[len(reqs)-1].Answer), &ans); err != nil {
				t.Fatal(err)
			}
			ctry, _ := catalog.CountryByISO(iso)
			national := ans.Data.PhoneNumber.String()
			full := f.order(t, p.UpstreamID).Phone
			if full != ctry.Dial+national {
				t.Fatalf("wire number %s; want the market's %s without calling code %s", national, full, ctry.Dial)
			}
			if p.Phone != full {
				t.Fatalf("phone %s; want %s", p.Phone, full)
			}
		})
	}
}

func TestCodeMaps(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	countries, _ := f.client.Countries(ctx)
	if !slices.Contains(countries, "gb") || slices.Contains(countries, "uk") || slices.Contains(countries, "cn") {
		t.Fatalf("countries %v: want gb (UK on the wire), no uk, no cn", countries)
	}
	for _, tc := range []struct{ service, opt string }{
		{"tg", "opt29"}, {"wa", "opt20"}, {"go", "opt1"}, {"lf", "opt104"}, {"acz", "opt196"}, {"ot", "opt19"},
	} {
		if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: tc.service}); err != nil {
			t.Fatalf("buy %s: %v", tc.service, err)
		}
		if got := f.rec.Take(); got[1].Path != "/activation/number/US/"+tc.opt {
			t.Fatalf("buy %s went to %s; want …/%s", tc.service, got[1].Path, tc.opt)
		}
	}
	// Not on SMS-PVA: refused before any request.
	for _, tc := range []struct {
		r    adapters.BuyRequest
		want error
	}{
		{adapters.BuyRequest{Country: "cn", Service: "tg"}, adapters.ErrBadCountry},
		{adapters.BuyRequest{Country: "us", Service: "dh"}, adapters.ErrBadService}, // eBay shares opt83 with PayPal
		{adapters.BuyRequest{Country: "us", Service: "zz"}, adapters.ErrBadService},
		{adapters.BuyRequest{Country: "us", Service: "tg", Operator: "verizon"}, adapters.ErrNoNumbers},
	} {
		if _, err := f.client.Buy(ctx, tc.r); !errors.Is(err, tc.want) {
			t.Fatalf("buy %+v = %v; want %v", tc.r, err, tc.want)
		}
		wantWire(t, f.rec.Take())
	}
}

// An order closes itself 10 minutes after purchase and then answers 410,
// even when it had a code: Check reports a terminal state, never an error.
func TestOrderClosesItselfAfterTenMinutes(t *testing.T) {
	ctx := context.Background()
	t.Run("after a code", func(t *testing.T) {
		f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
		p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		if left := time.Until(p.ExpiresAt); left < 9*time.Minute || left > smspva.Lifetime {
			t.Fatalf("expires in %v; want orderExpireIn, 10 minutes", left)
		}
		f.clock.Advance(5 * time.Second)
		u, err := f.client.Check(ctx, p.UpstreamID)
		if err != nil || u.State != adapters.StateCodeReceived {
			t.Fatalf("check = %+v, %v", u, err)
		}
		code := u.SMS[0].Code
		f.clock.Advance(smspva.Lifetime)
		f.rec.Take()
		u, err = f.client.Check(ctx, p.UpstreamID)
		if err != nil || u.State != adapters.StateFinished || len(u.SMS) != 1 || u.SMS[0].Code != code {
			t.Fatalf("check after 10m = %+v, %v; want finished with code %s", u, err, code)
		}
		if r := f.rec.Take(); len(r) != 1 || r[0].Status != 410 || !strings.Contains(r[0].Answer, `"statusCode":410`) {
			t.Fatalf("wire = %+v; want one 410", r)
		}
		// Closed for good: no more requests.
		if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateFinished {
			t.Fatalf("second check = %+v, %v", u, err)
		}
		wantWire(t, f.rec.Take())
	})
	t.Run("without a code", func(t *testing.T) {
		f := newFixture(t, simulator.Config{CodeDelay: -1}, smspva.SkinOptions{})
		bal0 := f.market.Balance()
		p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		f.clock.Advance(smspva.Lifetime)
		u, err := f.client.Check(ctx, p.UpstreamID)
		if err != nil || u.State != adapters.StateExpired || len(u.SMS) != 0 {
			t.Fatalf("check after 10m = %+v, %v; want expired", u, err)
		}
		if f.market.Balance() != bal0 {
			t.Fatal("an order that closed without an SMS was charged")
		}
	})
	t.Run("another client (restart) after a code", func(t *testing.T) {
		// The memory is per process: a client that never saw the code
		// reports expired; the gateway's ledger, which has the code, turns
		// that into finished.
		f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
		p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		f.clock.Advance(5 * time.Second)
		f.client.Check(ctx, p.UpstreamID)
		f.clock.Advance(smspva.Lifetime)
		fresh, err := smspva.New(smspva.Options{BaseURL: f.url, Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if u, err := fresh.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateExpired {
			t.Fatalf("check by a fresh client = %+v, %v; want expired", u, err)
		}
	})
}

// There is no max price in the protocol: the offer's price is read first
// and a purchase above MaxPrice never reaches /number.
func TestMaxPriceFiltersOnTheOffer(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	price := f.market.Offers("us", "tg")[0].Price
	bal0 := f.market.Balance()

	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg", MaxPrice: adapters.Money{Micros: price - 1, Currency: "USD"}})
	var pf *adapters.PriceFloorError
	if !errors.As(err, &pf) || !errors.Is(err, adapters.ErrPriceTooHigh) || pf.Min != (adapters.Money{Micros: price, Currency: "USD"}) {
		t.Fatalf("buy under the price = %v; want a price floor of %d USD", err, price)
	}
	wantWire(t, f.rec.Take(), "GET /activation/serviceprice/US/opt29")
	if f.market.Balance() != bal0 {
		t.Fatal("a refused purchase was charged")
	}

	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg", MaxPrice: adapters.Money{Micros: price, Currency: "USD"}})
	if err != nil || p.Price.Micros != price || p.Price.Currency != "USD" {
		t.Fatalf("buy at the price = %+v, %v", p, err)
	}
	if f.market.Balance() != bal0-price {
		t.Fatalf("charged %d; reported %d", bal0-f.market.Balance(), price)
	}
}

// clearsms is "another SMS": the old code stays known while the next one
// is awaited; a code that is shown again is not a new one.
func TestAnotherSMS(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	if err := f.client.RequestAnother(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("another before a code = %v; want ErrBadState (404)", err)
	}
	f.clock.Advance(5 * time.Second)
	u, _ := f.client.Check(ctx, p.UpstreamID)
	first := u.SMS[0]
	if u2, _ := f.client.Check(ctx, p.UpstreamID); len(u2.SMS) != 1 || u2.SMS[0] != first {
		t.Fatalf("same SMS polled twice = %+v; want it once, same time", u2)
	}
	if err := f.client.RequestAnother(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.client.Check(ctx, p.UpstreamID); u.State != adapters.StateRetryWaiting || len(u.SMS) != 1 {
		t.Fatalf("after clearsms = %+v; want retry_waiting with the first code", u)
	}
	if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("cancel after a code = %v; want ErrBadState (405)", err)
	}
	f.clock.Advance(5 * time.Second)
	u, _ = f.client.Check(ctx, p.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) != 2 || u.SMS[1].Code == first.Code {
		t.Fatalf("second code = %+v", u)
	}
}

// Low karma is SMS-PVA's account block (411): ErrAuth, while the balance
// stays readable.
func TestKarmaBlock(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	f.market.SetBanned(f.clock.Now().Add(10 * time.Minute))
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"}); !errors.Is(err, adapters.ErrAuth) || !strings.Contains(err.Error(), "karma") {
		t.Fatalf("buy while blocked = %v; want ErrAuth naming karma", err)
	}
	if _, err := f.client.Check(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("check while blocked = %v; want ErrAuth", err)
	}
	if _, err := f.client.Balance(ctx); err != nil {
		t.Fatalf("balance while blocked: %v", err)
	}
	if k, err := f.client.Karma(ctx); err != nil || k >= 0 {
		t.Fatalf("karma while blocked = %v, %v; want negative", k, err)
	}
}

// The skin can answer the uncertain facts either way; the client reads both.
func TestSkinReadings(t *testing.T) {
	readings := map[string]smspva.SkinOptions{
		"default":        {},
		"status in body": {StatusInBody: true},
		"phone string":   {PhoneAsString: true},
		"auth text":      {AuthText: true},
	}
	for name, o := range readings {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, simulator.Config{}, o)
			ctx := context.Background()
			p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
			if err != nil || p.Phone != f.order(t, p.UpstreamID).Phone {
				t.Fatalf("buy = %+v, %v", p, err)
			}
			if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateWaiting {
				t.Fatalf("check = %+v, %v", u, err)
			}
			if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
				t.Fatal(err)
			}
			if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrNoActivation) {
				t.Fatalf("second cancel = %v; want ErrNoActivation (406)", err)
			}
			bad, _ := smspva.New(smspva.Options{BaseURL: f.url, Key: "wrong-key-zz"})
			if _, err := bad.Balance(ctx); !errors.Is(err, adapters.ErrAuth) || strings.Contains(err.Error(), "wrong-key-zz") {
				t.Fatalf("bad key = %v; want ErrAuth without the key", err)
			}
			if f.client.Code() != "smspva" {
				t.Fatalf("code %q", f.client.Code())
			}
		})
	}
}

// cannedServer answers path prefix with (status, body); every other path
// gets a plausible success, so one answer can be tested inside a flow.
func cannedServer(t *testing.T, prefix string, status int, body string) *smspva.Client {
	t.Helper()
	h := func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		ctx.SetContentType("application/json")
		switch {
		case strings.HasPrefix(path, prefix):
			ctx.SetStatusCode(status)
			ctx.SetBodyString(body)
		case strings.HasPrefix(path, "/activation/serviceprice/"):
			ctx.SetBodyString(`{"statusCode":200,"data":{"service":"opt29","serviceDescription":"Telegram","price":0.5}}`)
		case strings.HasPrefix(path, "/activation/number/"):
			ctx.SetBodyString(`{"statusCode":200,"data":{"orderId":123456,"phoneNumber":7700900123,"countryCode":"UK","orderExpireIn":600}}`)
		case strings.HasPrefix(path, "/activation/countnumbers/"):
			ctx.SetBodyString(`{"statusCode":200,"data":[]}`)
		default:
			ctx.SetBodyString(`{"statusCode":200,"data":{"orderId":123456}}`)
		}
	}
	url := adapterstest.ServeHandler(t, h)
	c, err := smspva.New(smspva.Options{BaseURL: url, Key: testKey, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAnswerMapping holds every documented answer (and the usual garbage)
// to its canonical meaning, per endpoint.
func TestAnswerMapping(t *testing.T) {
	const (
		balance = "/activation/balance"
		number  = "/activation/number/"
		price   = "/activation/serviceprice/"
		sms     = "/activation/sms/"
		cancel  = "/activation/cancelorder/"
		clear   = "/activation/clearsms/"
		block   = "/activation/blocknumber/"
		counts  = "/activation/countnumbers/"
	)
	env := func(code int) string {
		return `{"statusCode":` + strconv.Itoa(code) + `,"error":{"type":"x","description":"y"}}`
	}
	cases := []struct {
		name   string
		path   string // which call gets the canned answer
		status int    // HTTP status
		body   string
		// want is the error (nil: success); state is the check's state.
		want  error
		state adapters.State
		// exact: a value the success must carry (balance micros, code, count).
		exact string
	}{
		// Balance, and the shapes every endpoint shares.
		{name: "balance number", path: balance, status: 200, body: `{"statusCode":200,"data":{"balance":10.5}}`, exact: "10500000"},
		{name: "balance string", path: balance, status: 200, body: `{"statusCode":200,"data":{"balance":"385.00"}}`, exact: "385000000"},
		{name: "statusCode as a string", path: balance, status: 200, body: `{"statusCode":"200","data":{"balance":1}}`, exact: "1000000"},
		{name: "status only in the body", path: balance, status: 200, body: env(503), want: adapters.ErrUnavailable},
		{name: "401 envelope", path: balance, status: 401, body: env(401), want: adapters.ErrAuth},
		{name: "401 without envelope", path: balance, status: 401, body: `Unauthorized`, want: adapters.ErrAuth},
		{name: "v1 bad key text", path: balance, status: 200, body: `API KEY NOT FOUND!`, want: adapters.ErrAuth},
		{name: "v1 no key text", path: balance, status: 200, body: `API KEY не получен!`, want: adapters.ErrAuth},
		{name: "v1 banned", path: balance, status: 200, body: `BANNED`, want: adapters.ErrAuth},
		{name: "karma or rate limit", path: balance, status: 411, body: env(411), want: adapters.ErrAuth},
		{name: "overload", path: balance, status: 503, body: env(503), want: adapters.ErrUnavailable},
		{name: "cdn page", path: balance, status: 502, body: `<html><body>502 Bad Gateway</body></html>`, want: adapters.ErrUnavailable},
		{name: "429 text", path: balance, status: 429, body: `Too Many Requests`, want: adapters.ErrUnavailable},
		{name: "garbage 200", path: balance, status: 200, body: `ok`, want: adapters.ErrUnavailable},
		{name: "empty 200", path: balance, status: 200, body: ``, want: adapters.ErrUnavailable},
		{name: "no data", path: balance, status: 200, body: `{"statusCode":200}`, want: adapters.ErrUnavailable},
		{name: "unknown code", path: balance, status: 418, body: env(418), want: adapters.ErrUnavailable},

		// GET number (after a good serviceprice).
		{name: "number ok", path: number, status: 200, body: `{"statusCode":200,"data":{"orderId":"123456","phoneNumber":"7700900123","countryCode":"UK","orderExpireIn":600}}`, exact: "447700900123"},
		{name: "number already international", path: number, status: 200, body: `{"statusCode":200,"data":{"orderId":1,"phoneNumber":"+447700900123","countryCode":"UK"}}`, exact: "447700900123"},
		{name: "number 405", path: number, status: 405, body: env(405), want: adapters.ErrBadService},
		{name: "number 407", path: number, status: 407, body: env(407), want: adapters.ErrNoBalance},
		{name: "number 411", path: number, status: 411, body: env(411), want: adapters.ErrAuth},
		{name: "number 500", path: number, status: 500, body: env(500), want: adapters.ErrUnavailable},
		{name: "number 501", path: number, status: 501, body: env(501), want: adapters.ErrNoNumbers},
		{name: "number 502", path: number, status: 502, body: env(502), want: adapters.ErrNoNumbers},
		{name: "number 503", path: number, status: 503, body: env(503), want: adapters.ErrUnavailable},
		{name: "number v1 no money", path: number, status: 200, body: `Недостаточно средств!`, want: adapters.ErrNoBalance},
		{name: "number without id", path: number, status: 200, body: `{"statusCode":200,"data":{"phoneNumber":7700900123}}`, want: adapters.ErrOutcomeUnknown},
		{name: "number unreadable 200", path: number, status: 200, body: `{"statusCode":200,"data":`, want: adapters.ErrOutcomeUnknown},
		{name: "number unknown 2xx", path: number, status: 201, body: env(201), want: adapters.ErrOutcomeUnknown},
		{name: "price 405", path: price, status: 405, body: env(405), want: adapters.ErrBadService},
		{name: "price unreadable", path: price, status: 200, body: `{"statusCode":200,"data":{"price":"n/a"}}`, want: adapters.ErrUnavailable},

		// GET sms.
		{name: "sms code", path: sms, status: 200, body: `{"statusCode":200,"data":{"sms":{"code":"48213","fullText":"Telegram code 48213"},"orderId":"123456","orderExpireIn":412}}`, state: adapters.StateCodeReceived, exact: "48213|Telegram code 48213"},
		{name: "sms numeric code, other text key", path: sms, status: 200, body: `{"statusCode":200,"data":{"sms":{"code":48213,"text":"code 48213"}}}`, state: adapters.StateCodeReceived, exact: "48213|code 48213"},
		{name: "sms as text", path: sms, status: 200, body: `{"statusCode":200,"data":{"sms":"Your code is 7731"}}`, state: adapters.StateCodeReceived, exact: "7731|Your code is 7731"},
		{name: "sms empty object", path: sms, status: 200, body: `{"statusCode":200,"data":{"sms":{},"orderId":"123456","orderExpireIn":600}}`, state: adapters.StateWaiting},
		{name: "sms 202", path: sms, status: 202, body: `{"statusCode":202,"error":{"type":"...","description":"SMS not yet received"}}`, state: adapters.StateWaiting},
		{name: "sms 407 held for payment", path: sms, status: 407, body: env(407), state: adapters.StateWaiting},
		{name: "sms 410 closed", path: sms, status: 410, body: env(410), state: adapters.StateExpired},
		{name: "sms 405", path: sms, status: 405, body: env(405), want: adapters.ErrNoActivation},
		{name: "sms 406", path: sms, status: 406, body: env(406), want: adapters.ErrNoActivation},
		{name: "sms 411", path: sms, status: 411, body: env(411), want: adapters.ErrAuth},
		{name: "sms 500", path: sms, status: 500, body: env(500), want: adapters.ErrUnavailable},
		{name: "sms 501", path: sms, status: 501, body: env(501), want: adapters.ErrUnavailable},
		{name: "sms 503", path: sms, status: 503, body: env(503), want: adapters.ErrUnavailable},
		{name: "sms garbage", path: sms, status: 200, body: `STATUS_OK:1234`, want: adapters.ErrUnavailable},

		// PUT cancelorder.
		{name: "cancel ok", path: cancel, status: 200, body: `{"statusCode":200,"data":{"orderId":123456}}`},
		{name: "cancel 405", path: cancel, status: 405, body: env(405), want: adapters.ErrBadState},
		{name: "cancel 406", path: cancel, status: 406, body: env(406), want: adapters.ErrNoActivation},
		{name: "cancel 410", path: cancel, status: 410, body: env(410), want: adapters.ErrBadState},
		{name: "cancel 411", path: cancel, status: 411, body: env(411), want: adapters.ErrAuth},
		{name: "cancel 501", path: cancel, status: 501, body: env(501), want: adapters.ErrUnavailable},
		{name: "cancel 503", path: cancel, status: 503, body: env(503), want: adapters.ErrUnavailable},
		{name: "cancel unreadable 200", path: cancel, status: 200, body: `done`, want: adapters.ErrOutcomeUnknown},

		// PUT blocknumber (the unified "ban"): the same errors as cancel.
		{name: "block ok", path: block, status: 200, body: `{"statusCode":200,"data":{"orderId":123456}}`},
		{name: "block 405", path: block, status: 405, body: env(405), want: adapters.ErrBadState},
		{name: "block 406", path: block, status: 406, body: env(406), want: adapters.ErrNoActivation},
		{name: "block 410", path: block, status: 410, body: env(410), want: adapters.ErrBadState},
		{name: "block 411", path: block, status: 411, body: env(411), want: adapters.ErrAuth},
		{name: "block 501", path: block, status: 501, body: env(501), want: adapters.ErrUnavailable},
		{name: "block 503", path: block, status: 503, body: env(503), want: adapters.ErrUnavailable},
		{name: "block status only in the body", path: block, status: 200, body: env(406), want: adapters.ErrNoActivation},
		{name: "block unreadable 200", path: block, status: 200, body: `done`, want: adapters.ErrOutcomeUnknown},

		// PUT clearsms.
		{name: "clearsms ok", path: clear, status: 200, body: `{"statusCode":200,"data":{"orderId":123456,"orderExpireIn":599}}`},
		{name: "clearsms 404", path: clear, status: 404, body: env(404), want: adapters.ErrBadState},
		{name: "clearsms 503 means no SMS", path: clear, status: 503, body: env(503), want: adapters.ErrBadState},
		{name: "clearsms 406", path: clear, status: 406, body: env(406), want: adapters.ErrNoActivation},
		{name: "clearsms 501", path: clear, status: 501, body: env(501), want: adapters.ErrUnavailable},

		// GET countnumbers, in the shapes clients have met.
		{name: "counts per operator", path: counts, status: 200, body: `{"statusCode":200,"data":[{"operator":"att","country":"US","services":[{"service":"opt29","total":3}]},{"operator":"tmobile","country":"US","services":[{"service":"opt29","total":9}]}]}`, exact: "12"},
		{name: "counts flat items", path: counts, status: 200, body: `{"statusCode":200,"data":[{"service":"opt29","count":"7"}]}`, exact: "7"},
		{name: "counts capitalised", path: counts, status: 200, body: `{"statusCode":200,"data":[{"Country":"US","Services":[{"Service":"opt29","Total":5}]}]}`, exact: "5"},
		{name: "counts 405", path: counts, status: 405, body: env(405), want: adapters.ErrBadCountry},
		{name: "counts not an array", path: counts, status: 200, body: `{"statusCode":200,"data":{"US":1}}`, want: adapters.ErrUnavailable},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cannedServer(t, tc.path, tc.status, tc.body)
			var (
				err error
				got string
			)
			switch tc.path {
			case balance:
				var m adapters.Money
				m, err = c.Balance(ctx)
				got = strconv.FormatInt(m.Micros, 10)
			case number, price:
				var p adapters.Purchase
				p, err = c.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
				got = p.Phone
			case sms:
				var u adapters.Update
				u, err = c.Check(ctx, "123456")
				if err == nil && u.State != tc.state {
					t.Fatalf("state %s; want %s", u.State, tc.state)
				}
				if len(u.SMS) > 0 {
					got = u.SMS[0].Code + "|" + u.SMS[0].Text
				}
			case cancel:
				err = c.Cancel(ctx, "123456")
			case clear:
				err = c.RequestAnother(ctx, "123456")
			case block:
				err = c.Ban(ctx, "123456")
			case counts:
				var o []adapters.Offer
				o, err = c.Offers(ctx, "tg", "us")
				if len(o) == 1 {
					got = strconv.Itoa(o[0].Count)
				}
			}
			if tc.want == nil && err != nil {
				t.Fatalf("err = %v; want success", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
			if tc.want != nil && !errors.Is(tc.want, adapters.ErrOutcomeUnknown) && errors.Is(err, adapters.ErrOutcomeUnknown) {
				t.Fatalf("err = %v; the answer arrived, the outcome is known", err)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Fatalf("error %q shows the key", err)
			}
			if tc.exact != "" && got != tc.exact {
				t.Fatalf("got %q; want %q", got, tc.exact)
			}
		})
	}
}

func TestMalformedIDsNeverSent(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	for _, id := range []string{"", "abc", "12/../balance", "-1", "1.5", "99999999999999999999"} {
		if _, err := f.client.Check(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("check %q = %v; want ErrNoActivation", id, err)
		}
		if err := f.client.Cancel(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("cancel %q = %v; want ErrNoActivation", id, err)
		}
		if err := f.client.Finish(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("finish %q = %v; want ErrNoActivation", id, err)
		}
		if err := f.client.Ban(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("ban %q = %v; want ErrNoActivation", id, err)
		}
	}
	wantWire(t, f.rec.Take())
	if _, err := f.client.Check(ctx, "424242"); !errors.Is(err, adapters.ErrNoActivation) {
		t.Fatalf("check of an unknown order = %v; want ErrNoActivation (406)", err)
	}
}

func TestOffers(t *testing.T) {
	f := newFixture(t, simulator.Config{}, smspva.SkinOptions{})
	ctx := context.Background()
	f.market.SetStock("gb", "wa", 17)
	all, err := f.client.Offers(ctx, "", "gb")
	if err != nil {
		t.Fatal(err)
	}
	want := f.market.Offers("gb", "")
	if len(all) != len(want) {
		t.Fatalf("%d offers; want %d", len(all), len(want))
	}
	for _, o := range all {
		if o.Country != "gb" {
			t.Fatalf("offer %+v: want country gb", o)
		}
		if o.Service == "wa" && (o.Count != 17 || o.Price.Micros != f.market.Offers("gb", "wa")[0].Price) {
			t.Fatalf("wa offer %+v", o)
		}
	}
	if o, err := f.client.Offers(ctx, "tg", "cn"); err != nil || len(o) != 0 {
		t.Fatalf("offers in a country not sold = %v, %v; want none", o, err)
	}
	if _, err := f.client.Offers(ctx, "tg", ""); !errors.Is(err, adapters.ErrBadCountry) {
		t.Fatalf("offers without a country = %v; want ErrBadCountry", err)
	}
}

// Open orders are listed with the ids, numbers and codes a purchase gave,
// so the gateway can find a purchase whose answer was lost.
func TestActiveOrders(t *testing.T) {
	f := newFixture(t, simulator.Config{CodeDelay: -1}, smspva.SkinOptions{})
	ctx := context.Background()
	p1, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa"})
	p3, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "de", Service: "go"})
	if err := f.client.Cancel(ctx, p3.UpstreamID); err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	list, err := f.client.ActiveOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), "GET /activation/orders")
	want := []adapters.ActiveOrder{
		{UpstreamID: p1.UpstreamID, Phone: p1.Phone, Country: "us", Service: "tg"},
		{UpstreamID: p2.UpstreamID, Phone: p2.Phone, Country: "gb", Service: "wa"},
	}
	if !slices.Equal(list, want) {
		t.Fatalf("active = %+v; want %+v", list, want)
	}
}
