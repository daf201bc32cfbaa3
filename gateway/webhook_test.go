package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgate/config"
	"smsgate/gateway/events"
	wh "smsgate/gateway/webhook"
	"smsgate/ledger"
)

// receiver is a tenant's webhook endpoint: it checks every request's
// signature and records, in arrival order, the deliveries it accepted.
type receiver struct {
	t      *testing.T
	secret string
	srv    *httptest.Server
	down   atomic.Bool   // answer 503 without recording
	hang   chan struct{} // non-nil: hold every request until closed
	inHang chan struct{} // a request is being held (hang mode)

	mu       sync.Mutex
	got      []delivered    // accepted, in order; guarded by mu
	times    map[string]int // accepted deliveries per event id; guarded by mu
	badSigs  int            // guarded by mu
	attempts int            // every request; guarded by mu
}

// delivered is one accepted delivery.
type delivered struct {
	id   string // X-Smsgate-Event-Id
	body []byte
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, times: map[string]int{}, inHang: make(chan struct{}, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, sig, id := req.Header.Get(wh.HeaderTimestamp), req.Header.Get(wh.HeaderSignature), req.Header.Get(wh.HeaderEventID)
	r.mu.Lock()
	r.attempts++
	if !wh.Verify(r.secret, ts, body, sig) || id == "" || ts == "" || req.Method != "POST" {
		r.badSigs++
	}
	r.mu.Unlock()
	if r.hang != nil {
		r.inHang <- struct{}{}
		select {
		case <-r.hang:
		case <-req.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, delivered{id: id, body: body})
	r.times[id]++
	r.mu.Unlock()
}

func (r *receiver) snapshot() ([]delivered, map[string]int, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	times := make(map[string]int, len(r.times))
	for k, v := range r.times {
		times[k] = v
	}
	return append([]delivered(nil), r.got...), times, r.badSigs, r.attempts
}

// webhookEnv is a gateway whose tenants a and b post to ra and rb
// (b in SMS-Activate's format).
func webhookEnv(t *testing.T, ra, rb *receiver, timeout time.Duration) *env {
	return unifiedEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		c.Tenants[0].WebhookURL, c.Tenants[0].WebhookSecret = ra.srv.URL+"/hook", config.Secret(ra.secret)
		c.Tenants[1].WebhookURL, c.Tenants[1].WebhookSecret = rb.srv.URL+"/hook", config.Secret(rb.secret)
		c.Tenants[1].WebhookFormat = "smsactivate"
		c.Webhooks.Timeout = timeout
	}})
}

