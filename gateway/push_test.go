package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsgate/config"
	"smsgate/gateway/events"
	"smsgate/ledger"
)

// sseEvent is one event read from a stream.
type sseEvent struct {
	id, kind string
	view     events.View
}

// sseStream is an open GET /api/sms/events (or admin/events) read on its
// own goroutine; events arrive on ch, the end of the stream closes it.
type sseStream struct {
	t    testing.TB
	resp *http.Response
	ch   chan sseEvent
}

// openStream connects to path with key; header is name, value pairs.
func openStream(t testing.TB, base, path, key string, header ...string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("GET %s: HTTP %d, %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{t: t, resp: resp, ch: make(chan sseEvent, 1024)}
	go s.read()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) read() {
	defer close(s.ch)
	sc := bufio.NewScanner(s.resp.Body)
	var ev sseEvent
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := json.Unmarshal([]byte(data), &ev.view); err != nil {
					s.t.Errorf("event data %q: %v", data, err)
				}
				s.ch <- ev
			}
			ev, data = sseEvent{}, ""
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next is the next event, failing after within (real time).
func (s *sseStream) next(within time.Duration) sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.ch:
		if !ok {
			s.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(within):
		s.t.Fatalf("no event within %v", within)
	}
	return sseEvent{}
}

// none checks that nothing arrived so far (what the stream had buffered).
func (s *sseStream) none(what string) {
	s.t.Helper()
	select {
	case ev, ok := <-s.ch:
		if ok {
			s.t.Fatalf("%s: unexpected event %s %s of tenant %s", what, ev.id, ev.kind, ev.view.Tenant)
		}
	default:
	}
}

// eventSeqs reads n events and checks they are from..from+n-1 of tenant.
func (s *sseStream) eventSeqs(tenant string, from int64, n int) []sseEvent {
	s.t.Helper()
	out := make([]sseEvent, 0, n)
	for i := 0; i < n; i++ {
		ev := s.next(10 * time.Second)
		want := from + int64(i)
		if ev.id != strconv.FormatInt(want, 10) || ev.view.Seq != want || ev.view.Tenant != tenant || ev.kind != ev.view.Kind {
			s.t.Fatalf("event %d: id %q seq %d tenant %q kind %q/%q; want seq %d of %s", i, ev.id, ev.view.Seq, ev.view.Tenant, ev.kind, ev.view.Kind, want, tenant)
		}
		out = append(out, ev)
	}
	return out
}

// pushScenario makes five events of tenant a: two purchases, a code for
// each, a finish. deliver makes an order's SMS arrive.
func pushScenario(t *testing.T, e *env, deliver func(id string)) []string {
	t.Helper()
	id1 := e.buy(keyA, "service", "tg", "country", "187")
	id2 := e.buy(keyA, "service", "wa", "country", "187")
	for _, id := range []string{id1, id2} {
		e.pollerCaughtUp() // else a poll still running reschedules past the clock's next step
		deliver(id)
		e.clock.Advance(time.Second) // polls are jittered past the interval
		e.eventually("code of "+id, func() bool {
			_, body := e.legacy(keyA, "action", "getStatus", "id", id)
			return strings.HasPrefix(body, "STATUS_OK:")
		})
	}
	if _, body := e.legacy(keyA, "action", "setStatus", "id", id1, "status", "6"); body != "ACCESS_ACTIVATION" {
		t.Fatalf("setStatus 6 = %q", body)
	}
	return []string{id1, id2}
}

// checkResume: a stream read to event k and dropped, then reopened with
// Last-Event-ID k, gets exactly k+1… — the ones written while it was away
// and then a new one — and ?after= does the same for clients that cannot
// set headers.
func checkResume(t *testing.T, e *env, deliver func(id string)) {
	first := openStream(t, e.url, "/api/sms/events", keyA)
	ids := pushScenario(t, e, deliver)
	evs := first.eventSeqs("a", 1, 5)
	wantKinds := []string{"bought", "bought", "code", "code", "finished"}
	for i, ev := range evs {
		if ev.kind != wantKinds[i] {
			t.Fatalf("event %d is %s; want %s", i+1, ev.kind, wantKinds[i])
		}
	}
	if c := evs[2].view; c.Code == "" || strconv.FormatInt(c.OrderID, 10) != ids[0] || c.Phone == "" || c.Price == "" {
		t.Fatalf("code event %+v: want the order's code, id, phone and price", c)
	}
	const k = 2
	first.close()

	// Away: two more events (a code request on the second order is refused
	// by some platforms; a third purchase and its cancel-free finish are
	// not: use a purchase and a finish).
	if _, body := e.legacy(keyA, "action", "setStatus", "id", ids[1], "status", "6"); body != "ACCESS_ACTIVATION" {
		t.Fatalf("setStatus 6 = %q", body)
	}
	e.buy(keyA, "service", "vk", "country", "187")

	again := openStream(t, e.url, "/api/sms/events", keyA, "Last-Event-ID", strconv.Itoa(k))
	again.eventSeqs("a", k+1, 7-k)
	e.buy(keyA, "service", "ok", "country", "187")
	again.eventSeqs("a", 8, 1)
	again.none("after the new purchase")

	byQuery := openStream(t, e.url, "/api/sms/events?after=6", keyA)
	byQuery.eventSeqs("a", 7, 2)
	byQuery.none("resumed with ?after=6")

	// Tenant b's stream carries none of a's events: its first is its own.
	other := openStream(t, e.url, "/api/sms/events", keyB)
	e.buy(keyB, "service", "tg", "country", "187")
	other.eventSeqs("b", 1, 1)
}

