package fivesim_test

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/fivesim"
)

// TestPollActiveStopsAtThePast: the order history holds every order ever
// bought, so a list round must stop where no open order can be: at an
// order that expired before the newest order was created. 150 orders
// bought and timed out, then 20 open ones: one page (the open 20 and 80
// timed out), the open ones as Check reads them.
func TestPollActiveStopsAtThePast(t *testing.T) {
	f := newFixture(t, fivesim.SkinOptions{}, -1)
	f.market.SetAllStock(1000)
	for range 150 {
		if _, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"}); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(16 * time.Minute) // past the 15-minute lifetime
	var open []string
	for i := range 20 {
		p, err := f.client.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, p.UpstreamID)
		if i%2 == 0 {
			if _, err := f.market.DeliverSMS(adapterstest.MarketID(t, p.UpstreamID), "Telegram code "+strconv.Itoa(424200+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.rec.Take()
	list, err := f.client.PollActive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.Take()
	if len(reqs) != 1 || reqs[0].Path != "/v1/user/orders" {
		t.Fatalf("the round sent %d requests %+v; want one page of /v1/user/orders", len(reqs), reqs)
	}
	want := map[string]string{"category": "activation", "limit": "100", "offset": "0", "order": "id", "reverse": "true"}
	if !maps.Equal(reqs[0].Query, want) {
		t.Fatalf("query %v; want %v", reqs[0].Query, want)
	}
	got := map[string]adapters.Update{}
	for _, a := range list {
		got[a.UpstreamID] = a.Update
	}
	for i, id := range open {
		u, ok := got[id]
		c, err := f.client.Check(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || u.State != c.State || len(u.SMS) != len(c.SMS) || (len(c.SMS) > 0 && u.SMS[0] != c.SMS[0]) {
			t.Fatalf("open order %d: listed %v %+v; Check says %+v", i, ok, u, c)
		}
	}
	for _, u := range got {
		if u.State == adapters.StateExpired {
			return
		}
	}
	t.Fatal("the page's timed-out orders are not listed as expired")
}

// TestPollActivePagesByTotal: a platform that answers fewer orders than
// asked (its own page cap) is still read to the end of the history by
// its Total.
func TestPollActivePagesByTotal(t *testing.T) {
	order := func(id int) string {
		return `{"id":` + strconv.Itoa(id) + `,"phone":"+79000381454","operator":"beeline","product":"telegram","price":21,` +
			`"status":"RECEIVED","expires":"2030-01-01T00:15:00Z","created_at":"2030-01-01T00:00:00Z","sms":null,"country":"russia"}`
	}
	pages := map[string]string{
		"0": `{"Data":[` + order(5) + `,` + order(4) + `],"ProductNames":[],"Statuses":[],"Total":5}`,
		"2": `{"Data":[` + order(3) + `,` + order(2) + `],"ProductNames":[],"Statuses":[],"Total":5}`,
		"4": `{"Data":[` + order(1) + `,{"id":"x"}],"ProductNames":[],"Statuses":[],"Total":5}`,
	}
	script := adapterstest.NewScript(func(ctx *fasthttp.RequestCtx) string {
		return string(ctx.Path()) + "?" + string(ctx.QueryArgs().Peek("offset"))
	})
	for offset, body := range pages {
		script.Reply("/v1/user/orders?"+offset, 200, body)
	}
	srv := adapterstest.ServeHandler(t, script.Handle)
	c, err := fivesim.New(fivesim.Options{BaseURL: srv, Key: testKey, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.PollActive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Fatalf("listed %d orders %+v; want 5 (the unreadable entry left out)", len(list), list)
	}
}
