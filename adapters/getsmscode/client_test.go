package getsmscode_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/getsmscode"
	"smsgate/adapters/simulator"
)

const (
	testUser  = "someone@example.com"
	testToken = "gsc-test-token-5d21e8"
)

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	rec    *adapterstest.Recorder
	url    string
	client *getsmscode.Client
}

func newFixture(t *testing.T, mc simulator.Config, o getsmscode.SkinOptions) *fixture {
	t.Helper()
	mc.Key, mc.Lifetime = testToken, 10*time.Minute
	if mc.CodeDelay == 0 {
		mc.CodeDelay = 5 * time.Second
	}
	rec := &adapterstest.Recorder{}
	h := adapterstest.Serve(t, mc, func(m *simulator.Market) fasthttp.RequestHandler { return rec.Wrap(getsmscode.NewSkinWith(m, o)) })
	c, err := getsmscode.New(getsmscode.Options{BaseURL: h.Server.URL, User: testUser, Key: testToken, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, rec: rec, url: h.Server.URL, client: c}
}

// call is an expected request: script and exact query arguments.
type call struct {
	path string
	args map[string]string
}

// authed adds the credentials every script call carries.
func authed(path string, args map[string]string) call {
	a := maps.Clone(args)
	a["username"], a["token"] = testUser, testToken
	return call{path, a}
}

func wantWire(t *testing.T, got []adapterstest.Request, want ...call) {
	t.Helper()
	if len(got) != len(want) {
		var paths []string
		for _, r := range got {
			paths = append(paths, r.Method+" "+r.Path+" "+strings.Join(slices.Sorted(maps.Keys(r.Query)), ","))
		}
		t.Fatalf("%d requests %v; want %d", len(got), paths, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Method != "GET" || g.Path != w.path || !maps.Equal(g.Query, w.args) || g.Body != "" {
			t.Fatalf("request %d = %s %s %v body %q; want GET %s %v", i, g.Method, g.Path, g.Query, g.Body, w.path, w.args)
		}
	}
}

// The pool decides the script: do.php for China, usdo.php for the USA,
// vndo.php with cocode (uk, not gb) for the rest. The price list is read
// first, without credentials.
func TestRegionEndpoints(t *testing.T) {
	cases := []struct {
		country, service string
		pid, region      string
		script           string
		cocode           string
	}{
		{"cn", "tg", "10", "cn", "/do.php", ""},
		{"us", "tg", "10", "us", "/usdo.php", ""},
		{"my", "ig", "8", "my", "/vndo.php", "my"},
		{"gb", "wa", "3", "uk", "/vndo.php", "uk"},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.country, func(t *testing.T) {
			f := newFixture(t, simulator.Config{}, getsmscode.SkinOptions{})
			p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: tc.country, Service: tc.service})
			if err != nil {
				t.Fatal(err)
			}
			withPool := func(args map[string]string) map[string]string {
				if tc.cocode != "" {
					args["cocode"] = tc.cocode
				}
				return args
			}
			wantWire(t, f.rec.Take(),
				call{"/projectapi.php", map[string]string{"pid": tc.pid}},
				authed(tc.script, withPool(map[string]string{"action": "getmobile", "pid": tc.pid})))

			// The UpstreamID carries all a later call needs.
			if want := tc.pid + ":" + p.Phone + ":" + tc.region; p.UpstreamID != want {
				t.Fatalf("upstream id %q; want %q", p.UpstreamID, want)
			}
			held := withPool(map[string]string{"pid": tc.pid, "mobile": p.Phone})
			withAction := func(a string) map[string]string {
				m := maps.Clone(held)
				m["action"] = a
				return m
			}
			if _, err := f.client.Check(ctx, p.UpstreamID); err != nil {
				t.Fatal(err)
			}
			wantWire(t, f.rec.Take(), authed(tc.script, withAction("getsms")))
			f.clock.Advance(10 * time.Second)
			if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
				t.Fatalf("cancel after the code = %v; want ErrBadState", err)
			}
			wantWire(t, f.rec.Take(), authed(tc.script, withAction("getsms")))
			if err := f.client.Finish(ctx, p.UpstreamID); err != nil {
				t.Fatal(err)
			}
			wantWire(t, f.rec.Take(), authed(tc.script, withAction("addblack")))
		})
	}
}

