package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"smsgate/config"
)

// pricingEnv: tenant a pays the upstream price, tenant b pays 10 % + 0.05
// USD over it. Telegram in the US costs 41.23 RUB on sa (= 0.45353 USD at
// 0.011) and 0.60 USD on hero, so b's prices are
//
//	sa:   0.45353 × 1.1 + 0.05 = 0.548883 → 0.55
//	hero: 0.60 × 1.1 + 0.05    = 0.71
func pricingEnv(t *testing.T) *env {
	return unifiedEnv(t, envOptions{
		codeDelay: -1,
		config: func(c *config.Config) {
			c.Tenants[1].MarkupPercent = "10"
			c.Tenants[1].MarkupFixed = "0.05"
		},
		preStart: func(e *env) {
			e.sims["sa"].Market.SetPrice("us", "tg", 41_230_000)
			e.sims["hero"].Market.SetPrice("us", "tg", 600_000)
		},
	})
}

// legacyCost reads getPrices' cost of Telegram in the US (country 187).
func legacyCost(t *testing.T, e *env, key string) json.Number {
	t.Helper()
	_, body := e.legacy(key, "action", "getPrices", "service", "tg", "country", "187")
	var prices map[string]map[string]struct{ Cost json.Number }
	if err := json.Unmarshal([]byte(body), &prices); err != nil {
		t.Fatalf("getPrices = %q", body)
	}
	return prices["187"]["tg"].Cost
}

// TestPricingLegacy: getPrices and getNumberV2's activationCost show the
// tenant price; a tenant without markup sees the upstream price.
func TestPricingLegacy(t *testing.T) {
	e := pricingEnv(t)
	if got := legacyCost(t, e, keyB); got != "0.55" {
		t.Errorf("getPrices for the markup tenant: cost %s; want 0.55", got)
	}
	if got := legacyCost(t, e, keyA); got != "0.45" {
		t.Errorf("getPrices for the plain tenant: cost %s; want 0.45 (0.45353)", got)
	}
	for _, tc := range []struct{ key, want string }{{keyB, "0.55"}, {keyA, "0.45"}} {
		_, body := e.legacy(tc.key, "action", "getNumberV2", "service", "tg", "country", "187")
		var n struct {
			ActivationID   json.Number
			ActivationCost json.Number
		}
		if err := json.Unmarshal([]byte(body), &n); err != nil || n.ActivationID == "" {
			t.Fatalf("getNumberV2 = %q", body)
		}
		if n.ActivationCost != json.Number(tc.want) {
			t.Errorf("getNumberV2 activationCost %s; want %s", n.ActivationCost, tc.want)
		}
		// The order is stored at what it cost upstream.
		if o := e.order(string(n.ActivationID)); o.Price.Micros != 41_230_000 || o.Price.Currency != "RUB" {
			t.Errorf("stored price %+v; want the upstream 41.23 RUB", o.Price)
		}
		_, active := e.legacy(tc.key, "action", "getActiveActivations")
		if !strings.Contains(active, `"activationCost":`+tc.want) {
			t.Errorf("getActiveActivations = %s; want activationCost %s", active, tc.want)
		}
	}
}

// TestPricingMaxPrice: maxPrice is the tenant's own price. Between the
// upstream price and the tenant price the purchase is refused with the
// tenant price as the floor; at the tenant price it goes through (the
// platform is asked for the price net of markup).
func TestPricingMaxPrice(t *testing.T) {
	e := pricingEnv(t)
	if _, b := e.legacy(keyB, "action", "getNumber", "service", "tg", "country", "187", "maxPrice", "0.54"); b != "WRONG_MAX_PRICE:0.55" {
		t.Fatalf("maxPrice 0.54 for a 0.55 tenant price (0.45 upstream) = %q; want WRONG_MAX_PRICE:0.55", b)
	}
	r := e.api("POST", "/api/sms/getPhone", keyB, map[string]any{"country": "us", "service": "tg", "maxPrice": "0.54"})
	var floor struct{ MinPrice, Currency string }
	r.into(t, &floor)
	if r.Status != 409 || r.Code != 1003 || floor.MinPrice != "0.55" || floor.Currency != "USD" {
		t.Fatalf("unified maxPrice 0.54 = HTTP %d code %d %+v; want 409/1003 minPrice 0.55 USD", r.Status, r.Code, floor)
	}
	id := e.buy(keyB, "service", "tg", "country", "187", "maxPrice", "0.55")
	if p := e.order(id).Platform; p != "sa" {
		t.Errorf("bought at sa's tenant price from %s; want sa", p)
	}
	// The plain tenant's max price is compared with the plain price.
	e.buy(keyA, "service", "tg", "country", "187", "maxPrice", "0.46")
}

