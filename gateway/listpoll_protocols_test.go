package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters/fivesim"
	"smsgate/adapters/onlinesim"
	"smsgate/config"
)

// listProtocol is a platform whose protocol lists its active orders with
// their codes (issue 19), as the simulator counts its calls.
type listProtocol struct {
	typ     string // adapter type, also the platform code here
	country string // legacy country id of a country the platform sells
	list    string // the list call's name in the simulator's counts
	status  string // the per-order status call's name
	pages   int    // requests of one round over listedOrders orders
}

// listedOrders is how many orders each platform holds in the test.
const listedOrders = 200

var listProtocols = []listProtocol{
	// The order history, newest first, paged by Total (protocols/5sim.md §3.9).
	{"fivesim", "187", "orders", "check", (listedOrders + fivesim.HistoryPage - 1) / fivesim.HistoryPage},
	// getState without a tzid (protocols/onlinesim.md §3.4): one call, and
	// one more for the full texts in a round that sees new SMS.
	{"onlinesim", "187", onlinesim.ListRoute, "getState", 2},
	// getOperations?opstate=active (protocols/smsreg.md §2.10); SMS-REG
	// sells in Russia.
	{"smsreg", "0", "getOperations", "getState", 1},
}

// TestListPollingProtocols: for each platform besides SMS-Activate whose
// protocol lists active orders with their codes, 200 orders bought
// through the gateway and a code delivered upstream to every fourth: the
// codes reach the client through getStatus within a few poll intervals,
// and in every interval the platform receives at most one list round and
// no per-order status call.
func TestListPollingProtocols(t *testing.T) {
	for _, lp := range listProtocols {
		t.Run(lp.typ, func(t *testing.T) { listPollingProtocol(t, lp) })
	}
}

func listPollingProtocol(t *testing.T, lp listProtocol) {
	e := newEnvWith(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		c.Platforms = []config.Platform{{
			Code: lp.typ, Type: lp.typ, URL: "sim", PollInterval: time.Second,
			// A purchase on SMS-REG waits for the number within this, on a
			// busy machine under -race: a timeout would trip the breaker
			// and fail the purchases after it.
			Timeout: 10 * time.Second,
			Rate:    -1, // unlimited: the purchases are not what is measured
		}}
	}})
	m := e.sims[lp.typ].Market
	m.SetAllStock(10 * listedOrders)
	ids := buyMany(t, e, listedOrders, "service", "tg", "country", lp.country, "platform", lp.typ)

	// One interval for the first round, with every order waiting.
	e.clock.Advance(time.Second)
	e.pollerCaughtUp()

	// A code upstream on every fourth order (found by its phone: an
	// upstream id need not be the market's), then intervals until every
	// code is through; a round read just before an SMS serves its interval.
	byPhone := map[string]int64{}
	for _, o := range m.Active() {
		byPhone[o.Phone] = o.ID
	}
	want := map[string]string{} // gateway id → code
	for i := 0; i < len(ids); i += 4 {
		mid, ok := byPhone[e.order(ids[i]).Phone]
		if !ok {
			t.Fatalf("order %s: no active market order holds its number", ids[i])
		}
		o, err := m.DeliverSMS(mid, "")
		if err != nil {
			t.Fatal(err)
		}
		want[ids[i]] = o.LastCode()
	}
	for interval := 1; ; interval++ {
		before := m.Requests()
		e.clock.Advance(time.Second)
		e.pollerCaughtUp()
		d := diffCalls(before, m.Requests())
		t.Logf("%s, interval %d: %v", lp.typ, interval, d)
		if d[lp.list] < 1 || d[lp.list] > int64(lp.pages) || d[lp.status] != 0 {
			t.Fatalf("interval %d with %d active orders: %v; want one list round (%d %s at most) and no %s",
				interval, len(ids), d, lp.pages, lp.list, lp.status)
		}
		missing := 0
		for id, code := range want {
			if _, b := e.legacy(keyA, "action", "getStatus", "id", id); b != "STATUS_OK:"+code {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if interval == 3 {
			t.Fatalf("after %d intervals %d of %d codes have not reached the client", interval, missing, len(want))
		}
	}
	for i, id := range ids {
		if _, ok := want[id]; ok {
			continue
		}
		if _, b := e.legacy(keyA, "action", "getStatus", "id", id); b != "STATUS_WAIT_CODE" {
			t.Fatalf("order %d without a code: getStatus = %q", i, b)
		}
	}
}

// buyMany buys n numbers through the legacy API, a few at a time (a
// purchase on SMS-REG waits for the number to be assigned), and returns
// their gateway ids in no particular order.
func buyMany(t *testing.T, e *env, n int, kv ...string) []string {
	t.Helper()
	q := url.Values{"api_key": {keyA}, "action": {"getNumber"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u := e.url + "/stubs/handler_api.php?" + q.Encode()
	var (
		mu   sync.Mutex
		ids  []string
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				id, err := buyOne(u)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids = append(ids, id)
				}
				mu.Unlock()
			}
		}()
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d purchases failed; first: %v", len(errs), n, errs[0])
	}
	return ids
}

func buyOne(u string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(string(b), "ACCESS_NUMBER:")
	id, _, _ := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", fmt.Errorf("getNumber = %q", b)
	}
	return id, nil
}