func TestWireBalanceAndOffers(t *testing.T) {
	f := newFixture(t, simulator.Config{Balance: 12_450_000}, getsmscode.SkinOptions{})
	ctx := context.Background()
	b, err := f.client.Balance(ctx)
	if err != nil || b != (adapters.Money{Micros: 12_450_000, Currency: "USD"}) {
		t.Fatalf("balance = %v, %v", b, err)
	}
	reqs := f.rec.Take()
	wantWire(t, reqs, authed("/do.php", map[string]string{"action": "login"}))
	if reqs[0].Answer != testUser+"|12.45|0|1|5" {
		t.Fatalf("login answer %q", reqs[0].Answer)
	}
	offers, err := f.client.Offers(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), call{"/projectapi.php", map[string]string{}})
	// Every pair both the market and the maps know, priced like the market.
	n := 0
	for _, o := range f.market.Offers("", "") {
		i := slices.IndexFunc(offers, func(x adapters.Offer) bool { return x.Country == o.Country && x.Service == o.Service })
		if i < 0 {
			continue
		}
		n++
		if offers[i].Price.Micros != o.Price || offers[i].Count != adapters.StockUnknown {
			t.Fatalf("offer %+v; want price %d and count StockUnknown", offers[i], o.Price)
		}
	}
	if n != len(offers) || n == 0 {
		t.Fatalf("%d offers matched the market of %d", n, len(offers))
	}
	one, err := f.client.Offers(ctx, "tg", "gb")
	if err != nil || len(one) != 1 || one[0].Country != "gb" || one[0].Service != "tg" {
		t.Fatalf("offers tg/gb = %+v, %v", one, err)
	}
	wantWire(t, f.rec.Take(), call{"/projectapi.php", map[string]string{"pid": "10"}})
}

func TestUpstreamIDRoundTrip(t *testing.T) {
	f := newFixture(t, simulator.Config{}, getsmscode.SkinOptions{})
	ctx := context.Background()
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(p.UpstreamID, ":")
	if len(parts) != 3 || parts[0] != "10" || parts[1] != p.Phone || parts[2] != "uk" || !strings.HasPrefix(p.Phone, "44") {
		t.Fatalf("upstream id %q, phone %q", p.UpstreamID, p.Phone)
	}
	f.rec.Take()
	// A rental is named by the id alone: a second client (after a restart)
	// reaches the same number.
	other, _ := getsmscode.New(getsmscode.Options{BaseURL: f.url, User: testUser, Key: testToken})
	f.clock.Advance(5 * time.Second)
	u, err := other.Check(ctx, p.UpstreamID)
	if err != nil || u.State != adapters.StateCodeReceived || len(u.SMS) != 1 {
		t.Fatalf("check by id = %+v, %v", u, err)
	}
	f.rec.Take()
	for _, id := range []string{
		"", "10", "10:447700900123", "x:447700900123:uk", "10:447700900123:gb", "10:4477:uk",
		"10:447700900123:uk:x", "10:+447700900123:uk", "1234567:447700900123:uk",
	} {
		if _, err := f.client.Check(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("check %q = %v; want ErrNoActivation", id, err)
		}
		if err := f.client.Cancel(ctx, id); !errors.Is(err, adapters.ErrNoActivation) {
			t.Fatalf("cancel %q = %v; want ErrNoActivation", id, err)
		}
	}
	wantWire(t, f.rec.Take())
}

