// Package receivesms reads the numbers the gateway rents from Receive-SMS
// and the SMS they receive, for the gateway's pool of long-lived numbers;
// it also holds the simulator skin of the same API (sim.go).
//
// The platform list names the upstream only as "Receive-SMS — supports
// long-term rental". The best match with an HTTP API and a rental model is
// receive-sms.com (Number API LLC): private virtual numbers rented by the
// month, whose SMS an API reads. That identification has medium-low
// confidence (protocols/receivesms.md §7 lists the alternatives), and
// the REST API v1 spoken here is known from one independent client only
// (low-medium confidence), so the readers are lenient about the form of
// every field and strict about what an answer must contain.
//
// Receive-SMS sells no activations and has no API to rent a number: rentals
// are bought, renewed and ended in the web account. The gateway therefore
// keeps the rented numbers in a pool and leases them out itself; this
// package only lists them (Numbers), reads their SMS (Messages), reads the
// balance (Balance) and parses the per-SMS callback the account can be set
// up to send (Callback).
package receivesms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/adapters/upstream"
)

// DefaultBaseURL is Receive-SMS's host; the reader adds /api/v1.
const DefaultBaseURL = "https://receive-sms.com"

// Kind is the source kind: the gateway serves the callback at
// /webhooks/receivesms.
const Kind = "receivesms"

// smsLimit is how many messages one read asks for, the one client's value.
// If the API lists newest first (assumed), a number that got more than
// this since the last read loses the oldest ones; at a read every few
// seconds per leased number that does not happen.
const smsLimit = "100"

// Options configure a Reader.
type Options struct {
	// BaseURL is scheme://host without /api/v1; default DefaultBaseURL.
	BaseURL string
	// Key is the API key, sent as a Bearer token. It never appears in an
	// error.
	Key string
	// Currency of the balance, which the API does not state; default "USD"
	// (the site's prices are in dollars).
	Currency string
	Timeout  time.Duration // per call; default 10s
	// Now is the clock that stamps callbacks (default time.Now): the
	// callback carries no time of its own.
	Now func() time.Time
}

// Reader is a pool.Source, pool.Balancer and pool.Pusher for Receive-SMS.
// Safe for concurrent use.
type Reader struct {
	key      string
	currency string
	http     *upstream.Client
	now      func() time.Time
}

var (
	_ pool.Source   = (*Reader)(nil)
	_ pool.Balancer = (*Reader)(nil)
	_ pool.Pusher   = (*Reader)(nil)
)

// New builds a Reader.
func New(o Options) (*Reader, error) {
	o.BaseURL = cmp.Or(o.BaseURL, DefaultBaseURL)
	o.Currency = cmp.Or(o.Currency, "USD")
	if o.Now == nil {
		o.Now = time.Now
	}
	hc, err := upstream.New(upstream.Options{Name: Kind, BaseURL: o.BaseURL, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Reader{key: o.Key, currency: o.Currency, http: hc, now: o.Now}, nil
}

// Kind is the source kind, Kind.
func (r *Reader) Kind() string { return Kind }

// get sends one GET under /api/v1. Every call reads, none changes state,
// so a lost answer is plain unavailability. Accept asks for JSON: an API
// that also serves the site may otherwise answer an auth failure with a
// redirect to its login page.
func (r *Reader) get(ctx context.Context, op, path string, query map[string]string) (upstream.Response, error) {
	h := map[string]string{
		"Authorization": "Bearer " + r.key,
		"Accept":        "application/json",
	}
	resp, err := r.http.Do(ctx, upstream.Call{Path: "/api/v1" + path, Query: query, Header: h, Op: op})
	// Errors quote bodies; should the platform echo the key, none shows it.
	resp.Body = upstream.Redact(resp.Body, r.key)
	return resp, err
}

func wrap(op string, err error) error {
	return fmt.Errorf("%s %s: %w", Kind, op, err)
}

// Balance reads GET /balance, in the configured currency.
func (r *Reader) Balance(ctx context.Context) (adapters.Money, error) {
	resp, err := r.get(ctx, "balance", "/balance", nil)
	if err != nil {
		return adapters.Money{}, err
	}
	m, err := parseBalance(resp.Status, resp.Body)
	if err != nil {
		return adapters.Money{}, wrap("balance", err)
	}
	return adapters.Money{Micros: m, Currency: r.currency}, nil
}

// Numbers lists the rented numbers with GET /numbers. An expired rental
// the API still lists comes back with its past ExpiresAt: the pool judges
// expiry, not the reader.
func (r *Reader) Numbers(ctx context.Context) ([]pool.Number, error) {
	resp, err := r.get(ctx, "numbers", "/numbers", nil)
	if err != nil {
		return nil, err
	}
	ns, err := parseNumbers(resp.Status, resp.Body)
	if err != nil {
		return nil, wrap("numbers", err)
	}
	return ns, nil
}

// Messages reads GET /numbers/{phone}/sms and returns the messages
// received at or after since, oldest first. A number no longer on the
// account (a 404) is a *pool.DownError "gone".
func (r *Reader) Messages(ctx context.Context, n pool.Number, since time.Time) ([]pool.Message, error) {
	// The phone becomes a path segment: digits only, so it needs no
	// escaping and cannot reach another path ("/", "..") or the query.
	phone := validPhone(upstream.PhoneDigits(n.Phone))
	if phone == "" {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("%s messages: %q is not a phone number", Kind, n.Phone)}
	}
	resp, err := r.get(ctx, "messages", "/numbers/"+phone+"/sms", map[string]string{"limit": smsLimit})
	if err != nil {
		return nil, err
	}
	ms, err := parseSMS(resp.Status, resp.Body)
	var d *pool.DownError
	if errors.As(err, &d) {
		// Returned as is, not wrapped, for a pool that looks at the type.
		d.Err = fmt.Errorf("%s messages %s: %w", Kind, phone, d.Err)
		return nil, d
	}
	if err != nil {
		return nil, wrap("messages "+phone, err)
	}
	first := len(ms)
	for i, m := range ms {
		if !m.At.Before(since) {
			first = i
			break
		}
	}
	return ms[first:], nil
}

// Callback reads one callback request: Receive-SMS sends a GET with the
// query parameters sender, receiver (our number) and message for every SMS
// (protocols/receivesms.md §3.1); some installs post them as a form, which
// is read too. The callback carries no time, so the message is stamped
// with the time it arrived. The shared secret is the pool's to check,
// before this. Errors never quote the request: its query holds the secret.
func (r *Reader) Callback(ctx *fasthttp.RequestCtx) (string, pool.Message, error) {
	arg := func(name string) string {
		if v := ctx.QueryArgs().Peek(name); len(v) > 0 {
			return string(v)
		}
		return string(ctx.PostArgs().Peek(name))
	}
	receiver, text := arg("receiver"), arg("message")
	switch {
	case strings.TrimSpace(receiver) == "":
		return "", pool.Message{}, fmt.Errorf("%s callback: no receiver", Kind)
	case text == "":
		return "", pool.Message{}, fmt.Errorf("%s callback: no message", Kind)
	}
	phone := validPhone(upstream.PhoneDigits(receiver))
	if phone == "" {
		return "", pool.Message{}, fmt.Errorf("%s callback: receiver %q is not a phone number", Kind, upstream.Snippet([]byte(receiver)))
	}
	return phone, pool.Message{From: arg("sender"), Text: text, At: r.now().UTC()}, nil
}
