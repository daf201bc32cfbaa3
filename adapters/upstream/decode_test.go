package upstream

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestScalar(t *testing.T) {
	f := func(raw, want string, wantStr, wantOK bool) {
		t.Helper()
		s, isStr, ok := Scalar(json.RawMessage(raw))
		if s != want || isStr != wantStr || ok != wantOK {
			t.Fatalf("Scalar(%s) = %q, %v, %v; want %q, %v, %v", raw, s, isStr, ok, want, wantStr, wantOK)
		}
	}
	f(`"12.50"`, "12.50", true, true)
	f(` 1e3 `, "1e3", false, true) // the literal, not a float's rendering
	f(`-4`, "-4", false, true)
	f(`"a\"b"`, `a"b`, true, true)
	f(``, "", false, false)
	f(`null`, "", false, false)
	f(`true`, "", false, false)
	f(`{"a":1}`, "", false, false)
	f(`[1]`, "", false, false)
	f(`"unterminated`, "", false, false)
}

func TestAmountAndInteger(t *testing.T) {
	amount := func(raw string, want int64, wantOK bool) {
		t.Helper()
		if v, ok := Amount(json.RawMessage(raw)); v != want || ok != wantOK {
			t.Fatalf("Amount(%s) = %d, %v; want %d, %v", raw, v, ok, want, wantOK)
		}
	}
	amount(`"230.25"`, 230_250_000, true)
	amount(`14`, 14_000_000, true)
	amount(`1e3`, 0, false) // exponent forms are not decimal literals
	amount(`"-1"`, 0, false)
	amount(`null`, 0, false)

	integer := func(raw string, want int64, wantOK bool) {
		t.Helper()
		if v, ok := Integer(json.RawMessage(raw)); v != want || ok != wantOK {
			t.Fatalf("Integer(%s) = %d, %v; want %d, %v", raw, v, ok, want, wantOK)
		}
	}
	integer(`10000`, 10000, true)
	integer(`" 10000 "`, 10000, true)
	integer(`1.5`, 0, false)
	integer(`-1`, 0, false)
	integer(`false`, 0, false)
}

func TestCount(t *testing.T) {
	f := func(s string, want int, wantOK bool) {
		t.Helper()
		if n, ok := Count(s); n != want || ok != wantOK {
			t.Fatalf("Count(%q) = %d, %v; want %d, %v", s, n, ok, want, wantOK)
		}
	}
	f("6455", 6455, true)
	f(" 12 ", 12, true)
	f("12.9", 12, true)
	f("-3", 0, true)
	f("-1e30", 0, true)
	f("1e30", math.MaxInt32, true)
	f("99999999999", math.MaxInt32, true)
	f("NaN", 0, false)
	f("many", 0, false)
	f("", 0, false)
}

func TestFlexString(t *testing.T) {
	var v struct {
		A, B, C, D FlexString
	}
	if err := json.Unmarshal([]byte(`{"A":"+7900","B":79001234567,"C":null,"D":1e3}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "+7900" || v.B != "79001234567" || v.C != "" || v.D != "1e3" {
		t.Fatalf("decoded %+v", v)
	}
	if err := json.Unmarshal([]byte(`{"A":true}`), &v); err == nil {
		t.Fatal("a boolean was taken for a string")
	}
}

func TestDigitsAndTokens(t *testing.T) {
	for _, c := range []struct {
		s        string
		min, max int
		want     bool
	}{
		{"123", 1, 3, true}, {"", 0, 3, true}, {"", 1, 3, false}, {"1234", 1, 3, false}, {"12a", 1, 5, false}, {"+12", 1, 5, false},
	} {
		if got := IsDigits(c.s, c.min, c.max); got != c.want {
			t.Errorf("IsDigits(%q, %d, %d) = %v", c.s, c.min, c.max, got)
		}
	}
	if got := PhoneDigits("+44 7700-900123"); got != "447700900123" {
		t.Errorf("PhoneDigits = %q", got)
	}
	if got := PhoneDigits("n/a"); got != "" {
		t.Errorf("PhoneDigits(no digits) = %q", got)
	}
	for s, want := range map[string]bool{
		"TZ_NUM_WAIT": true, "ERROR_NO_KEY": true, "1": true, "": false, "tz_num_wait": false,
		"Service not define": false, strings.Repeat("A", 65): false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	f := func(body, key, want string) {
		t.Helper()
		if got := string(Redact([]byte(body), key)); got != want {
			t.Fatalf("Redact(%q, %q) = %q; want %q", body, key, got, want)
		}
	}
	f(`<html>GET /api?apikey=sekret-123 failed; sekret-123</html>`, "sekret-123", `<html>GET /api?apikey=<key> failed; <key></html>`)
	f(`{"balance":"1.00"}`, "sekret-123", `{"balance":"1.00"}`)
	f(`price 100`, "100", `price 100`) // too short to be told from text
	f(``, "sekret-123", ``)
}
