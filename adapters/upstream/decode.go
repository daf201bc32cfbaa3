package upstream

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"smsgate/adapters"
)

// Platforms change the JSON type of a field under their clients (an id or
// an amount sent as a number one day and a string the next) and pad what
// they send. The readers below take either form, so an adapter states
// once what a field means and not how it happens to be encoded today.

// Scalar reads a JSON string or number as text; isStr tells which. ok is
// false for anything else: absent, null, booleans, objects and arrays.
// A number is its literal, never a float's rendering.
func Scalar(raw json.RawMessage) (s string, isStr, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false, false
	}
	switch c := raw[0]; {
	case c == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, false
		}
		return s, true, true
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, false
		}
		return n.String(), false, true
	}
	return "", false, false
}

// Amount reads a non-negative amount in micro-units from a JSON string or
// number, through its decimal literal only: an exponent form is refused
// (see adapters.ParseAmount for the platforms that send those).
func Amount(raw json.RawMessage) (int64, bool) {
	s, _, ok := Scalar(raw)
	if !ok {
		return 0, false
	}
	v, err := adapters.ParseDecimal(s)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// Integer reads a non-negative integer from a JSON string or number.
func Integer(raw json.RawMessage) (int64, bool) {
	s, _, ok := Scalar(raw)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Count reads a stock count given as 12, "12" or 12.0. A negative count
// reads as 0 and a huge one as math.MaxInt32, so sums of counts stay
// within an int everywhere; ok is false when s is no number at all.
func Count(s string) (int, bool) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) {
			return 0, false
		}
		v = int64(max(min(f, math.MaxInt32), -1))
	}
	return int(max(min(v, math.MaxInt32), 0)), true
}

// FlexString is a JSON string that also takes a bare number (kept as its
// literal) or null (""), for fields such as ids, phones and codes.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		if bytes.Equal(b, []byte("null")) {
			*s = ""
			return nil
		}
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = FlexString(n)
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = FlexString(v)
	return nil
}

// IsDigits reports whether s is min to max ASCII digits: how an adapter
// checks an id or a phone number before it trusts or sends one.
func IsDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PhoneDigits keeps the digits of a phone number: "+44 7700-900123" is
// "447700900123"; a value with no digits at all gives "".
func PhoneDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// IsToken reports whether s looks like a status or error token (A-Z, 0-9
// and '_', at most 64 bytes: "TZ_NUM_WAIT", "ERROR_NO_KEY"), so free text
// is never taken for one.
func IsToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Redact replaces the account's key in a body with "<key>" before any of
// the body can reach an error message or a log: a proxy's error page may
// echo the request URI, and a platform may echo the key. Keys shorter than
// 4 bytes are left alone, since they would match ordinary text.
func Redact(body []byte, key string) []byte {
	if len(key) < 4 || !bytes.Contains(body, []byte(key)) {
		return body
	}
	return bytes.ReplaceAll(body, []byte(key), []byte("<key>"))
}
