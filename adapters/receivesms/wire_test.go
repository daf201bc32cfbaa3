package receivesms_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
)

// scripted is a Reader against canned answers: the forms of an answer the
// skin does not produce. Routes are the last path segment.
func scripted(t *testing.T) (*adapterstest.Script, *receivesms.Reader) {
	t.Helper()
	s := adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string {
		p := string(ctx.Path())
		return p[strings.LastIndexByte(p, '/')+1:]
	})
	r, err := receivesms.New(receivesms.Options{BaseURL: adapterstest.ServeHandler(t, s.Handle), Key: testKey, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

const cloudflare403 = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head></html>"

// failures are answers every call reads the same way.
var failures = []struct {
	name   string
	status int
	body   string
	want   error
}{
	{"401 json", 401, `{"message":"Unauthenticated."}`, adapters.ErrAuth},
	{"401 empty", 401, "", adapters.ErrAuth},
	{"403", 403, `{"error":"Forbidden"}`, adapters.ErrAuth},
	{"403 from a CDN", 403, cloudflare403, adapters.ErrUnavailable},
	{"429", 429, `{"message":"Too Many Attempts."}`, adapters.ErrUnavailable},
	{"500", 500, `{"message":"Server Error"}`, adapters.ErrUnavailable},
	{"502 html", 502, "<html>bad gateway</html>", adapters.ErrUnavailable},
	{"200 empty", 200, "", adapters.ErrUnavailable},
	{"200 html", 200, "<html><body>maintenance</body></html>", adapters.ErrUnavailable},
	{"200 text", 200, "OK", adapters.ErrUnavailable},
	{"200 truncated", 200, `{"balance":"1`, adapters.ErrUnavailable},
	{"302", 302, "", adapters.ErrUnavailable},
}

func TestBalanceAnswers(t *testing.T) {
	s, r := scripted(t)
	cases := []struct {
		name   string
		status int
		body   string
		want   int64
		err    error
	}{
		{"doc", 200, `{"balance": "12.50"}`, 12_500_000, nil},
		{"number", 200, `{"balance": 12.5}`, 12_500_000, nil},
		{"integer string", 200, `{"balance":"7"}`, 7_000_000, nil},
		{"more fields", 200, `{"balance":"0.99","currency":"USD"}`, 990_000, nil},
		{"null", 200, `{"balance":null}`, 0, adapters.ErrUnavailable},
		{"missing", 200, `{}`, 0, adapters.ErrUnavailable},
		{"not an amount", 200, `{"balance":"12,50 $"}`, 0, adapters.ErrUnavailable},
		{"array", 200, `[]`, 0, adapters.ErrUnavailable},
		// A 404 here is the API not being where we look, not a verdict.
		{"404", 404, `{"message":"Not Found"}`, 0, adapters.ErrUnavailable},
	}
	for _, f := range failures {
		cases = append(cases, struct {
			name   string
			status int
			body   string
			want   int64
			err    error
		}{f.name, f.status, f.body, 0, f.want})
	}
	for _, c := range cases {
		s.Reply("balance", c.status, c.body)
		got, err := r.Balance(ctx)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: balance = %v, %v; want %v", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != (adapters.Money{Micros: c.want, Currency: "USD"}) {
			t.Errorf("%s: balance = %v, %v; want %d USD", c.name, got, err, c.want)
		}
	}
}

func TestNumbersAnswers(t *testing.T) {
	s, r := scripted(t)
	exp := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		body string
		want []pool.Number
		err  error
	}{
		{"doc", `{"numbers": [
  {"phone_number": "12025550143", "country_code": "US", "plan": "monthly",
   "auto_renew": true, "message_count": 17,
   "rented_at": "2025-11-02T10:00:00+00:00",
   "expiration_date": "2025-12-02T10:00:00+00:00",
   "last_sms_received_date": "2025-11-20T08:15:42+00:00"}]}`,
			[]pool.Number{{Phone: "12025550143", Country: "us", ExpiresAt: exp}}, nil},
		{"country codes in every form", `{"numbers":[
  {"phone_number":"447700900123","country_code":"+44"},
  {"phone_number":"447700900124","country_code":44},
  {"phone_number":"447700900125","country_code":"UK"},
  {"phone_number":"12025550144","country_code":"1"},
  {"phone_number":"12025550145","country_code":"us"},
  {"phone_number":"77011234567","country_code":"7"},
  {"phone_number":"79161234567","country_code":"7"},
  {"phone_number":"4915112345678","country_code":" DE "},
  {"phone_number":"99912345678","country_code":"ZZ"},
  {"phone_number":"99912345679","country_code":"999"},
  {"phone_number":"99912345670","country_code":"USA"},
  {"phone_number":"99912345671"}]}`,
			[]pool.Number{
				{Phone: "12025550144", Country: "us"}, {Phone: "12025550145", Country: "us"},
				{Phone: "447700900123", Country: "gb"}, {Phone: "447700900124", Country: "gb"}, {Phone: "447700900125", Country: "gb"},
				{Phone: "4915112345678", Country: "de"},
				{Phone: "77011234567", Country: "kz"}, {Phone: "79161234567", Country: "ru"},
				{Phone: "99912345670"}, {Phone: "99912345671"}, {Phone: "99912345678"}, {Phone: "99912345679"},
			}, nil},
		{"phones and dates in other forms", `{"numbers":[
  {"phone_number":12025550143,"country_code":"US","expiration_date":"2025-12-02 10:00:00"},
  {"phone_number":"+1 (202) 555-0144","country_code":"US","expiration_date":null},
  {"phone_number":"12025550145","country_code":"US","expiration_date":"next month"},
  {"phone_number":"12025550146","country_code":"US","expiration_date":"2025-12-02T12:00:00+02:00"},
  {"phone_number":"12025550147","country_code":"US","expiration_date":1764669600}]}`,
			[]pool.Number{
				{Phone: "12025550143", Country: "us", ExpiresAt: exp},
				{Phone: "12025550144", Country: "us"},
				{Phone: "12025550145", Country: "us"},
				{Phone: "12025550146", Country: "us", ExpiresAt: exp},
				{Phone: "12025550147", Country: "us", ExpiresAt: exp},
			}, nil},
		{"unreadable entries skipped, a phone twice kept once", `{"numbers":[
  {"phone_number":"12025550143","country_code":"US","expiration_date":"2025-11-02T10:00:00+00:00"},
  {"phone_number":"12025550143","country_code":"US","expiration_date":"2025-12-02T10:00:00+00:00"},
  {"phone_number":"12025550143","country_code":"US","expiration_date":"2025-10-02T10:00:00+00:00"},
  {"phone_number":""}, {"phone_number":"123"}, {"phone_number":1.2e10}, "12025550199", null]}`,
			[]pool.Number{{Phone: "12025550143", Country: "us", ExpiresAt: exp}}, nil},
		{"empty", `{"numbers":[]}`, []pool.Number{}, nil},
		{"null list", `{"numbers":null}`, []pool.Number{}, nil},
		{"bare array", `[{"phone_number":"12025550143","country_code":"US"}]`, []pool.Number{{Phone: "12025550143", Country: "us"}}, nil},
		// A list whose entries all changed shape must not read as "no numbers".
		{"no entry readable", `{"numbers":[{"number":"12025550143"}]}`, nil, adapters.ErrUnavailable},
		{"other key", `{"data":[]}`, nil, adapters.ErrUnavailable},
		{"not a list", `{"numbers":{"12025550143":{}}}`, nil, adapters.ErrUnavailable},
	}
	for _, c := range cases {
		s.Reply("numbers", 200, c.body)
		got, err := r.Numbers(ctx)
		if c.err != nil || err != nil {
			if !errors.Is(err, c.err) || c.err == nil {
				t.Errorf("%s: numbers = %+v, %v; want %v", c.name, got, err, c.err)
			}
			continue
		}
		if !slices.EqualFunc(got, c.want, func(a, b pool.Number) bool {
			return a == b || (a.Phone == b.Phone && a.Country == b.Country && a.ExpiresAt.Equal(b.ExpiresAt))
		}) {
			t.Errorf("%s: numbers = %+v\nwant %+v", c.name, got, c.want)
		}
	}
	for _, f := range failures {
		s.Reply("numbers", f.status, f.body)
		if got, err := r.Numbers(ctx); !errors.Is(err, f.want) || got != nil {
			t.Errorf("%s: numbers = %+v, %v; want %v", f.name, got, err, f.want)
		}
	}
}

