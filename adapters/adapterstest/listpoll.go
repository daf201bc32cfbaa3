package adapterstest

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
)

// listOrders is how many orders the list case holds: more than two of the
// largest page any skin serves (HeroSMS: 100), so paging is exercised.
const listOrders = 250

// listPoll checks an adapters.ListPoller against Check: one list round
// (its pages, a handful of requests, not one per order) reports every
// active order with what Check says of it (its state and latest code),
// through waiting, code received, another code asked and finished.
func (s *suite) listPoll(t *testing.T) {
	h := s.start(t, simulator.Config{CodeDelay: -1, Balance: 1_000_000 * adapters.Micro})
	lp, ok := h.Platform.(adapters.ListPoller)
	if !ok {
		t.Skip("the adapter has no list of active orders with codes")
	}
	before := total(h.Market.Requests())
	if _, err := lp.PollActive(s.ctx); errors.Is(err, errors.ErrUnsupported) {
		if n := total(h.Market.Requests()) - before; n != 0 {
			t.Fatalf("a platform without a list got %d requests for it", n)
		}
		t.Skip("the platform has no list of active orders")
	}
	h.Market.SetAllStock(10 * listOrders)
	ids := make([]string, listOrders)
	phones := make([]string, listOrders)
	for i := range ids {
		p := s.buy(t, h)
		ids[i], phones[i] = p.UpstreamID, p.Phone
	}
	mids := marketIDs(t, h, phones)
	// A code on every third order; then another asked on the first one
	// that has a code (retry waiting), a second code on the next one, and
	// one order finished (gone from the active list).
	for i := 0; i < listOrders; i += 3 {
		if _, err := h.Market.DeliverSMS(mids[i], "Your Telegram code: "+strconv.Itoa(100000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if !s.p.CanRequestAnother {
		t.Fatal("a list poller must take another code (the list case needs it)")
	}
	if err := h.Platform.RequestAnother(s.ctx, ids[0]); err != nil {
		t.Fatalf("another: %v", err)
	}
	if err := h.Platform.RequestAnother(s.ctx, ids[3]); err != nil {
		t.Fatalf("another: %v", err)
	}
	if _, err := h.Market.DeliverSMS(mids[3], "Your Telegram code: 777999"); err != nil {
		t.Fatal(err)
	}
	if err := h.Platform.Finish(s.ctx, ids[6]); err != nil {
		t.Fatalf("finish: %v", err)
	}
	h.Clock.Advance(time.Second)

	before = total(h.Market.Requests())
	list, err := lp.PollActive(s.ctx)
	if err != nil {
		t.Fatalf("poll active: %v", err)
	}
	if n := total(h.Market.Requests()) - before; n < 1 || n > listOrders/50 {
		t.Fatalf("one list round of %d orders took %d requests; want its pages only", listOrders, n)
	}
	got := map[string]adapters.Update{}
	for _, a := range list {
		if _, dup := got[a.UpstreamID]; dup {
			t.Fatalf("order %s listed twice", a.UpstreamID)
		}
		got[a.UpstreamID] = a.Update
	}
	for i, id := range ids {
		u, listed := got[id]
		want := s.check(t, h, id)
		if !want.State.Active() {
			if listed && u.State.Active() {
				t.Fatalf("order %d (%s) listed as %+v; Check says %+v", i, id, u, want)
			}
			continue
		}
		if !listed {
			t.Fatalf("active order %d (%s) missing from the list; Check says %+v", i, id, want)
		}
		if u.State != want.State || lastCode(u) != lastCode(want) {
			t.Fatalf("order %d (%s): list says %+v; Check says %+v", i, id, u, want)
		}
	}
	// Where a platform shows no wait for another code (5SIM: further SMS
	// join the open order, which stays as it was), the order shows its
	// first code still.
	if u := got[ids[0]]; u.State != adapters.StateRetryWaiting &&
		(u.State != adapters.StateCodeReceived || lastCode(u) != "100000") {
		t.Fatalf("order with another asked listed as %+v; want retry_waiting", u)
	}
	if u := got[ids[3]]; u.State != adapters.StateCodeReceived || lastCode(u) != "777999" {
		t.Fatalf("order with a second code listed as %+v; want code_received 777999", u)
	}
}

// marketIDs finds the market orders behind purchases by their phones:
// an upstream id need not be the market's (SMS-REG numbers its own
// operations).
func marketIDs(t *testing.T, h *Harness, phones []string) []int64 {
	t.Helper()
	byPhone := map[string]int64{}
	for _, o := range h.Market.Active() {
		if _, dup := byPhone[o.Phone]; dup {
			t.Fatalf("two active orders hold %s", o.Phone)
		}
		byPhone[o.Phone] = o.ID
	}
	out := make([]int64, len(phones))
	for i, p := range phones {
		id, ok := byPhone[p]
		if !ok {
			t.Fatalf("purchase %d: no active market order holds %s", i, p)
		}
		out[i] = id
	}
	return out
}

func lastCode(u adapters.Update) string {
	if len(u.SMS) == 0 {
		return ""
	}
	return u.SMS[len(u.SMS)-1].Code
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
