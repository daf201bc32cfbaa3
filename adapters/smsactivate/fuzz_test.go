package smsactivate

import (
	"bytes"
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// The fuzz targets feed every parser of upstream answers with the
// examples of protocols/sms-activate.md (and the committed corpus under
// testdata/fuzz): a parser never panics, and what it cannot read is
// ErrUnavailable (a purchase answer: ErrOutcomeUnknown, which is also
// ErrUnavailable) — or a canonical business error for a documented token.

func fuzzClient(t testing.TB) *Client {
	c, err := New(Options{Code: "fz", BaseURL: "http://127.0.0.1:1", Key: "k", Currency: "RUB"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canonical reports whether err is one of the canonical errors.
func canonical(err error) bool {
	for _, e := range []error{adapters.ErrNoNumbers, adapters.ErrNoBalance, adapters.ErrPriceTooHigh, adapters.ErrBadService,
		adapters.ErrBadCountry, adapters.ErrNoActivation, adapters.ErrBadState, adapters.ErrEarlyCancel, adapters.ErrAuth,
		adapters.ErrUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func FuzzAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, "ACCESS_NUMBER:635468024:79584123456"}, {200, "NO_NUMBERS"}, {200, "NO_BALANCE"}, {200, "BAD_KEY"},
		{200, "WRONG_MAX_PRICE:12.50"}, {200, "BANNED:'2026-1-2 3-04-05'"}, {200, "STATUS_OK:396989"}, {200, "ERROR_SQL"},
		{401, `{"title":"BAD_KEY","details":"Unauthorized","info":{}}`}, {400, `{"title":"WRONG_MAX_PRICE","info":{"min":0.5}}`},
		{409, `{"title":"EARLY_CANCEL_DENIED","info":{"minActivationTime":120}}`}, {422, `{"title":"UNPROCESSABLE_ENTITY","info":{"field":"api_key","code":"REQUIRED"}}`},
		{502, "<html>bad gateway</html>"}, {200, ""}, {200, "<html>"}, {200, `{"status":"success"}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		out, err := c.answer(upstream.Call{Op: "fuzz"}, status, body)
		if err != nil && !canonical(err) {
			t.Fatalf("answer(%d, %q) = %v: not a canonical error", status, body, err)
		}
		if err == nil && status != 200 {
			t.Fatalf("answer(%d, %q) accepted a non-200 answer", status, body)
		}
		_ = out
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"STATUS_WAIT_CODE", "STATUS_WAIT_RETRY:12345", "STATUS_WAIT_RESEND", "STATUS_OK:396989", "STATUS_CANCEL", "STATUS_OK:", "garbage"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		st, code, ok := ParseStatus(body)
		if ok && !st.Valid() {
			t.Fatalf("ParseStatus(%q) = invalid state %q", body, st)
		}
		if !ok && (st != "" || code != "") {
			t.Fatalf("ParseStatus(%q) not ok but returned %q %q", body, st, code)
		}
	})
}

func FuzzParseNumberV2(f *testing.F) {
	for _, s := range []string{
		`{"activationId":635468024,"phoneNumber":"79584******","activationCost":12.50,"currency":840,"countryCode":"2","canGetAnotherSms":"1","activationTime":"2022-06-01 17:30:57","activationOperator":"mtt"}`,
		`{"activationId":"3416693217","phoneNumber":79584123456,"activationCost":"12.50","activationEndTime":"2026-01-01T10:20:00Z"}`,
		`{}`, `[]`, `null`, `{"activationId":1}`,
	} {
		f.Add([]byte(s))
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := c.parseNumberV2(body, "any")
		if err != nil && !errors.Is(err, adapters.ErrOutcomeUnknown) {
			t.Fatalf("parseNumberV2(%q) = %v; want ErrOutcomeUnknown for an unreadable purchase", body, err)
		}
		if err == nil && (p.UpstreamID == "" || p.Phone == "") {
			t.Fatalf("parseNumberV2(%q) accepted a purchase without id or phone: %+v", body, p)
		}
	})
}

func FuzzParseOffers(f *testing.F) {
	for _, s := range []string{
		`{"0":{"tg":{"cost":35.00,"count":1520,"physicalCount":820}},"187":{"wa":{"cost":"0.50","quant":3}}}`,
		`{}`, `[]`, `{"x":{"tg":{"cost":"abc"}}}`,
	} {
		f.Add([]byte(s))
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		offers, err := c.parseOffers(body)
		if err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("parseOffers(%q) = %v", body, err)
		}
		for _, o := range offers {
			if o.Country == "" || o.Service == "" || o.Price.Currency != "RUB" {
				t.Fatalf("parseOffers(%q) gave %+v", body, o)
			}
		}
	})
}

func FuzzParseCountries(f *testing.F) {
	for _, s := range []string{
		`{"2":{"id":2,"rus":"Казахстан","eng":"Kazakhstan","chn":"哈萨克斯坦","visible":1,"retry":1,"rent":1,"multiService":1}}`,
		`[{"id":0,"eng":"Russia"},{"id":"187"}]`, `{}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := c.parseCountries(body); err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("parseCountries(%q) = %v", body, err)
		}
	})
}

func FuzzParseBalance(f *testing.F) {
	for _, s := range []string{"ACCESS_BALANCE:498.28", "463.02", "ACCESS_BALANCE:", "x"} {
		f.Add([]byte(s))
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := c.parseBalance(body); err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("parseBalance(%q) = %v", body, err)
		}
	})
}

