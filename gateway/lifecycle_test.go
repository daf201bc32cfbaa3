package gateway_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsgate/adapters"
)

func (e *env) buy(key string, kv ...string) string {
	e.t.Helper()
	_, body := e.legacy(key, append([]string{"action", "getNumber"}, kv...)...)
	rest, ok := strings.CutPrefix(body, "ACCESS_NUMBER:")
	id, _, _ := strings.Cut(rest, ":")
	if !ok || id == "" {
		e.t.Fatalf("getNumber = %q", body)
	}
	return id
}

func (e *env) state(id string) adapters.State {
	e.t.Helper()
	n, _ := strconv.ParseInt(id, 10, 64)
	o, err := e.store.Get(context.Background(), n)
	if err != nil {
		e.t.Fatal(err)
	}
	return o.State
}

func (e *env) balance(key string) string {
	e.t.Helper()
	_, b := e.legacy(key, "action", "getBalance")
	if !strings.HasPrefix(b, "ACCESS_BALANCE:") {
		e.t.Fatalf("getBalance = %q", b)
	}
	return b
}

// TestCancelGuardAndRefund: under the simulator's clock a cancel is
// refused for 2 minutes, then accepted, and the price comes back.
func TestCancelGuardAndRefund(t *testing.T) {
	e := newEnvDelay(t, -1) // no SMS ever: the order stays waiting
	bal0 := e.balance(keyA)
	id := e.buy(keyA, "service", "tg", "country", "187")
	if b := e.balance(keyA); b == bal0 {
		t.Fatalf("balance %s unchanged after a purchase", b)
	}
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "EARLY_CANCEL_DENIED" {
		t.Fatalf("cancel at 0 s = %q; want EARLY_CANCEL_DENIED", b)
	}
	e.clock.Advance(119 * time.Second)
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "EARLY_CANCEL_DENIED" {
		t.Fatalf("cancel at 1:59 = %q; want EARLY_CANCEL_DENIED", b)
	}
	e.clock.Advance(time.Second)
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("cancel at 2:00 = %q; want ACCESS_CANCEL", b)
	}
	if b := e.balance(keyA); b != bal0 {
		t.Fatalf("balance after cancel %s; want refunded %s", b, bal0)
	}
	if st := e.state(id); st != adapters.StateCancelled {
		t.Fatalf("ledger state %s; want cancelled", st)
	}
	if _, b := e.legacy(keyA, "action", "getStatus", "id", id); b != "STATUS_CANCEL" {
		t.Fatalf("getStatus after cancel = %q", b)
	}
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "8"); b != "BAD_STATUS" {
		t.Fatalf("second cancel = %q; want BAD_STATUS", b)
	}
}

// TestExpiryRefunds: an order without a code ends after 20 minutes, the
// ledger says expired and the platform refunded it.
func TestExpiryRefunds(t *testing.T) {
	e := newEnvDelay(t, -1)
	bal0 := e.balance(keyA)
	id := e.buy(keyA, "service", "wa", "country", "16")
	e.clock.Advance(19 * time.Minute)
	e.g.Kick()
	if _, b := e.legacy(keyA, "action", "getStatus", "id", id); b != "STATUS_WAIT_CODE" {
		t.Fatalf("at 19 min getStatus = %q; want still waiting", b)
	}
	e.clock.Advance(time.Minute)
	e.statusIs(keyA, id, "STATUS_CANCEL")
	if st := e.state(id); st != adapters.StateExpired {
		t.Fatalf("ledger state %s; want expired", st)
	}
	if b := e.balance(keyA); b != bal0 {
		t.Fatalf("balance after expiry %s; want refunded %s", b, bal0)
	}
	if _, b := e.legacy(keyA, "action", "getActiveActivations"); !strings.Contains(b, "NO_ACTIVATIONS") {
		t.Fatalf("expired order still active: %s", b)
	}
}

// TestLifecycleRetry: code, another code, finish, through the gateway.
func TestLifecycleRetry(t *testing.T) {
	e := newEnv(t)
	id := e.buy(keyA, "service", "tg", "country", "187")
	e.statusIs(keyA, id, "STATUS_WAIT_CODE")
	e.clock.Advance(5 * time.Second)
	var first string
	e.eventually("first code", func() bool {
		_, first = e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(first, "STATUS_OK:")
	})
	code1 := strings.TrimPrefix(first, "STATUS_OK:")
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "3"); b != "ACCESS_RETRY_GET" {
		t.Fatalf("status 3 = %q", b)
	}
	e.statusIs(keyA, id, "STATUS_WAIT_RETRY:"+code1)
	e.clock.Advance(5 * time.Second)
	var second string
	tries := 0
	e.eventually("second code", func() bool {
		_, second = e.legacy(keyA, "action", "getStatus", "id", id)
		if tries++; tries%10 == 0 {
			// A poll round in flight when the clock moved may have put the
			// order's next poll an interval after it: let time pass.
			e.clock.Advance(time.Second)
		}
		return strings.HasPrefix(second, "STATUS_OK:") && second != first
	})
	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "6"); b != "ACCESS_ACTIVATION" {
		t.Fatalf("status 6 = %q", b)
	}
	if st := e.state(id); st != adapters.StateFinished {
		t.Fatalf("ledger state %s; want finished", st)
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	o, _ := e.store.Get(context.Background(), n)
	if len(o.Codes) != 2 || o.Codes[0].Code != code1 || "STATUS_OK:"+o.Codes[1].Code != second {
		t.Fatalf("ledger codes %+v; want %s then %s", o.Codes, code1, second)
	}
}

