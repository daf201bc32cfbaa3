package smsreg_test

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
	"smsgate/adapters/simulator"
	"smsgate/adapters/smsreg"
)

const testKey = "sr-test-key-0123456789"

func methods(reqs []adapterstest.Request) string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = strings.TrimSuffix(strings.TrimPrefix(r.Path, "/"), ".php")
	}
	return strings.Join(out, ",")
}

// checkGET asserts one request: GET /<method>.php with exactly the query
// want plus the key, no body, and no header but the client's name.
func checkGET(t *testing.T, got adapterstest.Request, method string, want map[string]string) {
	t.Helper()
	q := map[string]string{}
	maps.Copy(q, want)
	q["apikey"] = testKey
	adapterstest.CheckGET(t, got, "/"+method+".php", q)
}

type fixture struct {
	market *simulator.Market
	clock  *simulator.ManualClock
	rec    *adapterstest.Recorder
	client *smsreg.Client
	url    string // the skin's base URL
}

func newFixture(t *testing.T, so smsreg.SkinOptions, mc simulator.Config) *fixture {
	t.Helper()
	mc.Key, mc.Currency = testKey, "RUB"
	rec := &adapterstest.Recorder{}
	h := adapterstest.Serve(t, mc, func(m *simulator.Market) fasthttp.RequestHandler {
		return rec.Wrap(smsreg.NewSkinWith(m, so))
	})
	c, err := smsreg.New(smsreg.Options{BaseURL: h.Server.URL, Key: testKey, Timeout: 5 * time.Second, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{market: h.Market, clock: h.Clock, rec: rec, client: c, url: h.Server.URL}
}

// newestOrder is the market order behind the last purchase: the skin's
// tzids are its own, and the tests that use this buy one order at a time.
func newestOrder(t *testing.T, f *fixture) simulator.Order {
	t.Helper()
	orders := f.market.Active()
	if len(orders) == 0 {
		t.Fatal("no active order")
	}
	return orders[len(orders)-1]
}

// answer is a canned upstream reply.
type answer = adapterstest.Answer

// script serves canned answers per method; a method given several answers
// replies with them in turn and then repeats the last. Unknown: 404.
type script struct {
	*adapterstest.Script
	client *smsreg.Client
	rec    *adapterstest.Recorder
}

func scripted(t *testing.T) *script {
	t.Helper()
	s := &script{rec: &adapterstest.Recorder{}, Script: adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string {
		return strings.TrimSuffix(strings.TrimPrefix(string(ctx.Path()), "/"), ".php")
	})}
	url := adapterstest.ServeHandler(t, s.rec.Wrap(s.Handle))
	c, err := smsreg.New(smsreg.Options{BaseURL: url, Key: testKey, Timeout: 5 * time.Second, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// set replaces the answers (and forgets the requests seen so far).
func (s *script) set(answers map[string][]answer) *smsreg.Client {
	s.Set(answers)
	s.rec.Take()
	return s.client
}

func one(body string) []answer { return []answer{{Body: body}} }

func errBody(msg string) string { return `{"response":"ERROR","error_msg":"` + msg + `"}` }

const listRU = `{"response":"1","services":[{"service":"telegram","description":"Telegram","countries":{"ru":{"price":"12.50","count":42}}}]}`

// TestExactRequests pins every request the client sends, in order.
func TestExactRequests(t *testing.T) {
	f := newFixture(t, smsreg.SkinOptions{}, simulator.Config{CodeDelay: 5 * time.Second})
	ctx := context.Background()
	var p adapters.Purchase
	tz := func() map[string]string { return map[string]string{"tzid": p.UpstreamID} }
	type want struct {
		method string
		query  func() map[string]string
	}
	list := func() map[string]string { return map[string]string{"extended": "1"} }
	steps := []struct {
		name string
		do   func() error
		want []want
	}{
		{"balance", func() error { _, err := f.client.Balance(ctx); return err }, []want{{"getBalance", nil}}},
		{"buy", func() (err error) {
			p, err = f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
			return err
		}, []want{
			{"getList", list},
			{"getNum", func() map[string]string { return map[string]string{"service": "telegram", "country": "ru"} }},
			{"getState", tz}, // TZ_INPOOL
			{"getState", tz}, // TZ_NUM_PREPARE with the number
			{"setReady", tz},
		}},
		{"check", func() error { _, err := f.client.Check(ctx, p.UpstreamID); return err }, []want{{"getState", tz}}},
		{"ready again", func() error { return f.client.Ready(ctx, p.UpstreamID) }, []want{{"setReady", tz}, {"getState", tz}}},
		{"another", func() error {
			f.clock.Advance(5 * time.Second)
			return f.client.RequestAnother(ctx, p.UpstreamID)
		}, []want{{"setOperationRevise", tz}}},
		{"finish", func() error {
			f.clock.Advance(5 * time.Second)
			return f.client.Finish(ctx, p.UpstreamID)
		}, []want{{"setOperationOk", tz}}},
		{"buy and cancel", func() (err error) {
			if p, err = f.client.Buy(ctx, adapters.BuyRequest{Country: "kz", Service: "wa"}); err != nil {
				return err
			}
			f.rec.Take()
			return f.client.Cancel(ctx, p.UpstreamID)
		}, []want{{"setOperationUsed", tz}}},
		{"offers", func() error { _, err := f.client.Offers(ctx, "tg", "ru"); return err }, []want{{"getList", list}}},
		{"countries", func() error { _, err := f.client.Countries(ctx); return err }, []want{{"getList", list}}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := f.rec.Take()
		if len(got) != len(s.want) {
			t.Fatalf("%s: requests %s; want %d", s.name, methods(got), len(s.want))
		}
		for i, w := range s.want {
			var q map[string]string
			if w.query != nil {
				q = w.query()
			}
			checkGET(t, got[i], w.method, q)
		}
	}
}

func TestCodeMaps(t *testing.T) {
	adapterstest.CodeMaps(t, smsreg.Countries, smsreg.Services)
	c, _ := smsreg.New(smsreg.Options{BaseURL: "http://127.0.0.1:1", Key: testKey})
	if _, err := c.Buy(context.Background(), adapters.BuyRequest{Country: "us", Service: "tg"}); !errors.Is(err, adapters.ErrBadCountry) {
		t.Fatalf("buy in us = %v; want ErrBadCountry without a call", err)
	}
	if _, err := c.Buy(context.Background(), adapters.BuyRequest{Country: "ru", Service: "acz"}); !errors.Is(err, adapters.ErrBadService) {
		t.Fatalf("buy of an unmapped service = %v; want ErrBadService without a call", err)
	}
	if o, err := c.Offers(context.Background(), "tg", "us"); err != nil || len(o) != 0 {
		t.Fatalf("offers in us = %v, %v; want none, no error", o, err)
	}
}

// TestLateAssignment: the number comes through getState, after any number
// of TZ_INPOOL answers or once the market clock has moved on (§2.4).
func TestLateAssignment(t *testing.T) {
	ctx := context.Background()
	t.Run("after polls", func(t *testing.T) {
		f := newFixture(t, smsreg.SkinOptions{InPoolPolls: 3}, simulator.Config{})
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ua", Service: "vi"})
		if err != nil {
			t.Fatal(err)
		}
		if got := methods(f.rec.Take()); got != "getList,getNum,getState,getState,getState,getState,setReady" {
			t.Fatalf("requests %s", got)
		}
		o := newestOrder(t, f)
		if p.Phone != o.Phone || !strings.HasPrefix(p.Phone, "380") || p.Price != (adapters.Money{Micros: o.Price, Currency: "RUB"}) {
			t.Fatalf("purchase %+v; want phone %s price %d RUB", p, o.Phone, o.Price)
		}
	})
	t.Run("after time", func(t *testing.T) {
		f := newFixture(t, smsreg.SkinOptions{AssignDelay: 30 * time.Second}, simulator.Config{})
		done := make(chan error, 1)
		go func() {
			_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
			done <- err
		}()
		for f.market.Calls("getState") < 3 {
			select {
			case err := <-done:
				t.Fatalf("buy ended before the clock moved: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		f.clock.Advance(30 * time.Second)
		if err := <-done; err != nil {
			t.Fatalf("buy: %v", err)
		}
	})
}

// TestNeverAssigned: Buy gives up within its deadline, cancels the
// operation with setOperationUsed and, once the cancel is confirmed,
// answers ErrUnavailable — not ErrOutcomeUnknown.
func TestNeverAssigned(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, smsreg.SkinOptions{InPoolPolls: -1}, simulator.Config{CodeDelay: -1})
	bal0 := f.market.Balance()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := smsreg.New(smsreg.Options{BaseURL: f.url, Key: testKey, Timeout: 10 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Buy(cctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
	if !errors.Is(err, adapters.ErrUnavailable) || errors.Is(err, adapters.ErrOutcomeUnknown) || errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy = %v; want ErrUnavailable only", err)
	}
	// Within its deadline (with slack for a loaded machine), not the
	// client's 10s timeout.
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("buy took %v; want it within its 2s deadline", el)
	}
	reqs := f.rec.Take()
	last := reqs[len(reqs)-1]
	if n := f.market.Calls("getState"); n < 5 {
		t.Fatalf("getState polled %d times; want polling at the interval", n)
	}
	if f.market.Calls("setOperationUsed") != 1 || f.market.Calls("setReady") != 0 {
		t.Fatalf("requests %s; want one setOperationUsed, no setReady", methods(reqs))
	}
	// reqs: getList, getNum, then getState for the tzid getNum answered.
	checkGET(t, last, "setOperationUsed", map[string]string{"tzid": reqs[2].Query["tzid"]})
	if f.market.Balance() != bal0 {
		t.Fatal("the cancelled operation was not refunded")
	}

	// When the cancel is not confirmed the operation may still be issued:
	// then the outcome is unknown.
	sc := scripted(t)
	c = sc.set(map[string][]answer{
		"getList":          one(listRU),
		"getNum":           one(`{"response":"1","tzid":"12345678"}`),
		"getState":         one(`{"response":"TZ_INPOOL","service":"telegram"}`),
		"setOperationUsed": one(errBody("setOperationUsed to this TZID not applicable")),
	})
	cctx2, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	_, err = c.Buy(cctx2, adapters.BuyRequest{Country: "ru", Service: "tg"})
	if !errors.Is(err, adapters.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "12345678") {
		t.Fatalf("buy with a failed cancel = %v; want ErrOutcomeUnknown naming the tzid", err)
	}
}

// TestIssueFailures: the platform ends the issue itself (no numbers, a
// 15-minute freeze): a canonical business error and no cancel sent.
func TestIssueFailures(t *testing.T) {
	ctx := context.Background()
	sc := scripted(t)
	for _, tc := range []struct {
		states []answer
		want   error
	}{
		{one(`{"response":"WARNING_NO_NUMS"}`), adapters.ErrNoNumbers},
		{[]answer{{Body: `{"response":"TZ_INPOOL","service":"telegram"}`}, {Body: `{"response":"WARNING_NO_NUMS","service":"telegram"}`}}, adapters.ErrNoNumbers},
		{one(`{"response":"WARNING_WAIT15MIN"}`), adapters.ErrAuth},
		{one(`{"response":"TZ_DELETED"}`), adapters.ErrNoNumbers},
	} {
		c := sc.set(map[string][]answer{
			"getList": one(listRU), "getNum": one(`{"response":"1","tzid":"12345678"}`), "getState": tc.states,
		})
		_, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
		if !errors.Is(err, tc.want) || errors.Is(err, adapters.ErrOutcomeUnknown) {
			t.Errorf("%v: buy = %v; want %v", tc.states, err, tc.want)
		}
		if got := methods(sc.rec.Take()); strings.Contains(got, "setOperationUsed") {
			t.Errorf("%v: requests %s; want no cancel", tc.states, got)
		}
	}
	// The skin's own freeze for a banned account.
	f := newFixture(t, smsreg.SkinOptions{}, simulator.Config{})
	f.market.SetBanned(f.clock.Now().Add(time.Hour))
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"}); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("buy on a frozen account = %v; want ErrAuth", err)
	}
}

// TestSetOperationUsed: the cancel of SMS-REG gives the money back and
// ends the operation as TZ_DELETED; after a code it is refused.
func TestSetOperationUsed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, smsreg.SkinOptions{}, simulator.Config{CodeDelay: 5 * time.Second})
	bal0 := f.market.Balance()
	p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wb"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client.Cancel(ctx, p.UpstreamID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if f.market.Balance() != bal0 {
		t.Fatal("cancel did not refund")
	}
	if u, err := f.client.Check(ctx, p.UpstreamID); err != nil || u.State != adapters.StateCancelled {
		t.Fatalf("after cancel = %+v, %v; want cancelled (TZ_DELETED)", u, err)
	}
	p, err = f.client.Buy(ctx, adapters.BuyRequest{Country: "cn", Service: "wb"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5 * time.Second)
	err = f.client.Cancel(ctx, p.UpstreamID)
	if !errors.Is(err, adapters.ErrBadState) || !strings.Contains(err.Error(), "setOperationUsed to this TZID not applicable") {
		t.Fatalf("cancel after a code = %v; want not applicable as ErrBadState", err)
	}
	if err := f.client.RequestAnother(ctx, p.UpstreamID); err != nil {
		t.Fatalf("revise: %v", err)
	}
	if err := f.client.RequestAnother(ctx, p.UpstreamID); !errors.Is(err, adapters.ErrBadState) {
		t.Fatalf("second revise = %v; want ErrBadState (one clarification)", err)
	}
	if _, err := f.client.Check(ctx, "99999999"); !errors.Is(err, adapters.ErrNoActivation) {
		t.Fatalf("check of an unknown tzid = %v; want ErrNoActivation", err)
	}
}

func TestMaxPriceAndOperator(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, smsreg.SkinOptions{}, simulator.Config{})
	price := f.market.Offers("ru", "vk")[0].Price
	_, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "vk", MaxPrice: adapters.Money{Micros: price - 10_000, Currency: "RUB"}})
	var pf *adapters.PriceFloorError
	if !errors.As(err, &pf) || pf.Min != (adapters.Money{Micros: price, Currency: "RUB"}) {
		t.Fatalf("buy under the price = %v; want a floor of %d RUB", err, price)
	}
	f.market.SetStock("ru", "wa", 0)
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "wa"}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with no stock = %v; want ErrNoNumbers", err)
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg", Operator: "mts"}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy with an operator = %v; want ErrNoNumbers", err)
	}
	if n := f.market.Calls("getNum"); n != 0 {
		t.Fatalf("getNum sent %d times for refused purchases", n)
	}
	if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "vk", MaxPrice: adapters.Money{Micros: price, Currency: "RUB"}}); err != nil {
		t.Fatalf("buy at the max price: %v", err)
	}
}

