package receivesms

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
)

// SimOptions configure a Sim. The zero value serves the reading of the
// protocol the reader assumes, without callbacks.
type SimOptions struct {
	// CallbackURL, when set, is called with a GET for every SMS the inbox
	// receives, as Receive-SMS calls the URL configured in the account. It
	// may carry a query of its own (?secret=…); sender, receiver and
	// message are added to it. SetCallback changes it later.
	CallbackURL string
	// CallbackTimeout bounds one callback; default 2s.
	CallbackTimeout time.Duration

	// The open questions of the protocol, in their other readings:

	// DialCodes lists country_code as a calling code ("1", "44") instead
	// of an upper-case alpha-2 code.
	DialCodes bool
	// NumericBalance answers the balance as a JSON number, not a string.
	NumericBalance bool
	// OldestFirst lists messages oldest first instead of newest first (the
	// limit then keeps the oldest).
	OldestFirst bool
}

// Sim serves Receive-SMS's REST API v1 over a simulated market's inbox
// (the numbers the account rents, the SMS they receive), and calls a
// callback URL for every SMS when one is set.
type Sim struct {
	m       *simulator.Market
	opt     SimOptions
	client  *fasthttp.Client
	mu      sync.Mutex
	cb      string // the callback URL; "" for none
	closed  bool
	pending sync.WaitGroup // callbacks in flight
}

// simDate is how the API writes dates: ISO-8601 with a numeric offset.
const simDate = "2006-01-02T15:04:05-07:00"

// NewSim builds the skin over m and registers its callback emitter with
// the market's inbox.
func NewSim(m *simulator.Market, o SimOptions) *Sim {
	if o.CallbackTimeout <= 0 {
		o.CallbackTimeout = 2 * time.Second
	}
	s := &Sim{
		m:   m,
		opt: o,
		cb:  o.CallbackURL,
		client: &fasthttp.Client{
			Name: "receive-sms-sim",
			// One GET per SMS, as the service does; fasthttp would resend a
			// GET that failed, and a resent callback is a duplicate SMS.
			MaxIdemponentCallAttempts: 1,
			RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
			ReadTimeout:               o.CallbackTimeout,
			WriteTimeout:              o.CallbackTimeout,
			MaxIdleConnDuration:       time.Second,
		},
	}
	m.OnInboxSMS(s.onSMS)
	return s
}

// SetCallback sets (or with "" clears) the callback URL: the gateway's
// address may be known only once it has started.
func (s *Sim) SetCallback(u string) {
	s.mu.Lock()
	s.cb = u
	s.mu.Unlock()
}

// Close stops sending callbacks and waits for those in flight, so a test
// ends with no request of the skin's still on its way.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.pending.Wait()
}

// Handler is the API with the market's fault injection in front.
func (s *Sim) Handler() fasthttp.RequestHandler {
	return s.m.Wrap(s.serve)
}

// onSMS runs for every SMS the inbox receives, inside the market's Inject
// (or inbox read): the callback goes out on its own goroutine, so the
// market's caller never waits for the gateway, as the real service's
// sender does not.
func (s *Sim) onSMS(n simulator.InboxNumber, m simulator.InboxSMS) {
	s.mu.Lock()
	cb := s.cb
	if cb == "" || s.closed {
		s.mu.Unlock()
		return
	}
	s.pending.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.pending.Done()
		s.m.CountCall("callback")
		if !s.callback(cb, n.Phone, m) {
			s.m.CountCall("callback_error")
		}
	}()
}

// callback sends one callback and reports whether the receiver took it
// (any 2xx).
func (s *Sim) callback(cb, phone string, m simulator.InboxSMS) bool {
	u, err := url.Parse(cb)
	if err != nil {
		return false
	}
	q := u.Query()
	q.Set("sender", m.From)
	q.Set("receiver", phone)
	q.Set("message", m.Text)
	u.RawQuery = q.Encode()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u.String())
	req.Header.SetMethod(fasthttp.MethodGet)
	if err := s.client.DoTimeout(req, resp, s.opt.CallbackTimeout); err != nil {
		return false
	}
	return resp.StatusCode() >= 200 && resp.StatusCode() < 300
}

