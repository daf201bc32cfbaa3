package fx

import (
	"testing"

	"smsgate/adapters"
)

func TestFX(t *testing.T) {
	fx, err := New("USD", map[string]string{"RUB": "0.011", "EUR": "1.08"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   adapters.Money
		to   string
		want int64
	}{
		{adapters.Money{Micros: 100 * adapters.Micro, Currency: "RUB"}, "USD", 1_100_000},
		{adapters.Money{Micros: 1_100_000, Currency: "USD"}, "RUB", 100 * adapters.Micro},
		{adapters.Money{Micros: 1 * adapters.Micro, Currency: "EUR"}, "RUB", 98_181_818}, // 1.08/0.011, rounded
		{adapters.Money{Micros: 5, Currency: "RUB"}, "USD", 0},                           // 0.055 micro rounds down
		{adapters.Money{Micros: 50, Currency: "RUB"}, "USD", 1},                          // 0.55 rounds up
		{adapters.Money{Micros: 1 << 60, Currency: "EUR"}, "EUR", 1 << 60},
	}
	for _, c := range cases {
		got, err := fx.Convert(c.in, c.to)
		if err != nil || got.Micros != c.want || got.Currency != c.to {
			t.Errorf("Convert(%v, %s) = %v, %v; want %d %s", c.in, c.to, got, err, c.want, c.to)
		}
	}
	if _, err := fx.Convert(adapters.Money{Micros: 1, Currency: "JPY"}, "USD"); err == nil {
		t.Error("converting from a currency without a rate succeeded")
	}
	if _, err := New("USD", map[string]string{"RUB": "-1"}); err == nil {
		t.Error("negative rate accepted")
	}
}
