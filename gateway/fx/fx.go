// Package fx converts money between currencies at the configured rates to
// the base currency.
package fx

import (
	"fmt"
	"math/big"

	"smsgate/adapters"
)

// FX converts money between currencies through the base currency, with
// integer arithmetic only. Immutable after NewFX.
type FX struct {
	base  string
	rates map[string]int64 // micro-units of base per one unit of the currency
}

// New builds a converter; rates are decimal strings (units of base per
// unit of the key currency). The base currency's rate is 1.
func New(base string, rates map[string]string) (*FX, error) {
	fx := &FX{base: base, rates: map[string]int64{base: adapters.Micro}}
	for cur, r := range rates {
		v, err := adapters.ParseDecimal(r)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("fx.rates.%s: not a positive decimal", cur)
		}
		fx.rates[cur] = v
	}
	return fx, nil
}

// Base is the base currency.
func (fx *FX) Base() string { return fx.base }

// Convert returns m in currency to, rounded half up to a micro-unit.
func (fx *FX) Convert(m adapters.Money, to string) (adapters.Money, error) {
	if m.Currency == to || m.Micros == 0 {
		return adapters.Money{Micros: m.Micros, Currency: to}, nil
	}
	from, ok := fx.rates[m.Currency]
	if !ok {
		return adapters.Money{}, fmt.Errorf("no fx rate for %s", m.Currency)
	}
	dst, ok := fx.rates[to]
	if !ok {
		return adapters.Money{}, fmt.Errorf("no fx rate for %s", to)
	}
	// micros × from / dst, rounded: big.Int because the product can pass 2^63.
	n := new(big.Int).Mul(big.NewInt(m.Micros), big.NewInt(from))
	d := big.NewInt(dst)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if new(big.Int).Mul(r.Abs(r), big.NewInt(2)).Cmp(d) >= 0 {
		if m.Micros < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return adapters.Money{Micros: q.Int64(), Currency: to}, nil
}

// ToBase converts m to the base currency.
func (fx *FX) ToBase(m adapters.Money) (adapters.Money, error) { return fx.Convert(m, fx.base) }
