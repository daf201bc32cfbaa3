package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"smsgate/ledger"
)

// walletEnv is a unified env whose tenant a pays from a wallet.
func walletEnv(t *testing.T, o envOptions) *env {
	prev := o.config
	o.config = func(c *config.Config) {
		c.Tenants[0].Wallet = true
		if prev != nil {
			prev(c)
		}
	}
	return unifiedEnv(t, o)
}

// legacyBalance reads a tenant's getBalance in micro-units.
func (e *env) legacyBalance(key string) int64 {
	e.t.Helper()
	_, b := e.legacy(key, "action", "getBalance")
	v, ok := strings.CutPrefix(b, "ACCESS_BALANCE:")
	if !ok {
		e.t.Fatalf("getBalance = %q", b)
	}
	m, err := adapters.ParseDecimal(v)
	if err != nil {
		e.t.Fatalf("getBalance = %q: %v", b, err)
	}
	return m
}

type walletAnswer struct {
	Balance, Reserved, Available, Currency string
	Journal                                []struct {
		ID      int64
		Kind    string
		Amount  string
		OrderID int64
	}
}

// fund tops tenant name's wallet up by amount (a decimal) through the
// admin API.
func (e *env) fund(name, amount string) walletAnswer {
	e.t.Helper()
	var w walletAnswer
	r := e.api("POST", "/api/sms/admin/tenants/"+name+"/wallet", adminKey, map[string]any{"amount": amount, "note": "test"})
	if r.Status != 200 {
		e.t.Fatalf("fund %s %s: HTTP %d %s", name, amount, r.Status, r.Msg)
	}
	r.into(e.t, &w)
	return w
}

func (e *env) wallet(key string) walletAnswer {
	e.t.Helper()
	var w walletAnswer
	r := e.api("GET", "/api/sms/wallet?limit=500", key, nil)
	if r.Status != 200 {
		e.t.Fatalf("wallet: HTTP %d %s", r.Status, r.Msg)
	}
	r.into(e.t, &w)
	return w
}

