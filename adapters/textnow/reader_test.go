package textnow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
)

// testCookie is the session every simulated account accepts; no error
// may show it.
const testCookie = "s%3Atextnow-test-session-0123456789.Sig+nature"

var ctx = context.Background()

// The simulated accounts: two US numbers and a Canadian one.
var (
	alice = simulator.InboxNumber{Phone: "12125550101", Country: "us", Account: "alice"}
	bob   = simulator.InboxNumber{Phone: "12125550102", Country: "us", Account: "bob"}
	carol = simulator.InboxNumber{Phone: "14165550103", Country: "ca", Account: "carol"}
)

type fixture struct {
	t      *testing.T
	h      *adapterstest.Harness
	market *simulator.Market
	clock  *simulator.ManualClock
	sim    *textnow.Sim
	rec    *adapterstest.Recorder
}

// newFixture serves the TextNow skin over a market holding nums, behind a
// recorder.
func newFixture(t *testing.T, nums ...simulator.InboxNumber) *fixture {
	t.Helper()
	f := &fixture{t: t, rec: &adapterstest.Recorder{}}
	f.h = adapterstest.Serve(t, simulator.Config{Key: testCookie}, func(m *simulator.Market) fasthttp.RequestHandler {
		f.sim = textnow.NewSim(m)
		return f.rec.Wrap(f.sim.Handler())
	})
	f.market, f.clock = f.h.Market, f.h.Clock
	for _, n := range nums {
		f.market.AddNumber(n)
	}
	return f
}

// account is a with the test session; its number is learned unless
// phone is given.
func account(n simulator.InboxNumber, phone string) textnow.Account {
	return textnow.Account{User: n.Account, Cookie: testCookie, Phone: phone, Country: n.Country}
}

// reader builds a Reader for the fixture: no pacing, a short backoff and
// timeout unless o says otherwise.
func (f *fixture) reader(o textnow.Options) *textnow.Reader {
	f.t.Helper()
	o.BaseURL = f.h.Server.URL
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MinGap == 0 {
		o.MinGap = -1
	}
	if o.Backoff == 0 {
		o.Backoff = 300 * time.Millisecond
	}
	r, err := textnow.New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) calls(user string) int64 { return f.market.Calls("account:" + user) }

func number(n simulator.InboxNumber) pool.Number {
	return pool.Number{Phone: n.Phone, Country: n.Country, Account: n.Account}
}

func downNumber(n simulator.InboxNumber, phone string) pool.Number {
	return pool.Number{Phone: phone, Country: n.Country, Account: n.Account, Down: pool.DownNeedsLogin}
}

func mustNumbers(t *testing.T, r *textnow.Reader, want ...pool.Number) {
	t.Helper()
	got, err := r.Numbers(ctx)
	if err != nil {
		t.Fatalf("numbers: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("numbers = %+v; want %+v", got, want)
	}
}

// noSecret fails t if err shows the session cookie.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), testCookie) || strings.Contains(err.Error(), "textnow-test-session")) {
		t.Fatalf("error %q shows the session cookie", err)
	}
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, adapters.ErrUnavailable) || errors.Is(err, pool.ErrDown) || errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("got %v; want ErrUnavailable only", err)
	}
	noSecret(t, err)
}

func wantDown(t *testing.T, err error, reason string) {
	t.Helper()
	var d *pool.DownError
	if !errors.As(err, &d) || d.Reason != reason || !errors.Is(err, pool.ErrDown) {
		t.Fatalf("got %v; want a DownError %q", err, reason)
	}
	// One account's session must not trip the whole source's breaker.
	if adapters.PlatformFault(err) {
		t.Fatalf("down error %v is also a platform fault", err)
	}
	noSecret(t, err)
}

// sameMessages compares messages with their times as instants.
func sameMessages(a, b []pool.Message) bool {
	return slices.EqualFunc(a, b, func(x, y pool.Message) bool {
		return x.ID == y.ID && x.From == y.From && x.Text == y.Text && x.At.Equal(y.At)
	})
}

