package onlinesim_test

import (
	"testing"

	"smsgate/adapters/adapterstest"
	"smsgate/adapters/onlinesim"
	"smsgate/adapters/upstream"
)

// Every parser of an upstream body must never panic, and whatever it
// rejects must come back as a canonical error: ErrUnavailable for garbage,
// a business error for a documented error code, which only a JSON object
// carries (adapterstest.FuzzParser). The seeds are the example bodies of
// protocols/onlinesim.md (also committed under testdata/fuzz).

// isDigits reports whether s holds digits only ("" included).
func isDigits(s string) bool { return upstream.IsDigits(s, 0, len(s)) }

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

func FuzzParseBalance(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedBalance, seedErrors...), onlinesim.ParseBalance, adapterstest.JSONObject,
		func(t *testing.T, body []byte, v int64) {
			if v < 0 {
				t.Fatalf("%q: negative balance %d", body, v)
			}
		})
}

func FuzzParseNum(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedNum, seedErrors...), onlinesim.ParseNum, adapterstest.JSONObject,
		func(t *testing.T, body []byte, r onlinesim.NumReply) {
			if r.TZID == "" || !isDigits(r.TZID) || !isDigits(r.Number) {
				t.Fatalf("%q: accepted %+v", body, r)
			}
		})
}

func FuzzParseState(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedState, seedErrors...), onlinesim.ParseState, adapterstest.JSONObject,
		func(t *testing.T, body []byte, ops []onlinesim.Operation) {
			for _, o := range ops {
				if o.TZID == "" || !isDigits(o.TZID) || o.State == "" || !isDigits(o.Number) {
					t.Fatalf("%q: accepted %+v", body, o)
				}
			}
		})
}

// seedActive are getState answers without a tzid: the list of every
// active operation (§3.4), in the shapes the list takes.
var seedActive = []string{
	`[{"country": 44, "sum": 14, "service": "telegram", "number": "+447700900123",
  "response": "TZ_NUM_WAIT", "tzid": 10000, "time": 1150, "form": "index"},
 {"country": 44, "sum": 14, "service": "telegram", "number": "+447700900124",
  "response": "TZ_NUM_ANSWER", "tzid": 10001, "time": 1020, "form": "index",
  "msg": [{"service":"telegram","msg":"12345"},{"service":"telegram","msg":"67890"}]},
 {"response": "TZ_OVER_EMPTY", "tzid": 10002, "time": 0, "msg": false}]`,
	`[]`, `{"response":"ERROR_NO_OPERATIONS"}`,
}

func FuzzParseActive(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedActive, seedErrors...), onlinesim.ParseActive, adapterstest.JSONObject,
		func(t *testing.T, body []byte, ops []onlinesim.Operation) {
			for _, o := range ops {
				if o.TZID == "" || !isDigits(o.TZID) || o.State == "" || !isDigits(o.Number) {
					t.Fatalf("%q: accepted %+v", body, o)
				}
			}
		})
}

func FuzzParseOK(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedOK, seedErrors...), onlinesim.ParseOK, adapterstest.JSONObject,
		func(t *testing.T, body []byte, id string) {
			if !isDigits(id) {
				t.Fatalf("%q: tzid %q", body, id)
			}
		})
}

func FuzzParseStats(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedStats, seedErrors...), onlinesim.ParseStats, adapterstest.JSONObject,
		func(t *testing.T, body []byte, cs []onlinesim.StatsCountry) {
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
	adapterstest.FuzzParser(f, append(seedTariffs, seedErrors...), onlinesim.ParseTariffCountries, adapterstest.JSONObject,
		func(t *testing.T, body []byte, codes []string) {
			for _, c := range codes {
				if c == "" || !isDigits(c) {
					t.Fatalf("%q: country code %q", body, c)
				}
			}
		})
}
