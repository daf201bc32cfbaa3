package receivesms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/pool"
	"smsgate/adapters/upstream"
)

// The parsers below read the answers of REST API v1 (protocols/
// receivesms.md §2). Only one independent client was ever seen, so they
// take what the fields plausibly hold in more than one form (a balance or
// a phone as a string or a number, a dial code or an alpha-2 country, a
// date with or without an offset), and refuse anything that does not look
// like an answer: a garbled success must never read as "no numbers" or
// "no messages", which the pool would act on.

// malformed is a 200 answer we cannot read: the platform failing.
func malformed(b []byte) error {
	return fmt.Errorf("unreadable answer %q: %w", upstream.Snippet(b), adapters.ErrUnavailable)
}

// answer sorts an answer into a JSON body to read or an error. An HTML
// page is a proxy's or CDN's whatever its status (a Cloudflare 403 is no
// verdict on our key), so it is looked at first; 401 and 403 are the bad
// key; every other status but 200 is the platform failing (the 404 of the
// messages call is judged before this).
func answer(status int, body []byte) ([]byte, error) {
	b := bytes.TrimSpace(body)
	switch {
	case upstream.LooksHTML(b):
		return nil, fmt.Errorf("html page (http %d): %w", status, adapters.ErrUnavailable)
	case status == 401 || status == 403:
		return nil, fmt.Errorf("http %d: %w", status, adapters.ErrAuth)
	case status != 200:
		return nil, fmt.Errorf("http %d %q: %w", status, upstream.Snippet(b), adapters.ErrUnavailable)
	case len(b) == 0 || (b[0] != '{' && b[0] != '['):
		return nil, malformed(b)
	}
	return b, nil
}

// parseBalance reads GET /balance: {"balance":"12.50"}. The type of the
// field is unknown (the one client reads it as text), so a JSON number is
// taken too.
func parseBalance(status int, body []byte) (int64, error) {
	b, err := answer(status, body)
	if err != nil {
		return 0, err
	}
	var v struct {
		Balance json.RawMessage `json:"balance"`
	}
	if json.Unmarshal(b, &v) != nil {
		return 0, malformed(b)
	}
	s, _, ok := upstream.Scalar(v.Balance)
	if !ok {
		return 0, malformed(b)
	}
	m, err := adapters.ParseAmount(s)
	if err != nil {
		return 0, malformed(b)
	}
	return m, nil
}

// list reads the array under key, also as a bare top-level array. A null
// list is empty; a missing key is not an answer to this call.
func list(b []byte, key string) ([]json.RawMessage, bool) {
	if b[0] == '[' {
		var l []json.RawMessage
		return l, json.Unmarshal(b, &l) == nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return nil, false
	}
	raw, ok := top[key]
	if !ok {
		return nil, false
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, true
	}
	var l []json.RawMessage
	return l, json.Unmarshal(raw, &l) == nil
}

// phone reads a phone number, a JSON string in any punctuation or a JSON
// integer, as digits only; "" when it is not a phone number (an exponent
// form of a number has lost digits).
func phone(raw json.RawMessage) string {
	s, isStr, ok := upstream.Scalar(raw)
	if !ok || (!isStr && !upstream.IsDigits(s, 1, 20)) {
		return ""
	}
	return validPhone(upstream.PhoneDigits(s))
}

// validPhone returns digits when they can be an E.164 number without the
// '+' (5 to 20 digits, the gateway's usual bounds), else "".
func validPhone(digits string) string {
	if !upstream.IsDigits(digits, 5, 20) {
		return ""
	}
	return digits
}

// parseNumbers reads GET /numbers. Entries without a readable phone are
// skipped, but a non-empty list of which none is readable is a changed or
// broken answer, not an account without numbers: the pool would take
// every number out on an empty list. A phone listed twice (a renewal shown
// as a second row, say) is kept once, with the later expiry. Numbers come
// sorted by phone.
func parseNumbers(status int, body []byte) ([]pool.Number, error) {
	b, err := answer(status, body)
	if err != nil {
		return nil, err
	}
	items, ok := list(b, "numbers")
	if !ok {
		return nil, malformed(b)
	}
	byPhone := map[string]pool.Number{}
	for _, raw := range items {
		var w struct {
			Phone   json.RawMessage `json:"phone_number"`
			Country json.RawMessage `json:"country_code"`
			Expires json.RawMessage `json:"expiration_date"`
		}
		if json.Unmarshal(raw, &w) != nil {
			continue
		}
		n := pool.Number{Phone: phone(w.Phone)}
		if n.Phone == "" {
			continue
		}
		code, _, _ := upstream.Scalar(w.Country)
		n.Country = country(code, n.Phone)
		n.ExpiresAt, _ = parseTime(w.Expires)
		if prev, dup := byPhone[n.Phone]; dup && !n.ExpiresAt.After(prev.ExpiresAt) {
			continue
		}
		byPhone[n.Phone] = n
	}
	if len(items) > 0 && len(byPhone) == 0 {
		return nil, malformed(b)
	}
	out := make([]pool.Number, 0, len(byPhone))
	for _, n := range byPhone {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b pool.Number) int { return strings.Compare(a.Phone, b.Phone) })
	return out, nil
}

