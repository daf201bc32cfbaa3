package onlinesim_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/catalog"
	"smsgate/adapters/onlinesim"
	"smsgate/adapters/simulator"
)

const testKey = "os-test-key-0123456789"

// request is one request as the upstream saw it.
type request = adapterstest.Request

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	rec    *adapterstest.Recorder
	client *onlinesim.Client
	url    string // the skin's base URL
}

// newFixture serves a market through the skin (with a recorder in front)
// on loopback and points a client at it.
func newFixture(t *testing.T, so onlinesim.SkinOptions, mc simulator.Config) *fixture {
	t.Helper()
	mc.Key = testKey
	if mc.Currency == "" {
		mc.Currency = "RUB"
	}
	rec := &adapterstest.Recorder{}
	h := adapterstest.Serve(t, mc, func(m *simulator.Market) fasthttp.RequestHandler {
		return rec.Wrap(onlinesim.NewSkinWith(m, so))
	})
	c, err := onlinesim.New(onlinesim.Options{BaseURL: h.Server.URL, Key: testKey, Currency: "RUB", Timeout: 5 * time.Second, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, rec: rec, client: c, url: h.Server.URL}
}

// answer is a canned upstream reply.
type answer = adapterstest.Answer

// script is an upstream that serves fixed answers per API method
// ("getNum": …) and records the requests; a method without an answer is a
// 404. One server serves a whole table: set swaps the answers.
type script struct {
	*adapterstest.Script
	client *onlinesim.Client
	rec    *adapterstest.Recorder
}

func scripted(t *testing.T) *script {
	t.Helper()
	s := &script{rec: &adapterstest.Recorder{}, Script: adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string {
		return strings.TrimSuffix(strings.TrimPrefix(string(ctx.Path()), "/api/"), ".php")
	})}
	url := adapterstest.ServeHandler(t, s.rec.Wrap(s.Handle))
	c, err := onlinesim.New(onlinesim.Options{BaseURL: url, Key: testKey, Timeout: 5 * time.Second, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// set replaces the answers, one per method (and forgets the requests seen
// so far).
func (s *script) set(answers map[string]answer) *onlinesim.Client {
	seq := make(map[string][]answer, len(answers))
	for method, a := range answers {
		seq[method] = []answer{a}
	}
	s.Set(seq)
	s.rec.Take()
	return s.client
}

// checkGET asserts one request: GET on /api/<method>.php with exactly the
// query want plus the key, no body, and no header that could carry the key
// or change the meaning (no Authorization, no form content type): the
// shared upstream client names itself and adds nothing else.
func checkGET(t *testing.T, got request, method string, want map[string]string) {
	t.Helper()
	q := map[string]string{}
	maps.Copy(q, want)
	q["apikey"] = testKey
	adapterstest.CheckGET(t, got, "/api/"+method+".php", q)
}

func methods(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = strings.TrimSuffix(strings.TrimPrefix(r.Path, "/api/"), ".php")
	}
	return out
}

// TestExactRequests pins every request the client sends for each
// operation, in order.
func TestExactRequests(t *testing.T) {
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{CodeDelay: 5 * time.Second})
	ctx := context.Background()
	var p adapters.Purchase
	state := func(id, mtc string) map[string]string {
		return map[string]string{"tzid": id, "message_to_code": mtc, "msg_list": "1"}
	}
	steps := []struct {
		name string
		do   func() error
		want func(id string) []request
	}{
		{"balance", func() error { _, err := f.client.Balance(ctx); return err },
			func(string) []request { return []request{{Path: "getBalance"}} }},
		{"buy", func() (err error) {
			p, err = f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
			return err
		}, func(id string) []request {
			return []request{
				{Path: "getNum", Query: map[string]string{"service": "telegram", "country": "44", "number": "true"}},
				{Path: "getState", Query: state(id, "1")},
			}
		}},
		{"buy with max price", func() error {
			_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "wa", MaxPrice: adapters.Money{Micros: 100 * adapters.Micro, Currency: "RUB"}})
			return err
		}, func(string) []request {
			return []request{
				{Path: "getNumbersStats", Query: map[string]string{"country": "44"}},
				{Path: "getNum", Query: map[string]string{"service": "whatsapp", "country": "44", "number": "true"}},
				{Path: "getState"}, // id of the second order: query not pinned here
			}
		}},
		{"check before the code", func() error { _, err := f.client.Check(ctx, p.UpstreamID); return err },
			func(id string) []request { return []request{{Path: "getState", Query: state(id, "1")}} }},
		{"check with a new code fetches the text once", func() error {
			f.clock.Advance(5 * time.Second)
			if _, err := f.client.Check(ctx, p.UpstreamID); err != nil {
				return err
			}
			_, err := f.client.Check(ctx, p.UpstreamID)
			return err
		}, func(id string) []request {
			return []request{
				{Path: "getState", Query: state(id, "1")},
				{Path: "getState", Query: state(id, "0")},
				{Path: "getState", Query: state(id, "1")},
			}
		}},
		{"ready is a no-op", func() error { return f.client.Ready(ctx, p.UpstreamID) },
			func(string) []request { return nil }},
		{"another", func() error { return f.client.RequestAnother(ctx, p.UpstreamID) },
			func(id string) []request {
				return []request{{Path: "setOperationRevise", Query: map[string]string{"tzid": id}}}
			}},
		{"finish", func() error {
			f.clock.Advance(5 * time.Second)
			return f.client.Finish(ctx, p.UpstreamID)
		}, func(id string) []request {
			return []request{
				{Path: "getState", Query: state(id, "1")},
				{Path: "setOperationOk", Query: map[string]string{"tzid": id}},
			}
		}},
		{"offers one country", func() error { _, err := f.client.Offers(ctx, "tg", "kz"); return err },
			func(string) []request {
				return []request{{Path: "getNumbersStats", Query: map[string]string{"country": "77"}}}
			}},
		{"offers everywhere", func() error { _, err := f.client.Offers(ctx, "", ""); return err },
			func(string) []request {
				return []request{{Path: "getNumbersStats", Query: map[string]string{"country": "all"}}}
			}},
		{"countries", func() error { _, err := f.client.Countries(ctx); return err },
			func(string) []request { return []request{{Path: "getTariffs"}} }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, want := f.rec.Take(), s.want(p.UpstreamID)
		if len(got) != len(want) {
			t.Fatalf("%s: requests %v; want %d", s.name, methods(got), len(want))
		}
		for i, w := range want {
			if w.Query == nil && w.Path == "getState" {
				if methods(got)[i] != "getState" {
					t.Fatalf("%s: request %d is %s; want getState", s.name, i, got[i].Path)
				}
				continue
			}
			checkGET(t, got[i], w.Path, w.Query)
		}
	}
	// Cancel reads the state before closing (a close after an SMS would
	// finish instead); inside the guard the close is refused.
	p2, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "vk"})
	if err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	if err := f.client.Cancel(ctx, p2.UpstreamID); !errors.Is(err, adapters.ErrEarlyCancel) {
		t.Fatalf("cancel = %v; want ErrEarlyCancel", err)
	}
	got := f.rec.Take()
	if len(got) != 2 {
		t.Fatalf("cancel requests %v; want getState, setOperationOk", methods(got))
	}
	checkGET(t, got[0], "getState", state(p2.UpstreamID, "1"))
	checkGET(t, got[1], "setOperationOk", map[string]string{"tzid": p2.UpstreamID})
}

