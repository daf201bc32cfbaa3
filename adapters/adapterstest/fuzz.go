package adapterstest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"smsgate/adapters"
)

// canonical are the errors a parser of an upstream answer may return.
// ErrOutcomeUnknown is ErrUnavailable; ErrPriceTooHigh is the client's
// verdict on a price, never a parser's.
var canonical = []error{
	adapters.ErrUnavailable, adapters.ErrAuth, adapters.ErrNoNumbers, adapters.ErrNoBalance,
	adapters.ErrBadService, adapters.ErrBadCountry, adapters.ErrNoActivation, adapters.ErrBadState,
	adapters.ErrEarlyCancel,
}

// isCanonical reports whether err is one of the canonical errors a parser
// of an upstream answer may return.
func isCanonical(err error) bool {
	for _, c := range canonical {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// CheckParseErr holds the error property of a parser of upstream answers,
// what naming the answer in messages: err is nil or canonical, and is
// ErrUnavailable unless documented says the answer has a form that carries
// the platform's own errors, so garbage never reads as a business answer.
func CheckParseErr(t testing.TB, what string, err error, documented bool) {
	t.Helper()
	if err == nil || errors.Is(err, adapters.ErrUnavailable) {
		return
	}
	if !isCanonical(err) {
		t.Fatalf("%s: error %v is not canonical", what, err)
	}
	if !documented {
		t.Fatalf("%s: business error %v from an undocumented answer", what, err)
	}
}

// JSONObject reports whether body is, at a glance, a JSON object: on the
// APIs that answer errors inside an object, the only kind of body that can
// carry a business error.
func JSONObject(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{'
}

// FuzzParser fuzzes parse, the parser of one kind of upstream answer,
// starting from seeds (the protocol file's examples; more are committed
// under testdata/fuzz). Whatever the body, parse must not panic, and:
//   - an error is canonical, and is ErrUnavailable unless documented(body)
//     says the body has a form that carries the platform's own errors, so
//     garbage never reads as a business answer;
//   - an error comes with the zero value, so no caller can use half a
//     result;
//   - a value without an error passes check, the target's own property of
//     a well-formed answer (nil: none).
func FuzzParser[T any](f *testing.F, seeds []string, parse func(body []byte) (T, error), documented func(body []byte) bool, check func(t *testing.T, body []byte, v T)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parse(body)
		if err == nil {
			if check != nil {
				check(t, body, v)
			}
			return
		}
		CheckParseErr(t, fmt.Sprintf("%q", body), err, documented(body))
		if !reflect.ValueOf(&v).Elem().IsZero() {
			t.Fatalf("%q: %+v returned with error %v", body, v, err)
		}
	})
}