// TestEventStreamResumeSQLite: acceptance 1 on SQLite.
func TestEventStreamResumeSQLite(t *testing.T) {
	e := newEnvDelay(t, -1)
	checkResume(t, e, e.deliver)

	// Stop ends an open stream at once (it would hold the drain for its
	// whole timeout otherwise).
	s := openStream(t, e.url, "/api/sms/events?after=8", keyA)
	start := time.Now()
	e.stop()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("stop with an open stream took %v", took)
	}
	select {
	case _, ok := <-s.ch:
		if ok {
			t.Fatal("an event after stop")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after stop")
	}
}

// TestEventStreamResumePostgres: acceptance 1 on PostgreSQL.
func TestEventStreamResumePostgres(t *testing.T) {
	c := newClusterDelay(t, 0, -1)
	a := c.start("A")
	checkResume(t, a.e, c.deliverer(a))
}

// deliverer makes the cluster's simulator send an order's SMS now.
func (c *cluster) deliverer(in *instance) func(id string) {
	return func(id string) {
		c.t.Helper()
		o, err := in.store.Get(context.Background(), atoi(id))
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := c.sim.Market.DeliverSMS(atoi(o.UpstreamID), ""); err != nil {
			c.t.Fatal(err)
		}
		c.clock.Advance(time.Second)
	}
}

// TestEventStreamAcrossInstances: a purchase through instance A reaches
// a stream held on instance B within a second (Redis pub/sub wakes B;
// B reads the event from the shared ledger), and B's stream of tenant b
// never carries tenant a's events.
func TestEventStreamAcrossInstances(t *testing.T) {
	c := newClusterDelay(t, 0, -1)
	a, b := c.start("A"), c.start("B")
	onB := openStream(t, b.url, "/api/sms/events", keyA)
	otherOnB := openStream(t, b.url, "/api/sms/events", keyB)
	// B's subscription may still be starting: the first purchase proves
	// the path, the next ones are timed.
	a.e.buy(keyA, "service", "tg", "country", "187")
	onB.eventSeqs("a", 1, 1)
	for i := int64(2); i <= 4; i++ {
		start := time.Now()
		id := a.e.buy(keyA, "service", "tg", "country", "187")
		ev := onB.next(5 * time.Second)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("purchase %s through A reached B's stream after %v; want under 1 s", id, took)
		}
		if ev.view.Seq != i || strconv.FormatInt(ev.view.OrderID, 10) != id || ev.kind != "bought" {
			t.Fatalf("B's stream: %+v; want bought %s seq %d", ev, id, i)
		}
	}
	b.e.buy(keyB, "service", "tg", "country", "187")
	if ev := otherOnB.next(5 * time.Second); ev.view.Tenant != "b" || ev.view.Seq != 1 {
		t.Fatalf("tenant b's stream: first event %+v; want b's own seq 1", ev.view)
	}
	otherOnB.none("tenant b after its own purchase")
}

// lastEvent is the tenant's highest event seq in e's ledger.
func (e *env) lastEvent(tenant string) int64 {
	e.t.Helper()
	n, err := e.store.LastEvent(context.Background(), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

var _ = ledger.EventBought

// TestEventStreamOutlivesWriteTimeout: the server's write_timeout bounds
// one response, and a stream is one long response; it must not end the
// stream. With write_timeout 100 ms and a 50 ms heartbeat, a stream open
// for ten write timeouts still delivers the next purchase. (Real time is
// what is under test here: the timeouts are the server's own.)
func TestEventStreamOutlivesWriteTimeout(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1, config: func(c *config.Config) {
		c.Server.WriteTimeout = 100 * time.Millisecond
		c.API.SSEHeartbeat = 50 * time.Millisecond
	}})
	req, _ := http.NewRequest("GET", e.url+"/api/sms/events", nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	start, beats := time.Now(), 0
	for time.Since(start) < time.Second && sc.Scan() {
		if sc.Text() == ": heartbeat" {
			beats++
		}
	}
	if beats < 5 || time.Since(start) < time.Second {
		t.Fatalf("%d heartbeats in %v (%v): the stream ended early", beats, time.Since(start), sc.Err())
	}
	id := e.buy(keyA, "service", "tg", "country", "187")
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"orderId":`+id+",") {
				t.Fatalf("event %s; want order %s", line, id)
			}
			return
		}
	}
	t.Fatalf("stream ended before the purchase's event: %v", sc.Err())
}
