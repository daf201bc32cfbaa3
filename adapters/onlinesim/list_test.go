package onlinesim_test

import (
	"context"
	"maps"
	"testing"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/onlinesim"
	"smsgate/adapters/simulator"
)

// TestPollActiveCalls: a list round is one getState without a tzid (codes)
// and, only when an operation shows codes whose texts it has not read, a
// second (full texts); the texts pair with the codes as Check pairs them.
func TestPollActiveCalls(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, onlinesim.SkinOptions{}, simulator.Config{CodeDelay: -1})
	var ids []string
	for range 3 {
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.UpstreamID)
	}
	const text = "Your Telegram code: 424242"
	if _, err := f.market.DeliverSMS(adapterstest.MarketID(t, ids[1]), text); err != nil {
		t.Fatal(err)
	}
	round := func(what string, wantCalls int) map[string]adapters.Update {
		t.Helper()
		f.rec.Take()
		list, err := f.client.PollActive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reqs := f.rec.Take()
		if len(reqs) != wantCalls {
			t.Fatalf("%s: %d requests; want %d", what, len(reqs), wantCalls)
		}
		for i, r := range reqs {
			want := map[string]string{"apikey": testKey, "message_to_code": "1", "msg_list": "1"}
			if i == 1 {
				want["message_to_code"] = "0"
			}
			if r.Path != "/api/getState.php" || !maps.Equal(r.Query, want) {
				t.Fatalf("%s: request %d %s %v; want getState %v", what, i, r.Path, r.Query, want)
			}
		}
		got := map[string]adapters.Update{}
		for _, a := range list {
			got[a.UpstreamID] = a.Update
		}
		return got
	}
	got := round("a new SMS", 2)
	if u := got[ids[1]]; u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != "424242" || u.SMS[0].Text != text {
		t.Fatalf("order with its SMS listed as %+v", u)
	}
	if u, ok := got[ids[0]]; !ok || u.State != adapters.StateWaiting || len(u.SMS) != 0 {
		t.Fatalf("waiting order listed as %+v (listed: %v)", u, ok)
	}
	got = round("texts known", 1)
	if u := got[ids[1]]; len(u.SMS) != 1 || u.SMS[0].Text != text {
		t.Fatalf("second round lost the text: %+v", u)
	}
	if c, err := f.client.Check(ctx, ids[1]); err != nil || len(c.SMS) != 1 || c.SMS[0] != got[ids[1]].SMS[0] {
		t.Fatalf("Check = %+v, %v; the list said %+v", c, err, got[ids[1]])
	}
}
