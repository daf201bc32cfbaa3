package adapters

import (
	"errors"
	"fmt"
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
func PlatformFault(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrAuth)
}
