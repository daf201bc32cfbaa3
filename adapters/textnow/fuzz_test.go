package textnow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"smsgate/adapters/adapterstest"
	"smsgate/adapters/upstream"
)

// The parsers read TextNow's 200 bodies, which carry no error vocabulary:
// whatever they refuse must be adapters.ErrUnavailable, with the zero
// value, and never panic (adapterstest.FuzzParser). The seeds are the
// examples of protocols/textnow.md §2 and the odd shapes the reader must
// survive; more are committed under testdata/fuzz.

const (
	docUser     = `{"user_id": 123, "username": "jdoe", "email": "…", "phone_number": "2125550123"}`
	docMessages = `{"messages": [{"id": "1234567890", "contact_value": "+12125550100", "message": "Your code is 482113",
 "message_direction": 2, "message_type": 1, "read": false,
 "date": "2024-05-01T12:00:03Z",
 "conversation_filtering": {"first_time_contact": true}}]}`
)

var seedGarbage = []string{``, `null`, `[]`, `{}`, `"x"`, simulatorPage, `{"error":"unauthorized"}`}

// simulatorPage stands for a CDN error page or a challenge that came with 200.
const simulatorPage = `<html><head><title>Just a moment...</title></head><body></body></html>`

// noErrorVocabulary: no TextNow body is documented to carry an error.
func noErrorVocabulary([]byte) bool { return false }

func FuzzParseUser(f *testing.F) {
	seeds := append([]string{docUser,
		`{"user_id":"123","username":"jdoe","phone_number":"+1 (212) 555-0123"}`,
		`{"phone_number":12125550123}`, `{"phone_number":null}`, `{"phone_number":"0125550123"}`,
		`{"username":"jdoe"}`,
	}, seedGarbage...)
	adapterstest.FuzzParser(f, seeds, parseUser, noErrorVocabulary, func(t *testing.T, body []byte, u user) {
		if !upstream.IsDigits(u.Phone, 11, 11) || u.Phone[0] != '1' || u.Phone[1] < '2' || u.Phone[4] < '2' {
			t.Fatalf("%q: phone %q is not a +1 number", body, u.Phone)
		}
	})
}

func FuzzParseMessages(f *testing.F) {
	seeds := append([]string{docMessages,
		`{"messages":[]}`, `{"messages":null}`, `{"messages":{}}`,
		`{"messages":[{"id":1,"message_direction":"2","message_type":"1","date":"2024-05-01T12:00:03"},1,null,[],{"date":5}]}`,
		`{"messages":[{"id":"2","contact_value":"22000","message":"G-112233","message_direction":2,"date":"2024-05-01T14:00:00.123+02:00"},{"message_direction":1,"date":"2024-05-01 12:00:00"}]}`,
		// Pages: a full one (30 entries, so an older one is asked for), and
		// an older one that lists its start_message_id again.
		fullPage(),
		`{"messages":[{"id":"5000000031","contact_value":"Telegram","message":"Telegram code: 48213","message_direction":2,"message_type":1,"date":"2024-05-01T12:00:31Z"},` +
			`{"id":"5000000030","contact_value":"Google","message":"G-583920 is your Google verification code.","message_direction":2,"message_type":1,"date":"2024-05-01T12:00:30Z"}]}`,
	}, seedGarbage...)
	adapterstest.FuzzParser(f, seeds, parseMessages, noErrorVocabulary, func(t *testing.T, body []byte, pg page) {
		// The count decides whether there is an older page: it counts
		// every entry, the usable ones among them.
		if pg.entries < len(pg.messages) {
			t.Fatalf("%q: %d entries but %d messages", body, pg.entries, len(pg.messages))
		}
		for _, m := range pg.messages {
			// Every message the reader keeps is placed in time, in UTC,
			// so the pool's since filter means one thing.
			if m.At.IsZero() || m.At.Location() != time.UTC {
				t.Fatalf("%q: message %+v has no usable time", body, m)
			}
			if m.Direction < 0 || m.Type < 0 {
				t.Fatalf("%q: message %+v", body, m)
			}
		}
	})
}

// fullPage is a page of PageSize messages, newest first.
func fullPage() string {
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	for i := PageSize; i > 0; i-- {
		fmt.Fprintf(&b, `{"id":"%d","contact_value":"+1415555%04d","message":"Your code is %06d","message_direction":2,"message_type":1,"date":"2024-05-01T12:%02d:00Z"}`, 5000000000+i, i, i, i)
		if i > 1 {
			b.WriteString(",")
		}
	}
	b.WriteString("]}")
	return b.String()
}

func TestNANP(t *testing.T) {
	for in, want := range map[string]string{
		"2125550123": "12125550123", "12125550123": "12125550123", "+1 (416) 555-0103": "14165550103",
		"212555012": "", "22125550123": "", "0125550123": "", "2120550123": "", "+44 20 7123 4567": "",
		"": "", "phone 2125550123 ext. 1234567890123456789": "",
	} {
		got, ok := nanp(in)
		if got != want || ok != (want != "") {
			t.Errorf("nanp(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 3, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2024-05-01T12:00:03Z":      at,
		"2024-05-01T14:00:03+02:00": at,
		"2024-05-01T12:00:03":       at,
		"2024-05-01 12:00:03":       at,
		" 2024-05-01T12:00:03.25Z ": at.Add(250 * time.Millisecond),
		"0001-01-01T00:00:00Z":      {},
		"1714564803":                {},
		"yesterday":                 {},
	} {
		got, ok := parseDate(in)
		if !got.Equal(want) || ok != !want.IsZero() || (ok && got.Location() != time.UTC) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}