// TestPricingUnified: the price list, getPhone and the order views show
// the tenant price in the tenant's currency.
func TestPricingUnified(t *testing.T) {
	e := pricingEnv(t)
	var pl struct {
		PriceList []struct{ Platform, Price, Currency, BasePrice string }
	}
	e.api("GET", "/api/sms/prices?service=tg&country=us", keyB, nil).into(t, &pl)
	got := map[string]string{}
	for _, it := range pl.PriceList {
		got[it.Platform] = it.Price + " " + it.Currency
	}
	if got["sa"] != "0.55 USD" || got["hero"] != "0.71 USD" {
		t.Errorf("prices for the markup tenant %v; want sa 0.55 USD, hero 0.71 USD", got)
	}
	e.api("GET", "/api/sms/prices?service=tg&country=us", keyA, nil).into(t, &pl)
	got = map[string]string{}
	for _, it := range pl.PriceList {
		got[it.Platform] = it.Price + " " + it.Currency
	}
	if got["sa"] != "0.45 USD" || got["hero"] != "0.60 USD" {
		t.Errorf("prices for the plain tenant %v; want sa 0.45 USD, hero 0.60 USD", got)
	}

	for _, tc := range []struct{ key, want string }{{keyB, "0.55"}, {keyA, "0.45"}} {
		var ph struct {
			ID              int64
			Price, Currency string
		}
		r := e.api("POST", "/api/sms/getPhone", tc.key, map[string]any{"country": "us", "service": "tg"})
		r.into(t, &ph)
		if r.Status != 200 || ph.Price != tc.want || ph.Currency != "USD" {
			t.Errorf("getPhone = %d %+v; want price %s USD", r.Status, ph, tc.want)
		}
		var ov struct{ Price, Currency string }
		e.api("GET", "/api/sms/orders/"+itoa64(ph.ID), tc.key, nil).into(t, &ov)
		if ov.Price != tc.want || ov.Currency != "USD" {
			t.Errorf("order view %+v; want price %s USD", ov, tc.want)
		}
	}
}

// TestStatisticsMargin: statistics show what the platforms charged (cost),
// what the tenants were charged at their prices (revenue) and the margin,
// for delivered orders only.
func TestStatisticsMargin(t *testing.T) {
	e := pricingEnv(t)
	delivered := e.buy(keyB, "service", "tg", "country", "187", "platform", "sa")
	e.buy(keyB, "service", "tg", "country", "187", "platform", "sa") // never gets a code: no cost, no revenue
	e.deliver(delivered)
	e.eventually("code", func() bool {
		_, b := e.legacy(keyB, "action", "getStatus", "id", delivered)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	var st struct {
		Total struct {
			Orders, Delivered     int
			Cost, Revenue, Margin string
		}
	}
	e.api("GET", "/api/sms/statistics?startDate=2026-03-01&endDate=2026-03-02", keyB, nil).into(t, &st)
	o := e.order(delivered)
	cost, revenue := micros(t, st.Total.Cost), micros(t, st.Total.Revenue)
	if st.Total.Orders != 2 || st.Total.Delivered != 1 || cost != o.BasePrice.Micros/10_000*10_000 && cost != (o.BasePrice.Micros+5_000)/10_000*10_000 {
		t.Fatalf("statistics %+v; want 2 orders, 1 delivered, cost of the delivered one (%d)", st.Total, o.BasePrice.Micros)
	}
	if revenue != o.TenantPriceBase.Micros || micros(t, st.Total.Margin) != revenue-cost || revenue <= cost {
		t.Fatalf("statistics %+v; want revenue %d (the tenant price) and margin = revenue − cost > 0", st.Total, o.TenantPriceBase.Micros)
	}
}
