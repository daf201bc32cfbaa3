package fivesim

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"smsgate/adapters/adapterstest"
	"smsgate/adapters/simulator"
	"smsgate/adapters/upstream"
)

// Example answers from protocols/5sim.md, the fuzzers' seeds (more variants
// live in testdata/fuzz).
const (
	docProfile = `{"id":1,"email":"user@example.com","vendor":"demo","default_forwarding_number":"78009005040","balance":100,"rating":96,"default_country":{"name":"russia","iso":"ru","prefix":"+7"},"default_operator":{"name":""},"frozen_balance":0}`
	docBuy     = `{"id":11631253,"phone":"+79000381454","operator":"beeline","product":"telegram","price":21,"status":"PENDING","expires":"2018-10-13T08:28:38.809469028Z","sms":null,"created_at":"2018-10-13T08:13:38.809469028Z","forwarding":false,"forwarding_number":"","country":"russia"}`
	docCheck   = `{"id":11631253,"created_at":"2018-10-13T08:13:38.809469028Z","phone":"+79000381454","product":"telegram","price":21,"status":"RECEIVED","expires":"2018-10-13T08:28:38.809469028Z","sms":[{"created_at":"2018-10-13T08:20:38.809469028Z","date":"2018-10-13T08:19:38.809469028Z","sender":"Telegram","text":"Telegram code 09363","code":"09363"}],"forwarding":false,"forwarding_number":"","country":"russia"}`
	docPrices  = `{"russia": {"telegram": {"beeline": {"cost": 20, "count": 120, "rate": 99.1}, "virtual21": {"cost": 12, "count": 0}}}}`
	docCountry = `{"afghanistan": {"iso": {"af": 1}, "prefix": {"+93": 1}, "text_en": "Afghanistan", "text_ru": "Афганистан", "virtual18": {"activation": 1}, "virtual21": {"activation": 1}}}`
)

// docErrors are the documented error bodies with their usual statuses.
var docErrors = []struct {
	status int
	body   string
}{
	{401, ""}, {401, "Unauthorized"}, {403, ""}, {400, "no free phones"}, {200, "no free phones"},
	{400, "not enough user balance"}, {400, "not enough rating"}, {400, "bad country"},
	{400, "country is incorrect"}, {400, "bad operator"}, {400, "no product"}, {400, "product is incorrect"},
	{400, "select country"}, {400, "select operator"}, {503, "server offline"}, {500, "internal error"},
	{404, "order not found"}, {400, "order expired"}, {400, "order has sms"}, {400, "order no sms"},
	{400, "hosting order"}, {400, "you need to wait time"}, {404, "record not found"}, {400, "reuse not possible"},
	{429, "api limit is 100 requests per second"}, {503, "ip address limit is 100 requests per second"},
}

func addSeeds(f *testing.F, bodies ...string) {
	for _, b := range bodies {
		f.Add(200, []byte(b))
	}
	for _, e := range docErrors {
		f.Add(e.status, []byte(e.body))
	}
	f.Add(200, []byte("null"))
	f.Add(200, []byte(""))
}

// checkErr holds the parsers' error property: every error is canonical, and
// one that is not ErrUnavailable comes from a documented answer (an auth
// status or a documented error text), never from garbage.
func checkErr(t *testing.T, status int, body []byte, err error) {
	t.Helper()
	if err == nil {
		if status != 200 {
			t.Fatalf("http %d %q parsed as a success", status, body)
		}
		return
	}
	documented := status == 401 || status == 403 || textError(bytes.TrimSpace(body)) != nil
	adapterstest.CheckParseErr(t, fmt.Sprintf("http %d %q", status, body), err, documented)
}

func FuzzParseProfile(f *testing.F) {
	addSeeds(f, docProfile, `{"balance":"12.5"}`, `{"balance":1e-05}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		m, err := parseProfile(status, body)
		checkErr(t, status, body, err)
		if err != nil && m != 0 {
			t.Fatalf("balance %d with error %v", m, err)
		}
	})
}

func FuzzParseOrder(f *testing.F) {
	// The ban answer: the order, BANNED (with and without its SMS).
	docBan := strings.Replace(docBuy, `"PENDING"`, `"BANNED"`, 1)
	docBanSMS := strings.Replace(docCheck, `"RECEIVED"`, `"BANNED"`, 1)
	addSeeds(f, docBuy, docCheck, docBan, docBanSMS)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		o, err := parseOrder(status, body)
		checkErr(t, status, body, err)
		if err != nil {
			return
		}
		if !upstream.IsDigits(o.ID, 1, 20) || !upstream.IsDigits(o.Phone, 5, 20) || o.Price < 0 || !o.State().Valid() {
			t.Fatalf("%q parsed into an invalid order %+v", body, o)
		}
		for _, s := range o.SMS {
			if s.Code == "" && s.Text == "" {
				t.Fatalf("%q: empty SMS kept", body)
			}
		}
	})
}

func FuzzParseHistory(f *testing.F) {
	// The docs' history answer (§3.9), with the orders of §3.3 in it.
	docHistory := `{"Data":[` + docCheck + `,` + docBuy + `],"ProductNames":[],"Statuses":[],"Total":3}`
	addSeeds(f, docHistory, `{"Data":[],"ProductNames":[],"Statuses":[],"Total":0}`, `{"Data":[{"id":"x"},1],"Total":"2"}`, `{"Data":null}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		h, err := parseHistory(status, body)
		checkErr(t, status, body, err)
		if err != nil {
			return
		}
		if len(h.Orders) != len(h.Created) || len(h.Orders) > h.Read || h.Total < -1 {
			t.Fatalf("%q parsed into an inconsistent page %+v", body, h)
		}
		for _, o := range h.Orders {
			if !upstream.IsDigits(o.ID, 1, 20) || !upstream.IsDigits(o.Phone, 5, 20) || o.Price < 0 || !o.State().Valid() {
				t.Fatalf("%q parsed into an invalid order %+v", body, o)
			}
		}
	})
}

func FuzzParsePrices(f *testing.F) {
	addSeeds(f, docPrices, `{"telegram":{"russia":{"any":{"cost":"1.5","count":"3"}}}}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, productFirst := range []bool{false, true} {
			rows, err := parsePrices(status, body, productFirst)
			checkErr(t, status, body, err)
			for i, r := range rows {
				if r.Cost < 0 || r.Count < 0 {
					t.Fatalf("%q: row %+v", body, r)
				}
				if i > 0 && strings.Compare(rows[i-1].Country+"\x00"+rows[i-1].Product, r.Country+"\x00"+r.Product) >= 0 {
					t.Fatalf("%q: rows not sorted and unique: %+v", body, rows)
				}
			}
		}
	})
}

func FuzzParseCountries(f *testing.F) {
	addSeeds(f, docCountry, `{"england":{"iso":{"gb":1}},"x":1}`)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		slugs, err := parseCountries(status, body)
		checkErr(t, status, body, err)
		if !slices.IsSorted(slugs) {
			t.Fatalf("%q: slugs %v not sorted", body, slugs)
		}
	})
}

// TestCodeMaps: every canonical code in the embedded maps exists in the
// gateway's catalogue, and the market's default countries are all mapped.
func TestCodeMaps(t *testing.T) {
	adapterstest.CodeMaps(t, countries, services)
	for _, iso := range simulator.DefaultCountries {
		if _, ok := countries.Native(iso); !ok {
			t.Errorf("market country %q has no 5SIM slug", iso)
		}
	}
	if s, _ := countries.Native("gb"); s != "england" {
		t.Errorf("gb = %q; want england", s)
	}
}
