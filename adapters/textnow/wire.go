package textnow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// TextNow's private web API has no error vocabulary: failures are HTTP
// statuses (reader.go judges them) and a 200 carries the object asked for.
// The parsers below read 200 bodies only, so whatever they cannot read is
// the upstream failing (adapters.ErrUnavailable), never a business answer.

// Enumerations of the message object (protocols/textnow.md §2).
const (
	directionOut = 1 // sent by the account
	directionIn  = 2 // received: the only messages a reader hands on
	typeText     = 1 // plain text; 2 (and, in some versions, others) are media
)

// user is the part of GET /api/users/{username} the reader uses.
type user struct {
	ID       string
	Username string
	Phone    string // 11 digits, "1" + the 10-digit NANP number
}

// message is one entry of GET /api/users/{username}/messages, kept whole
// so the reader, not the parser, decides what counts as incoming text.
type message struct {
	ID        string
	From      string // contact_value: "+12125550100" or a short code
	Text      string
	Direction int64 // directionIn / directionOut; 0 when absent
	Type      int64 // typeText, media; 0 when absent
	At        time.Time
}

var errGarbage = errors.New("unreadable answer")

func garbage(format string, args ...any) error {
	return fmt.Errorf("%s: %w: %w", fmt.Sprintf(format, args...), errGarbage, adapters.ErrUnavailable)
}

// object decodes a 200 body that must be a JSON object. An HTML page (a
// CDN error or a challenge that came with 200) or any other JSON value is
// garbage.
func object(body []byte) (map[string]json.RawMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, garbage("empty body")
	}
	if upstream.LooksHTML(b) {
		return nil, garbage("html body %q", upstream.Snippet(b))
	}
	var obj map[string]json.RawMessage
	if b[0] != '{' || json.Unmarshal(b, &obj) != nil || obj == nil {
		return nil, garbage("not a json object: %q", upstream.Snippet(b))
	}
	return obj, nil
}

// parseUser reads GET /api/users/{username}. The number is the reason the
// call is made, so an answer without a usable one is refused: the account
// is then not listed until an answer carries it.
func parseUser(body []byte) (user, error) {
	obj, err := object(body)
	if err != nil {
		return user{}, err
	}
	var phone upstream.FlexString
	if raw, ok := obj["phone_number"]; !ok || json.Unmarshal(raw, &phone) != nil {
		return user{}, garbage("no phone_number")
	}
	p, ok := nanp(string(phone))
	if !ok {
		return user{}, garbage("phone_number %q is not a US/CA number", upstream.Snippet([]byte(phone)))
	}
	u := user{Phone: p}
	if s, _, ok := upstream.Scalar(obj["user_id"]); ok {
		u.ID = s
	}
	if s, isStr, ok := upstream.Scalar(obj["username"]); ok && isStr {
		u.Username = s
	}
	return u, nil
}

// nanp turns a number as TextNow or an operator writes it ("2125550123",
// "+1 (212) 555-0123", "12125550123") into the pool's form, the 11 digits
// with the +1 country code. TextNow numbers are US or Canadian only, so
// anything else is not one.
func nanp(s string) (string, bool) {
	if len(s) > 32 {
		return "", false // not a phone number with punctuation, whatever its digits
	}
	d := upstream.PhoneDigits(s)
	switch {
	case len(d) == 10:
		d = "1" + d
	case len(d) == 11 && d[0] == '1':
	default:
		return "", false
	}
	// NANP area codes and exchanges start with 2-9.
	if d[1] < '2' || d[4] < '2' {
		return "", false
	}
	return d, true
}

// page is one answer of GET /api/users/{username}/messages.
type page struct {
	messages []message // the entries the reader can use, in the answer's order
	entries  int       // every entry, usable or not: a full page has PageSize
}

// parseMessages reads GET /api/users/{username}/messages:
// {"messages":[…]}, newest first. An entry that is not an object, or has no
// date the reader can place in time, is skipped rather than failing the
// whole answer: one odd entry (a media message of a newer shape) must not
// blind the account's reader to the codes around it. A body without the
// messages list is garbage.
func parseMessages(body []byte) (page, error) {
	obj, err := object(body)
	if err != nil {
		return page{}, err
	}
	raw, ok := obj["messages"]
	if !ok {
		return page{}, garbage("no messages list")
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return page{}, garbage("messages is not a list")
	}
	out := page{messages: make([]message, 0, len(entries)), entries: len(entries)}
	for _, e := range entries {
		if m, ok := parseMessage(e); ok {
			out.messages = append(out.messages, m)
		}
	}
	return out, nil
}

func parseMessage(raw json.RawMessage) (message, bool) {
	var e map[string]json.RawMessage
	if json.Unmarshal(raw, &e) != nil || e == nil {
		return message{}, false
	}
	date, isStr, ok := upstream.Scalar(e["date"])
	if !ok || !isStr {
		return message{}, false
	}
	at, ok := parseDate(date)
	if !ok {
		return message{}, false
	}
	m := message{At: at}
	if s, _, ok := upstream.Scalar(e["id"]); ok {
		m.ID = s
	}
	if s, isStr, ok := upstream.Scalar(e["contact_value"]); ok && isStr {
		m.From = s
	}
	if s, isStr, ok := upstream.Scalar(e["message"]); ok && isStr {
		m.Text = s
	}
	m.Direction, _ = upstream.Integer(e["message_direction"])
	m.Type, _ = upstream.Integer(e["message_type"])
	return m, true
}

// dateLayouts are the forms TextNow's dates were seen in: RFC 3339 with a
// zone in answers, and without one in the send payload (then UTC).
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.IsZero() {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