// webhooksSettled waits until no webhook action of the tenant is due at
// the manual clock's now: the worker has tried all it could.
func (e *env) webhooksSettled(tenant string) []ledger.Action {
	e.t.Helper()
	var list []ledger.Action
	e.eventually("webhook worker caught up", func() bool {
		var err error
		list, err = e.store.ActionsOf(context.Background(), tenant, ledger.ActWebhook, 0, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, a := range list {
			if a.State == ledger.ActionPending && !a.NextAt.After(e.clock.Now()) {
				return false
			}
		}
		return true
	})
	return list
}

// TestWebhooksReceiverDownThenUp: acceptance 3 and 4 for webhooks. Tenant
// a's receiver is down for two minutes of the manual clock while its
// orders make events; then up. Every event is delivered exactly once
// (by X-Smsgate-Event-Id), in order per order, every request carries a
// valid signature, and tenant b's receiver (SMS-Activate format) gets
// only b's code. The clock is moved past each backoff instead of
// waiting two real minutes.
func TestWebhooksReceiverDownThenUp(t *testing.T) {
	ra, rb := newReceiver(t, "secret-of-tenant-a-0123"), newReceiver(t, "secret-of-tenant-b-4567")
	e := webhookEnv(t, ra, rb, 5*time.Second)
	ra.down.Store(true)

	pushScenario(t, e, e.deliver)
	bid := e.buy(keyB, "service", "tg", "country", "187")
	e.pollerCaughtUp()
	e.deliver(bid)
	e.clock.Advance(time.Second) // polls are jittered past the interval
	e.statusIsPrefix(keyB, bid, "STATUS_OK:")

	// Down for two minutes: each due retry fails.
	for step := 0; step < 4; step++ {
		list := e.webhooksSettled("a")
		for _, a := range list {
			if a.State != ledger.ActionPending {
				t.Fatalf("while the receiver is down: %+v", a)
			}
		}
		e.clock.Advance(30 * time.Second)
	}
	if _, _, _, n := ra.snapshot(); n == 0 {
		t.Fatal("no delivery was attempted while the receiver was down")
	}

	// Up: move the clock past the longest backoff so far until all is in.
	ra.down.Store(false)
	want := e.lastEvent("a")
	for step := 0; step < 20; step++ {
		e.webhooksSettled("a")
		if got, _, _, _ := ra.snapshot(); int64(len(got)) >= want {
			break
		}
		e.clock.Advance(2 * time.Minute)
	}
	got, times, bad, attempts := ra.snapshot()
	if bad != 0 {
		t.Fatalf("%d of %d requests had a bad signature or headers", bad, attempts)
	}
	if int64(len(got)) != e.lastEvent("a") {
		t.Fatalf("receiver a got %d deliveries; the ledger has %d events", len(got), e.lastEvent("a"))
	}
	lastSeq := map[int64]int64{}
	for i := int64(1); i <= e.lastEvent("a"); i++ {
		if id := "a:" + strconv.FormatInt(i, 10); times[id] != 1 {
			t.Fatalf("event %s delivered %d times; want exactly once", id, times[id])
		}
	}
	for _, d := range got {
		var v events.View
		if err := json.Unmarshal(d.body, &v); err != nil || v.Tenant != "a" || d.id != "a:"+strconv.FormatInt(v.Seq, 10) {
			t.Fatalf("delivery %s: %s (%v)", d.id, d.body, err)
		}
		if v.Seq <= lastSeq[v.OrderID] {
			t.Fatalf("order %d: event %d delivered after %d", v.OrderID, v.Seq, lastSeq[v.OrderID])
		}
		lastSeq[v.OrderID] = v.Seq
	}
	var log struct {
		Deliveries []struct {
			EventID  string `json:"eventId"`
			State    string `json:"state"`
			Attempts int    `json:"attempts"`
		} `json:"deliveries"`
	}
	e.api("GET", "/api/sms/admin/tenants/a/webhooks", adminKey, nil).into(t, &log)
	if int64(len(log.Deliveries)) != e.lastEvent("a") {
		t.Fatalf("delivery log has %d rows", len(log.Deliveries))
	}
	for _, d := range log.Deliveries {
		if d.State != "done" || d.Attempts < 1 || !strings.HasPrefix(d.EventID, "a:") {
			t.Fatalf("delivery log row %+v", d)
		}
	}

	// Tenant b: its code only, in SMS-Activate's body; none of a's.
	e.webhooksSettled("b")
	bgot, _, bbad, _ := rb.snapshot()
	if bbad != 0 || len(bgot) != 1 || !strings.HasPrefix(bgot[0].id, "b:") {
		t.Fatalf("receiver b: %d deliveries, %d bad: %+v", len(bgot), bbad, bgot)
	}
	var sa wh.SMSActivateBody
	if err := json.Unmarshal(bgot[0].body, &sa); err != nil || strconv.FormatInt(sa.ActivationID, 10) != bid || sa.Code == "" ||
		sa.Service != "tg" || sa.Country != 187 || sa.ReceivedAt == "" {
		t.Fatalf("SMS-Activate body %s (%v)", bgot[0].body, err)
	}
}

// statusIsPrefix waits until getStatus of id starts with prefix.
func (e *env) statusIsPrefix(key, id, prefix string) {
	e.t.Helper()
	e.eventually("getStatus "+prefix, func() bool {
		_, body := e.legacy(key, "action", "getStatus", "id", id)
		return strings.HasPrefix(body, prefix)
	})
}

// TestWebhookHangingReceiverDoesNotDelayOthers: tenant a's receiver holds
// every request (its POST timeout is a minute); tenant b's delivery goes
// out while a's is still held.
func TestWebhookHangingReceiverDoesNotDelayOthers(t *testing.T) {
	ra, rb := newReceiver(t, "secret-of-tenant-a-0123"), newReceiver(t, "secret-of-tenant-b-4567")
	ra.hang = make(chan struct{})
	e := webhookEnv(t, ra, rb, time.Minute)
	t.Cleanup(func() { close(ra.hang) }) // before the servers close (cleanups run last first)

	e.buy(keyA, "service", "tg", "country", "187")
	select {
	case <-ra.inHang:
	case <-time.After(10 * time.Second):
		t.Fatal("tenant a's delivery never reached its receiver")
	}
	bid := e.buy(keyB, "service", "tg", "country", "187")
	e.pollerCaughtUp()
	e.deliver(bid)
	e.clock.Advance(time.Second) // polls are jittered past the interval
	start := time.Now()
	e.eventually("tenant b's delivery while a's hangs", func() bool {
		got, _, _, _ := rb.snapshot()
		return len(got) == 1
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("b's delivery took %v", took)
	}
	select {
	case <-ra.hang:
		t.Fatal("a's request was released early: the test proves nothing")
	default:
	}
	if got, _, _, _ := ra.snapshot(); len(got) != 0 {
		t.Fatalf("a's receiver accepted %d while hanging", len(got))
	}
}
