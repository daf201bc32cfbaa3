package gateway_test

import (
	"context"

	"fmt"
	"smsgate/adapters/simulator"
	"smsgate/config"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// TestTransitionsOverHTTP walks every (state, client input) pair through
// the real front ends: each legacy setStatus number and each unified
// status on an order really in that state at the simulated platform.
// Allowed ones land (the protocol's answer, the new state in the ledger);
// refused ones answer BAD_STATUS / HTTP 409, call no platform and change
// nothing (state, version, wallet).
func TestTransitionsOverHTTP(t *testing.T) {
	e := walletEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		// sa (SMS-Activate: no ban call) for every state but banned; fs
		// (5SIM: bans) for banned orders and for the ban input.
		c.Platforms = []config.Platform{c.Platforms[0],
			{Code: "fs", Type: "fivesim", URL: "sim", Currency: "RUB", PollInterval: time.Second, Timeout: 2 * time.Second}}
	}, market: func(mc *simulator.Config) { mc.Balance = 1_000_000 * adapters.Micro }})
	e.fund("a", "1000")
	const bad = "refused"
	type input struct {
		name   string
		legacy string // setStatus number; "" = unified
		status string // unified status
		answer string // legacy answer when allowed
	}
	inputs := []input{
		{"legacy 1", "1", "", "ACCESS_READY"}, {"legacy 3", "3", "", "ACCESS_RETRY_GET"},
		{"legacy 6", "6", "", "ACCESS_ACTIVATION"}, {"legacy 8", "8", "", "ACCESS_CANCEL"},
		{"unified ready", "", "ready", ""}, {"unified retry", "", "retry", ""}, {"unified complete", "", "complete", ""},
		{"unified cancel", "", "cancel", ""}, {"unified ban", "", "ban", ""},
	}
	// want[state][input] is the state after the input, or bad. The
	// simulated SMS-Activate has no ban call: ban is refused everywhere.
	want := map[adapters.State][]adapters.State{
		adapters.StateWaiting:      {"waiting", bad, bad, "cancelled", "waiting", bad, bad, "cancelled", bad},
		adapters.StateCodeReceived: {bad, "retry_waiting", "finished", bad, bad, "retry_waiting", "finished", bad, bad},
		adapters.StateRetryWaiting: {"retry_waiting", bad, "finished", bad, "retry_waiting", bad, "finished", bad, bad},
		adapters.StateFinished:     {bad, bad, bad, bad, bad, bad, bad, bad, bad},
		adapters.StateCancelled:    {bad, bad, bad, bad, bad, bad, bad, bad, bad},
		adapters.StateExpired:      {bad, bad, bad, bad, bad, bad, bad, bad, bad},
		adapters.StateBanned:       {bad, bad, bad, bad, bad, bad, bad, bad, bad},
	}
	// Orders in each state, one per input. Expired ones first: their
	// clock jump would expire the others.
	orders := map[adapters.State][]string{}
	buyAt := func(platform string) string {
		id, _ := e.buyV2(keyA, "service", "tg", "country", "187", "platform", platform)
		return id
	}
	buy := func() string { return buyAt("sa") }
	for range inputs {
		orders[adapters.StateExpired] = append(orders[adapters.StateExpired], buy())
	}
	e.clock.Advance(21 * time.Minute)
	for _, id := range orders[adapters.StateExpired] {
		e.statusIs(keyA, id, "STATUS_CANCEL")
	}
	for _, s := range []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting,
		adapters.StateFinished, adapters.StateCancelled} {
		for range inputs {
			orders[s] = append(orders[s], buy())
		}
	}
	for range inputs {
		orders[adapters.StateBanned] = append(orders[adapters.StateBanned], buyAt("fs"))
	}
	// The ban input where the platform takes it: one fs order per active state.
	banned := map[adapters.State]string{}
	for _, s := range []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived} {
		banned[s] = buyAt("fs")
	}
	e.clock.Advance(2*time.Minute + time.Second) // past the cancel guard
	for _, s := range []adapters.State{adapters.StateCodeReceived, adapters.StateRetryWaiting, adapters.StateFinished} {
		for _, id := range orders[s] {
			e.deliver(id)
		}
	}
	e.deliver(banned[adapters.StateCodeReceived])
	for _, id := range orders[adapters.StateBanned] {
		o, _ := e.store.Get(context.Background(), atoi(id))
		if _, err := e.sims[o.Platform].Market.Ban(atoi(o.UpstreamID)); err != nil {
			t.Fatal(err)
		}
	}
	for s, ids := range orders {
		for _, id := range ids {
			id := id
			e.eventually(fmt.Sprintf("order %s reaching %s", id, s), func() bool {
				o, err := e.store.Get(context.Background(), atoi(id))
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case s == adapters.StateRetryWaiting && o.State == adapters.StateCodeReceived:
					e.legacy(keyA, "action", "setStatus", "id", id, "status", "3")
				case s == adapters.StateFinished && o.State == adapters.StateCodeReceived:
					e.legacy(keyA, "action", "setStatus", "id", id, "status", "6")
				case s == adapters.StateCancelled && o.State == adapters.StateWaiting:
					e.legacy(keyA, "action", "setStatus", "id", id, "status", "8")
				}
				return o.State == s
			})
		}
	}

	for s, id := range banned {
		e.eventually("fs order reaching "+string(s), func() bool { return e.state(id) == s })
		r := e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": atoi(id), "status": "ban"})
		if r.Status != 200 || e.state(id) != adapters.StateBanned {
			t.Errorf("%s on fs + unified ban = HTTP %d, state %s; want banned", s, r.Status, e.state(id))
		}
	}

	calls := func() int64 { return e.sims["sa"].Market.Calls("") + e.sims["fs"].Market.Calls("") }
	for s, ids := range orders {
		for i, in := range inputs {
			id := ids[i]
			before, _ := e.store.Get(context.Background(), atoi(id))
			w0, c0 := e.wallet(keyA), calls()
			var got string
			if in.legacy != "" {
				_, got = e.legacy(keyA, "action", "setStatus", "id", id, "status", in.legacy)
			} else {
				r := e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": atoi(id), "status": in.status})
				got = fmt.Sprintf("HTTP %d code %d", r.Status, r.Code)
				if r.Status == 200 {
					got = "ok"
				}
			}
			after, _ := e.store.Get(context.Background(), atoi(id))
			w := want[s][i]
			if w == bad {
				wantAnswer := "BAD_STATUS"
				if in.legacy == "" {
					wantAnswer = "HTTP 409 code 1006"
				}
				w1 := e.wallet(keyA)
				if got != wantAnswer || after.State != s || after.Version != before.Version || calls() != c0 ||
					w1.Balance != w0.Balance || w1.Reserved != w0.Reserved {
					t.Errorf("%s + %s = %q, state %s, version %d→%d, %d calls, wallet %s/%s→%s/%s; want %s and nothing changed",
						s, in.name, got, after.State, before.Version, after.Version, calls()-c0, w0.Balance, w0.Reserved, w1.Balance, w1.Reserved, wantAnswer)
				}
				continue
			}
			wantAnswer := in.answer
			if in.legacy == "" {
				wantAnswer = "ok"
			}
			if got != wantAnswer || after.State != w {
				t.Errorf("%s + %s = %q, state %s; want %q, %s", s, in.name, got, after.State, wantAnswer, w)
			}
			if w == adapters.StateCancelled && after.Wallet != ledger.WalletReleased {
				t.Errorf("%s + %s: wallet %q; want released", s, in.name, after.Wallet)
			}
		}
	}
	checkJournal(t, e.wallet(keyA))
}
