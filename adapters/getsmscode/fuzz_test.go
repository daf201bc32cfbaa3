package getsmscode

import (
	"errors"
	"strings"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// Each response parser is fuzzed with the protocols file's examples as
// seeds (here and in testdata/fuzz). Properties: no panic; every error is
// canonical; an error other than ErrUnavailable comes only from a
// documented answer (or HTTP 401/403), so garbage is ErrUnavailable; a
// success is well formed.

var statuses = []int{200, 401, 500}

// documented lists the answers that may map to a business error.
var documented = map[error][]string{
	adapters.ErrAuth:         {ansUserWrong, ansTokenWrong, msgPrefix + ansUserWrong, msgPrefix + ansTokenWrong},
	adapters.ErrNoBalance:    {msgNoBalance},
	adapters.ErrNoNumbers:    {msgUnavailable, msgCaptureMax},
	adapters.ErrNoActivation: {msgNotFound},
}

func checkErr(t *testing.T, status int, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, adapters.ErrUnavailable) {
		return
	}
	s := strings.TrimSpace(string(body))
	for e, answers := range documented {
		if !errors.Is(err, e) {
			continue
		}
		if e == adapters.ErrAuth && (status == 401 || status == 403) {
			return
		}
		for _, a := range answers {
			if strings.EqualFold(s, a) || (a == msgCaptureMax && len(s) >= len(a) && strings.EqualFold(s[:len(a)], a)) {
				return
			}
		}
		t.Fatalf("http %d body %q: %v from an undocumented answer", status, body, err)
	}
	t.Fatalf("http %d body %q: error %v is not canonical", status, body, err)
}

var commonSeeds = []string{
	"username is wrong", "token is wrong", "Message|Issue,Try later", "Message|",
	"<html><head><title>502 Bad Gateway</title></head></html>", "", "|", "||||", "\r\n",
}

func addSeeds(f *testing.F, own ...string) {
	for _, s := range append(own, commonSeeds...) {
		f.Add([]byte(s))
	}
}

func FuzzParseLogin(f *testing.F) {
	addSeeds(f, "someone@example.com|12.45|0|1|5", "someone@example.com|12.45|0", "a|-1|x|y|z", "a|1e9|0|1|-5")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			info, err := parseLogin(st, body)
			checkErr(t, st, body, err)
			if err == nil && info.Threads < 0 {
				t.Fatalf("threads %d from %q", info.Threads, body)
			}
		}
	})
}

func FuzzParseGetMobile(f *testing.F) {
	addSeeds(f, "8617049806616", "+12025550123", "Message|balance is not enough!", "Message|unavailable",
		"Message|Capture Max mobile numbers,you max is 5", "1234", "8617049806616|10")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			n, err := parseGetMobile(st, body)
			checkErr(t, st, body, err)
			if err == nil && !upstream.IsDigits(n, minPhoneDigits, maxPhoneDigits) {
				t.Fatalf("number %q from %q", n, body)
			}
		}
	})
}

func FuzzParseGetSMS(f *testing.F) {
	addSeeds(f, "1|Your Telegram code is 48213", "1|a|b|c", "1|", "Message|not receive", "Message|Not Receive",
		"Message|Please wait 10 seconds to request!", "Message|mobile number not found!")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			kind, text, err := parseGetSMS(st, body)
			checkErr(t, st, body, err)
			if err == nil && (kind == smsReceived) != (strings.TrimSpace(text) != "") {
				t.Fatalf("kind %d text %q from %q", kind, text, body)
			}
		}
	})
}

func FuzzParseAddBlack(f *testing.F) {
	addSeeds(f, "Message|Had add black list", "Message|mobile number not found!", "Message|had ADD black list ")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			checkErr(t, st, body, parseAddBlack(st, body))
		}
	})
}

func FuzzParseProjects(f *testing.F) {
	addSeeds(f, "1|Google|cn:0.20<br>10|Telegram|cn:0.135|us:0.5", "10|Telegram|us_0.5|CN_0.14<br/>1|Google",
		"10|Telegram|0.135", "<br>10|x|my=1", "10|x|my:-1|uk:1e5", "abc|def")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			list, err := parseProjects(st, body)
			checkErr(t, st, body, err)
			for _, p := range list {
				if !upstream.IsDigits(p.PID, 1, maxPIDDigits) {
					t.Fatalf("pid %q from %q", p.PID, body)
				}
				for region, price := range p.Prices {
					if price < 0 || len(region) < 2 || strings.ToLower(region) != region {
						t.Fatalf("price %s=%d from %q", region, price, body)
					}
				}
			}
		}
	})
}

func FuzzParseMobileList(f *testing.F) {
	addSeeds(f, "8617049806616|10,8613800000000|1", "8617049806616|10", "8617049806616|10,garbage", ",", "x|y,z")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, st := range statuses {
			list, err := parseMobileList(st, body)
			checkErr(t, st, body, err)
			for _, h := range list {
				if !upstream.IsDigits(h.Number, minPhoneDigits, maxPhoneDigits) || !upstream.IsDigits(h.PID, 1, maxPIDDigits) {
					t.Fatalf("entry %+v from %q", h, body)
				}
			}
		}
	})
}

// The code maps name only canonical codes and pids are numbers; no mapped
// region's calling code starts another's, so a held number names its pool.
func TestCodeMapsAreCanonical(t *testing.T) {
	adapterstest.CodeMaps(t, countries, services)
	if r, _ := countries.Native("gb"); r != "uk" {
		t.Errorf("gb → %q; want uk", r)
	}
	dials := map[string]string{}
	for _, iso := range countries.Canonicals() {
		c, _ := catalog.CountryByISO(iso)
		for other, d := range dials {
			if strings.HasPrefix(d, c.Dial) || strings.HasPrefix(c.Dial, d) {
				t.Errorf("calling codes of %s (%s) and %s (%s) overlap", iso, c.Dial, other, d)
			}
		}
		dials[iso] = c.Dial
	}
	for _, svc := range services.Canonicals() {
		if pid, _ := services.Native(svc); !upstream.IsDigits(pid, 1, maxPIDDigits) {
			t.Errorf("services.tsv: %s → %q is not a pid", svc, pid)
		}
	}
}
