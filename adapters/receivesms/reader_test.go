package receivesms_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
)

const testKey = "receivesms-test-key-0123456789"

var ctx = context.Background()

// fixture is a Reader against the skin over a fresh market, on loopback.
type fixture struct {
	*adapterstest.Harness
	sim    *receivesms.Sim
	rec    *adapterstest.Recorder
	reader *receivesms.Reader
}

func newFixture(t *testing.T, o receivesms.SimOptions, key string, timeout time.Duration) *fixture {
	t.Helper()
	f := &fixture{rec: &adapterstest.Recorder{}}
	f.Harness = adapterstest.Serve(t, simulator.Config{Key: testKey}, func(m *simulator.Market) fasthttp.RequestHandler {
		f.sim = receivesms.NewSim(m, o)
		return f.rec.Wrap(f.sim.Handler())
	})
	t.Cleanup(f.sim.Close) // runs before the server closes
	r, err := receivesms.New(receivesms.Options{BaseURL: f.Server.URL, Key: key, Timeout: timeout, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.reader = r
	return f
}

func TestBalance(t *testing.T) {
	cases := []struct {
		name     string
		opt      receivesms.SimOptions
		currency string
		micros   int64
		want     adapters.Money
	}{
		{"string", receivesms.SimOptions{}, "", 12_500_000, adapters.Money{Micros: 12_500_000, Currency: "USD"}},
		{"number", receivesms.SimOptions{NumericBalance: true}, "", 12_500_000, adapters.Money{Micros: 12_500_000, Currency: "USD"}},
		{"currency option", receivesms.SimOptions{}, "EUR", 7_050_000, adapters.Money{Micros: 7_050_000, Currency: "EUR"}},
		{"empty account", receivesms.SimOptions{NumericBalance: true}, "", 0, adapters.Money{Micros: 0, Currency: "USD"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opt, testKey, 2*time.Second)
			f.Market.SetBalance(c.micros)
			r, err := receivesms.New(receivesms.Options{BaseURL: f.Server.URL, Key: testKey, Currency: c.currency})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("balance = %v; want %v", got, c.want)
			}
			if n := f.Market.Calls("balance"); n != 1 {
				t.Fatalf("%d balance calls; want 1", n)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	inbox := []simulator.InboxNumber{
		{Phone: "12025550143", Country: "us", ExpiresAt: start.AddDate(0, 0, 30)},
		{Phone: "447700900123", Country: "gb"},
		{Phone: "77011234567", Country: "kz", ExpiresAt: start.Add(36 * time.Hour)},
		{Phone: "79161234567", Country: "ru", ExpiresAt: start.Add(-time.Hour)}, // expired, still listed
		{Phone: "88812345678", Country: "xx"},                                   // a country the catalogue lacks
	}
	want := []pool.Number{
		{Phone: "12025550143", Country: "us", ExpiresAt: start.AddDate(0, 0, 30)},
		{Phone: "447700900123", Country: "gb"},
		{Phone: "77011234567", Country: "kz", ExpiresAt: start.Add(36 * time.Hour)},
		{Phone: "79161234567", Country: "ru", ExpiresAt: start.Add(-time.Hour)},
		{Phone: "88812345678", Country: ""},
	}
	for _, c := range []struct {
		name string
		opt  receivesms.SimOptions
	}{
		{"alpha-2 country codes", receivesms.SimOptions{}},
		// "1" is the NANP and "7" Russia and Kazakhstan: the phone and the
		// code's main member decide.
		{"dial codes", receivesms.SimOptions{DialCodes: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opt, testKey, 2*time.Second)
			for _, n := range inbox {
				f.Market.AddNumber(n)
			}
			got, err := f.reader.Numbers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want, func(a, b pool.Number) bool {
				return a.Phone == b.Phone && a.Country == b.Country && a.ExpiresAt.Equal(b.ExpiresAt) && a.Account == "" && a.Down == ""
			}) {
				t.Fatalf("numbers = %+v\nwant %+v", got, want)
			}
		})
	}

	t.Run("no numbers", func(t *testing.T) {
		f := newFixture(t, receivesms.SimOptions{}, testKey, 2*time.Second)
		got, err := f.reader.Numbers(ctx)
		if err != nil || len(got) != 0 {
			t.Fatalf("numbers = %+v, %v; want none", got, err)
		}
	})
}

func TestMessages(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  receivesms.SimOptions
	}{
		{"newest first upstream", receivesms.SimOptions{}},
		{"oldest first upstream", receivesms.SimOptions{OldestFirst: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opt, testKey, 2*time.Second)
			n := pool.Number{Phone: "12025550143", Country: "us"}
			f.Market.AddNumber(simulator.InboxNumber{Phone: n.Phone, Country: n.Country})
			t0 := f.Clock.Now()
			inject := func(from, text string) pool.Message {
				t.Helper()
				s, err := f.Market.Inject(n.Phone, from, text)
				if err != nil {
					t.Fatal(err)
				}
				return pool.Message{From: from, Text: text, At: s.At}
			}
			a := inject("Telegram", "Telegram code: 48213")
			f.Clock.Advance(time.Minute)
			b := inject("WhatsApp", "Your WhatsApp code: 123-456")
			f.Clock.Advance(time.Minute)
			cc := inject("12345", "48213") // a numeric sender and text

			for _, s := range []struct {
				name  string
				since time.Time
				want  []pool.Message
			}{
				{"all", time.Time{}, []pool.Message{a, b, cc}},
				{"since the first", t0, []pool.Message{a, b, cc}},
				{"at the second", t0.Add(time.Minute), []pool.Message{b, cc}},
				{"between", t0.Add(90 * time.Second), []pool.Message{cc}},
				{"after the last", t0.Add(3 * time.Minute), nil},
			} {
				got, err := f.reader.Messages(ctx, n, s.since)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if !slices.EqualFunc(got, s.want, func(x, y pool.Message) bool {
					return x.ID == "" && x.From == y.From && x.Text == y.Text && x.At.Equal(y.At)
				}) {
					t.Fatalf("%s: messages = %+v\nwant %+v", s.name, got, s.want)
				}
			}
		})
	}
}