// TestDialCodeCountries: OnlineSIM's country is the calling code (§9.1),
// with own ids where codes are shared (Kazakhstan 77 next to Russia's 7),
// and Canada left out until its id is confirmed.
func TestDialCodeCountries(t *testing.T) {
	adapterstest.CodeMaps(t, onlinesim.Countries, onlinesim.Services)
	for _, iso := range onlinesim.Countries.Canonicals() {
		c, _ := catalog.CountryByISO(iso)
		native, _ := onlinesim.Countries.Native(iso)
		if native != c.Dial && iso != "kz" {
			t.Errorf("%s maps to %s; want its calling code %s", iso, native, c.Dial)
		}
	}

	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{Countries: []string{"ru", "kz", "us", "gb", "ua", "ca"}})
	ctx := context.Background()
	for iso, dial := range map[string]string{"ru": "7", "kz": "77", "us": "1", "gb": "44", "ua": "380"} {
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: iso, Service: "tg"})
		if err != nil {
			t.Fatalf("buy %s: %v", iso, err)
		}
		reqs := f.rec.Take()
		if got := reqs[0].Query["country"]; got != dial {
			t.Errorf("buy %s sent country=%s; want %s", iso, got, dial)
		}
		o, _ := f.market.Get(adapterstest.MarketID(t, p.UpstreamID))
		if o.Country != iso {
			t.Errorf("buy %s bought in %s", iso, o.Country)
		}
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ca", Service: "tg"}); !errors.Is(err, adapters.ErrBadCountry) {
		t.Fatalf("buy ca = %v; want ErrBadCountry", err)
	}
	if reqs := f.rec.Take(); len(reqs) != 0 {
		t.Fatalf("buy of an unmapped country sent %v", methods(reqs))
	}
	countries, err := f.client.Countries(ctx)
	if err != nil || strings.Join(countries, ",") != "gb,kz,ru,ua,us" {
		t.Fatalf("countries = %v, %v; want gb,kz,ru,ua,us (no ca)", countries, err)
	}
	offers, err := f.client.Offers(ctx, "tg", "")
	if err != nil || len(offers) != 5 {
		t.Fatalf("offers for tg = %+v, %v; want one per mapped country", offers, err)
	}
}