// addblack is the only terminal call: a cancel before an SMS releases and
// refunds; a finish releases and keeps the charge.
func TestCancelAndFinishAreAddBlack(t *testing.T) {
	f := newFixture(t, simulator.Config{CodeDelay: -1}, getsmscode.SkinOptions{})
	ctx := context.Background()
	bal0 := f.market.Balance()
	p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wa"})
	f.rec.Take()
	if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.Take()
	if len(reqs) != 2 || reqs[0].Query["action"] != "getsms" || reqs[1].Query["action"] != "addblack" || reqs[1].Answer != "Message|Had add black list" {
		t.Fatalf("cancel sent %+v; want getsms then addblack", reqs)
	}
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateCancelled {
		t.Fatalf("check after cancel = %+v, %v", u, err)
	}
	if f.market.Balance() != bal0 || len(f.market.Active()) != 0 {
		t.Fatal("cancel did not release and refund")
	}

	p2, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wa"})
	o := f.market.Active()[0]
	f.market.DeliverSMS(o.ID, "Your WhatsApp code 482-913 or 482913")
	u, err := f.client.Check(ctx, p2.UpstreamID)
	if err != nil || u.State != adapters.StateCodeReceived || u.SMS[0].Code != "482913" {
		t.Fatalf("check = %+v, %v; want code 482913", u, err)
	}
	if err := f.client.Finish(ctx, p2.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.market.Get(o.ID); got.State != adapters.StateFinished || f.market.Balance() != bal0-o.Price {
		t.Fatalf("after finish: %s, balance %d; want finished and charged", got.State, f.market.Balance())
	}
	if err := f.client.Finish(ctx, p2.UpstreamID); err != nil {
		t.Fatalf("second finish: %v", err)
	}
	if err := f.client.RequestAnother(ctx, p2.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("another = %v; want ErrBadState", err)
	}
}

// The server allows one getsms per number every 10 s; a faster poll says
// nothing, so the last known state stands.
func TestPollSpacing(t *testing.T) {
	f := newFixture(t, simulator.Config{}, getsmscode.SkinOptions{})
	ctx := context.Background()
	p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
	f.clock.Advance(5 * time.Second)
	u1, err := f.client.Check(ctx, p.UpstreamID)
	if err != nil || u1.State != adapters.StateCodeReceived {
		t.Fatalf("first check = %+v, %v", u1, err)
	}
	f.rec.Take()
	u2, err := f.client.Check(ctx, p.UpstreamID)
	if err != nil || u2.State != adapters.StateCodeReceived || len(u2.SMS) != 1 || u2.SMS[0] != u1.SMS[0] {
		t.Fatalf("fast check = %+v, %v; want the same code", u2, err)
	}
	if r := f.rec.Take(); len(r) != 1 || r[0].Answer != "Message|Please wait 10 seconds to request!" {
		t.Fatalf("wire %+v; want the wait message", r)
	}
}

// An ended hold (released elsewhere, or expired) answers "not found": a
// terminal state, not an error.
func TestHoldEnds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, simulator.Config{CodeDelay: -1}, getsmscode.SkinOptions{})
	p, _ := f.client.Buy(ctx, adapters.BuyRequest{Country: "th", Service: "tg"})
	f.clock.Advance(10 * time.Minute)
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateExpired {
		t.Fatalf("check after the hold = %+v, %v; want expired", u, err)
	}
	if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("cancel after the hold = %v; want ErrBadState", err)
	}
}

// The account holds at most MaxHeld numbers: more is "Capture Max", which
// is not the platform failing.
func TestHeldLimit(t *testing.T) {
	f := newFixture(t, simulator.Config{CodeDelay: -1}, getsmscode.SkinOptions{MaxHeld: 2})
	ctx := context.Background()
	var ids []string
	for range 2 {
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.UpstreamID)
	}
	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "tg"})
	if !errors.Is(err, adapters.ErrNoNumbers) || adapters.PlatformFault(err) || !strings.Contains(err.Error(), "you max is 2") {
		t.Fatalf("third buy = %v; want ErrNoNumbers naming the limit", err)
	}
	if err := f.client.Cancel(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "tg"}); err != nil {
		t.Fatalf("buy after a release: %v", err)
	}
}

func TestMaxPriceAndCodes(t *testing.T) {
	f := newFixture(t, simulator.Config{}, getsmscode.SkinOptions{})
	ctx := context.Background()
	price := f.market.Offers("ph", "fb")[0].Price
	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ph", Service: "fb", MaxPrice: adapters.Money{Micros: price - 1, Currency: "USD"}})
	var pf *adapters.PriceFloorError
	if !errors.As(err, &pf) || pf.Min.Micros != price {
		t.Fatalf("buy under the price = %v; want a floor of %d", err, price)
	}
	wantWire(t, f.rec.Take(), call{"/projectapi.php", map[string]string{"pid": "2"}})
	if p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ph", Service: "fb", MaxPrice: adapters.Money{Micros: price, Currency: "USD"}}); err != nil || p.Price.Micros != price {
		t.Fatalf("buy at the price = %+v, %v", p, err)
	}
	f.rec.Take()
	for _, tc := range []struct {
		r    adapters.BuyRequest
		want error
	}{
		{adapters.BuyRequest{Country: "ke", Service: "tg"}, adapters.ErrBadCountry}, // "kn" is uncertain: not mapped
		{adapters.BuyRequest{Country: "ru", Service: "tg"}, adapters.ErrBadCountry},
		{adapters.BuyRequest{Country: "cn", Service: "ot"}, adapters.ErrBadService},
		{adapters.BuyRequest{Country: "cn", Service: "tg", Operator: "cmcc"}, adapters.ErrNoNumbers},
	} {
		if _, err := f.client.Buy(ctx, tc.r); !errors.Is(err, tc.want) {
			t.Fatalf("buy %+v = %v; want %v", tc.r, err, tc.want)
		}
	}
	wantWire(t, f.rec.Take())
	if countries, _ := f.client.Countries(ctx); !slices.Contains(countries, "gb") || slices.Contains(countries, "uk") {
		t.Fatalf("countries %v; want gb, not uk", countries)
	}
}