func TestNumbersLearnedOnce(t *testing.T) {
	f := newFixture(t, alice, bob, carol)
	// bob's number is configured, in an operator's spelling; carol's
	// country comes from the configuration, TextNow does not tell it.
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, "+1 (212) 555-0102"), account(carol, "")}})
	if got := r.Accounts()[0].State; got != textnow.StateUnknown {
		t.Fatalf("before Numbers alice is %q; want unknown", got)
	}
	mustNumbers(t, r, number(alice), number(bob), number(carol))
	if n, b := f.market.Calls("user"), f.calls("bob"); n != 2 || b != 0 {
		t.Fatalf("user calls = %d, bob's = %d; want 2 and 0 (bob's number is configured)", n, b)
	}
	mustNumbers(t, r, number(alice), number(bob), number(carol))
	if n := f.market.Calls("user") + f.market.Calls("messages"); n != 2 {
		t.Fatalf("%d calls after the second Numbers; want none more than 2 (numbers are cached)", n)
	}
	for _, s := range r.Accounts() {
		if s.State != textnow.StateReady || s.Phone == "" {
			t.Fatalf("account %+v; want ready with a phone", s)
		}
	}
}

func TestMessagesFromTheInbox(t *testing.T) {
	f := newFixture(t, alice, bob)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, "")}})
	t0 := f.clock.Now()
	var sent []simulator.InboxSMS
	for i, text := range []string{"Telegram code 11111", "Your WhatsApp code 222-333", "G-444555 is your Google verification code"} {
		s, err := f.market.Inject(alice.Phone, fmt.Sprintf("+1415555010%d", i), text)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
		f.clock.Advance(10 * time.Second)
	}
	if _, err := f.market.Inject(bob.Phone, "22000", "for bob only"); err != nil {
		t.Fatal(err)
	}
	want := func(s simulator.InboxSMS) pool.Message {
		return pool.Message{ID: fmt.Sprint(s.ID), From: s.From, Text: s.Text, At: s.At.UTC()}
	}
	for _, c := range []struct {
		name  string
		since time.Time
		want  []pool.Message
	}{
		{"all", time.Time{}, []pool.Message{want(sent[2]), want(sent[1]), want(sent[0])}},
		{"since is inclusive", t0.Add(10 * time.Second), []pool.Message{want(sent[2]), want(sent[1])}},
		{"since between", t0.Add(11 * time.Second), []pool.Message{want(sent[2])}},
		{"none yet", t0.Add(time.Hour), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Messages(ctx, number(alice), c.since)
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessages(got, c.want) {
				t.Fatalf("messages = %+v; want %+v", got, c.want)
			}
		})
	}
}

// TestOneAccountDown is the acceptance item: a 401 (or a 403
// challenge) on one account of three takes out just that account; the
// others keep serving, and the down one is never called again.
func TestOneAccountDown(t *testing.T) {
	for _, c := range []struct {
		name   string
		toggle func(s *textnow.Sim, user string)
		reason string // in the error, for the logs
	}{
		{"401 expired session", (*textnow.Sim).Expire, "http 401"},
		{"403 challenge page", (*textnow.Sim).Challenge, "http 403 with a challenge page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, alice, bob, carol)
			r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, ""), account(carol, "")}})
			mustNumbers(t, r, number(alice), number(bob), number(carol))

			c.toggle(f.sim, "bob")
			_, err := r.Messages(ctx, number(bob), time.Time{})
			wantDown(t, err, pool.DownNeedsLogin)
			if !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %q does not say %q", err, c.reason)
			}
			seen := f.calls("bob")

			_, err = r.Messages(ctx, number(bob), time.Time{})
			wantDown(t, err, pool.DownNeedsLogin)
			// Listed down with the number it had, the others usable.
			mustNumbers(t, r, number(alice), downNumber(bob, bob.Phone), number(carol))
			for _, n := range []simulator.InboxNumber{alice, carol} {
				if _, err := f.market.Inject(n.Phone, "Telegram", "code 12345 for "+n.Account); err != nil {
					t.Fatal(err)
				}
				msgs, err := r.Messages(ctx, number(n), time.Time{})
				if err != nil || len(msgs) != 1 || msgs[0].Text != "code 12345 for "+n.Account {
					t.Fatalf("%s after bob went down: %+v, %v", n.Account, msgs, err)
				}
			}
			if got := f.calls("bob"); got != seen {
				t.Fatalf("bob got %d more calls after going down; want none", got-seen)
			}
			st := r.Accounts()[1]
			if st.State != textnow.StateNeedsLogin || st.Reason != c.reason {
				t.Fatalf("bob's state = %+v; want needs_login (%s)", st, c.reason)
			}
		})
	}
}

