package receivesms_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
)

func TestCallback(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := simulator.NewManualClock(now)
	r, err := receivesms.New(receivesms.Options{Key: testKey, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "secret=cb-secret-0987654321"
	cases := []struct {
		name, method, uri, form string
		phone                   string
		msg                     pool.Message
		err                     bool
	}{
		{name: "get", method: "GET", uri: "/webhooks/receivesms?" + secret + "&sender=Telegram&receiver=12025550143&message=Telegram+code%3A+48213",
			phone: "12025550143", msg: pool.Message{From: "Telegram", Text: "Telegram code: 48213", At: now}},
		{name: "get, receiver with punctuation", method: "GET", uri: "/webhooks/receivesms?receiver=%2B1%20(202)%20555-0143&sender=1234567890&message=Your%20code%20is%2048213%20%26%20ok",
			phone: "12025550143", msg: pool.Message{From: "1234567890", Text: "Your code is 48213 & ok", At: now}},
		{name: "get, no sender", method: "GET", uri: "/webhooks/receivesms?receiver=12025550143&message=hi",
			phone: "12025550143", msg: pool.Message{Text: "hi", At: now}},
		{name: "post form", method: "POST", uri: "/webhooks/receivesms?" + secret, form: "sender=WhatsApp&receiver=447700900123&message=WhatsApp+code+123-456",
			phone: "447700900123", msg: pool.Message{From: "WhatsApp", Text: "WhatsApp code 123-456", At: now}},
		{name: "no receiver", method: "GET", uri: "/webhooks/receivesms?" + secret + "&sender=a&message=b", err: true},
		{name: "blank receiver", method: "GET", uri: "/webhooks/receivesms?" + secret + "&receiver=+&message=b", err: true},
		{name: "receiver not a phone", method: "GET", uri: "/webhooks/receivesms?" + secret + "&receiver=abc12&message=b", err: true},
		{name: "no message", method: "GET", uri: "/webhooks/receivesms?" + secret + "&sender=a&receiver=12025550143", err: true},
		{name: "empty message", method: "POST", uri: "/webhooks/receivesms?" + secret, form: "sender=a&receiver=12025550143&message=", err: true},
		{name: "nothing", method: "GET", uri: "/webhooks/receivesms", err: true},
	}
	for _, c := range cases {
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod(c.method)
		rc.Request.SetRequestURI(c.uri)
		if c.form != "" {
			rc.Request.Header.SetContentType("application/x-www-form-urlencoded")
			rc.Request.SetBodyString(c.form)
		}
		phone, msg, err := r.Callback(&rc)
		if c.err {
			if err == nil {
				t.Errorf("%s: callback = %q, %+v; want an error", c.name, phone, msg)
			} else if strings.Contains(err.Error(), "cb-secret") {
				t.Errorf("%s: error %q shows the secret", c.name, err)
			}
			continue
		}
		if err != nil || phone != c.phone || msg != c.msg {
			t.Errorf("%s: callback = %q, %+v, %v; want %q, %+v", c.name, phone, msg, err, c.phone, c.msg)
		}
	}
}

// hook is a loopback server standing in for the gateway's callback
// endpoint: every request's query goes to got, with what the Reader made
// of it.
type hook struct {
	url string
	got chan hookHit
}

type hookHit struct {
	method string
	query  map[string]string
	phone  string
	msg    pool.Message
	err    error
}

func newHook(t *testing.T, r *receivesms.Reader, status int) *hook {
	t.Helper()
	h := &hook{got: make(chan hookHit, 16)}
	srv, err := simulator.Serve(func(ctx *fasthttp.RequestCtx) {
		hit := hookHit{method: string(ctx.Method()), query: map[string]string{}}
		for k, v := range ctx.QueryArgs().All() {
			hit.query[string(k)] = string(v)
		}
		hit.phone, hit.msg, hit.err = r.Callback(ctx)
		ctx.SetStatusCode(status)
		h.got <- hit
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h.url = srv.URL
	return h
}

func (h *hook) wait(t *testing.T) hookHit {
	t.Helper()
	select {
	case hit := <-h.got:
		return hit
	case <-time.After(5 * time.Second):
		t.Fatal("no callback arrived")
		return hookHit{}
	}
}

func TestSimCallback(t *testing.T) {
	f := newFixture(t, receivesms.SimOptions{}, testKey, 2*time.Second)
	hk := newHook(t, f.reader, 200)
	const phone = "12025550143"
	f.Market.AddNumber(simulator.InboxNumber{Phone: phone, Country: "us"})

	// No URL yet: nothing is sent.
	if _, err := f.Market.Inject(phone, "Early", "not called back"); err != nil {
		t.Fatal(err)
	}
	// The gateway's address is known only now, its URL carrying a query.
	f.sim.SetCallback(hk.url + "/webhooks/receivesms?secret=s3cr3t")
	f.Clock.Advance(time.Minute)
	text := "Telegram code: 48213 & don't share it?#"
	if _, err := f.Market.Inject(phone, "Telegram", text); err != nil {
		t.Fatal(err)
	}
	hit := hk.wait(t)
	want := map[string]string{"secret": "s3cr3t", "sender": "Telegram", "receiver": phone, "message": text}
	if hit.method != "GET" || !maps.Equal(hit.query, want) {
		t.Fatalf("callback %s %v; want GET %v", hit.method, hit.query, want)
	}
	wantMsg := pool.Message{From: "Telegram", Text: text, At: f.Clock.Now()}
	if hit.err != nil || hit.phone != phone || hit.msg != wantMsg {
		t.Fatalf("reader read the callback as %q, %+v, %v; want %q, %+v", hit.phone, hit.msg, hit.err, phone, wantMsg)
	}
	f.sim.Close() // waits for the emitter's goroutine
	select {
	case extra := <-hk.got:
		t.Fatalf("unexpected callback %+v", extra)
	default:
	}
	// The code came by callback: the API was never polled for it.
	for name, n := range map[string]int64{"callback": 1, "callback_error": 0, "sms": 0} {
		if got := f.Market.Calls(name); got != n {
			t.Fatalf("%d %q calls; want %d", got, name, n)
		}
	}
}

func TestSimCallbackFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		url  func(t *testing.T, r *receivesms.Reader) string
	}{
		{"receiver answers 500", func(t *testing.T, r *receivesms.Reader) string { return newHook(t, r, 500).url + "/cb" }},
		{"connection refused", func(t *testing.T, r *receivesms.Reader) string {
			srv, err := simulator.Serve(func(*fasthttp.RequestCtx) {})
			if err != nil {
				t.Fatal(err)
			}
			srv.Close()
			return srv.URL + "/cb"
		}},
		{"not a url", func(*testing.T, *receivesms.Reader) string { return "http://[::1" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, receivesms.SimOptions{CallbackTimeout: 500 * time.Millisecond}, testKey, 2*time.Second)
			f.sim.SetCallback(c.url(t, f.reader))
			f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us"})
			if _, err := f.Market.Inject("12025550143", "x", "code 1"); err != nil {
				t.Fatal(err)
			}
			f.sim.Close()
			if a, e := f.Market.Calls("callback"), f.Market.Calls("callback_error"); a != 1 || e != 1 {
				t.Fatalf("callback calls %d, errors %d; want 1 and 1", a, e)
			}
		})
	}
}

// TestSimAPI pins the skin's answers as a client sees them on the wire.
func TestSimAPI(t *testing.T) {
	f := newFixture(t, receivesms.SimOptions{}, testKey, 2*time.Second)
	exp := f.Clock.Now().AddDate(0, 0, 30)
	f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us", ExpiresAt: exp})
	f.Market.AddNumber(simulator.InboxNumber{Phone: "447700900123", Country: "gb"})
	for i := range 5 {
		f.Clock.Advance(time.Second)
		if _, err := f.Market.Inject("12025550143", "S", "code "+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	hc := &fasthttp.Client{}
	do := func(method, path, auth string) (int, string) {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(f.Server.URL + path)
		req.Header.SetMethod(method)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if err := hc.DoTimeout(req, resp, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), string(resp.Body())
	}
	bearer := "Bearer " + testKey
	for _, c := range []struct {
		method, path, auth string
		status             int
		body               string // exact JSON when set
	}{
		{"GET", "/api/v1/balance", "", 401, `{"message":"Unauthenticated."}`},
		{"GET", "/api/v1/balance", "Basic " + testKey, 401, ""},
		{"GET", "/api/v1/balance", "Bearer wrong", 401, ""},
		{"GET", "/api/v1/balance", "bearer " + testKey, 200, `{"balance":"1000.00"}`},
		{"POST", "/api/v1/balance", bearer, 405, ""},
		{"GET", "/api/v1/nope", bearer, 404, ""},
		{"GET", "/api/v1/numbers/99912345678/sms", bearer, 404, `{"message":"Number not found."}`},
		{"GET", "/api/v1/numbers/447700900123/sms", bearer, 200, `{"messages":[]}`},
		{"GET", "/api/v1/numbers/12025550143/sms?limit=2", bearer, 200,
			`{"messages":[{"from":"S","message":"code 4","time":"2026-03-01T10:00:05+00:00"},{"from":"S","message":"code 3","time":"2026-03-01T10:00:04+00:00"}]}`},
		{"GET", "/api/v1/numbers", bearer, 200, `{"numbers":[` +
			`{"phone_number":"12025550143","country_code":"US","plan":"monthly","auto_renew":false,"message_count":5,` +
			`"rented_at":"2026-03-01T10:00:00+00:00","expiration_date":"2026-03-31T10:00:00+00:00","last_sms_received_date":"2026-03-01T10:00:05+00:00"},` +
			`{"phone_number":"447700900123","country_code":"GB","plan":"monthly","auto_renew":false,"message_count":0,` +
			`"rented_at":null,"expiration_date":null,"last_sms_received_date":null}]}`},
	} {
		code, body := do(c.method, c.path, c.auth)
		if code != c.status || (c.body != "" && body != c.body) {
			t.Errorf("%s %s (%s): %d %s; want %d %s", c.method, c.path, c.auth, code, body, c.status, c.body)
		}
		if !json.Valid([]byte(body)) {
			t.Errorf("%s %s: body %q is not JSON", c.method, c.path, body)
		}
	}
	// Without a limit every message comes, newest first.
	_, body := do("GET", "/api/v1/numbers/12025550143/sms", bearer)
	var v struct {
		Messages []struct{ Message string } `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Messages) != 5 || v.Messages[0].Message != "code 4" {
		t.Fatalf("sms without limit = %s", body)
	}
	for name, n := range map[string]int64{"balance": 5, "numbers": 1, "sms": 4} {
		if got := f.Market.Calls(name); got != n {
			t.Errorf("%d %q calls; want %d", got, name, n)
		}
	}
}