// TestProtectiveInterval: NO_COMPLETE_TZID inside the ~2 minutes after
// purchase is ErrEarlyCancel for a cancel (§3.6) and ErrBadState for a
// finish under the strict reading; both work once the guard has passed.
func TestProtectiveInterval(t *testing.T) {
	ctx := context.Background()
	t.Run("cancel", func(t *testing.T) {
		f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{CodeDelay: -1})
		bal0 := f.market.Balance()
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(119 * time.Second)
		err = f.client.Cancel(ctx, p.UpstreamID)
		if !errors.Is(err, adapters.ErrEarlyCancel) || !strings.Contains(err.Error(), onlinesim.CodeNoComplete) {
			t.Fatalf("cancel at 119s = %v; want NO_COMPLETE_TZID as ErrEarlyCancel", err)
		}
		f.clock.Advance(time.Second)
		if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
			t.Fatalf("cancel at 120s: %v", err)
		}
		if f.market.Balance() != bal0 {
			t.Fatal("cancel did not refund")
		}
		// The operation is over: closing it again is refused.
		if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
			t.Fatalf("second cancel = %v; want ErrBadState", err)
		}
	})
	t.Run("finish, strict reading", func(t *testing.T) {
		f := newFixture(t, onlinesim.SkinOptions{GuardFinish: true}, simulator.Config{CodeDelay: 5 * time.Second})
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(5 * time.Second)
		err = f.client.Finish(ctx, p.UpstreamID)
		if !errors.Is(err, adapters.ErrBadState) || errors.Is(err, adapters.ErrEarlyCancel) {
			t.Fatalf("finish inside the guard = %v; want ErrBadState, not ErrEarlyCancel", err)
		}
		f.clock.Advance(2 * time.Minute)
		if err := f.client.Finish(ctx, p.UpstreamID); err != nil {
			t.Fatalf("finish after the guard: %v", err)
		}
	})
}

// TestCloseIsGuarded: setOperationOk is both finish and cancel (§3.6), so
// the client reads the state first and never sends a close that would do
// the other thing.
func TestCloseIsGuarded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{CodeDelay: 5 * time.Second})
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "wa"})
	if err != nil {
		t.Fatal(err)
	}
	f.rec.Take()
	if err := f.client.Finish(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("finish without a code = %v; want ErrBadState", err)
	}
	f.clock.Advance(3 * time.Minute) // past the guard, code delivered
	if err := f.client.Cancel(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("cancel after a code = %v; want ErrBadState", err)
	}
	for _, m := range methods(f.rec.Take()) {
		if m == "setOperationOk" {
			t.Fatal("a refused finish or cancel still sent setOperationOk")
		}
	}
	if o, _ := f.market.Get(adapterstest.MarketID(t, p.UpstreamID)); o.State != adapters.StateCodeReceived {
		t.Fatalf("order state %s; want code_received untouched", o.State)
	}
}

