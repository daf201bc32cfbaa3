package pool

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
)

// Number is one long-lived number a source can read.
type Number struct {
	Phone   string // digits with the country calling code, no '+'; "" when not known (an account that never logged in)
	Country string // ISO alpha-2 lower case
	// Account is the upstream account that owns the number (a TextNow
	// username); "" where the source has one account.
	Account string
	// ExpiresAt is when the number stops being ours (a rental's end); zero
	// when no end is known.
	ExpiresAt time.Time
	// Down says why the number cannot be used now ("needs_login", …); ""
	// when it can. A down number is listed, never leased.
	Down string
}

// Message is one incoming SMS on a number.
type Message struct {
	ID   string // the upstream's message id, "" where it has none
	From string
	Text string
	At   time.Time // when the upstream received it
	// pushed: the copy came by callback and is stamped with its arrival,
	// not the upstream's time (set by the pool, never by a source).
	pushed bool
}

// Source is what a pool needs from one upstream of long-lived numbers: a
// protocol reader (textnow, receivesms). Errors are the canonical ones of
// package adapters, or a DownError for one number; a source never solves
// logins or challenges.
type Source interface {
	// Numbers lists every number the source knows, usable or down. It is
	// called when the pool refreshes its inventory; an error means the
	// source as a whole could not be asked (adapters.ErrUnavailable,
	// adapters.ErrAuth).
	Numbers(ctx context.Context) ([]Number, error)
	// Messages returns the incoming messages n received at or after since
	// (it may return more; the pool filters), in any order. A DownError
	// takes just that number (its account) out of the pool.
	Messages(ctx context.Context, n Number, since time.Time) ([]Message, error)
}

// Balancer is a Source with an account balance (receivesms). A source
// without one reports a zero balance.
type Balancer interface {
	Balance(ctx context.Context) (adapters.Money, error)
}

// Pusher is a Source whose upstream calls the gateway back with every SMS
// (receivesms's callback). The gateway serves the callback at
// /webhooks/<Kind()>; the pool checks the shared secret, then Callback
// parses the request.
type Pusher interface {
	Kind() string
	// Callback reads one callback request: the number it is for and the
	// message. An error means the request is not a valid callback.
	Callback(ctx *fasthttp.RequestCtx) (phone string, m Message, err error)
}

// ErrDown marks an error that took one number (or account) out of the
// pool: match it with errors.Is; DownReason gives the reason.
var ErrDown = errors.New("number down")

// DownError is the error for one number that cannot be read any more: a
// TextNow account whose session expired or met a challenge
// ("needs_login"), a rental that is no longer on the account ("gone").
type DownError struct {
	Reason string // short, stable: "needs_login", "gone"
	Err    error  // the cause, for logs; may be nil
}

func (e *DownError) Error() string {
	if e.Err != nil {
		return "number down (" + e.Reason + "): " + e.Err.Error()
	}
	return "number down (" + e.Reason + ")"
}

func (e *DownError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDown) true for every DownError.
func (e *DownError) Is(target error) bool { return target == ErrDown }

// DownReason returns the reason of the DownError in err's chain, or "".
func DownReason(err error) string {
	var d *DownError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

// Reasons a number is down.
const (
	DownNeedsLogin = "needs_login" // the account's session is gone or challenged: an operator must log in again
	DownGone       = "gone"        // the number is no longer on the account
)

// ErrThrottled marks an error of one number (or account) that is backing
// off — a 429, or its next call not due before the deadline: another
// number may serve now, and it says nothing about the platform's health.
// Match it with errors.Is; Throttled makes one.
var ErrThrottled = errors.New("number throttled")

// Throttled marks err (typically adapters.ErrUnavailable wrapped with its
// context) as one number's backoff. The result still matches what err
// matched.
func Throttled(err error) error { return &throttledError{err} }

type throttledError struct{ err error }

func (e *throttledError) Error() string        { return e.err.Error() }
func (e *throttledError) Unwrap() error        { return e.err }
func (e *throttledError) Is(target error) bool { return target == ErrThrottled }