func TestBannedAccount(t *testing.T) {
	f := newFixture(t, simulator.Config{}, getsmscode.SkinOptions{})
	f.market.SetBanned(f.clock.Now().Add(time.Hour))
	if _, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "cn", Service: "tg"}); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("buy while banned = %v; want ErrAuth", err)
	}
	noUser, _ := getsmscode.New(getsmscode.Options{BaseURL: f.url, Key: testToken})
	if _, err := noUser.Balance(context.Background()); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("balance without a username = %v; want ErrAuth", err)
	}
}

// Clients send the parameters in a POST form too; the skin reads both.
func TestSkinTakesForms(t *testing.T) {
	f := newFixture(t, simulator.Config{Balance: 5_000_000}, getsmscode.SkinOptions{})
	post := func(path, form string) string {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(f.url + path)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(form)
		if err := fasthttp.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		return string(resp.Body())
	}
	if got := post("/do.php", "action=login&username=u%40x.com&token="+testToken); got != "u@x.com|5.00|0|1|5" {
		t.Fatalf("login by form = %q", got)
	}
	if got := post("/do.php", "action=mobilelist&username=u&token="+testToken); got != "" {
		t.Fatalf("mobilelist with nothing held = %q; want empty", got)
	}
	p, _ := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "cn", Service: "tg"})
	if got := post("/do.php", "action=mobilelist&username=u&token="+testToken); got != p.Phone+"|10" {
		t.Fatalf("mobilelist = %q; want %s|10", got, p.Phone)
	}
	if got := post("/do.php", "action=login&username=u&token=nope"); got != "token is wrong" {
		t.Fatalf("bad token = %q", got)
	}
}

