package adapters

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"12.5", 12_500_000, false},
		{"0.0675", 67_500, false},
		{"15", 15_000_000, false},
		{" 498.28 ", 498_280_000, false},
		{"-1.25", -1_250_000, false},
		{".5", 500_000, false},
		{"0.0000005", 1, false}, // 7th digit rounds half up
		{"0.0000004", 0, false},
		{"", 0, true},
		{"abc", 0, true},
		{"1.2.3", 0, true},
		{"1e5", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDecimal(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d, bad=%v", c.in, got, err, c.want, c.bad)
		}
	}
}

// ParseAmount takes what ParseDecimal takes, and the float forms JSON
// encoders produce, but nothing a platform cannot mean.
func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"799.70", 799_700_000, false},
		{" 15 ", 15_000_000, false},
		{"1e-05", 10, false}, // a float encoder's 0.00001
		{"2.5E+01", 25_000_000, false},
		{"-1e2", -100_000_000, false},
		{"1e13", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"", 0, true},
		{"12,5", 0, true},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, bad=%v", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	cases := []struct {
		micros int64
		places int
		want   string
	}{
		{12_500_000, 2, "12.50"},
		{12_345_000, 2, "12.35"}, // half away from zero
		{-12_345_000, 2, "-12.35"},
		{4_999, 2, "0.00"},
		{5_000, 2, "0.01"},
		{1, 6, "0.000001"},
		{7_000_000, 0, "7"},
	}
	for _, c := range cases {
		if got := FormatDecimal(c.micros, c.places); got != c.want {
			t.Errorf("FormatDecimal(%d, %d) = %q; want %q", c.micros, c.places, got, c.want)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	floor := fmt.Errorf("x buy: %w", &PriceFloorError{Min: Money{Micros: 1, Currency: "USD"}})
	cases := []struct {
		err              error
		retryable, fault bool
	}{
		{fmt.Errorf("a: %w", ErrNoNumbers), true, false},
		{fmt.Errorf("a: %w", ErrNoBalance), true, false},
		{floor, true, false},
		{fmt.Errorf("a: %w", ErrAuth), true, true},
		{fmt.Errorf("a: %w", ErrUnavailable), true, true},
		{fmt.Errorf("a: %w", ErrOutcomeUnknown), false, true}, // never re-buy blindly
		{fmt.Errorf("a: %w", ErrEarlyCancel), false, false},
		{errors.New("other"), false, false},
	}
	for _, c := range cases {
		if got := Retryable(c.err); got != c.retryable {
			t.Errorf("Retryable(%v) = %v; want %v", c.err, got, c.retryable)
		}
		if got := PlatformFault(c.err); got != c.fault {
			t.Errorf("PlatformFault(%v) = %v; want %v", c.err, got, c.fault)
		}
	}
	if !errors.Is(floor, ErrPriceTooHigh) {
		t.Error("PriceFloorError is not ErrPriceTooHigh")
	}
}

// FormatTrimmed is how platforms write amounts: exact, without the
// trailing zeros a fixed format adds, but with the decimals a platform
// always shows.
func TestFormatTrimmed(t *testing.T) {
	f := func(micros int64, minPlaces int, want string) {
		t.Helper()
		if got := FormatTrimmed(micros, minPlaces); got != want {
			t.Errorf("FormatTrimmed(%d, %d) = %q; want %q", micros, minPlaces, got, want)
		}
	}
	f(25_000_000, 0, "25")
	f(500_000, 0, "0.5")
	f(12_345_000, 0, "12.345")
	f(0, 0, "0")
	f(-1_500_000, 0, "-1.5")
	f(1, 0, "0.000001")
	f(12_450_000, 2, "12.45")
	f(135_000, 2, "0.135")
	f(12_000_000, 2, "12.00")
	f(0, 2, "0.00")
	f(7_000_000, 9, "7.000000") // more places than micro-units carry
	f(7_000_000, -1, "7")
}