// TestDurability: orders bought before a restart are answered by the new
// gateway with the same ids and states, and still receive their codes.
func TestDurability(t *testing.T) {
	e := newEnv(t)
	done := e.buy(keyA, "service", "tg", "country", "187")
	withCode := e.buy(keyA, "service", "wa", "country", "16")
	e.clock.Advance(5 * time.Second)
	e.eventually("codes", func() bool {
		_, a := e.legacy(keyA, "action", "getStatus", "id", done)
		_, b := e.legacy(keyA, "action", "getStatus", "id", withCode)
		return strings.HasPrefix(a, "STATUS_OK:") && strings.HasPrefix(b, "STATUS_OK:")
	})
	if _, b := e.legacy(keyA, "action", "setStatus", "id", done, "status", "6"); b != "ACCESS_ACTIVATION" {
		t.Fatal(b)
	}
	waiting := e.buy(keyB, "service", "go", "country", "0")
	before := map[string]string{}
	for _, c := range []struct{ key, id string }{{keyA, done}, {keyA, withCode}, {keyB, waiting}} {
		_, before[c.id] = e.legacy(c.key, "action", "getStatus", "id", c.id)
	}
	_, activeBefore := e.legacy(keyA, "action", "getActiveActivations")

	e.restart()

	for _, c := range []struct{ key, id string }{{keyA, done}, {keyA, withCode}, {keyB, waiting}} {
		if _, b := e.legacy(c.key, "action", "getStatus", "id", c.id); b != before[c.id] {
			t.Errorf("order %s after restart: %q; before %q", c.id, b, before[c.id])
		}
	}
	if _, b := e.legacy(keyA, "action", "getActiveActivations"); b != activeBefore {
		t.Errorf("active list after restart:\n%s\nbefore:\n%s", b, activeBefore)
	}
	// The poller resumed the waiting order from the ledger.
	e.clock.Advance(5 * time.Second)
	e.eventually("code after restart", func() bool {
		_, b := e.legacy(keyB, "action", "getStatus", "id", waiting)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	next, _ := strconv.Atoi(e.buy(keyA, "service", "tg", "country", "187"))
	if last, _ := strconv.Atoi(waiting); next <= last {
		t.Fatalf("id after restart %d; want greater than %d", next, last)
	}
}

// TestTenantIsolation: every order action on another tenant's id answers
// NO_ACTIVATION, exactly like an unknown id, and changes nothing.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	coded := e.buy(keyA, "service", "wa", "country", "16")
	e.clock.Advance(5 * time.Second)
	e.eventually("code", func() bool {
		_, b := e.legacy(keyA, "action", "getStatus", "id", coded)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	// Bought after the clock moved: its SMS is due 5 s from now, and the
	// clock stays put, so it is still waiting at the end of the test.
	waiting := e.buy(keyA, "service", "tg", "country", "187")
	actions := [][]string{
		{"action", "getStatus"}, {"action", "getStatusV2"}, {"action", "getFullSms"},
		{"action", "setStatus", "status", "1"}, {"action", "setStatus", "status", "3"},
		{"action", "setStatus", "status", "6"}, {"action", "setStatus", "status", "8"},
		{"action", "setStatus", "status", "42"},
	}
	for _, id := range []string{waiting, coded} {
		stBefore := e.state(id)
		for _, a := range actions {
			params := append(append([]string{}, a...), "id", id)
			if _, b := e.legacy(keyB, params...); b != "NO_ACTIVATION" {
				t.Errorf("tenant b %v on a's order %s = %q; want NO_ACTIVATION", a, id, b)
			}
		}
		if st := e.state(id); st != stBefore {
			t.Errorf("a's order %s changed %s → %s by b's calls", id, stBefore, st)
		}
	}
	if _, b := e.legacy(keyB, "action", "getActiveActivations"); b != `{"status":"error","error":"NO_ACTIVATIONS"}` {
		t.Errorf("tenant b sees active orders: %s", b)
	}
	_, b := e.legacy(keyA, "action", "getActiveActivations")
	if !strings.Contains(b, `"activationId":"`+waiting+`"`) || !strings.Contains(b, `"activationId":"`+coded+`"`) {
		t.Errorf("tenant a's active list lacks its orders: %s", b)
	}
}

// TestHealthz answers 200 once serving, and unknown paths 404.
func TestHealthz(t *testing.T) {
	e := newEnv(t)
	if s, b := e.get("/healthz"); s != 200 || b != "ok" {
		t.Fatalf("/healthz = %d %q", s, b)
	}
	if s, _ := e.get("/nope"); s != 404 {
		t.Fatalf("/nope = %d; want 404", s)
	}
}
