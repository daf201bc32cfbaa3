package gateway_test

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/smsactivate"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// step is one request of the protocol transcript. want, when set, is the
// exact body; every body is also compared with the golden transcript.
type step struct {
	name   string
	before func(e *env, ids map[string]string)
	key    string   // default keyA
	params []string // name, value pairs; "{X}" is replaced by ids["X"]
	want   string
	// save stores the activation id of an ACCESS_NUMBER answer under that name.
	save string
}

// TestLegacyProtocol drives every action and every error token of the
// handler API through real HTTP against a running gateway and compares
// whole response bodies: literally for tokens, with the golden transcript
// testdata/legacy.golden for everything (go test -run TestLegacyProtocol -update
// rewrites it; review the diff).
func TestLegacyProtocol(t *testing.T) {
	e := newEnv(t)
	code := func(id string) string { // the code the order shows now
		_, b := e.legacy(keyA, "action", "getStatus", "id", id)
		_, c, _ := strings.Cut(b, ":")
		return c
	}
	waitStatusPrefix := func(id, prefix string) {
		e.eventually("status "+prefix, func() bool {
			_, b := e.legacy(keyA, "action", "getStatus", "id", id)
			return strings.HasPrefix(b, prefix)
		})
	}
	var codes []string
	steps := []step{
		{name: "no key", params: []string{"action", "getBalance"}, key: "-", want: "NO_KEY"},
		{name: "bad key", params: []string{"action", "getBalance"}, key: "nope", want: "BAD_KEY"},
		{name: "bad action", params: []string{"action", "getEverything"}, want: "BAD_ACTION"},
		{name: "missing action", want: "BAD_ACTION"},
		// 1000 RUB at 0.011 on sa + 1000 USD on hero.
		{name: "getBalance", params: []string{"action", "getBalance"}, want: "ACCESS_BALANCE:1011.00"},
		{name: "getBalanceAndCashBack", params: []string{"action", "getBalanceAndCashBack"}, want: "ACCESS_BALANCE:1011.00"},
		{name: "getNumber unknown service", params: []string{"action", "getNumber", "service", "zzzz", "country", "187"}, want: "BAD_SERVICE"},
		{name: "getNumber no service", params: []string{"action", "getNumber", "country", "187"}, want: "BAD_SERVICE"},
		{name: "getNumber unknown country", params: []string{"action", "getNumber", "service", "tg", "country", "9999"}, want: "WRONG_COUNTRY"},
		{name: "getNumber non-numeric country", params: []string{"action", "getNumber", "service", "tg", "country", "usa"}, want: "WRONG_COUNTRY"},
		{name: "getNumber max price below every offer", params: []string{"action", "getNumber", "service", "tg", "country", "187", "maxPrice", "0.01"}},
		{name: "getNumber", params: []string{"action", "getNumber", "service", "tg", "country", "187"}, save: "A"},
		{name: "getNumberV2", params: []string{"action", "getNumberV2", "service", "wa", "country", "16"}},
		{name: "getNumberV2 reused orderId", params: []string{"action", "getNumberV2", "service", "wa", "country", "16", "orderId", "r-1"}},
		{name: "getNumberV2 same orderId again", params: []string{"action", "getNumberV2", "service", "wa", "country", "16", "orderId", "r-1"}, want: "ORDER_ALREADY_EXISTS"},
		{name: "getNumber pinned to hero", params: []string{"action", "getNumber", "service", "tg", "country", "187", "platform", "hero"}, save: "H"},
		{name: "getNumber pinned to unknown platform", params: []string{"action", "getNumber", "service", "tg", "country", "187", "platform", "nowhere"}, want: "BAD_PLATFORM"},
		{name: "getStatus waiting", params: []string{"action", "getStatus", "id", "{A}"}, want: "STATUS_WAIT_CODE"},
		{name: "getStatusV2 waiting", params: []string{"action", "getStatusV2", "id", "{A}"}, want: `{"verificationType":0,"sms":null,"call":null}`},
		{name: "getFullSms waiting", params: []string{"action", "getFullSms", "id", "{A}"}, want: "STATUS_WAIT_CODE"},
		{name: "getStatus malformed id", params: []string{"action", "getStatus", "id", "12ab"}, want: "WRONG_ACTIVATION_ID"},
		{name: "getStatus missing id", params: []string{"action", "getStatus"}, want: "WRONG_ACTIVATION_ID"},
		{name: "getStatus unknown id", params: []string{"action", "getStatus", "id", "987654"}, want: "NO_ACTIVATION"},
		{name: "setStatus 1", params: []string{"action", "setStatus", "id", "{A}", "status", "1"}, want: "ACCESS_READY"},
		{name: "setStatus 8 inside 2 minutes", params: []string{"action", "setStatus", "id", "{A}", "status", "8"}, want: "EARLY_CANCEL_DENIED"},
		{name: "setStatus 6 before a code", params: []string{"action", "setStatus", "id", "{A}", "status", "6"}, want: "BAD_STATUS"},
		{name: "setStatus 3 before a code", params: []string{"action", "setStatus", "id", "{A}", "status", "3"}, want: "BAD_STATUS"},
		{name: "setStatus unknown status", params: []string{"action", "setStatus", "id", "{A}", "status", "42"}, want: "BAD_STATUS"},
		{name: "setStatus non-numeric status", params: []string{"action", "setStatus", "id", "{A}", "status", "x"}, want: "BAD_STATUS"},
		{name: "setStatus malformed id", params: []string{"action", "setStatus", "id", "-5", "status", "6"}, want: "WRONG_ACTIVATION_ID"},
		{name: "setStatus unknown id", params: []string{"action", "setStatus", "id", "987654", "status", "6"}, want: "NO_ACTIVATION"},
		{name: "getActiveActivations", params: []string{"action", "getActiveActivations"}},
		{name: "getActiveActivations none", key: keyB, params: []string{"action", "getActiveActivations"}, want: `{"status":"error","error":"NO_ACTIVATIONS"}`},
		{name: "getStatus code", before: func(e *env, ids map[string]string) {
			e.clock.Advance(5 * time.Second)
			waitStatusPrefix(ids["A"], "STATUS_OK:")
			codes = append(codes, code(ids["A"]))
		}, params: []string{"action", "getStatus", "id", "{A}"}},
		{name: "getStatusV2 code", params: []string{"action", "getStatusV2", "id", "{A}"}},
		{name: "getFullSms code", params: []string{"action", "getFullSms", "id", "{A}"}},
		{name: "setStatus 8 after a code", params: []string{"action", "setStatus", "id", "{A}", "status", "8"}, want: "BAD_STATUS"},
		{name: "setStatus 3", params: []string{"action", "setStatus", "id", "{A}", "status", "3"}, want: "ACCESS_RETRY_GET"},
		{name: "getStatus wait retry", params: []string{"action", "getStatus", "id", "{A}"}},
		{name: "getStatus second code", before: func(e *env, ids map[string]string) {
			e.clock.Advance(5 * time.Second)
			e.eventually("second code", func() bool {
				_, b := e.legacy(keyA, "action", "getStatus", "id", ids["A"])
				return strings.HasPrefix(b, "STATUS_OK:") && b != "STATUS_OK:"+codes[0]
			})
		}, params: []string{"action", "getStatus", "id", "{A}"}},
		{name: "setStatus 6", params: []string{"action", "setStatus", "id", "{A}", "status", "6"}, want: "ACCESS_ACTIVATION"},
		{name: "getStatus finished", params: []string{"action", "getStatus", "id", "{A}"}, want: "STATUS_CANCEL"},
		{name: "getFullSms finished", params: []string{"action", "getFullSms", "id", "{A}"}},
		{name: "setStatus 6 again", params: []string{"action", "setStatus", "id", "{A}", "status", "6"}, want: "BAD_STATUS"},
		{name: "getPrices tg usa", params: []string{"action", "getPrices", "service", "tg", "country", "187"}},
		{name: "getPrices unknown service", params: []string{"action", "getPrices", "service", "zzzz"}, want: "BAD_SERVICE"},
		{name: "getPrices unknown country", params: []string{"action", "getPrices", "country", "9999"}, want: "WRONG_COUNTRY"},
		{name: "getCountries", params: []string{"action", "getCountries"}},
		{name: "getServicesList", params: []string{"action", "getServicesList"}},
		{name: "getServicesList usa", params: []string{"action", "getServicesList", "country", "187"}},
		{name: "getNumbersStatus usa", params: []string{"action", "getNumbersStatus", "country", "187"}},
		{name: "getOperators usa", params: []string{"action", "getOperators", "country", "187"}, want: `{"status":"success","countryOperators":{"187":["at_t","tmobile","verizon"]}}`},
		{name: "getOperators unknown country", params: []string{"action", "getOperators", "country", "9999"}, want: `{"status":"error","error":"OPERATORS_NOT_FOUND"}`},
		{name: "getTopCountriesByService tg", params: []string{"action", "getTopCountriesByService", "service", "tg"}},
		{name: "getTopCountriesByService without service", params: []string{"action", "getTopCountriesByService"}, want: "BAD_SERVICE"},
		{name: "getNumber no numbers anywhere", before: func(e *env, _ map[string]string) {
			for _, s := range e.sims {
				s.Market.SetStock("us", "vk", 0)
			}
		}, params: []string{"action", "getNumber", "service", "vk", "country", "187"}, want: "NO_NUMBERS"},
		{name: "getNumber no balance anywhere", before: func(e *env, _ map[string]string) {
			for _, s := range e.sims {
				s.Market.SetBalance(0)
			}
		}, params: []string{"action", "getNumber", "service", "tg", "country", "187"}, want: "NO_BALANCE"},
		{name: "getNumber every platform down", before: func(e *env, _ map[string]string) {
			for _, s := range e.sims {
				s.Market.SetBalance(1000 * adapters.Micro)
				s.Market.SetFaults(simFaultsDown)
			}
		}, params: []string{"action", "getNumber", "service", "tg", "country", "187"}, want: "ERROR_SQL"},
	}

	ids := map[string]string{}
	var transcript strings.Builder
	for _, s := range steps {
		if s.before != nil {
			s.before(e, ids)
		}
		key := s.key
		switch key {
		case "":
			key = keyA
		case "-":
			key = ""
		}
		params := make([]string, len(s.params))
		for i, p := range s.params {
			for name, id := range ids {
				p = strings.ReplaceAll(p, "{"+name+"}", id)
			}
			params[i] = p
		}
		status, body := e.legacy(key, params...)
		if status != http.StatusOK {
			t.Errorf("%s: HTTP %d; the classic protocol answers 200", s.name, status)
		}
		if s.want != "" && body != s.want {
			t.Errorf("%s: body %q; want %q", s.name, body, s.want)
		}
		if s.save != "" {
			rest, ok := strings.CutPrefix(body, "ACCESS_NUMBER:")
			id, _, _ := strings.Cut(rest, ":")
			if !ok || id == "" {
				t.Fatalf("%s: %q is not ACCESS_NUMBER", s.name, body)
			}
			ids[s.save] = id
		}
		fmt.Fprintf(&transcript, "### %s\n%s\n\n", s.name, body)
	}
	golden(t, "legacy.golden", transcript.String())
}

var simFaultsDown = simFaults()

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
		for i := 0; i < len(wl) || i < len(gl); i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}

// TestLegacyPOSTForm checks that parameters in a form body are read like
// query parameters (the official PHP client POSTs getNumber and setStatus).
func TestLegacyPOSTForm(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"api_key": {keyA}, "action": {"getNumber"}, "service": {"tg"}, "country": {"187"}}
	resp, err := http.PostForm(e.url+smsactivate.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	if !strings.HasPrefix(string(b[:n]), "ACCESS_NUMBER:") {
		t.Fatalf("POST form getNumber = %q", b[:n])
	}
	// Key in the query, the rest in the body.
	resp, err = http.Post(e.url+smsactivate.Path+"?api_key="+keyA, "application/x-www-form-urlencoded",
		strings.NewReader("action=getBalance"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ = resp.Body.Read(b)
	if !strings.HasPrefix(string(b[:n]), "ACCESS_BALANCE:") {
		t.Fatalf("mixed query/form getBalance = %q", b[:n])
	}
}