func micros(t testing.TB, s string) int64 {
	t.Helper()
	m, err := adapters.ParseDecimal(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return m
}

// buyV2 buys through getNumberV2 and returns the activation id and the
// price it shows (activationCost).
func (e *env) buyV2(key string, kv ...string) (string, int64) {
	e.t.Helper()
	_, b := e.legacy(key, append([]string{"action", "getNumberV2"}, kv...)...)
	var a struct {
		ActivationID   json.Number `json:"activationId"`
		ActivationCost json.Number `json:"activationCost"`
	}
	if err := json.Unmarshal([]byte(b), &a); err != nil || a.ActivationID == "" {
		e.t.Fatalf("getNumberV2 %v = %q", kv, b)
	}
	return a.ActivationID.String(), micros(e.t, a.ActivationCost.String())
}

// deliver makes the simulator send order id's SMS now.
func (e *env) deliver(id string) {
	e.t.Helper()
	o, err := e.store.Get(context.Background(), atoi(id))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.sims[o.Platform].Market.DeliverSMS(atoi(o.UpstreamID), ""); err != nil {
		e.t.Fatalf("deliver to order %s (%s %s, %s): %v", id, o.Platform, o.UpstreamID, o.State, err)
	}
	e.clock.Advance(time.Second) // the poll interval: the order is due
}

// TestWalletLegacy: a wallet tenant's legacy getBalance drops by the
// price getNumberV2 shows at purchase (held), stays down when the code
// arrives (captured), comes back in full after a cancel or an expiry
// without a code (released); without the funds, getNumber answers
// NO_BALANCE and no platform is asked.
func TestWalletLegacy(t *testing.T) {
	e := walletEnv(t, envOptions{codeDelay: -1})
	if got := e.legacyBalance(keyA); got != 0 {
		t.Fatalf("a new wallet's getBalance = %d; want 0", got)
	}
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "NO_BALANCE" {
		t.Fatalf("getNumber on an empty wallet = %q; want NO_BALANCE", b)
	}
	e.fund("a", "10.00")
	start := e.legacyBalance(keyA)
	if start != 10*adapters.Micro {
		t.Fatalf("getBalance after a 10.00 top-up = %d", start)
	}

	// Held at purchase, captured by the code: down by the shown price.
	id, cost := e.buyV2(keyA, "service", "tg", "country", "187")
	if cost <= 0 || e.legacyBalance(keyA) != start-cost {
		t.Fatalf("after buying at %d: getBalance %d; want %d", cost, e.legacyBalance(keyA), start-cost)
	}
	e.deliver(id)
	e.eventually("code", func() bool {
		_, b := e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "6"); b != "ACCESS_ACTIVATION" {
		t.Fatalf("finish = %q", b)
	}
	spent := start - cost
	if got := e.legacyBalance(keyA); got != spent {
		t.Fatalf("after the code and finish: getBalance %d; want %d (captured)", got, spent)
	}

	// Cancelled without a code: released.
	id2, cost2 := e.buyV2(keyA, "service", "tg", "country", "187")
	if got := e.legacyBalance(keyA); got != spent-cost2 {
		t.Fatalf("second purchase: getBalance %d; want %d", got, spent-cost2)
	}
	e.clock.Advance(2*time.Minute + time.Second) // the platform's cancel guard
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id2, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("cancel = %q", b)
	}
	if got := e.legacyBalance(keyA); got != spent {
		t.Fatalf("after cancel: getBalance %d; want %d (released)", got, spent)
	}

	// Expired without a code: released.
	id3, _ := e.buyV2(keyA, "service", "tg", "country", "187")
	e.clock.Advance(21 * time.Minute)
	e.statusIs(keyA, id3, "STATUS_CANCEL")
	if got := e.legacyBalance(keyA); got != spent {
		t.Fatalf("after expiry: getBalance %d; want %d (released)", got, spent)
	}

	// Not enough left for a number: NO_BALANCE, and no platform is asked.
	e.api("POST", "/api/sms/admin/tenants/a/wallet", adminKey, map[string]any{"amount": adapters.FormatDecimal(-(spent - 10_000), 6)})
	if got := e.legacyBalance(keyA); got != 10_000 {
		t.Fatalf("after the adjustment: getBalance %d; want 0.01", got)
	}
	calls := e.purchaseCalls()
	if _, b := e.legacy(keyA, "action", "getNumber", "service", "tg", "country", "187"); b != "NO_BALANCE" {
		t.Fatalf("getNumber with 0.01 left = %q; want NO_BALANCE", b)
	}
	if n := e.purchaseCalls() - calls; n != 0 {
		t.Fatalf("NO_BALANCE for the wallet still sent %d price or purchase calls upstream", n)
	}

	// The journal says the same, to the micro-unit.
	w := e.wallet(keyA)
	checkJournal(t, w)
	if micros(t, w.Reserved) != 0 || micros(t, w.Available) != 10_000 {
		t.Fatalf("wallet %+v; want nothing reserved, 0.01 available", w)
	}
}

// purchaseCalls counts the price and purchase calls the simulators got
// (health checks and balance reads run on their own schedule).
func (e *env) purchaseCalls() int64 {
	var n int64
	for _, s := range e.sims {
		for _, c := range []string{"getNumber", "getNumberV2", "getPrices", "getPricesV2"} {
			n += s.Market.Calls(c)
		}
	}
	return n
}

// checkJournal: the wallet's balance is the top-ups and adjustments less
// the captures, and its reservation is what was held and neither captured
// nor released.
func checkJournal(t *testing.T, w walletAnswer) {
	t.Helper()
	var bal, res int64
	for _, j := range w.Journal {
		a := micros(t, j.Amount)
		switch ledger.EntryKind(j.Kind) {
		case ledger.EntryTopup, ledger.EntryAdjust:
			bal += a
		case ledger.EntryReserve:
			res += a
		case ledger.EntryCapture:
			bal -= a
			res -= a
		case ledger.EntryRelease:
			res -= a
		default:
			t.Fatalf("journal kind %q", j.Kind)
		}
	}
	if bal != micros(t, w.Balance) || res != micros(t, w.Reserved) {
		t.Fatalf("journal sums to balance %d reserved %d; wallet says %s %s", bal, res, w.Balance, w.Reserved)
	}
}

// TestWalletUnified: the unified API answers 402 for a purchase the
// wallet cannot pay, before any upstream call; an operator-mode tenant
// has no wallet; an adjustment below the reservation is refused.
func TestWalletUnified(t *testing.T) {
	e := walletEnv(t, envOptions{codeDelay: -1})
	calls := e.purchaseCalls()
	r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"})
	if r.Status != 402 || r.Code != 402 || r.Msg == "" {
		t.Fatalf("getPhone on an empty wallet = HTTP %d code %d %q; want 402", r.Status, r.Code, r.Msg)
	}
	if n := e.purchaseCalls() - calls; n != 0 {
		t.Fatalf("a refused purchase sent %d price or purchase calls upstream", n)
	}
	if r := e.api("GET", "/api/sms/wallet", keyB, nil); r.Status != 409 {
		t.Fatalf("operator tenant's wallet = HTTP %d; want 409", r.Status)
	}
	if r := e.api("GET", "/api/sms/admin/tenants/a/wallet", keyA, nil); r.Status != 403 {
		t.Fatalf("a tenant reading the admin wallet path = HTTP %d; want 403", r.Status)
	}
	if r := e.api("POST", "/api/sms/admin/tenants/nobody/wallet", adminKey, map[string]any{"amount": "1"}); r.Status != 404 {
		t.Fatalf("funding an unknown tenant = HTTP %d; want 404", r.Status)
	}
	for _, bad := range []any{map[string]any{"amount": "ten"}, map[string]any{"amount": "0"}, map[string]any{}} {
		if r := e.api("POST", "/api/sms/admin/tenants/a/wallet", adminKey, bad); r.Status != 400 {
			t.Fatalf("funding with %v = HTTP %d; want 400", bad, r.Status)
		}
	}
	e.fund("a", "5")
	r = e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"})
	if r.Status != 200 {
		t.Fatalf("getPhone with funds = HTTP %d %s", r.Status, r.Msg)
	}
	w := e.wallet(keyA)
	res := micros(t, w.Reserved)
	if res <= 0 {
		t.Fatalf("after a purchase: wallet %+v; want a reservation", w)
	}
	// Down to exactly the reservation is allowed; below it is not.
	if r := e.api("POST", "/api/sms/admin/tenants/a/wallet", adminKey, map[string]any{"amount": adapters.FormatDecimal(-(5*adapters.Micro - res + 1), 6)}); r.Status != 409 || r.Code != 402 {
		t.Fatalf("adjusting below the reservation = HTTP %d code %d; want 409/402", r.Status, r.Code)
	}
	e.fund("a", adapters.FormatDecimal(-(5*adapters.Micro-res), 6))
	w = e.api2wallet(adminKey, "a")
	if micros(t, w.Available) != 0 || micros(t, w.Balance) != res {
		t.Fatalf("wallet after adjusting to the reservation: %+v", w)
	}
	checkJournal(t, w)
}

func (e *env) api2wallet(key, name string) walletAnswer {
	e.t.Helper()
	var w walletAnswer
	e.api("GET", "/api/sms/admin/tenants/"+name+"/wallet?limit=500", key, nil).into(e.t, &w)
	return w
}

type batchAnswer struct {
	Requested, Bought int
	Orders            []struct {
		ID       int64
		Phone    string
		Platform string
		Price    string
	}
	Missing *struct {
		Count  int
		Code   int
		Reason string
	}
}

func (e *env) batch(key string, body map[string]any, idem string) batchAnswer {
	e.t.Helper()
	var h []string
	if idem != "" {
		h = []string{"Idempotency-Key", idem}
	}
	r := e.api("POST", "/api/sms/getPhone", key, body, h...)
	if r.Status != 200 {
		e.t.Fatalf("batch getPhone = HTTP %d %s", r.Status, r.Msg)
	}
	var a batchAnswer
	r.into(e.t, &a)
	return a
}

// TestBatchPurchase: count 5 over two platforms with 3 numbers each buys
// 5 distinct numbers from both; the same Idempotency-Key again answers the
// same 5 and buys nothing; a wallet with funds for 3 gets 3 and is told
// why not the other 2.
func TestBatchPurchase(t *testing.T) {
	e := walletEnv(t, envOptions{codeDelay: -1, market: func(mc *simulator.Config) { mc.Stock = 3 }})
	body := map[string]any{"country": "us", "service": "tg", "count": 5}
	a := e.batch(keyB, body, "batch-1")
	phones, platforms := map[string]bool{}, map[string]int{}
	for _, o := range a.Orders {
		phones[o.Phone] = true
		platforms[o.Platform]++
	}
	if a.Requested != 5 || a.Bought != 5 || len(phones) != 5 || len(platforms) != 2 || a.Missing != nil {
		t.Fatalf("count 5 over 2×3 numbers = %+v; want 5 distinct numbers from both platforms", a)
	}
	calls := e.sims["sa"].Market.Calls("getNumber") + e.sims["hero"].Market.Calls("getNumber") +
		e.sims["sa"].Market.Calls("getNumberV2") + e.sims["hero"].Market.Calls("getNumberV2")
	again := e.batch(keyB, body, "batch-1")
	if len(again.Orders) != 5 {
		t.Fatalf("the same key again = %+v", again)
	}
	for i := range a.Orders {
		if again.Orders[i] != a.Orders[i] {
			t.Fatalf("the same key again answered %+v; want %+v", again.Orders, a.Orders)
		}
	}
	if n := e.sims["sa"].Market.Calls("getNumber") + e.sims["hero"].Market.Calls("getNumber") +
		e.sims["sa"].Market.Calls("getNumberV2") + e.sims["hero"].Market.Calls("getNumberV2") - calls; n != 0 {
		t.Fatalf("the same key again bought %d numbers", n)
	}
	if r := e.api("POST", "/api/sms/getPhone", keyB, map[string]any{"country": "gb", "service": "tg", "count": 5},
		"Idempotency-Key", "batch-1"); r.Status != 409 {
		t.Fatalf("the key reused for another request = HTTP %d; want 409", r.Status)
	}
	for _, n := range []int{0, 101} {
		if r := e.api("POST", "/api/sms/getPhone", keyB, map[string]any{"country": "us", "count": n}); r.Status != 400 {
			t.Fatalf("count %d = HTTP %d; want 400", n, r.Status)
		}
	}

	// Wallet tenant a: learn the hold of one number, fund exactly 3.5 of them.
	e.sims["sa"].Market.SetAllStock(50)
	e.fund("a", "100")
	one := e.batch(keyA, map[string]any{"country": "gb", "service": "wa", "platform": "sa", "count": 1}, "")
	if one.Bought != 1 {
		t.Fatalf("one = %+v", one)
	}
	w := e.wallet(keyA)
	hold := micros(t, w.Reserved)
	e.fund("a", adapters.FormatDecimal(3*hold+hold/2-micros(t, w.Available), 6))
	three := e.batch(keyA, map[string]any{"country": "gb", "service": "wa", "platform": "sa", "count": 5}, "batch-2")
	if three.Bought != 3 || len(three.Orders) != 3 || three.Missing == nil || three.Missing.Count != 2 || three.Missing.Code != 402 || three.Missing.Reason == "" {
		t.Fatalf("count 5 with funds for 3 = %+v; want 3 bought, 2 missing for funds (402)", three)
	}
	if w := e.wallet(keyA); micros(t, w.Reserved) != 4*hold || micros(t, w.Available) != hold/2 {
		t.Fatalf("wallet after the batch: %+v; want 4 holds reserved, half a hold left", w)
	}
}