// An account that is already expired when its number is first asked for
// is listed down, with the number configured for it or none.
func TestDownBeforeTheNumberIsKnown(t *testing.T) {
	f := newFixture(t, alice, bob, carol)
	f.sim.Expire("bob")
	f.sim.Challenge("carol")
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, ""), account(carol, carol.Phone[1:])}})
	mustNumbers(t, r, number(alice), downNumber(bob, ""), number(carol))
	if f.calls("bob") != 1 || f.calls("carol") != 0 {
		t.Fatalf("calls bob %d carol %d; want 1 and 0", f.calls("bob"), f.calls("carol"))
	}
	// carol's number is configured, so her challenge shows at her first read.
	_, err := r.Messages(ctx, number(carol), time.Time{})
	wantDown(t, err, pool.DownNeedsLogin)
	mustNumbers(t, r, number(alice), downNumber(bob, ""), downNumber(carol, carol.Phone))
	if f.calls("bob") != 1 || f.calls("carol") != 1 {
		t.Fatalf("calls bob %d carol %d; want 1 and 1", f.calls("bob"), f.calls("carol"))
	}
	// Every account down is a listing, not an error: TextNow answered.
	f.sim.Expire("alice")
	_, err = r.Messages(ctx, number(alice), time.Time{})
	wantDown(t, err, pool.DownNeedsLogin)
	mustNumbers(t, r, downNumber(alice, alice.Phone), downNumber(bob, ""), downNumber(carol, carol.Phone))
}

func TestThrottleBacksOff(t *testing.T) {
	f := newFixture(t, alice, bob)
	r := f.reader(textnow.Options{Backoff: 300 * time.Millisecond, Accounts: []textnow.Account{account(alice, ""), account(bob, "")}})
	mustNumbers(t, r, number(alice), number(bob))

	f.sim.Throttle("alice", 1)
	_, err := r.Messages(ctx, number(alice), time.Time{})
	wantUnavailable(t, err)
	if !strings.Contains(err.Error(), "429") || !errors.Is(err, pool.ErrThrottled) {
		t.Fatalf("error %q does not say 429, or is not marked throttled (one account, not the platform)", err)
	}
	calls := f.calls("alice")
	_, err = r.Messages(ctx, number(alice), time.Time{})
	wantUnavailable(t, err)
	if !errors.Is(err, pool.ErrThrottled) {
		t.Fatalf("error during the backoff %q is not marked throttled", err)
	}
	if f.calls("alice") != calls {
		t.Fatal("alice was called during her backoff")
	}
	// Throttled is not down: still listed, still usable, and bob unaffected.
	mustNumbers(t, r, number(alice), number(bob))
	if st := r.Accounts()[0]; st.State != textnow.StateBackoff || st.Until.IsZero() {
		t.Fatalf("alice's state = %+v; want backoff", st)
	}
	if _, err := r.Messages(ctx, number(bob), time.Time{}); err != nil {
		t.Fatalf("bob during alice's backoff: %v", err)
	}

	time.Sleep(350 * time.Millisecond)
	if _, err := r.Messages(ctx, number(alice), time.Time{}); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
	if f.calls("alice") != calls+1 {
		t.Fatalf("alice calls = %d; want %d", f.calls("alice"), calls+1)
	}
}

