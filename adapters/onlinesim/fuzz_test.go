package onlinesim_test

import (
	"bytes"
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/onlinesim"
)

// Every parser of an upstream body must never panic, and whatever it
// rejects must come back as a canonical error: ErrUnavailable for garbage,
// a business error for a documented error code. The seeds are the example
// bodies of protocols/onlinesim.md (also committed under testdata/fuzz).

var canonical = []error{
	adapters.ErrNoNumbers, adapters.ErrNoBalance, adapters.ErrBadService, adapters.ErrBadCountry,
	adapters.ErrNoActivation, adapters.ErrBadState, adapters.ErrEarlyCancel, adapters.ErrAuth,
	adapters.ErrUnavailable,
}

func checkErr(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	found := false
	for _, c := range canonical {
		if errors.Is(err, c) {
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("%q: error %v is not canonical", body, err)
	}
	// Only a JSON object can carry an error code; anything else is garbage.
	if b := bytes.TrimSpace(body); (len(b) == 0 || b[0] != '{') && !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("%q: error %v; want ErrUnavailable for a body that is no JSON object", body, err)
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var (
	seedErrors = []string{
		`{"response":"ERROR_WRONG_KEY"}`, `{"response":"NO_NUMBER"}`, `{"response":"WARNING_LOW_BALANCE"}`,
		`{"response":"NO_COMPLETE_TZID"}`, `{"response":"ERROR_NO_OPERATIONS"}`, `{"response":"LIFICYCLE_NUM_EXPIRED"}`,
		`<html><body>502</body></html>`, ``, `[]`, `null`,
	}
	seedBalance = []string{`{"response": "1", "balance": "230.25", "zbalance": 120.5}`, `{"response":1,"balance":230.25}`}
	seedNum     = []string{
		`{"response": 1, "tzid": 10000, "number": "+447700900123"}`, `{"response":"1","tzid":"10000"}`,
		`{"response":1,"tzid":1e3}`,
	}
	seedState = []string{
		`[{"country": 44, "sum": 14, "service": "telegram", "number": "+447700900123",
  "response": "TZ_NUM_WAIT", "tzid": 10000, "time": 1150, "form": "index"}]`,
		`[{"country": 44, "sum": 14, "service": "telegram", "number": "+447700900123",
  "response": "TZ_NUM_ANSWER", "tzid": 10000, "time": 1020, "form": "index", "msg": "12345"}]`,
		`[{"response":"TZ_NUM_ANSWER","tzid":10000,"msg":[{"service":"telegram","msg":"12345"},{"service":"telegram","msg":"12345"}]}]`,
		`[{"response":"TZ_INPOOL","tzid":10000,"msg":false}]`,
	}
	seedOK    = []string{`{"response": 1, "tzid": 10000}`, `{"response":"1"}`}
	seedStats = []string{
		`{"name": "United Kingdom", "position": 5, "code": 44, "other": 0, "new": false, "enabled": true,
 "services": {
   "service_telegram": {"count": 120, "popular": true, "code": 44, "price": 14,
                        "id": 12, "service": "Telegram", "slug": "telegram"}}}`,
		`{"44": {"code": 44, "services": {"s": {"slug": "telegram", "price": "14.5", "count": "3"}}}}`,
	}
	seedTariffs = []string{
		`{"response": "1",
 "countries": {"_44": {"name": "United Kingdom", "original": "United Kingdom", "code": 44,
                       "pos": 5, "other": false, "new": false, "enable": true}},
 "services":  {"service_telegram": {"id": 12, "service": "Telegram", "slug": "telegram",
                                    "count": 120, "price": "14"}},
 "favorite_countries": {}, "favorite_services": [], "favorites": {},
 "page": 1, "country": 44, "filter": "", "end": false}`,
	}
)

func seed(f *testing.F, sets ...[]string) {
	for _, set := range sets {
		for _, s := range set {
			f.Add([]byte(s))
		}
	}
}

func FuzzParseBalance(f *testing.F) {
	seed(f, seedBalance, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := onlinesim.ParseBalance(body)
		checkErr(t, body, err)
		if err == nil && v < 0 {
			t.Fatalf("%q: negative balance %d", body, v)
		}
	})
}

func FuzzParseNum(f *testing.F) {
	seed(f, seedNum, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := onlinesim.ParseNum(body)
		checkErr(t, body, err)
		if err == nil && (r.TZID == "" || !isDigits(r.TZID) || !isDigits(r.Number)) {
			t.Fatalf("%q: accepted %+v", body, r)
		}
	})
}

func FuzzParseState(f *testing.F) {
	seed(f, seedState, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := onlinesim.ParseState(body)
		checkErr(t, body, err)
		for _, o := range ops {
			if o.TZID == "" || !isDigits(o.TZID) || o.State == "" || !isDigits(o.Number) {
				t.Fatalf("%q: accepted %+v", body, o)
			}
		}
	})
}

func FuzzParseOK(f *testing.F) {
	seed(f, seedOK, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := onlinesim.ParseOK(body)
		checkErr(t, body, err)
		if !isDigits(id) {
			t.Fatalf("%q: tzid %q", body, id)
		}
	})
}

func FuzzParseStats(f *testing.F) {
	seed(f, seedStats, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		cs, err := onlinesim.ParseStats(body)
		checkErr(t, body, err)
		for _, c := range cs {
			if !isDigits(c.Code) || c.Code == "" {
				t.Fatalf("%q: country code %q", body, c.Code)
			}
			for _, s := range c.Services {
				if s.Slug == "" || s.Price < 0 || s.Count < 0 {
					t.Fatalf("%q: accepted %+v", body, s)
				}
			}
		}
	})
}

func FuzzParseTariffCountries(f *testing.F) {
	seed(f, seedTariffs, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		codes, err := onlinesim.ParseTariffCountries(body)
		checkErr(t, body, err)
		for _, c := range codes {
			if c == "" || !isDigits(c) {
				t.Fatalf("%q: country code %q", body, c)
			}
		}
	})
}
