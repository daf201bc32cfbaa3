package receivesms

import (
	"errors"
	"slices"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/pool"
	"smsgate/adapters/upstream"
)

// Example answers from protocols/receivesms.md §2, the fuzzers' seeds
// (more variants live in testdata/fuzz).
const (
	docBalance = `{"balance": "12.50"}`
	docNumbers = `{"numbers": [
  {"phone_number": "12025550143", "country_code": "US", "plan": "monthly",
   "auto_renew": true, "message_count": 17,
   "rented_at": "2025-11-02T10:00:00+00:00",
   "expiration_date": "2025-12-02T10:00:00+00:00",
   "last_sms_received_date": "2025-11-20T08:15:42+00:00"}]}`
	docSMS = `{"messages": [
  {"from": "Telegram", "message": "Telegram code: 48213", "time": "2025-11-20T08:15:42+00:00"}]}`
)

func addSeeds(f *testing.F, bodies ...string) {
	for _, b := range bodies {
		f.Add(200, []byte(b))
	}
	f.Add(401, []byte(`{"message":"Unauthenticated."}`))
	f.Add(403, []byte("<html>cloudflare</html>"))
	f.Add(404, []byte(`{"message":"Number not found."}`))
	f.Add(500, []byte(`{"message":"Server Error"}`))
	f.Add(200, []byte(""))
	f.Add(200, []byte("null"))
	f.Add(200, []byte(`[]`))
}

// checkErr holds the parsers' error property: the only verdicts an answer
// can carry are the bad key (a non-HTML 401 or 403) and, for the messages
// of a number, "gone" (a non-HTML 404); anything else that is not a
// readable 200 is ErrUnavailable, and an error comes with no result.
func checkErr[T any](t *testing.T, status int, body []byte, v []T, err error, gone404 bool) {
	t.Helper()
	html := upstream.LooksHTML(body)
	if err == nil {
		if status != 200 {
			t.Fatalf("http %d %q parsed as a success", status, body)
		}
		return
	}
	if v != nil {
		t.Fatalf("%q: result %v with error %v", body, v, err)
	}
	switch {
	case gone404 && status == 404 && !html:
		var d *pool.DownError
		if !errors.As(err, &d) || d.Reason != pool.DownGone || errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("http 404 %q: %v; want a DownError gone", body, err)
		}
	case (status == 401 || status == 403) && !html:
		if !errors.Is(err, adapters.ErrAuth) {
			t.Fatalf("http %d %q: %v; want ErrAuth", status, body, err)
		}
	default:
		if !errors.Is(err, adapters.ErrUnavailable) || errors.Is(err, adapters.ErrAuth) || pool.DownReason(err) != "" {
			t.Fatalf("http %d %q: %v; want ErrUnavailable only", status, body, err)
		}
	}
}

func FuzzParseBalance(f *testing.F) {
	addSeeds(f, docBalance, `{"balance":12.5}`, `{"balance":"1e3"}`, `{"balance":null}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		m, err := parseBalance(status, body)
		var v []int64
		if err == nil {
			v = []int64{m}
		} else if m != 0 {
			t.Fatalf("%q: %d with error %v", body, m, err)
		}
		checkErr(t, status, body, v, err, false)
	})
}

func FuzzParseNumbers(f *testing.F) {
	addSeeds(f, docNumbers,
		`{"numbers":[{"phone_number":12025550143,"country_code":"1","expiration_date":"2025-12-02 10:00:00"},{"phone_number":"+44 7700 900123","country_code":"+44","expiration_date":null}]}`,
		`{"numbers":[{"phone_number":"77011234567","country_code":"7"},{"phone_number":"12025550143","country_code":"UK","expiration_date":1764669600}]}`,
		`{"numbers":null}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ns, err := parseNumbers(status, body)
		checkErr(t, status, body, ns, err, false)
		for i, n := range ns {
			if !upstream.IsDigits(n.Phone, 5, 20) {
				t.Fatalf("%q: phone %q", body, n.Phone)
			}
			if _, ok := catalog.CountryByISO(n.Country); n.Country != "" && (!ok || n.Country != catalogISO(n.Country)) {
				t.Fatalf("%q: country %q", body, n.Country)
			}
			if !n.ExpiresAt.IsZero() && n.ExpiresAt.Location() != time.UTC {
				t.Fatalf("%q: expiry %v not in UTC", body, n.ExpiresAt)
			}
			if n.Account != "" || n.Down != "" {
				t.Fatalf("%q: %+v", body, n)
			}
			if i > 0 && ns[i-1].Phone >= n.Phone {
				t.Fatalf("%q: numbers not sorted or not unique: %+v", body, ns)
			}
		}
	})
}

func catalogISO(iso string) string {
	c, _ := catalog.CountryByISO(iso)
	return c.ISO
}

func FuzzParseSMS(f *testing.F) {
	addSeeds(f, docSMS,
		`{"messages":[{"from":12345,"message":48213,"time":"2025-11-20 08:15:20"},{"from":"a","message":"b","date":"2025-11-20T10:15:30+02:00"},{"from":"c","message":"d","time":1763626505}]}`,
		`{"messages":[{"from":"a","message":"b"}]}`,
		`{"messages":null}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ms, err := parseSMS(status, body)
		checkErr(t, status, body, ms, err, true)
		for i, m := range ms {
			if m.ID != "" || m.At.IsZero() || m.At.Location() != time.UTC {
				t.Fatalf("%q: message %+v", body, m)
			}
			if i > 0 && ms[i-1].At.After(m.At) {
				t.Fatalf("%q: messages not oldest first: %+v", body, ms)
			}
		}
		if !slices.IsSortedFunc(ms, func(a, b pool.Message) int { return a.At.Compare(b.At) }) {
			t.Fatalf("%q: not sorted", body)
		}
	})
}
