package smspva

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/upstream"
)

// Each response parser is fuzzed with the docs' examples as seeds (here
// and in testdata/fuzz). Properties: no panic; every error is canonical;
// a body that is neither a v2 envelope nor a known v1 text is
// ErrUnavailable (ErrAuth under HTTP 401/403); a success is well formed.

// statuses are the HTTP statuses each body is tried under: the body's
// statusCode wins, the HTTP status only speaks when there is none.
var statuses = []int{200, 202, 401, 410, 503}

var canonicalErrors = []error{
	adapters.ErrUnavailable, adapters.ErrAuth, adapters.ErrNoNumbers, adapters.ErrNoBalance,
	adapters.ErrBadService, adapters.ErrBadCountry, adapters.ErrNoActivation, adapters.ErrBadState,
}

func checkErr(t *testing.T, status int, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	known := false
	for _, e := range canonicalErrors {
		known = known || errors.Is(err, e)
	}
	if !known {
		t.Fatalf("http %d body %q: error %v is not canonical", status, body, err)
	}
	if !hasEnvelope(body) && !isV1Text(body) {
		want := adapters.ErrUnavailable
		if status == 401 {
			want = adapters.ErrAuth
		}
		if !errors.Is(err, want) {
			t.Fatalf("http %d garbage %q: error %v; want %v", status, body, err, want)
		}
	}
}

// hasEnvelope reports whether the body is a v2 envelope: a JSON object
// with an integer statusCode (encoding/json matches the key in any case).
func hasEnvelope(body []byte) bool {
	var env struct {
		StatusCode flexInt `json:"statusCode"`
	}
	body = bytes.TrimSpace(body)
	return len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &env) == nil && env.StatusCode.set
}

func isV1Text(body []byte) bool {
	for _, e := range v1Errors {
		if bytes.EqualFold(bytes.TrimSpace(body), []byte(e.text)) {
			return true
		}
	}
	return false
}

// seeds shared by every target: the error envelopes, v1 texts and garbage.
var commonSeeds = []string{
	`{"statusCode": 202, "error": {"type": "...", "description": "SMS not yet received"}}`,
	`{"statusCode":405,"error":{"type":"x","description":"Invalid parameters"}}`,
	`{"statusCode":406}`, `{"statusCode":407}`, `{"statusCode":410}`, `{"statusCode":411}`,
	`{"statusCode":"503","error":"Server overload"}`,
	`API KEY NOT FOUND!`, `API KEY не найден!`, `BANNED`, `Недостаточно средств!`,
	`<html><head><title>502 Bad Gateway</title></head></html>`,
	``, `null`, `[]`, `{}`, `{"statusCode":null}`, `{"statusCode":1e400}`, `ACCESS_NUMBER:1:2`,
}

func addSeeds(f *testing.F, own ...string) {
	for _, s := range append(own, commonSeeds...) {
		f.Add([]byte(s))
	}
}

func FuzzParseBalance(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"balance": 10.5}}`, `{"statusCode":200,"data":{"balance":"385.00"}}`,
		`{"statusCode":200,"data":{"balance":-1e308}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			_, err := parseBalance(st, body)
			checkErr(t, st, body, err)
		}
	})
}

func FuzzParseUserInfo(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"balance": 10.5, "name": "user123", "karma": 100.5}}`,
		`{"statusCode":200,"data":{"balance":"385.00","karma":"9.4"}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			_, err := parseUserInfo(st, body)
			checkErr(t, st, body, err)
		}
	})
}

func FuzzParsePrice(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"service": "opt29", "serviceDescription": "Telegram", "price": 0.5}}`,
		`{"statusCode":200,"data":{"price":"0.50"}}`, `{"statusCode":200,"data":{"price":-1}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			v, err := parsePrice(st, body)
			checkErr(t, st, body, err)
			if err == nil && v < 0 {
				t.Fatalf("negative price %d from %q", v, body)
			}
		}
	})
}