// TestAnswers maps every documented answer (§2, §4) to what the client
// makes of it.
func TestAnswers(t *testing.T) {
	ctx := context.Background()
	html := answer{Status: 200, Body: simulator.GarbageBody}
	sc := scripted(t)

	t.Run("balance", func(t *testing.T) {
		for _, tc := range []struct {
			a    answer
			want error
			bal  int64
		}{
			{answer{Body: `{"response":"1","balance":"123.45"}`}, nil, 123_450_000},
			{answer{Body: `{"response":1,"balance":123.45}`}, nil, 123_450_000},
			{answer{Body: errBody("ERROR_NO_KEY")}, adapters.ErrAuth, 0},
			{answer{Body: errBody("ERROR_WRONG_KEY")}, adapters.ErrAuth, 0},
			{answer{Body: errBody("ERROR_KEY_NEED_CHANGE")}, adapters.ErrAuth, 0},
			{answer{Body: `{"response":"0","error_msg":"ERROR_WRONG_KEY"}`}, adapters.ErrAuth, 0},
			{answer{Body: `{"response":"0"}`}, adapters.ErrUnavailable, 0},
			{answer{Body: errBody("Something else")}, adapters.ErrUnavailable, 0},
			{answer{Body: `{"response":"1"}`}, adapters.ErrUnavailable, 0},
			{answer{Body: `{"response":"2","balance":"1"}`}, adapters.ErrUnavailable, 0},
			{answer{Body: `balance: 5`}, adapters.ErrUnavailable, 0},
			{answer{Body: ``}, adapters.ErrUnavailable, 0},
			{html, adapters.ErrUnavailable, 0},
			{answer{Status: 503, Body: `{"response":"1","balance":"1.00"}`}, adapters.ErrUnavailable, 0},
			{answer{Status: 429, Body: ``}, adapters.ErrUnavailable, 0},
			{answer{Status: 401, Body: errBody("ERROR_WRONG_KEY")}, adapters.ErrAuth, 0},
			// A proxy echoing the request: the key must not reach the error.
			{answer{Body: "bad request apikey=" + testKey}, adapters.ErrUnavailable, 0},
			{answer{Body: errBody("key " + testKey + " is wrong")}, adapters.ErrUnavailable, 0},
		} {
			got, err := sc.set(map[string][]answer{"getBalance": {tc.a}}).Balance(ctx)
			if !errors.Is(err, tc.want) || (tc.want == nil && got != (adapters.Money{Micros: tc.bal, Currency: "RUB"})) {
				t.Errorf("%d %q: balance %v, %v; want %d RUB, %v", tc.a.Status, tc.a.Body, got, err, tc.bal, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q shows the key", err)
			}
		}
	})

	t.Run("getNum", func(t *testing.T) {
		prepare := one(`{"response":"TZ_NUM_PREPARE","service":"telegram","number":"79001234567"}`)
		for _, tc := range []struct {
			a       answer
			want    error
			unknown bool
		}{
			{answer{Body: errBody("WARNING_LOW_BALANCE")}, adapters.ErrNoBalance, false},
			{answer{Body: errBody("Service not define")}, adapters.ErrBadService, false},
			{answer{Body: errBody("There is no service value")}, adapters.ErrBadService, false},
			{answer{Body: errBody("Wrong characters in parameters")}, adapters.ErrUnavailable, false},
			{answer{Body: errBody("There is no country value")}, adapters.ErrUnavailable, false},
			{answer{Body: errBody("ERROR_WRONG_KEY")}, adapters.ErrAuth, false},
			{answer{Body: `{"response":"0"}`}, adapters.ErrUnavailable, false},
			{answer{Body: `{"response":"1"}`}, adapters.ErrOutcomeUnknown, true},
			{answer{Body: `{"response":"1","tzid":"abc"}`}, adapters.ErrOutcomeUnknown, true},
			{answer{Body: `tzid=12345678`}, adapters.ErrOutcomeUnknown, true},
			{html, adapters.ErrUnavailable, false},
			{answer{Status: 500, Body: ``}, adapters.ErrUnavailable, false},
		} {
			c := sc.set(map[string][]answer{"getList": one(listRU), "getNum": {tc.a}, "getState": prepare, "setReady": one(`{"response":"1"}`)})
			_, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
			if !errors.Is(err, tc.want) || errors.Is(err, adapters.ErrOutcomeUnknown) != tc.unknown {
				t.Errorf("%d %q: buy = %v; want %v (outcome unknown %v)", tc.a.Status, tc.a.Body, err, tc.want, tc.unknown)
			}
		}
		for _, body := range []string{`{"response":"1","tzid":"12345678"}`, `{"response":1,"tzid":12345678}`} {
			c := sc.set(map[string][]answer{"getList": one(listRU), "getNum": one(body), "getState": prepare, "setReady": one(`{"response":"1"}`)})
			p, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"})
			if err != nil || p != (adapters.Purchase{UpstreamID: "12345678", Phone: "79001234567", Price: adapters.Money{Micros: 12_500_000, Currency: "RUB"}}) {
				t.Errorf("%s: purchase %+v, %v", body, p, err)
			}
		}
		// A failed setReady does not undo the purchase.
		c := sc.set(map[string][]answer{"getList": one(listRU), "getNum": one(`{"response":"1","tzid":"1"}`), "getState": prepare, "setReady": {{Status: 502}}})
		if _, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"}); err != nil {
			t.Errorf("buy with a failed setReady: %v", err)
		}
	})

	t.Run("getState", func(t *testing.T) {
		st := func(token, extra string) answer {
			return answer{Body: `{"response":"` + token + `","service":"telegram","number":"79001234567"` + extra + `}`}
		}
		msg := `,"msg":"12345"`
		for _, tc := range []struct {
			a          answer
			want       adapters.State
			code, text string
			err        error
		}{
			{answer{Body: `{"response":"TZ_INPOOL","service":"telegram"}`}, adapters.StateWaiting, "", "", nil},
			{st("TZ_NUM_PREPARE", ""), adapters.StateWaiting, "", "", nil},
			{st("TZ_NUM_WAIT", ""), adapters.StateWaiting, "", "", nil},
			{st("TZ_NUM_ANSWER", msg), adapters.StateCodeReceived, "12345", "12345", nil},
			{st("TZ_NUM_WAIT2", ""), adapters.StateRetryWaiting, "", "", nil},
			{st("TZ_NUM_ANSWER2", `,"msg":"67890"`), adapters.StateCodeReceived, "67890", "67890", nil},
			{st("TZ_OVER_OK", msg), adapters.StateFinished, "12345", "12345", nil},
			{st("TZ_OVER2_OK", msg), adapters.StateFinished, "12345", "12345", nil},
			{st("TZ_OVER_GR", msg), adapters.StateFinished, "12345", "12345", nil},
			{st("TZ_OVER2_EMPTY", ""), adapters.StateFinished, "", "", nil},
			{st("TZ_OVER_EMPTY", ""), adapters.StateExpired, "", "", nil},
			{st("TZ_OVER_NR", ""), adapters.StateExpired, "", "", nil},
			{st("TZ_DELETED", ""), adapters.StateCancelled, "", "", nil},
			{answer{Body: `{"response":"WARNING_NO_NUMS"}`}, adapters.StateCancelled, "", "", nil},
			{answer{Body: `{"response":"WARNING_WAIT15MIN"}`}, adapters.StateCancelled, "", "", nil},
			// full_msg: the text next to the code, or instead of an empty msg.
			{st("TZ_NUM_ANSWER", msg+`,"full_msg":"Telegram code 12345"`), adapters.StateCodeReceived, "12345", "Telegram code 12345", nil},
			{st("TZ_NUM_ANSWER", `,"msg":"","full_msg":"Your code: 4321"`), adapters.StateCodeReceived, "4321", "Your code: 4321", nil},
			{st("TZ_NUM_ANSWER", `,"msg":"Your code: 4321"`), adapters.StateCodeReceived, "4321", "Your code: 4321", nil},
			{answer{Body: `{"0":{"response":"TZ_NUM_WAIT"}}`}, adapters.StateWaiting, "", "", nil},
			{answer{Body: errBody("TZID wrong")}, "", "", "", adapters.ErrNoActivation},
			{answer{Body: errBody("Error: TZID wrong or deleted")}, "", "", "", adapters.ErrNoActivation},
			{answer{Body: errBody("TZID must be number")}, "", "", "", adapters.ErrNoActivation},
			{answer{Body: errBody("There is no TZID value")}, "", "", "", adapters.ErrNoActivation},
			{st("TZ_SOMETHING_NEW", ""), "", "", "", adapters.ErrUnavailable},
			{answer{Body: `{"response":"1"}`}, "", "", "", adapters.ErrUnavailable},
			{answer{Body: `{"response":"tz num wait"}`}, "", "", "", adapters.ErrUnavailable},
			{answer{Body: `{"state":"TZ_NUM_WAIT"}`}, "", "", "", adapters.ErrUnavailable},
			{html, "", "", "", adapters.ErrUnavailable},
		} {
			u, err := sc.set(map[string][]answer{"getState": {tc.a}}).Check(ctx, "12345678")
			var code, text string
			if len(u.SMS) > 0 {
				code, text = u.SMS[0].Code, u.SMS[0].Text
			}
			if !errors.Is(err, tc.err) || u.State != tc.want || code != tc.code || text != tc.text {
				t.Errorf("%q: check = %+v, %v; want %s %q/%q, %v", tc.a.Body, u, err, tc.want, tc.code, tc.text, tc.err)
			}
		}
	})

	t.Run("set methods", func(t *testing.T) {
		ops := map[string]func(c *smsreg.Client) error{
			"setOperationOk":     func(c *smsreg.Client) error { return c.Finish(ctx, "12345678") },
			"setOperationUsed":   func(c *smsreg.Client) error { return c.Cancel(ctx, "12345678") },
			"setOperationRevise": func(c *smsreg.Client) error { return c.RequestAnother(ctx, "12345678") },
			"setReady":           func(c *smsreg.Client) error { return c.Ready(ctx, "12345678") },
		}
		for method, op := range ops {
			for _, tc := range []struct {
				a    answer
				want error
			}{
				{answer{Body: `{"response":"1"}`}, nil},
				{answer{Body: `{"response":"1","tzid":"12345678"}`}, nil},
				{answer{Body: errBody(method + " to this TZID not applicable")}, adapters.ErrBadState},
				{answer{Body: errBody("TZID wrong")}, adapters.ErrNoActivation},
				{answer{Body: `{"response":"0"}`}, adapters.ErrUnavailable},
				{answer{Body: `{"response":"TZ_NUM_WAIT"}`}, adapters.ErrUnavailable},
				{html, adapters.ErrUnavailable},
			} {
				// For setReady, a refusal is checked against the state: not ready yet.
				c := sc.set(map[string][]answer{method: {tc.a}, "getState": one(`{"response":"TZ_NUM_PREPARE","number":"7900"}`)})
				if err := op(c); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Errorf("%s %q: %v; want %v", method, tc.a.Body, err, tc.want)
				}
			}
		}
		// setReady refused because the operation is already waiting: ready.
		c := sc.set(map[string][]answer{
			"setReady": one(errBody("setReady to this TZID not applicable")),
			"getState": one(`{"response":"TZ_NUM_WAIT","number":"7900"}`),
		})
		if err := c.Ready(ctx, "12345678"); err != nil {
			t.Errorf("ready on a waiting operation: %v", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		detail := `{"response":"1","services":[
 {"service":"telegram","description":"Telegram","countries":{"ru":{"price":"12.50","count":42},"kz":{"price":9,"count":"3"},"RU-MOS":{"price":"1","count":1}}},
 {"service":"vk","description":"VK","countries":{"ru":{"price":"bad","count":1}}},
 {"service":"fotostrana","description":"Fotostrana","countries":{"ru":{"price":"1.00","count":1}}}]}`
		c := sc.set(map[string][]answer{"getList": one(detail)})
		offers, err := c.Offers(ctx, "", "")
		if err != nil || len(offers) != 2 {
			t.Fatalf("offers = %+v, %v; want tg in ru and kz", offers, err)
		}
		for _, o := range offers {
			want := map[string]adapters.Offer{
				"ru": {Country: "ru", Service: "tg", Price: adapters.Money{Micros: 12_500_000, Currency: "RUB"}, Count: 42},
				"kz": {Country: "kz", Service: "tg", Price: adapters.Money{Micros: 9_000_000, Currency: "RUB"}, Count: 3},
			}[o.Country]
			if o != want {
				t.Errorf("offer %+v; want %+v", o, want)
			}
		}
		if got, err := c.Countries(ctx); err != nil || strings.Join(got, ",") != "kz,ru" {
			t.Errorf("countries = %v, %v; want kz,ru", got, err)
		}
		// The plain list (no detail): no offers, the documented countries,
		// purchases without a known price, and none under a max price.
		plain := `{"response":"1","services":[{"service":"telegram","description":"Telegram"}]}`
		c = sc.set(map[string][]answer{"getList": one(plain)})
		if offers, err := c.Offers(ctx, "tg", "ru"); err != nil || len(offers) != 0 {
			t.Errorf("offers without detail = %+v, %v; want none", offers, err)
		}
		if got, err := c.Countries(ctx); err != nil || strings.Join(got, ",") != "cn,kz,ru,ua" {
			t.Errorf("countries without detail = %v, %v; want cn,kz,ru,ua", got, err)
		}
		if _, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg", MaxPrice: adapters.Money{Micros: 1}}); !errors.Is(err, adapters.ErrPriceTooHigh) {
			t.Errorf("buy under a cap with no price = %v; want ErrPriceTooHigh", err)
		}
		c = sc.set(map[string][]answer{
			"getList": one(plain), "getNum": one(`{"response":"1","tzid":"5"}`),
			"getState": one(`{"response":"TZ_NUM_PREPARE","number":"+79001234567"}`), "setReady": one(`{"response":"1"}`),
		})
		if p, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "tg"}); err != nil || p.Phone != "79001234567" || p.Price != (adapters.Money{Currency: "RUB"}) {
			t.Errorf("buy without a listed price = %+v, %v; want bought, price unknown", p, err)
		}
		if _, err := c.Buy(ctx, adapters.BuyRequest{Country: "ru", Service: "wa"}); !errors.Is(err, adapters.ErrBadService) {
			t.Errorf("buy of an unlisted service = %v; want ErrBadService", err)
		}
		for _, a := range []answer{{Body: errBody("ERROR_WRONG_KEY")}, html, {Body: `{"response":"1","services":"none"}`}, {Body: `{"response":"1"}`}} {
			if _, err := sc.set(map[string][]answer{"getList": {a}}).Offers(ctx, "", ""); err == nil {
				t.Errorf("%q: offers succeeded", a.Body)
			}
		}
	})
}