// TestLateNumber: the number missing from getNum is read from getState
// (§3.3); one that never comes is abandoned with a close attempt and an
// error that is not ErrOutcomeUnknown, since the reserved money is
// released when the operation ends without an SMS.
func TestLateNumber(t *testing.T) {
	ctx := context.Background()
	t.Run("arrives", func(t *testing.T) {
		f := newFixture(t, onlinesim.SkinOptions{LateNumber: true, EmptyFirst: true, InPoolPolls: 2}, simulator.Config{})
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := f.market.Get(adapterstest.MarketID(t, p.UpstreamID))
		if p.Phone != o.Phone || p.Price.Micros != o.Price {
			t.Fatalf("purchase %+v; want phone %s price %d", p, o.Phone, o.Price)
		}
		// [] once, TZ_INPOOL twice, then the number.
		if got := strings.Join(methods(f.rec.Take()), ","); got != "getNum,getState,getState,getState,getState" {
			t.Fatalf("requests %s", got)
		}
	})
	t.Run("never", func(t *testing.T) {
		f := newFixture(t, onlinesim.SkinOptions{LateNumber: true, InPoolPolls: -1}, simulator.Config{CodeDelay: -1})
		bal0 := f.market.Balance()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := onlinesim.New(onlinesim.Options{BaseURL: f.url, Key: testKey, Timeout: 10 * time.Second, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.Buy(cctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
		if !errors.Is(err, adapters.ErrUnavailable) || errors.Is(err, adapters.ErrOutcomeUnknown) {
			t.Fatalf("buy = %v; want ErrUnavailable, not ErrOutcomeUnknown", err)
		}
		// Within its deadline (with slack for a loaded machine), not the
		// client's 10s timeout.
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("buy took %v; want it within its 2s deadline", el)
		}
		if f.market.Calls("setOperationOk") != 1 {
			t.Fatalf("close sent %d times; want once", f.market.Calls("setOperationOk"))
		}
		if f.market.Calls("getState") < 5 {
			t.Fatalf("getState polled %d times; want polling at the interval", f.market.Calls("getState"))
		}
		// Refused inside the guard: the operation expires and is refunded.
		f.clock.Advance(20 * time.Minute)
		if f.market.Balance() != bal0 {
			t.Fatal("abandoned operation was charged")
		}
	})
}

func TestMaxPriceAndOperator(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{})
	price := f.market.Offers("de", "tg")[0].Price
	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "de", Service: "tg", MaxPrice: adapters.Money{Micros: price - 10_000, Currency: "RUB"}})
	var pf *adapters.PriceFloorError
	if !errors.As(err, &pf) || pf.Min.Micros != price || pf.Min.Currency != "RUB" {
		t.Fatalf("buy under the price = %v; want a price floor of %d RUB", err, price)
	}
	f.market.SetStock("de", "wa", 0)
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "de", Service: "wa", MaxPrice: adapters.Money{Micros: 1000 * adapters.Micro}}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with no stock listed = %v; want ErrNoNumbers", err)
	}
	if n := f.market.Calls("getNum"); n != 0 {
		t.Fatalf("getNum sent %d times for refused purchases", n)
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "de", Service: "tg", Operator: "vodafone"}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with an operator = %v; want ErrNoNumbers (cannot choose)", err)
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "de", Service: "tg", Operator: "any"}); err != nil {
		t.Fatalf("buy with operator any: %v", err)
	}
}

func TestPurchaseDetails(t *testing.T) {
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{})
	before := time.Now()
	p, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "ua", Service: "vi"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := f.market.Get(adapterstest.MarketID(t, p.UpstreamID))
	if p.Phone != o.Phone || strings.HasPrefix(p.Phone, "+") || p.Price.Micros != o.Price || p.Price.Currency != "RUB" {
		t.Fatalf("purchase %+v; want phone %s, price %d RUB", p, o.Phone, o.Price)
	}
	// `time` is seconds left (20 minutes), not a timestamp.
	lo, hi := before.Add(20*time.Minute-time.Second), time.Now().Add(20*time.Minute)
	if p.ExpiresAt.Before(lo) || p.ExpiresAt.After(hi) {
		t.Fatalf("expires %v; want about 20 minutes from now", p.ExpiresAt)
	}
}

func TestBannedAccount(t *testing.T) {
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{})
	f.market.SetBanned(f.clock.Now().Add(time.Hour))
	_, err := f.client.Buy(context.Background(), adapters.BuyRequest{Country: "us", Service: "tg"})
	if !errors.Is(err, adapters.ErrAuth) || !strings.Contains(err.Error(), onlinesim.CodeBlocked) {
		t.Fatalf("buy on a blocked account = %v; want ACCOUNT_BLOCKED as ErrAuth", err)
	}
}

