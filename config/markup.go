package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Decimal is a non-negative decimal number as gateway.toml or the
// environment wrote it. A TOML number (12.5) is accepted as well as a
// string ("12.5"); decimalHook turns the number back into its shortest
// decimal text, so no amount is ever computed in float: parsing into
// integers (MarkupPPM, MarkupMicros) works on the text.
type Decimal string

// Markup bounds: a markup beyond them is a typo, not a price policy.
const (
	maxMarkupPercent = 1000      // %
	maxMarkupFixed   = 1_000_000 // units of the tenant's currency
)

var decimalType = reflect.TypeFor[Decimal]()

// decimalHook accepts a TOML number where a Decimal is expected. A float
// is written with the fewest digits that read back as the same float,
// which is the literal the file held for any markup a person writes
// (12.5, 0.05, 7.25).
func decimalHook(from, to reflect.Type, data any) (any, error) {
	if to != decimalType {
		return data, nil
	}
	v := reflect.ValueOf(data)
	switch from.Kind() {
	case reflect.String:
		return Decimal(v.String()), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("not a decimal: %v", f)
		}
		return Decimal(strconv.FormatFloat(f, 'f', -1, 64)), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Decimal(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Decimal(strconv.FormatUint(v.Uint(), 10)), nil
	}
	return nil, fmt.Errorf("want a decimal number such as \"12.5\" or 12.5, got %v", data)
}

// scaled parses a non-negative decimal into an integer count of
// 10^-places units ("12.5", 4 → 125000), refusing more decimal places
// than that (they would be rounded silently) and values above max units.
// "" is 0.
func scaled(d Decimal, places int, max int64) (int64, error) {
	s := strings.TrimSpace(string(d))
	if s == "" {
		return 0, nil
	}
	if !decimalRE.MatchString(s) {
		return 0, fmt.Errorf("not a non-negative decimal: %q", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	if len(frac) > places {
		return 0, fmt.Errorf("%q has more than %d decimal places", s, places)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > max {
		return 0, fmt.Errorf("%q is above the maximum %d", s, max)
	}
	v := w
	for i := 0; i < places; i++ {
		v *= 10
		if i < len(frac) {
			v += int64(frac[i] - '0')
		}
	}
	if v > max*pow10(places) {
		return 0, fmt.Errorf("%q is above the maximum %d", s, max)
	}
	return v, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// MarkupPPM is markup_percent in parts per million of the price
// (12.5 % = 125000): the integer the pricing multiplies by.
func (t Tenant) MarkupPPM() (int64, error) {
	// percent × 10^4 = ppm: four decimal places of a percent are exact.
	return scaled(t.MarkupPercent, 4, maxMarkupPercent)
}

// MarkupMicros is markup_fixed in micro-units of the tenant's currency.
func (t Tenant) MarkupMicros() (int64, error) {
	return scaled(t.MarkupFixed, 6, maxMarkupFixed)
}
