package smsreg_test

import (
	"testing"

	"smsgate/adapters/adapterstest"
	"smsgate/adapters/smsreg"
	"smsgate/adapters/upstream"
)

// Every parser of an upstream body must never panic, and whatever it
// rejects must come back as a canonical error: ErrUnavailable for garbage,
// a business error for a documented error answer, which only a JSON object
// carries (adapterstest.FuzzParser). The seeds are the example bodies of
// protocols/smsreg.md (also committed under testdata/fuzz).

// isDigits reports whether s holds digits only ("" included).
func isDigits(s string) bool { return upstream.IsDigits(s, 0, len(s)) }

var (
	seedErrors = []string{
		`{"response":"ERROR","error_msg":"setReady to this TZID not applicable"}`,
		`{"response":"ERROR","error_msg":"ERROR_WRONG_KEY"}`, `{"response":"ERROR","error_msg":"WARNING_LOW_BALANCE"}`,
		`{"response":"ERROR","error_msg":"Service not define"}`, `{"response":"ERROR","error_msg":"TZID wrong"}`,
		`{"response":"0"}`, `{"0":{"response":"ERROR","error_msg":"No active tranzactions"}}`,
		`<html><body>502</body></html>`, ``, `null`,
	}
	seedBalance = []string{`{"response":"1","balance":"123.45"}`}
	seedNum     = []string{`{"response":"1","tzid":"12345678"}`}
	seedState   = []string{
		`{"response":"TZ_NUM_ANSWER","service":"telegram","number":"79001234567","msg":"12345"}`,
		`{"response":"TZ_INPOOL","service":"telegram"}`, `{"response":"WARNING_NO_NUMS"}`,
		`{"response":"TZ_NUM_ANSWER","msg":"","full_msg":"Your code 12345"}`,
	}
	seedOK   = []string{`{"response":"1"}`, `{"response":"1","tzid":"12345678"}`, `{"response":"1","rate":"0.10"}`}
	seedList = []string{
		`{"response":"1","services":[{"service":"telegram","description":"..."}]}`,
		`{"response":"1","services":[{"service":"telegram","description":"Telegram","countries":{"ru":{"price":"12.50","count":42}}}]}`,
	}
)

func FuzzParseBalance(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedBalance, seedErrors...), smsreg.ParseBalance, adapterstest.JSONObject,
		func(t *testing.T, body []byte, v int64) {
			if v < 0 {
				t.Fatalf("%q: negative balance %d", body, v)
			}
		})
}

func FuzzParseNum(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedNum, seedErrors...), smsreg.ParseNum, adapterstest.JSONObject,
		func(t *testing.T, body []byte, id string) {
			if id == "" || !isDigits(id) {
				t.Fatalf("%q: tzid %q", body, id)
			}
		})
}

func FuzzParseState(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedState, seedErrors...), smsreg.ParseState, adapterstest.JSONObject,
		func(t *testing.T, body []byte, st smsreg.State) {
			if st.Token == "" || st.Token == "1" || !isDigits(st.Number) {
				t.Fatalf("%q: accepted %+v", body, st)
			}
		})
}

func FuzzParseOK(f *testing.F) {
	parse := func(body []byte) (struct{}, error) { return struct{}{}, smsreg.ParseOK(body) }
	adapterstest.FuzzParser(f, append(seedOK, seedErrors...), parse, adapterstest.JSONObject, nil)
}

func FuzzParseList(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedList, seedErrors...), smsreg.ParseList, adapterstest.JSONObject,
		func(t *testing.T, body []byte, l []smsreg.ListService) {
			for _, s := range l {
				if s.Code == "" {
					t.Fatalf("%q: service without a code", body)
				}
				for _, o := range s.Countries {
					if o.Price < 0 || o.Count < 0 {
						t.Fatalf("%q: accepted %+v", body, o)
					}
				}
			}
		})
}

// seedOperations are getOperations answers (§2.10): the array form, the
// object form (output=object) and "nothing active".
var seedOperations = []string{
	`[{"tzid":"12345678","service":"telegram","phone":"79001234567","status":"TZ_NUM_ANSWER","msg":"12345"},
  {"tzid":12345679,"service":"telegram","phone":"","status":"TZ_INPOOL","msg":""}]`,
	`{"a":{"tzid":"12345678","service":"vk","phone":"79001234567","status":"TZ_NUM_WAIT","msg":""}}`,
	`{"response":"ERROR","error_msg":"No active tranzactions"}`, `[]`, `[1]`, `{}`,
}

func FuzzParseOperations(f *testing.F) {
	adapterstest.FuzzParser(f, append(seedOperations, seedErrors...), smsreg.ParseOperations, adapterstest.JSONObject,
		func(t *testing.T, body []byte, ops []smsreg.Operation) {
			for _, o := range ops {
				if o.TZID == "" || !isDigits(o.TZID) || o.State.Token == "" || !isDigits(o.Phone) {
					t.Fatalf("%q: accepted %+v", body, o)
				}
			}
		})
}