func FuzzParseActive(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","activeActivations":[{"activationId":"635468021","serviceCode":"vk","phoneNumber":"79********1","activationCost":12.50,"activationStatus":"4","smsCode":["CODE"],"countryCode":"2"}]}`,
		`{"status":"error","error":"NO_ACTIVATIONS"}`, `{"status":"error","error":"BAD"}`, `[]`,
		// Variants (see variants_test.go): the list under "data", under
		// activeActivations.rows, and "none" as a bare token.
		`{"status":"success","data":[{"activationId":"635468021","serviceCode":"vk","phoneNumber":"79001234567","countryCode":"0"}]}`,
		`{"status":"success","activeActivations":{"rows":[{"activationId":635468021,"serviceCode":"tg","phoneNumber":"12025550123","countryCode":187}],"count":1}}`,
		`{"status":"success","activeActivations":{"rows":null,"count":0}}`,
		`NO_ACTIVATIONS`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := parseActive(body, "fz")
		if err != nil && !errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("parseActive(%q) = %v", body, err)
		}
		for _, a := range list {
			if rawString(a.ID) == "" {
				t.Fatalf("parseActive(%q) kept an order without id", body)
			}
			// A list entry's update is what getStatus would say: a known
			// state, at most the latest code, never an empty one.
			var e activeEntry
			a.entry(&e)
			if u, ok := e.update(); ok && (!u.State.Valid() || len(u.SMS) > 1 || (len(u.SMS) == 1 && u.SMS[0].Code == "")) {
				t.Fatalf("parseActive(%q) update %+v", body, u)
			}
		}
	})
}

// TestParseNumberV2Lenient: getNumberV2's numbers are read quoted or bare
// (versions differ), text fields take a bare number, and an id or phone
// that is not a number makes the purchase unreadable (reconcile, never
// re-buy).
func TestParseNumberV2Lenient(t *testing.T) {
	c := fuzzClient(t)
	for _, tc := range []struct {
		body            string
		id, phone, cost string
		op              string
		bad             bool
	}{
		{body: `{"activationId":"1","phoneNumber":"+79584123456","activationCost":"12.50","activationOperator":"mts"}`, id: "1", phone: "79584123456", cost: "12.50", op: "mts"},
		{body: `{"activationId":2,"phoneNumber":79584123456,"activationCost":12.5,"activationOperator":7}`, id: "2", phone: "79584123456", cost: "12.50", op: "7"},
		{body: `{"activationId":3,"phoneNumber":"79584123456","activationCost":null,"activationOperator":null}`, id: "3", phone: "79584123456", cost: "0.00", op: "any"},
		{body: `{"activationId":"x1","phoneNumber":"79584123456"}`, bad: true},
		{body: `{"activationId":"4","phoneNumber":"7958 412"}`, bad: true},
		{body: `{"activationId":"5"}`, bad: true},
		{body: `{"activationId":"6","phoneNumber":{}}`, bad: true},
	} {
		p, err := c.parseNumberV2([]byte(tc.body), "any")
		if tc.bad {
			if !errors.Is(err, adapters.ErrOutcomeUnknown) {
				t.Errorf("%s: err %v, purchase %+v; want ErrOutcomeUnknown", tc.body, err, p)
			}
			continue
		}
		if err != nil || p.UpstreamID != tc.id || p.Phone != tc.phone || p.Operator != tc.op || adapters.FormatDecimal(p.Price.Micros, 2) != tc.cost {
			t.Errorf("%s: %+v, %v; want id %s phone %s cost %s operator %s", tc.body, p, err, tc.id, tc.phone, tc.cost, tc.op)
		}
	}
}

