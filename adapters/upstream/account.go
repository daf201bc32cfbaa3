package upstream

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// Protocol is what a marketplace adapter tells the shared plumbing about
// its platform: the defaults of its settings and where the key travels.
// Each protocol package holds one as a package variable.
type Protocol struct {
	Code     string // default platform code ("fivesim")
	BaseURL  string // default base URL; "" makes Settings.BaseURL required
	Currency string // default account currency
	// The key goes in the query parameter KeyQuery, or else in the header
	// KeyHeader after KeyPrefix ("Bearer "). Neither: the protocol places
	// it itself.
	KeyQuery  string
	KeyHeader string
	KeyPrefix string
}

// Settings are what every marketplace's Options carry: one account on one
// platform. Zero values take the Protocol's defaults.
type Settings struct {
	Code     string        // platform code for errors and Code()
	BaseURL  string        // scheme://host[:port][/prefix]
	Key      string        // the account's API key; never in an error
	Currency string        // the account currency (ISO 4217)
	Timeout  time.Duration // per call when ctx has no earlier deadline; default 10s
}

// Account is the part of every marketplace client that is not its
// protocol: the platform code (Code, and the prefix of its errors), the
// key and where it travels, the account currency, and the connection.
// A protocol's Client embeds it. Safe for concurrent use.
type Account struct {
	proto    Protocol
	code     string
	key      string
	currency string
	timeout  time.Duration
	http     *Client
}

// Open builds the Account of s, with p's defaults where s has none.
func (p Protocol) Open(s Settings) (Account, error) {
	s.Code = cmp.Or(s.Code, p.Code)
	s.Currency = cmp.Or(s.Currency, p.Currency)
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	hc, err := New(Options{Name: s.Code, BaseURL: cmp.Or(s.BaseURL, p.BaseURL), Timeout: s.Timeout})
	if err != nil {
		return Account{}, err
	}
	return Account{proto: p, code: s.Code, key: s.Key, currency: s.Currency, timeout: s.Timeout, http: hc}, nil
}

// Code is the platform code.
func (a *Account) Code() string { return a.code }

// Currency is the account currency.
func (a *Account) Currency() string { return a.currency }

// Timeout is the per-call limit when ctx has no earlier deadline.
func (a *Account) Timeout() time.Duration { return a.timeout }

// Money is an amount in the account currency.
func (a *Account) Money(micros int64) adapters.Money {
	return adapters.Money{Micros: micros, Currency: a.currency}
}

// Wrap prefixes a parser's error with the platform code and operation;
// nil stays nil, so `return v, c.Wrap(op, err)` reads naturally.
func (a *Account) Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", a.code, op, err)
}

// Errorf is an error of operation op, prefixed like Wrap's.
func (a *Account) Errorf(op, format string, args ...any) error {
	return fmt.Errorf("%s %s: %w", a.code, op, fmt.Errorf(format, args...))
}

// Native maps a purchase's canonical country and service to the
// platform's codes through its code maps; a code the maps lack is one the
// platform does not sell (ErrBadCountry, ErrBadService), known before any
// call.
func (a *Account) Native(op string, countries, services *catalog.CodeMap, country, service string) (string, string, error) {
	ctry, ok := countries.Native(country)
	if !ok {
		return "", "", a.Errorf(op, "country %q not sold: %w", country, adapters.ErrBadCountry)
	}
	svc, ok := services.Native(service)
	if !ok {
		return "", "", a.Errorf(op, "service %q not sold: %w", service, adapters.ErrBadService)
	}
	return ctry, svc, nil
}

// AnyOperator refuses a purchase that names an operator on a platform
// that lets none be chosen: a number of another operator is not what was
// asked for, so this platform has none to sell (ErrNoNumbers: fail over).
func (a *Account) AnyOperator(op, operator string) error {
	if operator == "" || strings.EqualFold(operator, "any") {
		return nil
	}
	return a.Errorf(op, "operator %q cannot be chosen: %w", operator, adapters.ErrNoNumbers)
}

// Unreadable is the error of a purchase whose answer arrived but cannot be
// read: the platform may have sold a number, so the outcome is unknown
// (reconcile, never re-buy elsewhere). cause says what was wrong.
func (a *Account) Unreadable(op string, cause any) error {
	return fmt.Errorf("%s %s: %v: %w", a.code, op, cause, adapters.ErrOutcomeUnknown)
}

