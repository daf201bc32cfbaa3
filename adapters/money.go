package adapters

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Micro is the number of micro-units in one unit of a currency. Money never
// travels as a float inside the gateway: platforms quote decimals with
// varying precision and float sums drift.
const Micro = 1_000_000

// Money is an amount in micro-units of an ISO 4217 currency (upper case,
// "USD", "RUB"). The zero value is "no amount".
type Money struct {
	Micros   int64
	Currency string
}

// IsZero reports whether m carries no amount and no currency.
func (m Money) IsZero() bool { return m.Micros == 0 && m.Currency == "" }

// ParseDecimal parses a platform's decimal string ("12.5", "0.0675", "15")
// into micro-units. More than six fractional digits are rounded half away
// from zero. It accepts a leading sign and surrounding spaces.
func ParseDecimal(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("cannot parse amount: empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("cannot parse amount %q", s)
	}
	var whole int64
	if intPart != "" {
		w, err := strconv.ParseUint(intPart, 10, 63)
		if err != nil || w > math.MaxInt64/Micro-1 {
			return 0, fmt.Errorf("cannot parse amount %q", s)
		}
		whole = int64(w)
	}
	var fr int64
	round := false
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("cannot parse amount %q", s)
		}
		switch {
		case i < 6:
			fr = fr*10 + int64(c-'0')
		case i == 6:
			round = c >= '5'
		}
	}
	for i := len(frac); i < 6; i++ {
		fr *= 10
	}
	v := whole*Micro + fr
	if round {
		v++
	}
	if neg {
		v = -v
	}
	return v, nil
}

// ParseAmount is ParseDecimal that also reads the exponent forms a JSON
// encoder gives small or large float amounts ("1e-05"), through a float.
// NaN, infinities and magnitudes above 1e12 are refused: no platform
// quotes such an amount, and FromFloat must stay within int64.
func ParseAmount(s string) (int64, error) {
	if v, err := ParseDecimal(s); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return 0, fmt.Errorf("cannot parse amount %q", s)
	}
	return FromFloat(f), nil
}

// FromFloat converts a float amount (as decoded from a JSON number) to
// micro-units, rounding to the nearest micro-unit. Use it only at the edge
// where a platform hands us a JSON number.
func FromFloat(f float64) int64 { return int64(math.Round(f * Micro)) }

// FormatDecimal renders micro-units with exactly `places` decimals (0..6),
// rounding half away from zero: FormatDecimal(12_500_000, 2) = "12.50".
func FormatDecimal(micros int64, places int) string {
	if places < 0 {
		places = 0
	}
	if places > 6 {
		places = 6
	}
	neg := micros < 0
	if neg {
		micros = -micros
	}
	div := int64(1)
	for i := 0; i < 6-places; i++ {
		div *= 10
	}
	q := micros / div
	if micros%div*2 >= div {
		q++
	}
	scale := int64(1)
	for i := 0; i < places; i++ {
		scale *= 10
	}
	whole, frac := q/scale, q%scale
	var b strings.Builder
	if neg && q != 0 {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatInt(whole, 10))
	if places > 0 {
		b.WriteByte('.')
		fs := strconv.FormatInt(frac, 10)
		for i := len(fs); i < places; i++ {
			b.WriteByte('0')
		}
		b.WriteString(fs)
	}
	return b.String()
}

// FormatTrimmed renders micro-units exactly, with at least minPlaces
// decimals and no trailing zeros past them, as platforms write amounts:
// FormatTrimmed(25_000_000, 0) = "25", FormatTrimmed(500_000, 0) = "0.5",
// FormatTrimmed(135_000, 2) = "0.135", FormatTrimmed(12_000_000, 2) = "12.00".
func FormatTrimmed(micros int64, minPlaces int) string {
	s := FormatDecimal(micros, 6)
	dot := strings.IndexByte(s, '.')
	end := len(s)
	for end > dot+1+min(max(minPlaces, 0), 6) && s[end-1] == '0' {
		end--
	}
	if end == dot+1 {
		end = dot // no decimals left: no point either
	}
	return s[:end]
}

// String renders m as "12.50 USD" for logs and errors.
func (m Money) String() string {
	return FormatDecimal(m.Micros, 2) + " " + m.Currency
}