// FuzzReadActive holds the quick reader of getActiveActivations to
// parseActive: whenever it reads an answer (rather than giving up), the
// answer is one parseActive reads too, with the same entries, field by
// field. Seeds: the layouts, and the things it must give up on.
func FuzzReadActive(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","activeActivations":[{"activationId":"635468021","serviceCode":"vk","phoneNumber":"79********1","activationCost":12.50,"activationStatus":"4","smsCode":["CODE"],"smsText":"[Your CODE registration code]","activationTime":"2022-06-01 16:59:16","discount":"0.00","repeated":"0","countryCode":"2","countryName":"Kazakhstan","canGetAnotherSms":"1","currency":840}]}`,
		`{"status":"success","data":[{"activationId":1,"serviceCode":"vk","smsCode":"12","smsText":null,"countryCode":0}, null]}`,
		`{"status":"success","activeActivations":{"rows":[{"activationId":635468021,"activationStatus":"2","smsCode":[null],"countryCode":187}],"count":1}}`,
		`{"status":"success","activeActivations":{"rows":null,"count":0},"data":[{"activationId":"9"}]}`,
		`{"status":"success","activeActivations":[{"activationId":"1","smsCode":["a",1],"smsText":"t\u00e9\n\"x\"","serviceCode":"\u0074g","x":{"y":[1,2.5e-3,true,false,null,"\\"]}}]}`,
		`{"status":"success","activeActivations":[{"ActivationId":"1"}]}`,
		`{"Status":"error","error":"NO_ACTIVATIONS"}`, `{"status":"error","error":"BAD"}`,
		`{"status":"success","activeActivations":[{"activationId":"1","smsCode":{}},{"activationId":"","activationStatus":"4"},{"activationId":"2","serviceCode":"\xff"}]}`,
		`{"status":"success","activeActivations":[{"activationId":"1"}]} x`, `{"activeActivations":[],"data":[]}`,
		`NO_ACTIVATIONS`, `[]`, `null`, `{}`, `{"status":"success","activeActivations":[{"activationId":"01"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var quick []activeEntry
		ok := quickActive(bytes.TrimSpace(body), func(e *activeEntry) { quick = append(quick, *e) })
		list, err := parseActive(body, "fz")
		if !ok {
			return // parseActive decides
		}
		if err != nil {
			t.Fatalf("quick read %q (%d entries); parseActive: %v", body, len(quick), err)
		}
		if len(list) != len(quick) {
			t.Fatalf("quick read %q: %d entries; parseActive %d", body, len(quick), len(list))
		}
		for i, a := range list {
			var want activeEntry
			a.entry(&want)
			got := quick[i]
			same := bytes.Equal(got.id, want.id) && bytes.Equal(got.phone, want.phone) && bytes.Equal(got.country, want.country) &&
				bytes.Equal(got.status, want.status) && bytes.Equal(got.service, want.service) && got.badCode == want.badCode &&
				(got.badCode || bytes.Equal(got.code, want.code)) && got.hasText == want.hasText && bytes.Equal(got.text, want.text)
			if !same {
				t.Fatalf("quick read %q entry %d:\n got %+v\nwant %+v", body, i, got, want)
			}
		}
	})
}
