package textnow

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/simulator"
)

// Sim serves the two routes of TextNow's web API the Reader uses over a
// simulated market's inbox (protocols/textnow.md §5), the messages one a
// page at a time (the latest SimPageSize unless page_size, start_message_id
// and direction say otherwise): the accounts are the
// Account fields of the market's inbox numbers, each with its number and
// the SMS it received. The connect.sid cookie must pass the market's
// CheckKey. Toggles make one account answer as a real one in trouble would.
//
// Calls are counted on the market as "user" and "messages" per route, and
// as "account:<username>" per account whatever the answer, so a test can
// prove an account was left alone.
type Sim struct {
	m *simulator.Market

	mu        sync.Mutex
	expired   map[string]bool
	challenge map[string]bool
	throttle  map[string]int
	minGap    time.Duration
	last      map[string]time.Time // arrival of each account's previous call (real time)
	pageSize  int
}

// SimPageSize is how many messages the skin lists when the request does
// not say (page_size): TextNow lists only the latest few.
const SimPageSize = 20

// NewSim builds a Sim over m.
func NewSim(m *simulator.Market) *Sim {
	return &Sim{m: m, expired: map[string]bool{}, challenge: map[string]bool{}, throttle: map[string]int{}, last: map[string]time.Time{},
		pageSize: SimPageSize}
}

// SetPageSize sets how many messages a page without page_size lists
// (default SimPageSize); a page_size asked for is honoured up to PageSize.
func (s *Sim) SetPageSize(n int) {
	s.mu.Lock()
	s.pageSize = max(n, 1)
	s.mu.Unlock()
}

// Handler serves the API with the market's fault injection in front.
func (s *Sim) Handler() fasthttp.RequestHandler { return s.m.Wrap(s.serve) }

// Expire makes every later call for user answer 401, as an expired
// session does.
func (s *Sim) Expire(user string) {
	s.mu.Lock()
	s.expired[user] = true
	s.mu.Unlock()
}

// Challenge makes every later call for user answer 403 with an HTML
// challenge page, as the bot protection does.
func (s *Sim) Challenge(user string) {
	s.mu.Lock()
	s.challenge[user] = true
	s.mu.Unlock()
}

// Throttle makes the next n calls for user answer 429.
func (s *Sim) Throttle(user string, n int) {
	s.mu.Lock()
	s.throttle[user] = n
	s.mu.Unlock()
}

// SetMinGap makes a call for an account that arrives sooner than d (real
// time) after that account's previous call answer 429, as TextNow's rate
// limit would; 0 turns it off.
func (s *Sim) SetMinGap(d time.Duration) {
	s.mu.Lock()
	s.minGap = d
	s.mu.Unlock()
}

