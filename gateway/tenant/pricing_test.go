package tenant

import (
	"errors"
	"math"
	"testing"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/gateway/fx"
	"smsgate/ledger"
)

func testFX(t *testing.T) *fx.FX {
	t.Helper()
	conv, err := fx.New("USD", map[string]string{"RUB": "0.011", "EUR": "1.08"})
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func TestPrice(t *testing.T) {
	conv := testFX(t)
	f := func(currency string, m Markup, upstream adapters.Money, want int64) {
		t.Helper()
		tn := &Tenant{Name: "x", Currency: currency, Markup: m}
		got, err := tn.Price(conv, upstream)
		if err != nil {
			t.Fatalf("Price(%v, %+v) error %v", upstream, m, err)
		}
		if got.Micros != want || got.Currency != currency {
			t.Errorf("Price(%v, %+v) = %d %s; want %d %s", upstream, m, got.Micros, got.Currency, want, currency)
		}
	}
	usd := func(micros int64) adapters.Money { return adapters.Money{Micros: micros, Currency: "USD"} }
	rub := func(micros int64) adapters.Money { return adapters.Money{Micros: micros, Currency: "RUB"} }
	tenPlus5c := Markup{PPM: 100_000, Fixed: 50_000}

	// The brief's tenant: 0.50 × 1.1 + 0.05 = 0.60 exactly, no rounding.
	f("USD", tenPlus5c, usd(500_000), 600_000)
	// 40 RUB = 0.44 USD; × 1.1 = 0.484; + 0.05 = 0.534 → up to 0.54.
	f("USD", tenPlus5c, rub(40_000_000), 540_000)
	// An exact cent stays: 1.00 × 1.1 = 1.10.
	f("USD", Markup{PPM: 100_000}, usd(1_000_000), 1_100_000)
	// One micro-unit past a cent is the next cent.
	f("USD", Markup{Fixed: 1}, usd(1_000_000), 1_010_000)
	// Below a micro-unit still counts: 0.01 × 1.000001 = 0.01000001 → 0.02.
	f("USD", Markup{PPM: 1}, usd(10_000), 20_000)
	// A free number costs the fixed markup; with only a percentage, nothing.
	f("USD", tenPlus5c, usd(0), 50_000)
	f("USD", Markup{PPM: 100_000}, usd(0), 0)
	// The maximum markup: 1000 % = × 11.
	f("USD", Markup{PPM: 10_000_000}, usd(1_000_000), 11_000_000)
	// Converted first (0.50 USD = 0.462963 EUR, fx rounds to the micro),
	// then marked up in EUR: 0.5092593 + 0.05 = 0.5592593 → 0.56.
	f("EUR", tenPlus5c, usd(500_000), 560_000)
	// Without markup the converted price is shown as it is, unrounded.
	f("USD", Markup{}, rub(40_000_000), 440_000)
	f("USD", Markup{}, rub(1_230_000), 13_530)
	f("RUB", Markup{}, rub(1_230_001), 1_230_001)
	// Large prices are exact: 9,000,000 units × 11.
	f("USD", Markup{PPM: 10_000_000}, usd(9_000_000*adapters.Micro), 99_000_000*adapters.Micro)
}

func TestPriceErrors(t *testing.T) {
	conv := testFX(t)
	tn := &Tenant{Currency: "USD", Markup: Markup{PPM: 10_000_000}}
	if _, err := tn.Price(conv, adapters.Money{Micros: 1, Currency: "GBP"}); err == nil {
		t.Error("a currency without a rate was priced")
	}
	// × 11 of the largest int64 cannot be represented.
	if _, err := tn.Price(conv, adapters.Money{Micros: math.MaxInt64, Currency: "USD"}); !errors.Is(err, ErrPriceRange) {
		t.Errorf("overflowing price: got %v; want ErrPriceRange", err)
	}
	if _, err := tn.Price(conv, adapters.Money{Micros: -10_000, Currency: "USD"}); !errors.Is(err, ErrPriceRange) {
		t.Errorf("negative price: got %v; want ErrPriceRange", err)
	}
}

// TestApplyBounds: the 128-bit arithmetic holds to the last cent an int64
// can carry and refuses the first one it cannot.
func TestApplyBounds(t *testing.T) {
	top := int64(math.MaxInt64) / Cent * Cent
	if got, err := (Markup{Fixed: 0, PPM: 0}).Apply(top); err != nil || got != top {
		t.Errorf("Apply(%d) = %d, %v; want it unchanged", top, got, err)
	}
	// One micro more needs the next cent, past MaxInt64.
	if _, err := (Markup{}).Apply(top + 1); !errors.Is(err, ErrPriceRange) {
		t.Errorf("Apply(%d): got %v; want ErrPriceRange", top+1, err)
	}
	// The fixed part alone can carry it over.
	if _, err := (Markup{Fixed: Cent}).Apply(top); !errors.Is(err, ErrPriceRange) {
		t.Errorf("Apply(%d)+1 cent: got %v; want ErrPriceRange", top, err)
	}
}

// TestUpstreamCap: the cap is the largest price whose tenant price stays
// within the maximum; one micro-unit more goes over it.
func TestUpstreamCap(t *testing.T) {
	markups := []Markup{{}, {PPM: 100_000, Fixed: 50_000}, {PPM: 1}, {PPM: 125_000}, {Fixed: 1}, {PPM: 10_000_000, Fixed: 999_999}}
	maxes := []int64{1, 10_000, 50_000, 534_999, 540_000, 600_000, 1_000_001, 123_456_789}
	for _, m := range markups {
		for _, max := range maxes {
			c, ok := m.UpstreamCap(max)
			if !ok {
				if got, err := m.Apply(0); err != nil || got <= max {
					t.Errorf("%+v: UpstreamCap(%d) says nothing fits, but a free number costs %d", m, max, got)
				}
				continue
			}
			if got, err := m.Apply(c); err != nil || (!m.None() && got > max) {
				t.Errorf("%+v: cap %d for max %d costs %d (%v): over", m, c, max, got, err)
			}
			if got, err := m.Apply(c + 1); !m.None() && (err != nil || got <= max) {
				t.Errorf("%+v: cap %d for max %d is not the largest: %d costs %d", m, c, max, c+1, got)
			}
		}
	}
	// The brief's tenant: 0.54 allows 0.44 (0.534 → 0.54), 0.53 does not.
	m := Markup{PPM: 100_000, Fixed: 50_000}
	if c, _ := m.UpstreamCap(540_000); c != 445_454 {
		t.Errorf("UpstreamCap(0.54) = %d; want 445454", c)
	}
	if c, _ := m.UpstreamCap(530_000); c >= 440_000 {
		t.Errorf("UpstreamCap(0.53) = %d; want below 0.44", c)
	}
}

// TestOrderPrice: an order is shown at the tenant price of what it cost
// upstream.
func TestOrderPrice(t *testing.T) {
	tn := &Tenant{Currency: "USD", Markup: Markup{PPM: 100_000, Fixed: 50_000}}
	o := ledger.Order{Price: adapters.Money{Micros: 40_000_000, Currency: "RUB"}, BasePrice: adapters.Money{Micros: 440_000, Currency: "USD"}}
	got, err := tn.OrderPrice(testFX(t), &o)
	if err != nil || got != (adapters.Money{Micros: 540_000, Currency: "USD"}) {
		t.Errorf("OrderPrice = %+v, %v; want 0.54 USD", got, err)
	}
}

func TestNewReadsMarkup(t *testing.T) {
	ts, err := New([]config.Tenant{{Name: "m", Key: "k", MarkupPercent: "12.5", MarkupFixed: "0.05"}, {Name: "p", Key: "k2"}}, "USD", "price")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ts.ByName("m")
	if m.Markup != (Markup{PPM: 125_000, Fixed: 50_000}) {
		t.Errorf("markup = %+v; want 125000 ppm + 50000 micros", m.Markup)
	}
	p, _ := ts.ByName("p")
	if !p.Markup.None() {
		t.Errorf("tenant without markup has %+v", p.Markup)
	}
}