func FuzzParseCounts(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": [[]]}`,
		`{"statusCode":200,"data":[{"operator":"att","country":"US","services":[{"service":"opt20","total":3}]}]}`,
		`{"statusCode":200,"data":[{"service":"opt29","online":12,"total":300,"country":"RU"}]}`,
		`{"statusCode":200,"data":[{"service":"opt29","total":2147483647},{"service":"opt29","total":2147483647}]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			m, err := parseCounts(st, body)
			checkErr(t, st, body, err)
			for svc, n := range m {
				if n <= 0 {
					t.Fatalf("count %d for %q from %q", n, svc, body)
				}
			}
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"orderId": 123456, "phoneNumber": 7700900123, "countryCode": "UK", "orderExpireIn": 600}}`,
		`{"statusCode":200,"data":{"orderId":"123456","phoneNumber":"+447700900123"}}`,
		`{"statusCode":200,"data":{"orderId":1.5,"phoneNumber":9.8e9}}`,
		`{"statusCode":501}`, `{"statusCode":502}`, `{"statusCode":500}`, `{"statusCode":201}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			n, err := parseNumber(st, body)
			checkErr(t, st, body, err)
			if err == nil && (!upstream.IsDigits(n.OrderID, 1, 19) || !upstream.IsDigits(n.Phone, 1, 15)) {
				t.Fatalf("purchase %+v from %q", n, body)
			}
		}
	})
}

func FuzzParseSMS(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"sms": {"code": "48213", "fullText": "Telegram code 48213"}, "orderId": "123456", "orderExpireIn": 412}}`,
		`{"statusCode":200,"data":{"sms":{},"orderId":"123456","orderExpireIn":600}}`,
		`{"statusCode":200,"data":{"sms":"code 1234"}}`, `{"statusCode":200,"data":{"sms":[{"code":1},"x"]}}`,
		`{"statusCode":200,"data":{"sms":{"x":"y","code":null}}}`, `{"statusCode":200,"data":[]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			a, err := parseSMS(st, body)
			checkErr(t, st, body, err)
			if err != nil {
				continue
			}
			if (a.Kind == smsReceived) != (len(a.SMS) > 0) {
				t.Fatalf("kind %d with %d SMS from %q", a.Kind, len(a.SMS), body)
			}
			for _, m := range a.SMS {
				if m.Code == "" && m.Text == "" {
					t.Fatalf("empty SMS from %q", body)
				}
			}
		}
	})
}

func FuzzParseAction(f *testing.F) {
	addSeeds(f, `{"statusCode": 200, "data": {"orderId": 123456}}`,
		`{"statusCode": 200, "data": {"orderId": 123456, "orderExpireIn": 599}}`,
		`{"statusCode":404}`, `{"statusCode":503}`, `{"statusCode":501}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			for _, act := range []action{actCancel, actClearSMS, actBlock} {
				checkErr(t, st, body, parseAction(act, st, body))
			}
		}
	})
}

func FuzzParseOrders(f *testing.F) {
	addSeeds(f, `{"statusCode":200,"data":{"orders":[]}}`, `{"statusCode":200,"data":{"orders":{}}}`,
		`{"statusCode":200,"data":{"orders":[{"orderId":123456,"phoneNumber":7700900123,"countryCode":"UK","service":"opt29","orderExpireIn":412}]}}`,
		`{"statusCode":200,"data":{"orders":[{"id":"1","number":"+447700900123"},{"orderId":"x"},null,7]}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			list, err := parseOrders(st, body)
			checkErr(t, st, body, err)
			for _, o := range list {
				if !upstream.IsDigits(o.OrderID, 1, 19) || (o.Phone != "" && !upstream.IsDigits(o.Phone, 1, 15)) {
					t.Fatalf("order %+v from %q", o, body)
				}
			}
		}
	})
}

// The code maps name only canonical codes, and every native code is what
// the docs list (UK for gb, optN for services).
func TestCodeMapsAreCanonical(t *testing.T) {
	adapterstest.CodeMaps(t, countries, services)
	if cc, _ := countries.Native("gb"); cc != "UK" || countries.Len() != 75 {
		t.Errorf("gb → %q, %d countries; want UK, the docs' 75", cc, countries.Len())
	}
	for _, svc := range services.Canonicals() {
		if opt, _ := services.Native(svc); len(opt) < 4 || opt[:3] != "opt" || !upstream.IsDigits(opt[3:], 1, 5) {
			t.Errorf("services.tsv: %s → %q is not an optN code", svc, opt)
		}
	}
}
