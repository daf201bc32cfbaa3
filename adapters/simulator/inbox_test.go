package simulator

import (
	"strings"
	"testing"
	"time"
)

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestRequestCode: a requested code arrives CodeDelay later, from the
// service, recorded as the service's.
func TestRequestCode(t *testing.T) {
	clock := NewManualClock(time.Time{})
	m := New(Config{Clock: clock, CodeDelay: 5 * time.Second})
	m.AddNumber(InboxNumber{Phone: "12025550143", Country: "us"})
	m.RequestCode("12025550143", "wa")
	clock.Advance(4 * time.Second)
	if got := m.Inbox("12025550143"); len(got) != 0 {
		t.Fatalf("before the delay: %+v", got)
	}
	clock.Advance(time.Second)
	got := m.Inbox("12025550143")
	if len(got) != 1 {
		t.Fatalf("after the delay: %+v; want one SMS", got)
	}
	s := got[0]
	if s.Service != "wa" || len(s.Code) != 6 || !strings.Contains(digitsOnly(s.Text), s.Code) || !strings.Contains(s.Text, "WhatsApp") {
		t.Fatalf("SMS %+v; want WhatsApp's code", s)
	}
	// An unknown service still gets a code, in a generic wording with its name.
	m.RequestCode("12025550143", "dr")
	clock.Advance(5 * time.Second)
	if s := m.Inbox("12025550143")[1]; s.Service != "dr" || s.From != "OpenAI" || !strings.Contains(s.Text, "OpenAI verification code is "+s.Code) {
		t.Fatalf("SMS %+v; want OpenAI's code", s)
	}
	// Never on its own with a negative delay.
	n := New(Config{Clock: clock, CodeDelay: -1})
	n.AddNumber(InboxNumber{Phone: "12025550143", Country: "us"})
	n.RequestCode("12025550143", "tg")
	clock.Advance(time.Hour)
	if got := n.Inbox("12025550143"); len(got) != 0 {
		t.Fatalf("with no code delay: %+v", got)
	}
}

// TestInboxTraffic: the numbers' own traffic is many services' codes in
// their own wording and some noise, in time and id order per number.
func TestInboxTraffic(t *testing.T) {
	clock := NewManualClock(time.Time{})
	m := New(Config{Clock: clock, InboxEvery: time.Second, CodeDelay: 1500 * time.Millisecond})
	phones := []string{"12025550143", "12025550187"}
	for _, p := range phones {
		m.AddNumber(InboxNumber{Phone: p, Country: "us"})
	}
	m.RequestCode(phones[0], "tg")
	clock.Advance(600 * time.Second)
	services := map[string]int{}
	for _, p := range phones {
		box := m.Inbox(p)
		if len(box) < 600 {
			t.Fatalf("%s got %d SMS in 600 s; want one a second (and the requested code)", p, len(box))
		}
		for i, s := range box {
			if i > 0 && (s.ID <= box[i-1].ID || s.At.Before(box[i-1].At)) {
				t.Fatalf("%s: SMS %d (%d at %s) after %d at %s", p, i, s.ID, s.At, box[i-1].ID, box[i-1].At)
			}
			services[s.Service]++
			if s.Service != "" && !strings.Contains(digitsOnly(s.Text), s.Code) {
				t.Fatalf("%+v: the code is not in the text", s)
			}
		}
	}
	if services[""] < 100 || services[""] > 300 {
		t.Errorf("%d noise SMS of 1201; want about one in six", services[""])
	}
	for _, s := range TrafficServices {
		if services[s] == 0 {
			t.Errorf("no %s SMS in 1201", s)
		}
	}
	// The requested code is there, at its time, among the traffic.
	var found bool
	for _, s := range m.Inbox(phones[0]) {
		if s.Service == "tg" && s.At.Equal(time.Date(2026, 1, 1, 12, 0, 1, 500_000_000, time.UTC)) {
			found = true
		}
	}
	if !found {
		t.Error("the requested tg code did not arrive at +1.5 s")
	}
}

// TestServiceSMS: every traffic service has its real wording, with the
// code as the service shows it.
func TestServiceSMS(t *testing.T) {
	names := map[string]string{"tg": "Telegram", "wa": "WhatsApp", "go": "Google", "fb": "Facebook", "ig": "Instagram", "tw": "", // "Twitter" or "X"
		"ds": "Discord", "vk": "VK", "ok": "OK.ru", "mm": "Microsoft", "am": "Amazon", "ub": "Uber", "ts": "PayPal", "wb": "",
		"lf": "", "ya": "", "av": "", "mb": "Yahoo", "nf": "Netflix", "tn": "LinkedIn"}
	for _, svc := range TrafficServices {
		code := "123456"[:codeDigits(svc)]
		for v := range 3 {
			from, text := ServiceSMS(svc, code, v)
			if from == "" || !strings.Contains(digitsOnly(text), code) {
				t.Errorf("%s form %d: %q %q lacks %s", svc, v, from, text, code)
			}
			if n := names[svc]; n != "" && !strings.Contains(strings.ToLower(from+" "+text), strings.ToLower(n)) {
				t.Errorf("%s form %d: %q %q does not say %s", svc, v, from, text, n)
			}
		}
	}
	if from, text := ServiceSMS("wa", "123456", 0); from != "WhatsApp" || !strings.Contains(text, "123-456") {
		t.Errorf("wa: %q %q", from, text)
	}
}