func TestMessagesGone(t *testing.T) {
	f := newFixture(t, receivesms.SimOptions{}, testKey, 2*time.Second)
	f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us"})
	f.Market.RemoveNumber("12025550143") // the rental ended

	for _, phone := range []string{"12025550143", "447700900999"} {
		_, err := f.reader.Messages(ctx, pool.Number{Phone: phone}, time.Time{})
		if pool.DownReason(err) != pool.DownGone || !errors.Is(err, pool.ErrDown) {
			t.Fatalf("messages of %s = %v; want a DownError gone", phone, err)
		}
		if errors.Is(err, adapters.ErrUnavailable) {
			t.Fatalf("messages of %s = %v: a gone number must not count against the source", phone, err)
		}
	}
	if n := f.Market.Calls("sms"); n != 2 {
		t.Fatalf("%d sms calls; want 2", n)
	}

	// A phone that cannot be one is gone without asking.
	f.rec.Take()
	for _, phone := range []string{"", "n/a", "12/../balance"} {
		if _, err := f.reader.Messages(ctx, pool.Number{Phone: phone}, time.Time{}); pool.DownReason(err) != pool.DownGone {
			t.Fatalf("messages of %q = %v; want a DownError gone", phone, err)
		}
	}
	if reqs := f.rec.Take(); len(reqs) != 0 {
		t.Fatalf("requests %+v for phones that are none", reqs)
	}
}

// calls are the reader's three API calls, for tables that try each.
var calls = []struct {
	name string
	do   func(r *receivesms.Reader) error
}{
	{"balance", func(r *receivesms.Reader) error { _, err := r.Balance(ctx); return err }},
	{"numbers", func(r *receivesms.Reader) error { _, err := r.Numbers(ctx); return err }},
	{"messages", func(r *receivesms.Reader) error {
		_, err := r.Messages(ctx, pool.Number{Phone: "12025550143"}, time.Time{})
		return err
	}},
}