// TestRetryAfter: a Retry-After longer than the configured backoff wins,
// within bounds.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		retryAfter string
		min, max   time.Duration
	}{
		{"", 250 * time.Millisecond, 350 * time.Millisecond},
		{"5", 4900 * time.Millisecond, 5100 * time.Millisecond},
		{"0", 250 * time.Millisecond, 350 * time.Millisecond},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 250 * time.Millisecond, 350 * time.Millisecond}, // dates are not read: the backoff stands
		{"999999999", 15*time.Minute - time.Second, 15 * time.Minute},
	} {
		t.Run(c.retryAfter, func(t *testing.T) {
			url := adapterstest.ServeHandler(t, func(ctx *fasthttp.RequestCtx) {
				if c.retryAfter != "" {
					ctx.Response.Header.Set("Retry-After", c.retryAfter)
				}
				ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			})
			r, err := textnow.New(textnow.Options{BaseURL: url, MinGap: -1, Backoff: 300 * time.Millisecond, Accounts: []textnow.Account{{User: "jdoe", Cookie: testCookie, Phone: "2125550123"}}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = r.Messages(ctx, pool.Number{Account: "jdoe"}, time.Time{})
			wantUnavailable(t, err)
			st := r.Accounts()[0]
			if d := st.Until.Sub(start); st.State != textnow.StateBackoff || d < c.min || d > c.max+time.Second {
				t.Fatalf("backoff %s (%+v); want %s to %s", d, st, c.min, c.max)
			}
		})
	}
}

func TestPacing(t *testing.T) {
	const gap = 200 * time.Millisecond
	accounts := []textnow.Account{account(alice, alice.Phone), account(bob, bob.Phone)}

	t.Run("the sim enforces its gap", func(t *testing.T) {
		// Without pacing the second quick call is refused: the other cases
		// prove something.
		f := newFixture(t, alice, bob)
		f.sim.SetMinGap(gap)
		r := f.reader(textnow.Options{MinGap: -1, Accounts: accounts})
		if _, err := r.Messages(ctx, number(alice), time.Time{}); err != nil {
			t.Fatal(err)
		}
		_, err := r.Messages(ctx, number(alice), time.Time{})
		wantUnavailable(t, err)
	})

	t.Run("sequential calls wait", func(t *testing.T) {
		f := newFixture(t, alice, bob)
		f.sim.SetMinGap(gap)
		r := f.reader(textnow.Options{MinGap: gap, Accounts: accounts})
		start := time.Now()
		for i := range 3 {
			if _, err := r.Messages(ctx, number(alice), time.Time{}); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}
		if d := time.Since(start); d < 2*gap {
			t.Fatalf("three calls took %s; want at least %s", d, 2*gap)
		}
	})

	t.Run("concurrent calls take turns", func(t *testing.T) {
		f := newFixture(t, alice, bob)
		f.sim.SetMinGap(gap)
		r := f.reader(textnow.Options{MinGap: gap, Accounts: accounts})
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { _, errs[i] = r.Messages(ctx, number(alice), time.Time{}) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := f.calls("alice"); n != 3 {
			t.Fatalf("%d calls; want 3", n)
		}
	})

	t.Run("accounts do not wait for each other", func(t *testing.T) {
		f := newFixture(t, alice, bob)
		f.sim.SetMinGap(gap)
		r := f.reader(textnow.Options{MinGap: gap, Accounts: accounts})
		if _, err := r.Messages(ctx, number(alice), time.Time{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := r.Messages(ctx, number(bob), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > gap/2 {
			t.Fatalf("bob's call waited %s for alice's", d)
		}
	})

	t.Run("a wait past the deadline is not begun", func(t *testing.T) {
		f := newFixture(t, alice, bob)
		r := f.reader(textnow.Options{MinGap: gap, Accounts: accounts})
		if _, err := r.Messages(ctx, number(alice), time.Time{}); err != nil {
			t.Fatal(err)
		}
		calls := f.calls("alice")
		cctx, cancel := context.WithTimeout(ctx, gap/4)
		defer cancel()
		start := time.Now()
		_, err := r.Messages(cctx, number(alice), time.Time{})
		wantUnavailable(t, err)
		if d := time.Since(start); d > gap/8 {
			t.Fatalf("gave up after %s; want at once", d)
		}
		if f.calls("alice") != calls {
			t.Fatal("the call was made anyway")
		}
	})
}

func TestUnavailable(t *testing.T) {
	faults := []struct {
		name  string
		apply func(f *fixture)
	}{
		{"http 5xx", func(f *fixture) { f.market.SetFaults(simulator.Faults{ErrorRate: 1}) }},
		{"garbage body", func(f *fixture) { f.market.SetFaults(simulator.Faults{Garbage: true}) }},
		{"timeout", func(f *fixture) { f.market.SetFaults(simulator.Faults{Hang: true}) }},
		{"connection closed", func(f *fixture) { f.market.SetFaults(simulator.Faults{Outage: true}) }},
		{"connection refused", func(f *fixture) { f.h.Server.Close() }},
	}
	for _, c := range faults {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, alice, bob, carol)
			c.apply(f)
			o := textnow.Options{Timeout: 300 * time.Millisecond}

			o.Accounts = []textnow.Account{account(alice, ""), account(carol, "")}
			unknown := f.reader(o)
			_, err := unknown.Numbers(ctx)
			wantUnavailable(t, err)

			// A number already known is listed without a call; one still
			// unknown is left out, and the listing is no error.
			o.Accounts = []textnow.Account{account(alice, ""), account(bob, bob.Phone)}
			known := f.reader(o)
			mustNumbers(t, known, number(bob))
			_, err = known.Messages(ctx, number(bob), time.Time{})
			wantUnavailable(t, err)
			for _, s := range known.Accounts() {
				if s.State == textnow.StateNeedsLogin || s.State == textnow.StateBackoff {
					t.Fatalf("account %+v after %s", s, c.name)
				}
			}
		})
	}
}

// TestAnswers: what the reader makes of answers the sim does not give.
func TestAnswers(t *testing.T) {
	script := adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string { return string(ctx.Path()) })
	url := adapterstest.ServeHandler(t, script.Handle)
	const msgs = "/api/users/jdoe/messages"
	since := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   []pool.Message
		err    error
	}{
		{name: "documented shape, filtered", body: `{"messages":[
			{"id":"1234567893","contact_value":"+12125550100","message":"Your code is 482113","message_direction":2,"message_type":1,"read":false,"date":"2024-05-01T12:00:03Z","conversation_filtering":{"first_time_contact":true}},
			{"id":"1234567892","contact_value":"+12125550100","message":"thanks","message_direction":1,"message_type":1,"read":true,"date":"2024-05-01T12:00:02Z"},
			{"id":"1234567891","contact_value":"+12125550100","message":"https://media.textnow.com/x/482113.jpg","message_direction":2,"message_type":2,"date":"2024-05-01T12:00:01Z"},
			{"id":1234567890,"contact_value":"22000","message":"G-112233 is your code","message_direction":"2","date":"2024-05-01T14:00:00+02:00"},
			{"id":"1234567889","contact_value":"+12125550100","message":"older code 999999","message_direction":2,"message_type":1,"date":"2024-05-01T11:59:59Z"}]}`,
			want: []pool.Message{
				{ID: "1234567893", From: "+12125550100", Text: "Your code is 482113", At: since.Add(3 * time.Second)},
				{ID: "1234567890", From: "22000", Text: "G-112233 is your code", At: since},
			}},
		{name: "dates without a zone are UTC", body: `{"messages":[{"id":"7","contact_value":"+1","message":"a","message_direction":2,"message_type":1,"date":"2024-05-01T12:00:05"}]}`,
			want: []pool.Message{{ID: "7", From: "+1", Text: "a", At: since.Add(5 * time.Second)}}},
		{name: "odd entries are skipped", body: `{"messages":[1,null,{"message_direction":2,"message":"no date"},{"message_direction":2,"date":"yesterday"},{"id":"8","message_direction":2,"message_type":1,"message":"ok","date":"2024-05-01T12:00:00.5Z"}]}`,
			want: []pool.Message{{ID: "8", Text: "ok", At: since.Add(500 * time.Millisecond)}}},
		{name: "empty list", body: `{"messages":[]}`},
		{name: "null list", body: `{"messages":null}`},
		{name: "no list", body: `{"error":"something"}`, err: adapters.ErrUnavailable},
		{name: "list of the wrong type", body: `{"messages":{"id":"1"}}`, err: adapters.ErrUnavailable},
		{name: "not json", body: `messages`, err: adapters.ErrUnavailable},
		{name: "html with 200", body: simulator.GarbageBody, err: adapters.ErrUnavailable},
		{name: "empty 200", body: ``, err: adapters.ErrUnavailable},
		{name: "404", status: 404, body: `{"error":"not found"}`, err: adapters.ErrUnavailable},
		{name: "302 to a login page", status: 302, err: adapters.ErrUnavailable},
		{name: "500 echoing the cookie", status: 500, body: "bad session " + testCookie, err: adapters.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			script.Reply(msgs, c.status, c.body)
			r, err := textnow.New(textnow.Options{BaseURL: url, MinGap: -1, Accounts: []textnow.Account{{User: "jdoe", Cookie: testCookie, Phone: "2125550123"}}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Messages(ctx, pool.Number{Phone: "12125550123", Account: "jdoe"}, since)
			noSecret(t, err)
			if c.err != nil {
				if !errors.Is(err, c.err) || got != nil {
					t.Fatalf("got %+v, %v; want %v", got, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessages(got, c.want) {
				t.Fatalf("messages = %+v; want %+v", got, c.want)
			}
		})
	}

	// Users answers: a number in any of its spellings, or the account is
	// left out until one comes.
	const users = "/api/users/jdoe"
	for _, c := range []struct {
		body  string
		phone string // "" = left out, with ErrUnavailable
	}{
		{`{"user_id":123,"username":"jdoe","email":"j@example.com","phone_number":"2125550123"}`, "12125550123"},
		{`{"user_id":"123","phone_number":"+1 (212) 555-0123"}`, "12125550123"},
		{`{"phone_number":12125550123}`, "12125550123"},
		{`{"user_id":123,"username":"jdoe","phone_number":null}`, ""},
		{`{"user_id":123,"username":"jdoe","phone_number":"442071234567"}`, ""},
		{`{"user_id":123,"username":"jdoe"}`, ""},
		{`[{"phone_number":"2125550123"}]`, ""},
	} {
		script.Reply(users, 200, c.body)
		r, err := textnow.New(textnow.Options{BaseURL: url, MinGap: -1, Accounts: []textnow.Account{{User: "jdoe", Cookie: testCookie}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Numbers(ctx)
		if c.phone == "" {
			if !errors.Is(err, adapters.ErrUnavailable) {
				t.Fatalf("%s: numbers = %+v, %v; want ErrUnavailable", c.body, got, err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0].Phone != c.phone || got[0].Country != "us" {
			t.Fatalf("%s: numbers = %+v, %v; want phone %s", c.body, got, err, c.phone)
		}
	}
}

func TestRequestShape(t *testing.T) {
	// A username with characters that must be escaped in a path; the sim
	// only finds the account if it arrives intact.
	odd := simulator.InboxNumber{Phone: "13125550104", Country: "us", Account: "jane doe+1@x%?#"}
	f := newFixture(t, alice, odd)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{
		account(alice, ""),
		{User: odd.Account, Cookie: "connect.sid=" + testCookie, CSRF: "csrf-cookie-secret", CSRFToken: "csrf-header-token"},
	}})
	mustNumbers(t, r, number(alice), number(odd))
	if _, err := r.Messages(ctx, number(odd), time.Time{}); err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.Take()
	slices.SortStableFunc(reqs, func(a, b adapterstest.Request) int { return strings.Compare(a.Path, b.Path) }) // the lookups run in parallel
	type shape struct {
		line    string            // the request line as sent
		path    string            // as the server decodes it
		query   string            // as sent
		headers map[string]string // of those a client could add by mistake
	}
	want := []shape{
		{"GET /api/users/alice HTTP/1.1", "/api/users/alice", "", map[string]string{
			"Cookie": "connect.sid=" + testCookie, "User-Agent": textnow.DefaultUserAgent, "Accept": "application/json, text/plain, */*"}},
		{"GET /api/users/jane%20doe+1@x%25%3F%23 HTTP/1.1", "/api/users/" + odd.Account, "", map[string]string{
			"Cookie": "connect.sid=" + testCookie + "; _csrf=csrf-cookie-secret", "X-Csrf-Token": "csrf-header-token",
			"User-Agent": textnow.DefaultUserAgent, "Accept": "application/json, text/plain, */*"}},
		{"GET /api/users/jane%20doe+1@x%25%3F%23/messages?page_size=30 HTTP/1.1", "/api/users/" + odd.Account + "/messages", "page_size=30", map[string]string{
			"Cookie": "connect.sid=" + testCookie + "; _csrf=csrf-cookie-secret", "X-Csrf-Token": "csrf-header-token",
			"User-Agent": textnow.DefaultUserAgent, "Accept": "application/json, text/plain, */*"}},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests; want %d", len(reqs), len(want))
	}
	for i, w := range want {
		g := reqs[i]
		line, _, _ := strings.Cut(g.RawHeader, "\r\n")
		hd := g.Headers("Authorization", "Content-Type", "User-Agent", "Cookie", "X-Csrf-Token", "Accept")
		if line != w.line || g.Path != w.path || g.Method != "GET" || g.RawQuery != w.query || g.Body != "" || g.Status != 200 {
			t.Fatalf("request %d: %q, path %q, query %q, body %q, status %d; want %q, path %q, query %q, 200", i, line, g.Path, g.RawQuery, g.Body, g.Status, w.line, w.path, w.query)
		}
		if fmt.Sprint(hd) != fmt.Sprint(w.headers) {
			t.Fatalf("request %d headers %v; want %v", i, hd, w.headers)
		}
	}
}

func TestUnknownNumbers(t *testing.T) {
	f := newFixture(t, alice)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, alice.Phone)}})
	for _, n := range []pool.Number{
		{Phone: "12125559999", Account: "mallory"},
		{Phone: "", Account: ""},
		{Phone: "12125559999", Account: "alice"}, // alice's number is another
	} {
		_, err := r.Messages(ctx, n, time.Time{})
		wantDown(t, err, pool.DownGone)
	}
	if n := f.market.Calls("user") + f.market.Calls("messages"); n != 0 {
		t.Fatalf("%d calls for numbers the reader does not have", n)
	}
}

func TestNewRefuses(t *testing.T) {
	ok := textnow.Account{User: "jdoe", Cookie: testCookie}
	with := func(f func(a *textnow.Account)) []textnow.Account {
		a := ok
		f(&a)
		return []textnow.Account{a}
	}
	for _, c := range []struct {
		name string
		o    textnow.Options
		want string
	}{
		{"no accounts", textnow.Options{}, "no accounts"},
		{"bad base url", textnow.Options{BaseURL: "ftp://x", Accounts: []textnow.Account{ok}}, "base url"},
		{"twice", textnow.Options{Accounts: []textnow.Account{ok, ok}}, "twice"},
		{"no user", textnow.Options{Accounts: with(func(a *textnow.Account) { a.User = "" })}, "no username"},
		{"slash", textnow.Options{Accounts: with(func(a *textnow.Account) { a.User = "a/../b" })}, "path segment"},
		{"dot dot", textnow.Options{Accounts: with(func(a *textnow.Account) { a.User = ".." })}, "path segment"},
		{"control", textnow.Options{Accounts: with(func(a *textnow.Account) { a.User = "a\nb" })}, "control"},
		{"no cookie", textnow.Options{Accounts: with(func(a *textnow.Account) { a.Cookie = " connect.sid=" })}, "no session cookie"},
		{"cookie smuggling", textnow.Options{Accounts: with(func(a *textnow.Account) { a.Cookie = testCookie + "; admin=1" })}, "cookie cannot carry"},
		{"csrf smuggling", textnow.Options{Accounts: with(func(a *textnow.Account) { a.CSRF = testCookie + "\r\nX: y" })}, "cookie cannot carry"},
		{"csrf token header", textnow.Options{Accounts: with(func(a *textnow.Account) { a.CSRFToken = testCookie + "\r\nX: y" })}, "control"},
		{"country", textnow.Options{Accounts: with(func(a *textnow.Account) { a.Country = "gb" })}, "US or CA"},
		{"phone too short", textnow.Options{Accounts: with(func(a *textnow.Account) { a.Phone = "555-0123" })}, "not a 10-digit"},
		{"phone not +1", textnow.Options{Accounts: with(func(a *textnow.Account) { a.Phone = "+44 20 7123 4567" })}, "not a 10-digit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := textnow.New(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v; want an error about %q", err, c.want)
			}
			noSecret(t, err)
		})
	}
	// Printing an account or the options never shows the cookies.
	a := textnow.Account{User: "jdoe", Cookie: testCookie, CSRF: testCookie, CSRFToken: testCookie}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprintf("%+v", textnow.Options{Accounts: []textnow.Account{a}})} {
		if strings.Contains(s, "textnow-test-session") || !strings.Contains(s, "jdoe") {
			t.Fatalf("formatted account %q", s)
		}
	}
}

