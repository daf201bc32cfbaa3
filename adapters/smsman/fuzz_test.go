package smsman

import (
	"fmt"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/upstream"
)

// Example answers from protocols/smsman.md, the fuzzers' seeds (more
// variants live in testdata/fuzz).
const (
	docBalance      = `{"balance": "799.70"}`
	docNumber       = `{"request_id": 1, "country_id": 1, "application_id": 1, "number": "79002415539"}`
	docSMS          = `{"request_id": 1, "country_id": 1, "application_id": 1, "number": "79002415539", "sms_code": "12345"}`
	docWait         = `{"request_id": 1, "error_code": "wait_sms", "error_msg": "Still waiting..."}`
	docSetStatus    = `{"request_id": 1, "success": true}`
	docWrongToken   = `{"success": false, "error_code": "wrong_token", "error_msg": "Wrong token!"}`
	docPricesKeyed  = `{"1": {"application_id": "1", "country_id": "1", "cost": "15.00", "count": 6455, "country": "Russia", "application": "VK"}}`
	docPricesNested = `{"0":{"vk":{"cost":"15","count":6455},"wb":{"cost":"50","count":124}},"1":{"fb":{"cost":"6","count":1000}}}`
	docCountries    = `{"1": {"id": "1", "title": "Russia", "code": "RU"}, "5": {"id": "5", "title": "USA", "code": "US"}}`
	docApplications = `{"1": {"id": "1", "title": "VK", "code": "vk"}, "3": {"id": "3", "title": "Telegram", "code": "tg"}}`
)

// docErrors are the documented error envelopes.
var docErrors = []string{
	docWrongToken, docWait,
	`{"success":false,"error_code":"wrong_token","error_msg":{"token":"Wrong token!"}}`,
	`{"success":false,"error_code":"no_numbers","error_msg":"No Numbers, try again."}`,
	`{"success":false,"error_code":"wrong_application_id","error_msg":"Wrong application ID!"}`,
	`{"success":false,"error_msg":"The price is more than the balance. Need more funds, please charge your balance"}`,
	`{"success":false,"error_code":"no_activation"}`,
	`{"success":false,"error_code":"request_not_found"}`,
	`{"success":false,"error_code":"wrong_request"}`,
	// Variants public clients check for (see variants_test.go).
	`{"success":false,"error_code":"no_free_phones","error_msg":"No Numbers, try again."}`,
	`{"success":false,"error_msg":"No Numbers, try again"}`,
	`{"success":false,"error_code":"wrong_service_id","error_msg":"Wrong service ID!"}`,
}

func addSeeds(f *testing.F, bodies ...string) {
	for _, b := range bodies {
		f.Add(200, []byte(b))
	}
	for _, b := range docErrors {
		f.Add(200, []byte(b))
	}
	f.Add(400, []byte(docErrors[4]))
	f.Add(401, []byte(""))
	f.Add(200, []byte(""))
	f.Add(502, []byte("<html>bad gateway</html>"))
}

// checkErr holds the parsers' error property: every error is canonical, and
// one that is not ErrUnavailable comes from a documented answer (an auth
// status or an error envelope), never from garbage.
func checkErr(t *testing.T, status int, body []byte, err error) {
	t.Helper()
	if err == nil {
		// get-sms reads some envelopes (wait_sms, closed) as answers, and
		// envelopes count with a 4xx status too.
		if _, env, _ := decode(status, body); status != 200 && (env == nil || status < 400 || status > 499) {
			t.Fatalf("http %d %q parsed as a success", status, body)
		}
		return
	}
	_, env, _ := decode(status, body)
	documented := env != nil || status == 401 || status == 403
	adapterstest.CheckParseErr(t, fmt.Sprintf("http %d %q", status, body), err, documented)
}

func FuzzParseBalance(f *testing.F) {
	addSeeds(f, docBalance, `{"balance":799.7,"hold":1,"rating":"5"}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_, err := parseBalance(status, body)
		checkErr(t, status, body, err)
	})
}

func FuzzParseNumber(f *testing.F) {
	addSeeds(f, docNumber)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		n, err := parseNumber(status, body)
		checkErr(t, status, body, err)
		if err == nil && (!upstream.IsDigits(n.RequestID, 1, 20) || !upstream.IsDigits(n.Phone, 5, 20)) {
			t.Fatalf("%q parsed into %+v", body, n)
		}
	})
}

func FuzzParseSMS(f *testing.F) {
	addSeeds(f, docSMS, docWait, `{"request_id":1,"sms_code":"55","sms_text":"code 55"}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, err := parseSMS(status, body)
		checkErr(t, status, body, err)
		if err != nil {
			return
		}
		switch {
		case r.State == adapters.StateCodeReceived && (r.Code == "" || r.Text == ""):
			t.Fatalf("%q: code state without a code: %+v", body, r)
		case r.State != adapters.StateCodeReceived && r.State != adapters.StateWaiting && r.State != adapters.StateCancelled:
			t.Fatalf("%q: state %s", body, r.State)
		}
	})
}

func FuzzParseSetStatus(f *testing.F) {
	addSeeds(f, docSetStatus, `{"request_id":1,"success":false}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		checkErr(t, status, body, parseSetStatus(status, body))
	})
}

func FuzzParsePrices(f *testing.F) {
	addSeeds(f, docPricesKeyed, docPricesNested, `[{"application_id":"3","country_id":"1","cost":"15.00","count":6455}]`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, cid := range []string{"", "1"} {
			rows, err := parsePrices(status, body, cid)
			checkErr(t, status, body, err)
			for i, r := range rows {
				if !upstream.IsDigits(r.CountryID, 1, 10) || !upstream.IsDigits(r.ApplicationID, 1, 10) || r.Cost < 0 || r.Count < 0 {
					t.Fatalf("%q: row %+v", body, r)
				}
				if i > 0 && rows[i-1].CountryID == r.CountryID && rows[i-1].ApplicationID == r.ApplicationID {
					t.Fatalf("%q: duplicate rows %+v", body, rows)
				}
			}
		}
	})
}

func FuzzParseCatalogue(f *testing.F) {
	addSeeds(f, docCountries, docApplications, `[{"id":1,"name":"Russia"},{"id":"2","title":"Ukraine","code":"UA"}]`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		list, err := parseCatalogue(status, body)
		checkErr(t, status, body, err)
		for _, e := range list {
			if !upstream.IsDigits(e.ID, 1, 10) {
				t.Fatalf("%q: entry %+v", body, e)
			}
		}
		// Whatever the lists hold, mapping them never panics and stays one-to-one.
		cat := buildCatalogue(list, list, time.Time{})
		if len(cat.countryID) != len(cat.countryOf) || len(cat.appID) != len(cat.serviceOf) {
			t.Fatalf("%q: mapping not one-to-one: %+v", body, cat)
		}
	})
}

// TestCodeMaps: every canonical code in the embedded maps exists in the
// gateway's catalogue.
func TestCodeMaps(t *testing.T) {
	adapterstest.CodeMaps(t, countryCodes, serviceCodes)
}
