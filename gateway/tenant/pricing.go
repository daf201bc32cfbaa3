package tenant

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"smsgate/adapters"
	"smsgate/ledger"
)

// Converter converts money between currencies (fx.FX).
type Converter interface {
	Convert(m adapters.Money, to string) (adapters.Money, error)
}

// Markup is what a tenant pays over the upstream price.
type Markup struct {
	PPM   int64 // percentage in parts per million of the price (12.5 % = 125000); 0..10^7
	Fixed int64 // added per number, micro-units of the tenant's currency; 0..10^12
}

// None reports whether the tenant pays the upstream price as converted.
func (m Markup) None() bool { return m.PPM == 0 && m.Fixed == 0 }

// Cent is the rounding step of a marked-up price, in micro-units.
const Cent = adapters.Micro / 100

const ppmOne = 1_000_000 // a factor of 1 in parts per million

// ErrPriceRange: a price too large (or negative) to mark up.
var ErrPriceRange = errors.New("price out of range")

// Price is what the tenant pays for a number the platform sells at
// upstream: converted to the tenant's currency, times 1 + markup_percent
// / 100, plus markup_fixed, rounded up to the cent (DESIGN §9). An
// operator-mode tenant without markup sees the converted price as it is,
// unrounded, the price such a team has always seen; a wallet tenant is
// always charged whole cents.
func (t *Tenant) Price(conv Converter, upstream adapters.Money) (adapters.Money, error) {
	m, err := conv.Convert(upstream, t.Currency)
	if err != nil {
		return adapters.Money{}, fmt.Errorf("cannot convert price: %w", err)
	}
	if t.Markup.None() && !t.Wallet {
		return m, nil
	}
	micros, err := t.Markup.Apply(m.Micros)
	if err != nil {
		return adapters.Money{}, err
	}
	return adapters.Money{Micros: micros, Currency: t.Currency}, nil
}

// OrderPrice is the price a tenant is shown for one of its orders, from
// the upstream price the order stores. It is the one place that decides
// it: when orders keep the tenant price they were sold at, this reads it.
func (t *Tenant) OrderPrice(conv Converter, o *ledger.Order) (adapters.Money, error) {
	if o.TenantPrice.Currency != "" {
		return o.TenantPrice, nil // what it was sold at (and a wallet holds)
	}
	return t.Price(conv, o.Price)
}

// Apply marks up a price already in the tenant's currency:
// ceil((micros × (10^6 + PPM) / 10^6 + Fixed) / Cent) × Cent, exactly, in
// 128-bit integer arithmetic. Prices too large for the result to fit an
// int64 are ErrPriceRange, as are negative ones.
func (m Markup) Apply(micros int64) (int64, error) {
	if micros < 0 || m.PPM < 0 || m.Fixed < 0 {
		return 0, fmt.Errorf("cannot mark up %d micro-units: %w", micros, ErrPriceRange)
	}
	// N = micros × (10^6 + PPM) + Fixed × 10^6, the price in 10^-12 units.
	hi, lo := bits.Mul64(uint64(micros), uint64(ppmOne+m.PPM))
	fhi, flo := bits.Mul64(uint64(m.Fixed), ppmOne)
	lo, carry := bits.Add64(lo, flo, 0)
	hi, carry = bits.Add64(hi, fhi, carry)
	const unit = ppmOne * Cent // 10^-12 units in a cent
	if carry != 0 || hi >= unit {
		return 0, fmt.Errorf("cannot mark up %d micro-units: %w", micros, ErrPriceRange)
	}
	q, r := bits.Div64(hi, lo, unit)
	if r != 0 {
		q++ // up to the next cent: the tenant never pays less than the markup says
	}
	if q > math.MaxInt64/Cent {
		return 0, fmt.Errorf("cannot mark up %d micro-units: %w", micros, ErrPriceRange)
	}
	return int64(q) * Cent, nil
}

// UpstreamCap is the highest price in the tenant's currency, before
// markup, whose tenant price is still within maxPrice (both in the
// tenant's currency): what a platform may be asked to charge at most.
// ok is false when no price is (maxPrice is below the fixed markup).
func (m Markup) UpstreamCap(maxPrice int64) (cap int64, ok bool) {
	if m.None() {
		return maxPrice, true
	}
	// The tenant price rounds up to a cent, so only whole cents count.
	max := maxPrice / Cent * Cent
	if max < m.Fixed {
		return 0, false
	}
	// Largest p with p × (10^6 + PPM) ≤ (max − Fixed) × 10^6.
	hi, lo := bits.Mul64(uint64(max-m.Fixed), ppmOne)
	q, _ := bits.Div64(hi, lo, uint64(ppmOne+m.PPM)) // hi < divisor: the factor is ≥ 10^6
	return int64(q), true
}

// UpstreamMax is the most a platform charging in currency may be asked
// for a number the tenant wants at maxPrice at most (its own currency):
// the inverse of Price. ok is false when no price fits (the fixed markup
// alone is above maxPrice).
func (t *Tenant) UpstreamMax(conv Converter, maxPrice adapters.Money, currency string) (m adapters.Money, ok bool, err error) {
	mine, err := conv.Convert(maxPrice, t.Currency)
	if err != nil {
		return adapters.Money{}, false, fmt.Errorf("cannot convert max price: %w", err)
	}
	cap, ok := t.Markup.UpstreamCap(mine.Micros)
	if !ok {
		return adapters.Money{}, false, nil
	}
	m, err = conv.Convert(adapters.Money{Micros: cap, Currency: t.Currency}, currency)
	if err != nil {
		return adapters.Money{}, false, fmt.Errorf("cannot convert max price: %w", err)
	}
	return m, true, nil
}