// TestSim pins the skin's own answers, which the reader tests rely on.
func TestSim(t *testing.T) {
	f := newFixture(t, alice)
	if _, err := f.market.Inject(alice.Phone, "+14155550100", "first"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.market.Inject(alice.Phone, "+14155550100", "second"); err != nil {
		t.Fatal(err)
	}
	get := func(method, path, cookie string) (int, string) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(f.h.Server.URL + path)
		req.Header.SetMethod(method)
		if cookie != "" {
			req.Header.SetCookie("connect.sid", cookie)
		}
		if err := fasthttp.DoTimeout(req, resp, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), string(resp.Body())
	}
	t0 := f.clock.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	t1 := f.clock.Now().UTC().Format(time.RFC3339)
	ids := f.market.Inbox(alice.Phone)
	for _, c := range []struct {
		method, path, cookie string
		status               int
		body                 string
	}{
		{"GET", "/api/users/alice", testCookie, 200, `{"email":"alice@example.com","phone_number":"2125550101","user_id":1000,"username":"alice"}`},
		{"GET", "/api/users/alice/messages", testCookie, 200, fmt.Sprintf(`{"messages":[`+
			`{"id":"%d","contact_value":"+14155550100","message":"second","message_direction":2,"message_type":1,"read":false,"date":%q},`+
			`{"id":"%d","contact_value":"+14155550100","message":"first","message_direction":2,"message_type":1,"read":false,"date":%q}]}`,
			ids[1].ID, t1, ids[0].ID, t0)},
		{"GET", "/api/users/alice", "wrong-cookie", 401, `{"error":"unauthorized"}`},
		{"GET", "/api/users/alice", "", 401, `{"error":"unauthorized"}`},
		{"GET", "/api/users/mallory", testCookie, 404, `{"error":"user not found"}`},
		{"POST", "/api/users/alice/messages", testCookie, 404, `{"error":"not found"}`},
		{"GET", "/api/v3/attachment_url", testCookie, 404, `{"error":"not found"}`},
	} {
		status, body := get(c.method, c.path, c.cookie)
		if status != c.status || body != c.body {
			t.Fatalf("%s %s: %d %s; want %d %s", c.method, c.path, status, body, c.status, c.body)
		}
	}
	f.sim.Challenge("alice")
	if status, body := get("GET", "/api/users/alice", testCookie); status != 403 || body != textnow.ChallengePage {
		t.Fatalf("challenged: %d %s", status, body)
	}
}