// mainMember is the country a calling code shared by several countries
// stands for when nothing else tells: "1" is the whole NANP (receive-sms
// sells mostly US numbers), "7" Russia and Kazakhstan.
var mainMember = map[string]string{"1": "us", "7": "ru"}

// country maps country_code to a canonical ISO alpha-2 code (lower case),
// "" when it names no catalogue country. Whether the field holds an
// alpha-2 code or a calling code is unknown, so both are read: "US", "us",
// "UK" (common, not ISO: Great Britain), "1", "+44".
func country(code, phone string) string {
	code = strings.TrimSpace(code)
	if len(code) == 2 && isLetters(code) {
		iso := strings.ToLower(code)
		if iso == "uk" {
			iso = "gb"
		}
		if _, ok := catalog.CountryByISO(iso); ok {
			return iso
		}
		return ""
	}
	dial := strings.TrimPrefix(code, "+")
	if !upstream.IsDigits(dial, 1, 3) {
		return ""
	}
	cs := catalog.CountryByDial(dial)
	switch {
	case len(cs) == 1:
		return cs[0].ISO
	case len(cs) == 0:
		return ""
	case dial == "7" && (strings.HasPrefix(phone, "76") || strings.HasPrefix(phone, "77")):
		// Kazakhstan's numbers are +7 6xx and +7 7xx; the rest of +7 is Russia's.
		return "kz"
	}
	if iso := mainMember[dial]; slices.ContainsFunc(cs, func(c catalog.Country) bool { return c.ISO == iso }) {
		return iso
	}
	return ""
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// timeLayouts are the date forms read: ISO-8601 with an offset (v1, "…
// +00:00"), the same without one, and the legacy API's "YYYY-MM-DD
// HH:MM:SS". A date without an offset is UTC, as the legacy API says its
// dates are.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// parseTime reads a date: a string in one of timeLayouts, or a JSON number
// of Unix seconds (milliseconds when it is too large for seconds). The
// time is in UTC; ok is false for null, absent or unreadable.
func parseTime(raw json.RawMessage) (time.Time, bool) {
	s, isStr, ok := upstream.Scalar(raw)
	if !ok {
		return time.Time{}, false
	}
	if !isStr {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, false
		}
		if n > 1e11 { // past year 5138 in seconds: milliseconds
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil && t.Year() > 1970 {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseSMS reads GET /numbers/{n}/sms: {"messages":[{"from","message",
// "time"}]}, also with the legacy API's "date" for "time". A message
// without a readable time is skipped: given the time of reading instead,
// it would come back as new on every poll and hand an old code to a new
// lease. A non-empty list of which none is readable is a broken answer.
// Messages come oldest first (the order upstream is undocumented); their
// ID is "", since the API gives none.
//
// A 404 means the number is no longer on the account (the rental ended or
// moved): a DownError "gone" takes just that number out of the pool. An
// HTML 404 is a proxy's or a moved API's, the platform failing instead.
func parseSMS(status int, body []byte) ([]pool.Message, error) {
	if status == 404 && !upstream.LooksHTML(body) {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("http 404 %q", upstream.Snippet(body))}
	}
	b, err := answer(status, body)
	if err != nil {
		return nil, err
	}
	items, ok := list(b, "messages")
	if !ok {
		return nil, malformed(b)
	}
	out := make([]pool.Message, 0, len(items))
	for _, raw := range items {
		var w struct {
			From json.RawMessage `json:"from"`
			Text json.RawMessage `json:"message"`
			Time json.RawMessage `json:"time"`
			Date json.RawMessage `json:"date"`
		}
		if json.Unmarshal(raw, &w) != nil {
			continue
		}
		at, ok := parseTime(w.Time)
		if !ok {
			if at, ok = parseTime(w.Date); !ok {
				continue
			}
		}
		// A sender id or a text of digits only may come as a JSON number.
		from, _, _ := upstream.Scalar(w.From)
		text, _, _ := upstream.Scalar(w.Text)
		out = append(out, pool.Message{From: from, Text: text, At: at})
	}
	if len(items) > 0 && len(out) == 0 {
		return nil, malformed(b)
	}
	slices.SortStableFunc(out, func(a, b pool.Message) int { return a.At.Compare(b.At) })
	return out, nil
}
