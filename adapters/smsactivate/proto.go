// Package smsactivate speaks the SMS-Activate handler API
// (/stubs/handler_api.php): the client adapter for any upstream that speaks
// it (SMS-Activate, HeroSMS and the other clones, classic and HeroSMS
// dialects), the protocol server both the gateway's legacy front end and the
// simulated upstream use, and the wire format they share. Exact strings are
// from protocols/sms-activate.md; old clients compare them literally.
package smsactivate

import (
	"errors"
	"strconv"
	"time"

	"smsgate/adapters"
)

// Path is the handler API's only endpoint.
const Path = "/stubs/handler_api.php"

// Tokens answered as plain text.
const (
	TokNoKey             = "NO_KEY"
	TokBadKey            = "BAD_KEY"
	TokBadAction         = "BAD_ACTION"
	TokErrorSQL          = "ERROR_SQL"
	TokNoNumbers         = "NO_NUMBERS"
	TokNoBalance         = "NO_BALANCE"
	TokWrongMaxPrice     = "WRONG_MAX_PRICE"
	TokBadService        = "BAD_SERVICE"
	TokWrongCountry      = "WRONG_COUNTRY"
	TokNoActivation      = "NO_ACTIVATION"
	TokNoActivations     = "NO_ACTIVATIONS"
	TokWrongActivationID = "WRONG_ACTIVATION_ID"
	TokBadStatus         = "BAD_STATUS"
	TokEarlyCancelDenied = "EARLY_CANCEL_DENIED"
	TokChannelsLimit     = "CHANNELS_LIMIT"
	TokBanned            = "BANNED"
	TokOrderExists       = "ORDER_ALREADY_EXISTS"
	TokOperatorsNotFound = "OPERATORS_NOT_FOUND"

	TokAccessBalance    = "ACCESS_BALANCE"
	TokAccessNumber     = "ACCESS_NUMBER"
	TokAccessReady      = "ACCESS_READY"
	TokAccessRetryGet   = "ACCESS_RETRY_GET"
	TokAccessActivation = "ACCESS_ACTIVATION"
	TokAccessCancel     = "ACCESS_CANCEL"
	TokStatusWaitCode   = "STATUS_WAIT_CODE"
	TokStatusWaitRetry  = "STATUS_WAIT_RETRY"
	TokStatusWaitResend = "STATUS_WAIT_RESEND"
	TokStatusOK         = "STATUS_OK"
	TokStatusCancel     = "STATUS_CANCEL"
	TokFullSMS          = "FULL_SMS"
)

// TimeLayout is the protocol's timestamp format.
const TimeLayout = "2006-01-02 15:04:05"

// TokenError makes a backend answer a literal protocol token (e.g. a
// tenant limit answered as CHANNELS_LIMIT) while still wrapping a cause.
type TokenError struct {
	Token string
	Err   error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return e.Token + ": " + e.Err.Error()
	}
	return e.Token
}

func (e *TokenError) Unwrap() error { return e.Err }

// ErrorToken maps a canonical error to the legacy token a client sees.
// ErrAuth is never BAD_KEY here: our key at a platform is not the client's
// fault, so it is a transient server error like any upstream failure.
func ErrorToken(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Token
	}
	var pf *adapters.PriceFloorError
	if errors.As(err, &pf) {
		return TokWrongMaxPrice + ":" + adapters.FormatDecimal(pf.Min.Micros, 2)
	}
	switch {
	case errors.Is(err, adapters.ErrNoNumbers), errors.Is(err, adapters.ErrPriceTooHigh):
		return TokNoNumbers
	case errors.Is(err, adapters.ErrNoBalance):
		return TokNoBalance
	case errors.Is(err, adapters.ErrBadService):
		return TokBadService
	case errors.Is(err, adapters.ErrBadCountry):
		return TokWrongCountry
	case errors.Is(err, adapters.ErrNoActivation):
		return TokNoActivation
	case errors.Is(err, adapters.ErrEarlyCancel):
		return TokEarlyCancelDenied
	case errors.Is(err, adapters.ErrBadState):
		return TokBadStatus
	}
	return TokErrorSQL
}