// ChallengePage is the body of a simulated 403 challenge.
const ChallengePage = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body><div id="challenge-stage">Verifying you are human. This may take a few seconds.</div><noscript>Enable JavaScript and cookies to continue</noscript></body></html>`

func (s *Sim) serve(ctx *fasthttp.RequestCtx) {
	// fasthttp hands the path decoded: an escaped username arrives as itself.
	rest, ok := strings.CutPrefix(string(ctx.Path()), "/api/users/")
	if !ok || !ctx.IsGet() {
		s.fail(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	user, route := rest, "user"
	if u, ok := strings.CutSuffix(rest, "/messages"); ok {
		user, route = u, "messages"
	}
	if user == "" || strings.Contains(user, "/") {
		s.fail(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	s.m.CountCall(route)
	s.m.CountCall("account:" + user)

	if !s.admit(ctx, user) {
		return
	}
	var (
		n     simulator.InboxNumber
		id    int
		found bool
	)
	for i, in := range s.m.Numbers() {
		if in.Account == user {
			n, id, found = in, 1000+i, true
			break
		}
	}
	if !found {
		s.fail(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	if route == "user" {
		simulator.WriteJSON(ctx, map[string]any{
			"user_id":      id,
			"username":     user,
			"email":        user + "@example.com",
			"phone_number": strings.TrimPrefix(n.Phone, "1"),
		})
		return
	}
	s.messages(ctx, n.Phone)
}

// admit checks the session cookie and the account's simulated troubles
// (expired session, challenge page, throttling); false: answered already.
func (s *Sim) admit(ctx *fasthttp.RequestCtx, user string) bool {
	if !s.m.CheckKey(string(ctx.Request.Header.Cookie("connect.sid"))) {
		s.fail(ctx, fasthttp.StatusUnauthorized, "unauthorized")
		return false
	}
	now := time.Now()
	s.mu.Lock()
	expired, challenged := s.expired[user], s.challenge[user]
	throttled := s.throttle[user] > 0
	if throttled {
		s.throttle[user]--
	}
	last, seen := s.last[user]
	s.last[user] = now
	tooSoon := s.minGap > 0 && seen && now.Sub(last) < s.minGap
	s.mu.Unlock()
	switch {
	case expired:
		s.fail(ctx, fasthttp.StatusUnauthorized, "unauthorized")
		return false
	case challenged:
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetContentType("text/html; charset=UTF-8")
		ctx.SetBodyString(ChallengePage)
		return false
	case throttled || tooSoon:
		s.fail(ctx, fasthttp.StatusTooManyRequests, "too many requests")
		return false
	}
	return true
}

// messages answers one page of the number's inbox.
func (s *Sim) messages(ctx *fasthttp.RequestCtx, phone string) {
	type wireMessage struct {
		ID        string `json:"id"`
		Contact   string `json:"contact_value"`
		Message   string `json:"message"`
		Direction int    `json:"message_direction"`
		Type      int    `json:"message_type"`
		Read      bool   `json:"read"`
		Date      string `json:"date"`
	}
	list, ok := s.page(ctx, s.m.Inbox(phone))
	if !ok {
		s.fail(ctx, fasthttp.StatusBadRequest, "bad request")
		return
	}
	out := make([]wireMessage, 0, len(list))
	for _, sms := range list {
		out = append(out, wireMessage{
			ID: strconv.FormatInt(sms.ID, 10), Contact: sms.From, Message: sms.Text,
			Direction: directionIn, Type: typeText, Date: sms.At.UTC().Format(time.RFC3339),
		})
	}
	simulator.WriteJSON(ctx, map[string]any{"messages": out})
}

// page picks the page a messages request asks for from the inbox (oldest
// first), newest first as TextNow lists them: the latest page_size
// messages (default the sim's page size, at most PageSize); with
// start_message_id, those just older than it (direction=past, the
// default) or just newer (direction=future). ok is false for a request
// TextNow would refuse.
func (s *Sim) page(ctx *fasthttp.RequestCtx, inbox []simulator.InboxSMS) ([]simulator.InboxSMS, bool) {
	q := ctx.QueryArgs()
	s.mu.Lock()
	size := s.pageSize
	s.mu.Unlock()
	if v := q.Peek("page_size"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return nil, false
		}
		size = min(n, PageSize)
	}
	newest := slices.Clone(inbox)
	slices.Reverse(newest)
	if v := q.Peek("start_message_id"); v != nil {
		start, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, false
		}
		switch dir := string(q.Peek("direction")); dir {
		case "", "past":
			newest = slices.DeleteFunc(newest, func(m simulator.InboxSMS) bool { return m.ID >= start })
		case "future":
			newest = slices.DeleteFunc(newest, func(m simulator.InboxSMS) bool { return m.ID <= start })
			if len(newest) > size {
				newest = newest[len(newest)-size:] // the ones just after start
			}
		default:
			return nil, false
		}
	}
	return newest[:min(size, len(newest))], true
}

// fail answers an error status with a small JSON body; TextNow's own
// errors are the statuses, the body carries nothing a client reads.
func (s *Sim) fail(ctx *fasthttp.RequestCtx, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