// TestPOSTFormKey: the skin takes the key from a POST form too (§2, §10).
func TestPOSTFormKey(t *testing.T) {
	m := simulator.New(simulator.Config{Key: testKey, Balance: 5 * adapters.Micro})
	h := onlinesim.NewSkin(m)
	for _, tc := range []struct {
		name, key string
		bearer    bool
		want      string
	}{
		{"form", testKey, false, `{"response":"1","balance":"5.00","zbalance":0.00}`},
		{"bearer", testKey, true, `{"response":"1","balance":"5.00","zbalance":0.00}`},
		{"missing", "", false, `{"response":"ERROR_NO_KEY"}`},
		{"wrong", "nope", false, `{"response":"ERROR_WRONG_KEY"}`},
	} {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/api/getBalance.php")
		if tc.bearer {
			ctx.Request.Header.Set("Authorization", "Bearer "+tc.key)
		} else if tc.key != "" {
			ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
			ctx.Request.SetBodyString("apikey=" + tc.key)
		}
		h(&ctx)
		if got := string(ctx.Response.Body()); got != tc.want || ctx.Response.StatusCode() != 200 {
			t.Errorf("%s: %d %s; want 200 %s", tc.name, ctx.Response.StatusCode(), got, tc.want)
		}
	}
}

// TestAnswers maps every documented answer of each endpoint (§3, §5) to
// what the client makes of it.
func TestAnswers(t *testing.T) {
	html := answer{Status: 200, Body: simulator.GarbageBody}
	wait := answer{Body: `[{"country":44,"sum":14,"service":"telegram","number":"+447700900123","response":"TZ_NUM_WAIT","tzid":10000,"time":1150,"form":"index"}]`}
	code := func(c string) answer { return answer{Body: `{"response":"` + c + `"}`} }
	ctx := context.Background()

	t.Run("balance", func(t *testing.T) {
		cases := []struct {
			a    answer
			want error
			bal  int64
		}{
			{answer{Body: `{"response": "1", "balance": "230.25", "zbalance": 120.5}`}, nil, 230_250_000},
			{answer{Body: `{"response":1,"balance":230.25}`}, nil, 230_250_000}, // a number, not a string
			{code("ERROR_WRONG_KEY"), adapters.ErrAuth, 0},
			{code("ERROR_NO_KEY"), adapters.ErrAuth, 0},
			{code("ACCOUNT_BLOCKED"), adapters.ErrAuth, 0},
			{code("API_ACCESS_DISABLED"), adapters.ErrAuth, 0},
			{code("API_ACCESS_IP"), adapters.ErrAuth, 0},
			{code("TRY_AGAIN_LATER"), adapters.ErrUnavailable, 0},
			{code("REQUEST_NOT_FOUND"), adapters.ErrUnavailable, 0},
			{code("SOMETHING_NEW"), adapters.ErrUnavailable, 0},
			{answer{Body: `{"response":"1"}`}, adapters.ErrUnavailable, 0}, // no balance field
			{answer{Body: `{"response":"1","balance":"a lot"}`}, adapters.ErrUnavailable, 0},
			{answer{Body: `[1,2]`}, adapters.ErrUnavailable, 0},
			{answer{Body: ``}, adapters.ErrUnavailable, 0},
			{html, adapters.ErrUnavailable, 0},
			{answer{Status: 500, Body: `{"response":"1","balance":"1.00"}`}, adapters.ErrUnavailable, 0},
			{answer{Status: 429, Body: `{"response":"TRY_AGAIN_LATER"}`}, adapters.ErrUnavailable, 0},
			// An auth layer answering 401 with the code still means a bad key.
			{answer{Status: 401, Body: `{"response":"ERROR_WRONG_KEY"}`}, adapters.ErrAuth, 0},
			{answer{Status: 403, Body: `forbidden`}, adapters.ErrUnavailable, 0},
			// A proxy echoing the request: the key must not reach the error.
			{answer{Body: "bad request apikey=" + testKey}, adapters.ErrUnavailable, 0},
			{answer{Body: "<html>GET /api/getBalance.php?apikey=" + testKey + "</html>"}, adapters.ErrUnavailable, 0},
		}
		sc := scripted(t)
		for _, tc := range cases {
			c := sc.set(map[string]answer{"getBalance": tc.a})
			got, err := c.Balance(ctx)
			if !errors.Is(err, tc.want) || (tc.want == nil && got.Micros != tc.bal) || (tc.want == nil && got.Currency != "USD") {
				t.Errorf("%d %q: balance %v, %v; want %d USD, %v", tc.a.Status, tc.a.Body, got, err, tc.bal, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q shows the key", err)
			}
		}
	})

	t.Run("getNum", func(t *testing.T) {
		cases := []struct {
			a       answer
			want    error
			unknown bool // ErrOutcomeUnknown: bought, answer unreadable
		}{
			{code("NO_NUMBER"), adapters.ErrNoNumbers, false},
			{code("WARNING_NO_NUMS"), adapters.ErrNoNumbers, false},
			{code("WARNING_LOW_BALANCE"), adapters.ErrNoBalance, false},
			{code("ERROR_NO_SERVICE"), adapters.ErrBadService, false},
			{code("ACCOUNT_IDENTIFICATION_REQUIRED"), adapters.ErrAuth, false},
			{code("ERROR_WRONG_KEY"), adapters.ErrAuth, false},
			{code("EXCEEDED_CONCURRENT_OPERATIONS"), adapters.ErrUnavailable, false},
			{code("TIME_INTERVAL_ERROR"), adapters.ErrUnavailable, false},
			{code("INTERVAL_CONCURRENT_REQUESTS_ERROR"), adapters.ErrUnavailable, false},
			{code("TRY_AGAIN_LATER"), adapters.ErrUnavailable, false},
			{code("DUPLICATE_OPERATION"), adapters.ErrUnavailable, false},
			{code("ERROR_PARAMS"), adapters.ErrUnavailable, false},
			{code("NO_FORWARD_FOR_DEFFER"), adapters.ErrUnavailable, false},
			{answer{Body: `{"response":1}`}, adapters.ErrOutcomeUnknown, true},
			{answer{Body: `{"response":1,"tzid":"x1"}`}, adapters.ErrOutcomeUnknown, true},
			{answer{Body: `ok 10000`}, adapters.ErrOutcomeUnknown, true},
			{html, adapters.ErrUnavailable, false},
			{answer{Status: 502, Body: `bad gateway`}, adapters.ErrUnavailable, false},
		}
		sc := scripted(t)
		for _, tc := range cases {
			c := sc.set(map[string]answer{"getNum": tc.a, "getState": wait})
			_, err := c.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
			if !errors.Is(err, tc.want) || errors.Is(err, adapters.ErrOutcomeUnknown) != tc.unknown {
				t.Errorf("%d %q: buy error %v; want %v (outcome unknown %v)", tc.a.Status, tc.a.Body, err, tc.want, tc.unknown)
			}
		}
		for _, body := range []string{
			`{"response": 1, "tzid": 10000, "number": "+447700900123"}`,
			`{"response":"1","tzid":"10000","number":"+447700900123"}`,
			`{"response":1,"tzid":10000}`, // number only from getState
		} {
			c := sc.set(map[string]answer{"getNum": {Body: body}, "getState": wait})
			p, err := c.Buy(ctx, adapters.BuyRequest{Country: "gb", Service: "tg"})
			if err != nil || p.UpstreamID != "10000" || p.Phone != "447700900123" || p.Price != (adapters.Money{Micros: 14 * adapters.Micro, Currency: "USD"}) {
				t.Errorf("%s: purchase %+v, %v", body, p, err)
			}
		}
	})

	t.Run("getState", func(t *testing.T) {
		el := func(state, msg string) answer {
			if msg != "" {
				msg = `,"msg":` + msg
			}
			return answer{Body: `[{"country":44,"sum":14,"service":"telegram","number":"+447700900123","response":"` + state + `","tzid":10000,"time":1020,"form":"index"` + msg + `}]`}
		}
		cases := []struct {
			name  string
			a     answer
			want  adapters.State
			codes string // codes of the SMS, comma-separated
			err   error
		}{
			{"in pool", el("TZ_INPOOL", ""), adapters.StateWaiting, "", nil},
			{"pool alias", el("TZ_POOL", ""), adapters.StateWaiting, "", nil},
			{"prepare", el("TZ_NUM_PREPARE", ""), adapters.StateWaiting, "", nil},
			{"wait", el("TZ_NUM_WAIT", ""), adapters.StateWaiting, "", nil},
			{"msg false", el("TZ_NUM_WAIT", "false"), adapters.StateWaiting, "", nil},
			{"msg empty", el("TZ_NUM_WAIT", `""`), adapters.StateWaiting, "", nil},
			{"msg null", el("TZ_NUM_WAIT", "null"), adapters.StateWaiting, "", nil},
			{"answer", el("TZ_NUM_ANSWER", `"12345"`), adapters.StateCodeReceived, "12345", nil},
			{"answer number", el("TZ_NUM_ANSWER", `12345`), adapters.StateCodeReceived, "12345", nil},
			{"answer list", el("TZ_NUM_ANSWER", `[{"service":"telegram","msg":"12345"},{"service":"telegram","msg":"12345"},{"service":"telegram","msg":"67890"}]`), adapters.StateCodeReceived, "12345,67890", nil},
			{"answer string list", el("TZ_NUM_ANSWER", `["12345"]`), adapters.StateCodeReceived, "12345", nil},
			{"answer as text", el("TZ_NUM_ANSWER", `"Your code is 4321, do not share"`), adapters.StateCodeReceived, "4321", nil},
			{"wait after revise", el("TZ_NUM_WAIT", `[{"service":"telegram","msg":"12345"}]`), adapters.StateRetryWaiting, "12345", nil},
			{"over ok", el("TZ_OVER_OK", `"12345"`), adapters.StateFinished, "12345", nil},
			{"over empty", el("TZ_OVER_EMPTY", ""), adapters.StateExpired, "", nil},
			{"lifetime over", code("LIFICYCLE_NUM_EXPIRED"), adapters.StateExpired, "", nil},
			{"no operations", code("ERROR_NO_OPERATIONS"), "", "", adapters.ErrNoActivation},
			{"wrong tzid", code("ERROR_WRONG_TZID"), "", "", adapters.ErrNoActivation},
			{"not listed", answer{Body: `[]`}, "", "", adapters.ErrNoActivation},
			{"other tzid", answer{Body: `[{"response":"TZ_NUM_WAIT","tzid":99}]`}, "", "", adapters.ErrNoActivation},
			{"unknown state", el("TZ_SOMETHING_NEW", ""), "", "", adapters.ErrUnavailable},
			{"success envelope", answer{Body: `{"response":1}`}, "", "", adapters.ErrUnavailable},
			{"msg object", el("TZ_NUM_ANSWER", `{"a":1}`), "", "", adapters.ErrUnavailable},
			{"state not a string", answer{Body: `[{"response":5,"tzid":10000}]`}, "", "", adapters.ErrUnavailable},
			{"html", html, "", "", adapters.ErrUnavailable},
		}
		sc := scripted(t)
		for _, tc := range cases {
			c := sc.set(map[string]answer{"getState": tc.a})
			u, err := c.Check(ctx, "10000")
			var codes []string
			for _, s := range u.SMS {
				codes = append(codes, s.Code)
			}
			if !errors.Is(err, tc.err) || u.State != tc.want || strings.Join(codes, ",") != tc.codes {
				t.Errorf("%s: check = %+v, %v; want %s [%s], %v", tc.name, u, err, tc.want, tc.codes, tc.err)
			}
		}
	})

	t.Run("close and revise", func(t *testing.T) {
		ok := answer{Body: `{"response": 1, "tzid": 10000}`}
		cases := []struct {
			name string
			a    answer
			op   func(c *onlinesim.Client) error
			want error
		}{
			{"cancel ok", ok, func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, nil},
			{"cancel guarded", code("NO_COMPLETE_TZID"), func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, adapters.ErrEarlyCancel},
			{"cancel wrong tzid", code("ERROR_WRONG_TZID"), func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, adapters.ErrNoActivation},
			{"cancel no tzid", code("ERROR_NO_TZID"), func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, adapters.ErrNoActivation},
			{"cancel expired", code("LIFICYCLE_NUM_EXPIRED"), func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, adapters.ErrBadState},
			{"cancel garbage", answer{Body: `{"response":true}`}, func(c *onlinesim.Client) error { return c.Cancel(ctx, "10000") }, adapters.ErrUnavailable},
			{"revise ok", ok, func(c *onlinesim.Client) error { return c.RequestAnother(ctx, "10000") }, nil},
			// A new tzid in the answer is accepted; the order keeps its id.
			{"revise new id", answer{Body: `{"response":1,"tzid":10001}`}, func(c *onlinesim.Client) error { return c.RequestAnother(ctx, "10000") }, nil},
			{"revise wrong tzid", code("ERROR_WRONG_TZID"), func(c *onlinesim.Client) error { return c.RequestAnother(ctx, "10000") }, adapters.ErrNoActivation},
			{"revise no operations", code("ERROR_NO_OPERATIONS"), func(c *onlinesim.Client) error { return c.RequestAnother(ctx, "10000") }, adapters.ErrNoActivation},
		}
		sc := scripted(t)
		for _, tc := range cases {
			c := sc.set(map[string]answer{"setOperationOk": tc.a, "setOperationRevise": tc.a, "getState": wait})
			if err := tc.op(c); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
			}
		}
		answered := answer{Body: `[{"response":"TZ_NUM_ANSWER","tzid":10000,"msg":"12345"}]`}
		c := sc.set(map[string]answer{"setOperationOk": code("NO_COMPLETE_TZID"), "getState": answered})
		if err := c.Finish(ctx, "10000"); !errors.Is(err, adapters.ErrBadState) || errors.Is(err, adapters.ErrEarlyCancel) {
			t.Errorf("finish refused in the guard = %v; want ErrBadState only", err)
		}
	})

	t.Run("offers and countries", func(t *testing.T) {
		single := `{"name": "United Kingdom", "position": 5, "code": 44, "other": 0, "new": false, "enabled": true,
 "services": {
   "service_telegram": {"count": 120, "popular": true, "code": 44, "price": 14, "id": 12, "service": "Telegram", "slug": "telegram"},
   "service_vk": {"count": 3, "code": 44, "price": "7.5", "slug": "vkcom"},
   "service_x": {"count": 1, "price": 1, "slug": "nothing-we-sell"}}}`
		sc := scripted(t)
		c := sc.set(map[string]answer{"getNumbersStats": {Body: single}})
		offers, err := c.Offers(ctx, "", "gb")
		if err != nil || len(offers) != 2 {
			t.Fatalf("offers = %+v, %v; want telegram and vk", offers, err)
		}
		byService := map[string]adapters.Offer{}
		for _, o := range offers {
			byService[o.Service] = o
		}
		if o := byService["tg"]; o.Country != "gb" || o.Price.Micros != 14*adapters.Micro || o.Count != 120 {
			t.Fatalf("tg offer %+v", o)
		}
		if o := byService["vk"]; o.Price.Micros != 7_500_000 || o.Count != 3 {
			t.Fatalf("vk offer %+v (slug in another case)", o)
		}
		all := `{"any": {"code": 7, "enabled": true, "services": {"a": {"slug": "telegram", "price": 10, "count": 5}}},
 "other": {"code": 44, "enabled": false, "services": {"a": {"slug": "telegram", "price": 10, "count": 5}}}}`
		c = sc.set(map[string]answer{"getNumbersStats": {Body: all}})
		if offers, err := c.Offers(ctx, "tg", ""); err != nil || len(offers) != 1 || offers[0].Country != "ru" {
			t.Fatalf("offers from country=all = %+v, %v; want ru only (gb disabled)", offers, err)
		}
		for _, a := range []answer{code("ERROR_WRONG_KEY"), html, {Body: `{"a":1}`}} {
			c = sc.set(map[string]answer{"getNumbersStats": a})
			if _, err := c.Offers(ctx, "tg", "gb"); err == nil {
				t.Errorf("%q: offers succeeded", a.Body)
			}
		}
		tariffs := `{"response": "1",
 "countries": {"_44": {"name": "United Kingdom", "original": "United Kingdom", "code": 44, "pos": 5, "other": false, "new": false, "enable": true},
               "_7": {"code": 7, "enable": true}, "_49": {"code": 49, "enable": false}, "_999": {"code": 999}},
 "services":  {"service_telegram": {"id": 12, "service": "Telegram", "slug": "telegram", "count": 120, "price": "14"}},
 "favorite_countries": {}, "favorite_services": [], "favorites": {},
 "page": 1, "country": 44, "filter": "", "end": false}`
		c = sc.set(map[string]answer{"getTariffs": {Body: tariffs}})
		if got, err := c.Countries(ctx); err != nil || strings.Join(got, ",") != "gb,ru" {
			t.Fatalf("countries = %v, %v; want gb,ru", got, err)
		}
	})
}