// serve routes one request. It copies what it needs out of ctx and keeps
// nothing after returning.
func (s *Sim) serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	var call, phone string
	switch {
	case path == "/api/v1/balance":
		call = "balance"
	case path == "/api/v1/numbers":
		call = "numbers"
	default:
		rest, ok := strings.CutPrefix(path, "/api/v1/numbers/")
		if phone, ok = strings.CutSuffix(rest, "/sms"); ok && phone != "" && !strings.Contains(phone, "/") {
			call = "sms"
		}
	}
	if call == "" {
		s.fail(ctx, fasthttp.StatusNotFound, "Not found.")
		return
	}
	s.m.CountCall(call)
	if !ctx.IsGet() {
		s.fail(ctx, fasthttp.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	if !s.authorized(ctx) {
		s.fail(ctx, fasthttp.StatusUnauthorized, "Unauthenticated.")
		return
	}
	switch call {
	case "balance":
		s.balance(ctx)
	case "numbers":
		s.numbers(ctx)
	case "sms":
		s.sms(ctx, phone)
	}
}

// authorized checks the Bearer token.
func (s *Sim) authorized(ctx *fasthttp.RequestCtx) bool {
	scheme, tok, ok := strings.Cut(string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && s.m.CheckKey(strings.TrimSpace(tok))
}

// fail answers an error. The real error bodies were never captured; this
// is the usual JSON API form.
func (s *Sim) fail(ctx *fasthttp.RequestCtx, status int, msg string) {
	simulator.WriteJSON(ctx, map[string]string{"message": msg})
	ctx.SetStatusCode(status)
}

func (s *Sim) balance(ctx *fasthttp.RequestCtx) {
	b := adapters.FormatDecimal(s.m.Balance(), 2)
	if s.opt.NumericBalance {
		simulator.WriteJSON(ctx, map[string]any{"balance": jsonNumber(b)})
		return
	}
	simulator.WriteJSON(ctx, map[string]string{"balance": b})
}

// jsonNumber is a decimal literal marshalled as a JSON number as is.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

type simNumber struct {
	Phone        string  `json:"phone_number"`
	Country      string  `json:"country_code"`
	Plan         string  `json:"plan"`
	AutoRenew    bool    `json:"auto_renew"`
	MessageCount int     `json:"message_count"`
	RentedAt     *string `json:"rented_at"`
	Expires      *string `json:"expiration_date"`
	LastSMS      *string `json:"last_sms_received_date"`
}

func date(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(simDate)
	return &s
}

func (s *Sim) numbers(ctx *fasthttp.RequestCtx) {
	out := []simNumber{}
	for _, n := range s.m.Numbers() {
		box := s.m.Inbox(n.Phone)
		w := simNumber{
			Phone:        n.Phone,
			Country:      strings.ToUpper(n.Country),
			Plan:         "monthly",
			MessageCount: len(box),
			Expires:      date(n.ExpiresAt),
		}
		if s.opt.DialCodes {
			w.Country = ""
			if c, ok := catalog.CountryByISO(n.Country); ok {
				w.Country = c.Dial
			}
		}
		if !n.ExpiresAt.IsZero() {
			// The market keeps no rental start: say the 30-day plan
			// began 30 days before it ends.
			w.RentedAt = date(n.ExpiresAt.Add(-30 * 24 * time.Hour))
		}
		if len(box) > 0 {
			w.LastSMS = date(box[len(box)-1].At)
		}
		out = append(out, w)
	}
	simulator.WriteJSON(ctx, map[string]any{"numbers": out})
}

type simSMS struct {
	From string `json:"from"`
	Text string `json:"message"`
	Time string `json:"time"`
}

func (s *Sim) sms(ctx *fasthttp.RequestCtx, phone string) {
	if _, ok := s.m.Number(phone); !ok {
		s.fail(ctx, fasthttp.StatusNotFound, "Number not found.")
		return
	}
	limit := 100
	if v, err := strconv.Atoi(string(ctx.QueryArgs().Peek("limit"))); err == nil && v > 0 {
		limit = v
	}
	box := s.m.Inbox(phone) // oldest first
	if !s.opt.OldestFirst {
		slices.Reverse(box)
	}
	box = box[:min(limit, len(box))]
	out := make([]simSMS, 0, len(box))
	for _, m := range box {
		out = append(out, simSMS{From: m.From, Text: m.Text, Time: m.At.UTC().Format(simDate)})
	}
	simulator.WriteJSON(ctx, map[string]any{"messages": out})
}