func TestSMSAnswers(t *testing.T) {
	s, r := scripted(t)
	at := func(sec int) time.Time { return time.Date(2025, 11, 20, 8, 15, sec, 0, time.UTC) }
	n := pool.Number{Phone: "12025550143"}
	cases := []struct {
		name   string
		status int
		body   string
		want   []pool.Message
		err    error
		gone   bool
	}{
		{"doc", 200, `{"messages": [
  {"from": "Telegram", "message": "Telegram code: 48213", "time": "2025-11-20T08:15:42+00:00"}]}`,
			[]pool.Message{{From: "Telegram", Text: "Telegram code: 48213", At: at(42)}}, nil, false},
		{"newest first, mixed forms", 200, `{"messages":[
  {"from":"Google","message":"G-123456","time":"2025-11-20T10:15:30+02:00"},
  {"from":12345,"message":48213,"time":"2025-11-20 08:15:20"},
  {"from":"WhatsApp","message":"code 1","date":"2025-11-20 08:15:10"},
  {"from":"Epoch","message":"code 2","time":1763626505},
  {"from":"Lost","message":"no time"},
  {"from":"Bad","message":"bad time","time":"yesterday"},
  "garbage", null]}`,
			[]pool.Message{
				{From: "Epoch", Text: "code 2", At: at(5)},
				{From: "WhatsApp", Text: "code 1", At: at(10)},
				{From: "12345", Text: "48213", At: at(20)},
				{From: "Google", Text: "G-123456", At: at(30)},
			}, nil, false},
		{"empty", 200, `{"messages":[]}`, []pool.Message{}, nil, false},
		{"null list", 200, `{"messages":null}`, []pool.Message{}, nil, false},
		{"bare array", 200, `[{"from":"a","message":"b","time":"2025-11-20T08:15:01Z"}]`, []pool.Message{{From: "a", Text: "b", At: at(1)}}, nil, false},
		{"no message readable", 200, `{"messages":[{"from":"a","message":"b"}]}`, nil, adapters.ErrUnavailable, false},
		{"other key", 200, `{"sms":[]}`, nil, adapters.ErrUnavailable, false},
		{"404 json", 404, `{"message":"Number not found."}`, nil, nil, true},
		{"404 empty", 404, ``, nil, nil, true},
		// An HTML 404 is a proxy's or a moved API's, not this number's.
		{"404 html", 404, `<html><body>404 Not Found</body></html>`, nil, adapters.ErrUnavailable, false},
	}
	for _, f := range failures {
		cases = append(cases, struct {
			name   string
			status int
			body   string
			want   []pool.Message
			err    error
			gone   bool
		}{f.name, f.status, f.body, nil, f.want, false})
	}
	for _, c := range cases {
		s.Reply("sms", c.status, c.body)
		got, err := r.Messages(ctx, n, time.Time{})
		switch {
		case c.gone:
			var d *pool.DownError
			if !errors.As(err, &d) || d.Reason != pool.DownGone || got != nil || errors.Is(err, adapters.ErrUnavailable) {
				t.Errorf("%s: messages = %+v, %v; want DownError gone", c.name, got, err)
			}
		case c.err != nil || err != nil:
			if !errors.Is(err, c.err) || c.err == nil || pool.DownReason(err) != "" || got != nil {
				t.Errorf("%s: messages = %+v, %v; want %v", c.name, got, err, c.err)
			}
		case !slices.EqualFunc(got, c.want, func(a, b pool.Message) bool {
			return a.ID == "" && a.From == b.From && a.Text == b.Text && a.At.Equal(b.At)
		}):
			t.Errorf("%s: messages = %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