func TestBadKey(t *testing.T) {
	for _, key := range []string{"wrong-key-zz12345", ""} {
		f := newFixture(t, receivesms.SimOptions{}, key, 2*time.Second)
		f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us"})
		for _, c := range calls {
			err := c.do(f.reader)
			if !errors.Is(err, adapters.ErrAuth) {
				t.Fatalf("%s with key %q = %v; want ErrAuth", c.name, key, err)
			}
			if key != "" && strings.Contains(err.Error(), key) {
				t.Fatalf("%s: error %q shows the key", c.name, err)
			}
			if pool.DownReason(err) != "" {
				t.Fatalf("%s: %v takes a number down; a bad key is the whole source's", c.name, err)
			}
		}
	}
}

func TestFaults(t *testing.T) {
	faults := []struct {
		name  string
		apply func(f *fixture)
	}{
		{"http 5xx", func(f *fixture) { f.Market.SetFaults(simulator.Faults{ErrorRate: 1}) }},
		{"garbage body", func(f *fixture) { f.Market.SetFaults(simulator.Faults{Garbage: true}) }},
		{"hang", func(f *fixture) { f.Market.SetFaults(simulator.Faults{Hang: true}) }},
		{"connection closed", func(f *fixture) { f.Market.SetFaults(simulator.Faults{Outage: true}) }},
		{"connection refused", func(f *fixture) { f.Server.Close() }},
	}
	for _, fl := range faults {
		t.Run(fl.name, func(t *testing.T) {
			f := newFixture(t, receivesms.SimOptions{}, testKey, 300*time.Millisecond)
			f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us"})
			fl.apply(f)
			for _, c := range calls {
				err := c.do(f.reader)
				if !errors.Is(err, adapters.ErrUnavailable) || pool.DownReason(err) != "" {
					t.Fatalf("%s = %v; want ErrUnavailable", c.name, err)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Fatalf("%s: error %q shows the key", c.name, err)
				}
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	f := newFixture(t, receivesms.SimOptions{}, testKey, 2*time.Second)
	f.Market.AddNumber(simulator.InboxNumber{Phone: "12025550143", Country: "us"})
	if _, err := f.reader.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reader.Numbers(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool hands back what Numbers gave, but a phone in any punctuation
	// reads as its digits: the path segment is digits only.
	if _, err := f.reader.Messages(ctx, pool.Number{Phone: "+1 (202) 555-0143"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path  string
		query map[string]string
	}{
		{"/api/v1/balance", map[string]string{}},
		{"/api/v1/numbers", map[string]string{}},
		{"/api/v1/numbers/12025550143/sms", map[string]string{"limit": "100"}},
	}
	got := f.rec.Take()
	if len(got) != len(want) {
		t.Fatalf("%d requests %+v; want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Method != "GET" || g.Path != w.path || !maps.Equal(g.Query, w.query) || g.Body != "" {
			t.Fatalf("request %d = %s %s %v %q; want GET %s %v, no body", i, g.Method, g.Path, g.Query, g.Body, w.path, w.query)
		}
		hd := g.Headers("Authorization", "Accept", "Content-Type", "Cookie", "User-Agent")
		wantHd := map[string]string{"Authorization": "Bearer " + testKey, "Accept": "application/json", "User-Agent": "smsgate"}
		if !maps.Equal(hd, wantHd) {
			t.Fatalf("%s headers = %v; want %v", w.path, hd, wantHd)
		}
		// The key travels in its header only.
		if strings.Count(g.RawHeader, testKey) != 1 || strings.Contains(g.RawQuery, testKey) {
			t.Fatalf("%s: key outside the Authorization header: %q", w.path, g.RawHeader)
		}
	}

	// A base URL with a trailing slash still gives /api/v1/….
	r, err := receivesms.New(receivesms.Options{BaseURL: f.Server.URL + "/", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.Take(); len(got) != 1 || got[0].Path != "/api/v1/balance" {
		t.Fatalf("requests %+v; want one to /api/v1/balance", got)
	}
}

func TestNewRefusesBadBaseURL(t *testing.T) {
	for _, u := range []string{"receive-sms.com", "ftp://receive-sms.com", "http://"} {
		if _, err := receivesms.New(receivesms.Options{BaseURL: u, Key: testKey}); err == nil {
			t.Errorf("New with base url %q: no error", u)
		}
	}
	r, err := receivesms.New(receivesms.Options{Key: testKey})
	if err != nil || r.Kind() != "receivesms" {
		t.Fatalf("New with defaults = %v, %v", r, err)
	}
}
