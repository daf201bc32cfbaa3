package adapters

import (
	"errors"
	"fmt"
	"time"
)

// Canonical errors. Adapters wrap them with context
// (fmt.Errorf("fivesim buy: %w", ErrNoNumbers)); callers branch with
// errors.Is. The table in DESIGN.md §4 says how the router, the breaker and
// the legacy protocol treat each one.
var (
	// ErrNoNumbers: nothing in stock for that country/service (business answer).
	ErrNoNumbers = errors.New("no numbers")
	// ErrNoBalance: our account on that platform cannot pay (business answer).
	ErrNoBalance = errors.New("no balance")
	// ErrPriceTooHigh: every offer is above the caller's max price. Adapters
	// return a *PriceFloorError when the platform tells the minimum.
	ErrPriceTooHigh = errors.New("price above max price")
	// ErrBadService: the platform does not sell that service.
	ErrBadService = errors.New("bad service")
	// ErrBadCountry: the platform does not sell in that country.
	ErrBadCountry = errors.New("bad country")
	// ErrNoActivation: unknown (or foreign) order id.
	ErrNoActivation = errors.New("no activation")
	// ErrBadState: the requested transition is not allowed in the order's state.
	ErrBadState = errors.New("bad status")
	// ErrEarlyCancel: cancel refused inside the platform's protective interval.
	ErrEarlyCancel = errors.New("early cancel denied")
	// ErrAuth: our credentials for the platform are wrong, or the account is
	// banned. A configuration failure: never shown to a tenant as BAD_KEY.
	ErrAuth = errors.New("platform auth failed")
	// ErrUnavailable: timeout, refused connection, 5xx, 429 or an
	// unparseable body. The only error (with ErrAuth) that trips a breaker.
	ErrUnavailable = errors.New("platform unavailable")
	// ErrOutcomeUnknown: a state-changing request was sent but its answer was
	// lost (read timeout, connection reset after write). It is also
	// ErrUnavailable, but a purchase in this state must be reconciled, never
	// re-bought blindly elsewhere.
	ErrOutcomeUnknown = &outcomeUnknown{}
)

type outcomeUnknown struct{}

func (*outcomeUnknown) Error() string { return "outcome unknown: request sent, answer lost" }

// Is makes ErrOutcomeUnknown match ErrUnavailable too, so code that only
// cares about "the platform failed" need not know about reconciliation.
func (*outcomeUnknown) Is(target error) bool { return target == ErrUnavailable }

// PriceFloorError is ErrPriceTooHigh carrying the lowest price the platform
// would accept, for the legacy WRONG_MAX_PRICE:<min> answer.
type PriceFloorError struct {
	Min Money
}

func (e *PriceFloorError) Error() string {
	return fmt.Sprintf("price above max price (min %s)", e.Min)
}

// Is reports PriceFloorError as ErrPriceTooHigh.
func (e *PriceFloorError) Is(target error) bool { return target == ErrPriceTooHigh }

// Penalty scopes: what a platform's punishment covers.
const (
	ScopeAccount = "account" // every purchase on the platform
	ScopePair    = "pair"    // one service × country
)

// PenaltyError: the platform refuses us for a while because of how we
// behave (HeroSMS BANNED, CHANNELS_LIMIT, HTTP 429 Retry-After). It is
// ErrUnavailable for everything that only asks "may I retry later" (the
// poller, queued client calls, failover), but it is not a fault: it never
// trips a breaker (PlatformFault is false), and the router skips what it
// covers until it ends.
type PenaltyError struct {
	Scope            string // ScopeAccount or ScopePair
	Country, Service string // the pair, for ScopePair ("" = the request's)
	// Until is when the platform said it ends (its clock); RetryAfter is
	// how long from now it said. RetryAfter wins when both are set (it
	// does not depend on the two clocks agreeing). Neither: the gateway's
	// configured backoff.
	Until      time.Time
	RetryAfter time.Duration
	Reason     string // e.g. "BANNED", "CHANNELS_LIMIT", "http 429"
}

func (e *PenaltyError) Error() string {
	s := "penalised (" + e.Reason + ", " + e.Scope
	if e.Scope == ScopePair {
		s += " " + e.Service + "/" + e.Country
	}
	switch {
	case e.RetryAfter > 0:
		s += ", retry after " + e.RetryAfter.String()
	case !e.Until.IsZero():
		s += ", until " + e.Until.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// Is reports a PenaltyError as ErrUnavailable: try again later, elsewhere.
func (e *PenaltyError) Is(target error) bool { return target == ErrUnavailable }

// AsPenalty is the PenaltyError in err's chain, if any.
func AsPenalty(err error) (*PenaltyError, bool) {
	var pe *PenaltyError
	ok := errors.As(err, &pe)
	return pe, ok
}

// Retryable reports whether a purchase that failed with err may be tried on
// another platform. An unknown outcome is not retryable: the first platform
// may have sold us a number.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		return false
	}
	for _, e := range []error{ErrNoNumbers, ErrNoBalance, ErrPriceTooHigh, ErrBadService, ErrBadCountry, ErrAuth, ErrUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// PlatformFault reports whether err is the upstream's fault (it trips a
// breaker): transport trouble, 5xx, garbage, or our account being refused.
// A penalty is not: the platform is healthy and answering, it refuses us
// for a while, which routing handles (skip until it ends).
func PlatformFault(err error) bool {
	if _, penalised := AsPenalty(err); penalised {
		return false
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrAuth)
}
