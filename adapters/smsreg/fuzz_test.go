package smsreg_test

import (
	"bytes"
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/smsreg"
)

// Every parser of an upstream body must never panic, and whatever it
// rejects must come back as a canonical error: ErrUnavailable for garbage,
// a business error for a documented error answer. The seeds are the
// example bodies of protocols/smsreg.md (also committed under
// testdata/fuzz).

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
	// Only a JSON object can carry an error answer; anything else is garbage.
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
		v, err := smsreg.ParseBalance(body)
		checkErr(t, body, err)
		if err == nil && v < 0 {
			t.Fatalf("%q: negative balance %d", body, v)
		}
	})
}

func FuzzParseNum(f *testing.F) {
	seed(f, seedNum, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := smsreg.ParseNum(body)
		checkErr(t, body, err)
		if err == nil && (id == "" || !isDigits(id)) {
			t.Fatalf("%q: tzid %q", body, id)
		}
	})
}

func FuzzParseState(f *testing.F) {
	seed(f, seedState, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := smsreg.ParseState(body)
		checkErr(t, body, err)
		if err == nil && (st.Token == "" || st.Token == "1" || !isDigits(st.Number)) {
			t.Fatalf("%q: accepted %+v", body, st)
		}
	})
}

func FuzzParseOK(f *testing.F) {
	seed(f, seedOK, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkErr(t, body, smsreg.ParseOK(body))
	})
}

func FuzzParseList(f *testing.F) {
	seed(f, seedList, seedErrors)
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := smsreg.ParseList(body)
		checkErr(t, body, err)
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