// Do sends call with the key where the protocol carries it (unless
// call.Anonymous) and blanks the key out of the answer, so no error that
// quotes a body can show it. Transport failures are canonical (see
// Client.Do); the answer is for the protocol's parser.
func (a *Account) Do(ctx context.Context, call Call) (Response, error) {
	if !call.Anonymous {
		switch {
		case a.proto.KeyQuery != "":
			call.Query = maps.Clone(call.Query)
			if call.Query == nil {
				call.Query = map[string]string{}
			}
			call.Query[a.proto.KeyQuery] = a.key
		case a.proto.KeyHeader != "":
			call.Header = maps.Clone(call.Header)
			if call.Header == nil {
				call.Header = map[string]string{}
			}
			call.Header[a.proto.KeyHeader] = a.proto.KeyPrefix + a.key
		}
	}
	resp, err := a.http.Do(ctx, call)
	resp.Body = Redact(resp.Body, a.key)
	if err == nil && resp.Status == fasthttp.StatusTooManyRequests {
		// Every HTTP protocol's "slow down": the platform is healthy and
		// refuses us for a while. A penalty (skip it until then), not a fault.
		return resp, a.Wrap(call.Op, TooManyRequests(resp.Header["Retry-After"]))
	}
	return resp, err
}

// TooManyRequests is the penalty of an HTTP 429: the whole account, for
// the Retry-After the platform sent (seconds or an HTTP date); none or
// unreadable leaves the time to the gateway's backoff.
func TooManyRequests(retryAfter string) *adapters.PenaltyError {
	pe := &adapters.PenaltyError{Scope: adapters.ScopeAccount, Reason: "http 429 too many requests"}
	v := strings.TrimSpace(retryAfter)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		pe.RetryAfter = time.Duration(min(n, maxRetryAfter)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		pe.Until = t
	}
	return pe
}

// maxRetryAfter (seconds) bounds a Retry-After, so a garbled one cannot
// shut a platform out for years: a day.
const maxRetryAfter = 86400

// Unavailable is Client.Unavailable for this account's connection.
func (a *Account) Unavailable(call Call, format string, args ...any) error {
	return a.http.Unavailable(call, format, args...)
}

// Readable is Client.Readable for this account's connection.
func (a *Account) Readable(call Call, body []byte) error { return a.http.Readable(call, body) }

// Answer judges the answer of a protocol that sends its errors with HTTP
// 200 in the body, and returns that body trimmed when it is readable (not
// empty, not HTML). A 4xx other than 429 whose body still carries the
// protocol's error (an auth layer in front, say) is that error, as
// apiError reads it (nil: none); 429, 5xx and other statuses are the
// platform failing, whatever the body says.
func (a *Account) Answer(call Call, resp Response, err error, apiError func(body []byte) error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(resp.Body)
	if resp.Status != 200 {
		if resp.Status >= 400 && resp.Status < 500 && resp.Status != 429 {
			if err := apiError(body); err != nil {
				return nil, a.Wrap(call.Op, err)
			}
		}
		return nil, a.Unavailable(call, "http %d", resp.Status)
	}
	if err := a.Readable(call, body); err != nil {
		return nil, err
	}
	return body, nil
}

// Parsed finishes a call with the protocol's parser of (status, body): a
// transport error passes as it is (already canonical and named), a
// parser's error gets the platform code and op.
func Parsed[T any](a *Account, op string, resp Response, err error, parse func(status int, body []byte) (T, error)) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(resp.Status, resp.Body)
	if err != nil {
		var zero T
		return zero, a.Wrap(op, err)
	}
	return v, nil
}

// ParsedBody is Parsed for protocols whose call has already judged the
// status and hands over the body alone.
func ParsedBody[T any](a *Account, op string, body []byte, err error, parse func(body []byte) (T, error)) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(body)
	if err != nil {
		var zero T
		return zero, a.Wrap(op, err)
	}
	return v, nil
}

// MoneyOf is a parsed amount in micro-units as Money of the account:
// every marketplace's Balance is one call and this.
func (a *Account) MoneyOf(amount int64, err error) (adapters.Money, error) {
	if err != nil {
		return adapters.Money{}, err
	}
	return a.Money(amount), nil
}