// TestMessagesByPhoneAlone: a number given without its account (a pool in
// a process that restarted while a lookup failed) is read through the
// account that has it, looked up now if need be; while a lookup fails the
// number is throttled, not gone; a phone no account has is gone.
func TestMessagesByPhoneAlone(t *testing.T) {
	f := newFixture(t, alice, bob)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, "")}})
	byPhone := func(n simulator.InboxNumber) pool.Number { return pool.Number{Phone: n.Phone} }

	f.sim.Throttle("bob", 1)
	if _, err := r.Messages(ctx, byPhone(bob), time.Time{}); !errors.Is(err, pool.ErrThrottled) || pool.DownReason(err) != "" {
		t.Fatalf("bob's number while his lookup is throttled = %v; want throttled, not down", err)
	}
	r = f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, "")}})
	if _, err := f.market.Inject(bob.Phone, "Telegram", "Telegram code: 55555"); err != nil {
		t.Fatal(err)
	}
	msgs, err := r.Messages(ctx, byPhone(bob), time.Time{})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("bob's number by phone = %v, %v; want his message", msgs, err)
	}
	if _, err := r.Messages(ctx, pool.Number{Phone: "12125559999"}, time.Time{}); pool.DownReason(err) != pool.DownGone {
		t.Fatalf("a phone no account has = %v; want gone", err)
	}
}

// TestMessagesByPhoneAloneKnownFirst: a number an account is known to have
// is read without looking any account up.
func TestMessagesByPhoneAloneKnownFirst(t *testing.T) {
	f := newFixture(t, alice, bob)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, ""), account(bob, bob.Phone)}})
	if _, err := r.Messages(ctx, pool.Number{Phone: bob.Phone}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := f.calls("alice"); n != 0 {
		t.Fatalf("alice was called %d times to read bob's known number", n)
	}
}