// canned serves one (status, body) for the action (or "projectapi") under
// test; other calls get plausible successes so one answer can be tested
// inside a flow.
func canned(t *testing.T, target string, status int, body string) *getsmscode.Client {
	t.Helper()
	h := func(ctx *fasthttp.RequestCtx) {
		action := string(ctx.QueryArgs().Peek("action"))
		if string(ctx.Path()) == "/projectapi.php" {
			action = "projectapi"
		}
		switch action {
		case target:
			ctx.SetStatusCode(status)
			ctx.SetBodyString(body)
		case "projectapi":
			ctx.SetBodyString("10|Telegram|cn:0.135|us:0.50")
		case "getmobile":
			ctx.SetBodyString("8617049806616")
		case "getsms":
			ctx.SetBodyString("Message|not receive")
		case "addblack":
			ctx.SetBodyString("Message|Had add black list")
		default:
			ctx.SetBodyString(testUser + "|1|0|1|5")
		}
	}
	url := adapterstest.ServeHandler(t, h)
	c, err := getsmscode.New(getsmscode.Options{BaseURL: url, User: testUser, Key: testToken, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAnswerMapping holds every documented answer (and the usual garbage)
// to its canonical meaning, per action.
func TestAnswerMapping(t *testing.T) {
	cases := []struct {
		name   string
		target string // action (or "projectapi") answered with body
		status int
		body   string
		want   error          // nil: success
		state  adapters.State // for getsms
		exact  string         // balance micros, phone, code|text or price
	}{
		{name: "login five fields", target: "login", status: 200, body: "someone@example.com|12.45|0|1|5", exact: "12450000"},
		{name: "login three fields", target: "login", status: 200, body: "someone@example.com|0.135|0", exact: "135000"},
		{name: "username is wrong", target: "login", status: 200, body: "username is wrong", want: adapters.ErrAuth},
		{name: "token is wrong", target: "login", status: 200, body: "token is wrong\n", want: adapters.ErrAuth},
		{name: "login garbage", target: "login", status: 200, body: "someone@example.com", want: adapters.ErrUnavailable},
		{name: "login bad balance", target: "login", status: 200, body: "a|b|c|d|e", want: adapters.ErrUnavailable},
		{name: "login html", target: "login", status: 200, body: "<html><body>Database error</body></html>", want: adapters.ErrUnavailable},
		{name: "login 502", target: "login", status: 502, body: "Bad Gateway", want: adapters.ErrUnavailable},
		{name: "login 403", target: "login", status: 403, body: "Forbidden", want: adapters.ErrAuth},
		{name: "login empty", target: "login", status: 200, body: "", want: adapters.ErrUnavailable},

		{name: "getmobile number", target: "getmobile", status: 200, body: "8617049806616", exact: "8617049806616"},
		{name: "getmobile with plus", target: "getmobile", status: 200, body: "+8617049806616\r\n", exact: "8617049806616"},
		{name: "getmobile no balance", target: "getmobile", status: 200, body: "Message|balance is not enough!", want: adapters.ErrNoBalance},
		{name: "getmobile unavailable", target: "getmobile", status: 200, body: "Message|unavailable", want: adapters.ErrNoNumbers},
		{name: "getmobile capture max", target: "getmobile", status: 200, body: "Message|Capture Max mobile numbers,you max is 5", want: adapters.ErrNoNumbers},
		{name: "getmobile issue", target: "getmobile", status: 200, body: "Message|Issue,Try later", want: adapters.ErrUnavailable},
		{name: "getmobile other message", target: "getmobile", status: 200, body: "Message|pid is wrong", want: adapters.ErrUnavailable},
		{name: "getmobile token", target: "getmobile", status: 200, body: "token is wrong", want: adapters.ErrAuth},
		{name: "getmobile garbage", target: "getmobile", status: 200, body: "OK 8617049806616", want: adapters.ErrOutcomeUnknown},
		{name: "getmobile empty", target: "getmobile", status: 200, body: "", want: adapters.ErrUnavailable},
		{name: "getmobile html", target: "getmobile", status: 200, body: "<!DOCTYPE html><html></html>", want: adapters.ErrUnavailable},

		{name: "getsms code", target: "getsms", status: 200, body: "1|Your Telegram code is 48213", state: adapters.StateCodeReceived, exact: "48213|Your Telegram code is 48213"},
		{name: "getsms pipes in text", target: "getsms", status: 200, body: "1|G-730118 is your code|reply STOP", state: adapters.StateCodeReceived, exact: "730118|G-730118 is your code|reply STOP"},
		{name: "getsms text without code", target: "getsms", status: 200, body: "1|Welcome!", state: adapters.StateCodeReceived, exact: "|Welcome!"},
		{name: "getsms not receive", target: "getsms", status: 200, body: "Message|not receive", state: adapters.StateWaiting},
		{name: "getsms Not Receive", target: "getsms", status: 200, body: "Message|Not Receive", state: adapters.StateWaiting},
		{name: "getsms too fast", target: "getsms", status: 200, body: "Message|Please wait 10 seconds to request!", state: adapters.StateWaiting},
		{name: "getsms not found", target: "getsms", status: 200, body: "Message|mobile number not found!", state: adapters.StateExpired},
		{name: "getsms token", target: "getsms", status: 200, body: "token is wrong", want: adapters.ErrAuth},
		{name: "getsms other message", target: "getsms", status: 200, body: "Message|Issue,Try later", want: adapters.ErrUnavailable},
		{name: "getsms empty sms", target: "getsms", status: 200, body: "1|", want: adapters.ErrUnavailable},
		{name: "getsms garbage", target: "getsms", status: 200, body: "STATUS_WAIT_CODE", want: adapters.ErrUnavailable},

		{name: "addblack ok", target: "addblack", status: 200, body: "Message|Had add black list"},
		{name: "addblack not found", target: "addblack", status: 200, body: "Message|mobile number not found!", want: adapters.ErrBadState},
		{name: "addblack other message", target: "addblack", status: 200, body: "Message|Issue,Try later", want: adapters.ErrUnavailable},
		{name: "addblack garbage", target: "addblack", status: 200, body: "ok", want: adapters.ErrOutcomeUnknown},
		{name: "addblack 500", target: "addblack", status: 500, body: "Internal Server Error", want: adapters.ErrUnavailable},

		// Ban is addblack too; the platform's "not found" is its word.
		{name: "ban ok", target: "ban", status: 200, body: "Message|Had add black list"},
		{name: "ban not found", target: "ban", status: 200, body: "Message|mobile number not found!", want: adapters.ErrNoActivation},
		{name: "ban other message", target: "ban", status: 200, body: "Message|Issue,Try later", want: adapters.ErrUnavailable},
		{name: "ban garbage", target: "ban", status: 200, body: "ok", want: adapters.ErrOutcomeUnknown},
		{name: "ban token", target: "ban", status: 200, body: "token is wrong", want: adapters.ErrAuth},

		{name: "projects region:price", target: "projectapi", status: 200, body: "1|Google|cn:0.20<br>10|Telegram|cn:0.135|us:0.5", exact: "135000"},
		{name: "projects region_price, br/", target: "projectapi", status: 200, body: "10|Telegram|us_0.5|CN_0.14<br/>1|Google|cn_0.2<br />", exact: "140000"},
		{name: "projects bare price is no price", target: "projectapi", status: 200, body: "10|Telegram|0.135", want: adapters.ErrNoNumbers},
		{name: "projects pid missing", target: "projectapi", status: 200, body: "1|Google|cn:0.2", want: adapters.ErrBadService},
		{name: "projects empty", target: "projectapi", status: 200, body: "", want: adapters.ErrBadService},
		{name: "projects garbage", target: "projectapi", status: 200, body: "maintenance", want: adapters.ErrUnavailable},
		{name: "projects html", target: "projectapi", status: 200, body: "<html>502</html>", want: adapters.ErrUnavailable},
	}
	ctx := context.Background()
	const id = "10:8617049806616:cn"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			action := tc.target
			if action == "ban" {
				action = "addblack"
			}
			c := canned(t, action, tc.status, tc.body)
			var (
				err error
				got string
			)
			switch tc.target {
			case "login":
				var m adapters.Money
				m, err = c.Balance(ctx)
				got = strconv.FormatInt(m.Micros, 10)
			case "getmobile", "projectapi":
				var p adapters.Purchase
				p, err = c.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "tg"})
				got = p.Phone
				if tc.target == "projectapi" {
					got = strconv.FormatInt(p.Price.Micros, 10)
				}
			case "getsms":
				var u adapters.Update
				u, err = c.Check(ctx, id)
				if err == nil && u.State != tc.state {
					t.Fatalf("state %s; want %s", u.State, tc.state)
				}
				if len(u.SMS) > 0 {
					got = u.SMS[0].Code + "|" + u.SMS[0].Text
				}
			case "addblack":
				err = c.Cancel(ctx, id)
			case "ban":
				err = c.Ban(ctx, id)
			}
			if tc.want == nil && err != nil {
				t.Fatalf("err = %v; want success", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
			if !errors.Is(tc.want, adapters.ErrOutcomeUnknown) && errors.Is(err, adapters.ErrOutcomeUnknown) {
				t.Fatalf("err = %v; the answer arrived, the outcome is known", err)
			}
			if err != nil && (strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testUser)) {
				t.Fatalf("error %q shows the credentials", err)
			}
			if tc.exact != "" && got != tc.exact {
				t.Fatalf("got %q; want %q", got, tc.exact)
			}
		})
	}
}

// Held numbers are listed under the UpstreamIDs their purchases gave (the
// pool read from the calling code), so the gateway can find a purchase
// whose answer was lost.
func TestActiveOrders(t *testing.T) {
	f := newFixture(t, simulator.Config{CodeDelay: -1}, getsmscode.SkinOptions{})
	ctx := context.Background()
	var want []adapters.ActiveOrder
	for _, r := range []adapters.BuyRequest{{Country: "cn", Service: "tg"}, {Country: "gb", Service: "wa"}, {Country: "ph", Service: "ig"}, {Country: "us", Service: "fb"}} {
		p, err := f.client.Buy(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, adapters.ActiveOrder{UpstreamID: p.UpstreamID, Phone: p.Phone, Country: r.Country, Service: r.Service})
	}
	if err := f.client.Cancel(ctx, want[1].UpstreamID); err != nil {
		t.Fatal(err)
	}
	want = slices.Delete(want, 1, 2)
	f.rec.Take()
	list, err := f.client.ActiveOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantWire(t, f.rec.Take(), authed("/do.php", map[string]string{"action": "mobilelist"}))
	if !slices.Equal(list, want) {
		t.Fatalf("active = %+v; want %+v", list, want)
	}
}