// StatusText is the getStatus answer for an order's state. lastCode is the
// newest code received (for STATUS_OK and STATUS_WAIT_RETRY).
func StatusText(s adapters.State, lastCode string) string {
	tok, withCode := statusToken(s)
	if withCode {
		return tok + ":" + lastCode
	}
	return tok
}

// statusToken is StatusText's token and whether ":" and the last code
// follow it.
func statusToken(s adapters.State) (string, bool) {
	switch s {
	case adapters.StateWaiting:
		return TokStatusWaitCode, false
	case adapters.StateCodeReceived:
		return TokStatusOK, true
	case adapters.StateRetryWaiting:
		return TokStatusWaitRetry, true
	}
	// Finished, cancelled, expired and banned all read STATUS_CANCEL: the
	// protocol has no other terminal status ("cancelled or completed").
	return TokStatusCancel, false
}

// ActivationStatus is getActiveActivations' activationStatus digit.
func ActivationStatus(s adapters.State) string {
	switch s {
	case adapters.StateWaiting:
		return "4"
	case adapters.StateCodeReceived:
		return "2"
	case adapters.StateRetryWaiting:
		return "3"
	case adapters.StateFinished:
		return "6"
	case adapters.StateCancelled:
		return "8"
	}
	return "10" // expired or banned: refunded
}

// ParseStatus reads a getStatus answer into a state and the code it
// carries; ok is false for anything that is not a status.
func ParseStatus(body string) (s adapters.State, code string, ok bool) {
	switch {
	case body == TokStatusWaitCode, body == TokStatusWaitResend:
		return adapters.StateWaiting, "", true
	case body == TokStatusCancel:
		return adapters.StateCancelled, "", true
	case len(body) > len(TokStatusOK)+1 && body[:len(TokStatusOK)+1] == TokStatusOK+":":
		return adapters.StateCodeReceived, body[len(TokStatusOK)+1:], true
	case len(body) >= len(TokStatusWaitRetry)+1 && body[:len(TokStatusWaitRetry)+1] == TokStatusWaitRetry+":":
		return adapters.StateRetryWaiting, body[len(TokStatusWaitRetry)+1:], true
	}
	return "", "", false
}

// isoNumeric maps ISO 4217 alphabetic codes to the numeric codes the
// protocol's JSON "currency" field carries.
var isoNumeric = map[string]int{"USD": 840, "RUB": 643, "EUR": 978, "CNY": 156, "GBP": 826, "INR": 356, "UAH": 980, "KZT": 398}

// CurrencyNumeric returns the ISO 4217 numeric code, or 840 (USD) when unknown.
func CurrencyNumeric(cur string) int {
	if n, ok := isoNumeric[cur]; ok {
		return n
	}
	return 840
}

// CurrencyAlpha maps a numeric ISO 4217 code back, "" when unknown.
func CurrencyAlpha(n int) string {
	for k, v := range isoNumeric {
		if v == n {
			return k
		}
	}
	return ""
}

// FormatTime renders t in the protocol's format (UTC).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// money renders an amount as the JSON number the protocol shows (2 decimals).
func money(micros int64) string { return adapters.FormatDecimal(micros, 2) }

// appendMoney appends money(micros) to dst: the same digits (rounded half
// away from zero to the cent, "-" only when the rounded amount is not
// zero), with no string built.
func appendMoney(dst []byte, micros int64) []byte {
	const div = adapters.Micro / 100 // micro-units in a cent
	neg := micros < 0
	if neg {
		micros = -micros
	}
	cents := micros / div
	if micros%div*2 >= div {
		cents++
	}
	if neg && cents != 0 {
		dst = append(dst, '-')
	}
	dst = strconv.AppendInt(dst, cents/100, 10)
	frac := cents % 100
	return append(dst, '.', byte('0'+frac/10), byte('0'+frac%10))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
