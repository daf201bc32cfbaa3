package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/config"
	"smsgate/gateway/apitest"
	"smsgate/ledger"
)

const adminKey = "admin-key-0003"

// apiResult is one unified API answer.
type apiResult struct {
	Status int
	Code   int             `json:"code"`
	Msg    string          `json:"msg"`
	Data   json.RawMessage `json:"data"`
	Header http.Header
}

func (r apiResult) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
}

// api calls the unified API with key (none when ""), body (JSON-encoded
// unless a string), and validates the answer against the OpenAPI document:
// status listed for the operation, body matching its schema.
func (e *env) api(method, path, key string, body any, header ...string) apiResult {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r apiResult
	if err := json.Unmarshal(raw, &r); err != nil {
		e.t.Fatalf("%s %s: answer %q is not JSON", method, path, raw)
	}
	r.Status, r.Header = resp.StatusCode, resp.Header
	if (r.Code == 0) != (r.Status == 200) {
		e.t.Errorf("%s %s: HTTP %d with code %d", method, path, r.Status, r.Code)
	}
	e.validate(req, resp, raw)
	return r
}

func (e *env) validate(req *http.Request, resp *http.Response, raw []byte) {
	e.t.Helper()
	e.oapiMu.Lock()
	if e.oapi == nil || e.oapi.URL != e.url { // a restart listens elsewhere
		e.oapi = apitest.Load(e.t, e.url)
	}
	oapi := e.oapi
	e.oapiMu.Unlock()
	oapi.Check(e.t, req, resp, raw)
}

func unifiedEnv(t *testing.T, o envOptions) *env {
	prev := o.config
	o.config = func(c *config.Config) {
		c.Admin.Key = config.Secret(adminKey)
		c.API.MaxWait = 10 * time.Second
		if prev != nil {
			prev(c)
		}
	}
	return newEnvWith(t, o)
}

// TestUnifiedEndpoints: each endpoint's success and each error it can
// return, answers checked against openapi.json.
func TestUnifiedEndpoints(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1})
	checkErr := func(r apiResult, status, code int, what string) {
		t.Helper()
		if r.Status != status || (code != 0 && r.Code != code) || r.Msg == "" {
			t.Errorf("%s: HTTP %d code %d msg %q; want %d/%d", what, r.Status, r.Code, r.Msg, status, code)
		}
	}
	// Authentication.
	checkErr(e.api("POST", "/api/sms/getPhone", "", map[string]any{"country": "us"}), 401, 401, "no key")
	checkErr(e.api("POST", "/api/sms/getPhone", "nope", map[string]any{"country": "us"}), 401, 401, "wrong key")
	checkErr(e.api("GET", "/api/sms/nothing", keyA, nil), 404, 404, "unknown endpoint")
	checkErr(e.api("DELETE", "/api/sms/orders", keyA, nil), 405, 405, "wrong method")

	// getPhone.
	var ph struct {
		ID                                                               int64
		Phone, Country, Service, Price, Currency, Platform, PlatformName string
	}
	r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"})
	r.into(t, &ph)
	if r.Status != 200 || ph.ID == 0 || ph.Country != "us" || ph.Currency != "USD" || ph.Platform != "sa" || ph.Phone[0] != '1' {
		t.Fatalf("getPhone = %d %+v", r.Status, ph)
	}
	r = e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "187"}) // legacy id, default service tg
	if r.Status != 200 {
		t.Fatalf("getPhone with a numeric country: %d %s", r.Status, r.Msg)
	}
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, `{"country":`), 400, 400, "bad JSON")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, ""), 400, 400, "empty body")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"service": "tg"}), 400, 400, "missing country")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "zz"}), 400, 1005, "unknown country")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "nope"}), 400, 1004, "unknown service")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "platform": "nowhere"}), 404, 1011, "unknown platform")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "strategy": "cheapest"}), 400, 1012, "unknown strategy")
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "maxPrice": -1}), 400, 400, "negative maxPrice")
	fl := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "maxPrice": "0.01"})
	checkErr(fl, 409, 1003, "maxPrice below every offer")
	if !strings.Contains(string(fl.Data), `"minPrice"`) {
		t.Errorf("price floor answer lacks minPrice: %s", fl.Data)
	}
	for _, s := range e.sims {
		s.Market.SetStock("us", "vk", 0)
	}
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "vk"}), 404, 1001, "no numbers")
	for _, s := range e.sims {
		s.Market.SetBalance(0)
	}
	checkErr(e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "wa"}), 503, 1002, "no balance")
	for _, s := range e.sims {
		s.Market.SetBalance(1000 * adapters.Micro)
	}

	// Orders: own, foreign, unknown.
	id := fmt.Sprint(ph.ID)
	var ov struct {
		ID    int64
		State string
		Codes []any
	}
	e.api("GET", "/api/sms/orders/"+id, keyA, nil).into(t, &ov)
	if ov.ID != ph.ID || ov.State != "waiting" || ov.Codes == nil {
		t.Fatalf("order view %+v", ov)
	}
	foreign, unknown := e.api("GET", "/api/sms/orders/"+id, keyB, nil), e.api("GET", "/api/sms/orders/987654", keyB, nil)
	checkErr(foreign, 404, 404, "foreign order")
	if foreign.Code != unknown.Code || foreign.Msg != unknown.Msg || foreign.Status != unknown.Status {
		t.Errorf("a foreign id answers %+v, an unknown one %+v: they must not differ", foreign, unknown)
	}
	checkErr(e.api("GET", "/api/sms/orders/abc", keyA, nil), 404, 404, "malformed id")
	var list struct{ Orders []struct{ ID int64 } }
	e.api("GET", "/api/sms/orders?state=active", keyA, nil).into(t, &list)
	if len(list.Orders) != 2 {
		t.Errorf("active orders of a: %d; want 2", len(list.Orders))
	}
	e.api("GET", "/api/sms/orders?state=active", keyB, nil).into(t, &list)
	if len(list.Orders) != 0 {
		t.Errorf("tenant b sees %d orders", len(list.Orders))
	}
	checkErr(e.api("GET", "/api/sms/orders?state=done", keyA, nil), 400, 400, "bad state filter")

	// setStatus.
	checkErr(e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": ph.ID, "status": "complete"}), 409, 1006, "complete before a code")
	checkErr(e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": ph.ID, "status": "cancel"}), 409, 1007, "cancel inside the guard")
	checkErr(e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": ph.ID, "status": "explode"}), 400, 400, "unknown status")
	checkErr(e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"status": "cancel"}), 400, 400, "missing orderId")
	checkErr(e.api("POST", "/api/sms/setStatus", keyB, map[string]any{"orderId": ph.ID, "status": "cancel"}), 404, 404, "foreign setStatus")
	var st struct {
		ID    int64
		State string
	}
	r = e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": fmt.Sprint(ph.ID), "status": 1})
	r.into(t, &st)
	if st.State != "waiting" {
		t.Fatalf("ready = %+v", st)
	}
	e.clock.Advance(2 * time.Minute)
	e.api("POST", "/api/sms/setStatus", keyA, map[string]any{"orderId": ph.ID, "status": "cancel"}).into(t, &st)
	if st.State != "cancelled" {
		t.Fatalf("cancel after the guard = %+v", st)
	}

	// getSmsCode on an ended order answers at once.
	var ca struct{ Status, State string }
	e.api("POST", "/api/sms/getSmsCode", keyA, map[string]any{"orderId": ph.ID, "wait": 5}).into(t, &ca)
	if ca.Status != "cancelled" {
		t.Fatalf("getSmsCode of a cancelled order = %+v", ca)
	}
	checkErr(e.api("POST", "/api/sms/getSmsCode", keyA, map[string]any{"wait": 1}), 400, 400, "getSmsCode without order")
	checkErr(e.api("POST", "/api/sms/getSmsCode", keyA, map[string]any{"orderId": 1, "wait": "soon"}), 400, 400, "bad wait")
	checkErr(e.api("POST", "/api/sms/getSmsCode", keyB, map[string]any{"orderId": ph.ID}), 404, 404, "foreign getSmsCode")

	// Balances, prices, recommendation, platforms, health.
	var bl struct {
		Balances []struct{ Platform, Balance, Currency, BaseBalance string }
	}
	e.api("GET", "/api/sms/balances", keyA, nil).into(t, &bl)
	if len(bl.Balances) != 2 || bl.Balances[0].Currency != "RUB" || bl.Balances[0].BaseBalance == "" {
		t.Errorf("balances %+v", bl)
	}
	var one struct{ Platform, Balance string }
	e.api("GET", "/api/sms/platforms/hero/balance", keyA, nil).into(t, &one)
	if one.Platform != "hero" || one.Balance == "" {
		t.Errorf("hero balance %+v", one)
	}
	checkErr(e.api("GET", "/api/sms/platforms/nowhere/balance", keyA, nil), 404, 1011, "unknown platform balance")
	var pl struct {
		PriceList []struct {
			Platform, Code, Name, Price, Currency, BasePrice string
			Count                                            int
		}
	}
	e.api("GET", "/api/sms/prices?service=tg&country=us", keyA, nil).into(t, &pl)
	if len(pl.PriceList) != 2 || pl.PriceList[0].Name != "Telegram" || pl.PriceList[0].BasePrice > pl.PriceList[1].BasePrice {
		t.Errorf("price list %+v; want both platforms, cheapest first", pl)
	}
	checkErr(e.api("GET", "/api/sms/prices?service=nope", keyA, nil), 400, 1004, "prices of an unknown service")
	checkErr(e.api("GET", "/api/sms/prices?country=zz", keyA, nil), 400, 1005, "prices of an unknown country")
	var rec struct{ Platform, Strategy, Reason string }
	e.api("GET", "/api/sms/recommended?service=tg&country=us&strategy=price", keyA, nil).into(t, &rec)
	if rec.Platform != pl.PriceList[0].Platform || rec.Strategy != "price" || !strings.Contains(rec.Reason, "lowest price") {
		t.Errorf("recommended %+v; want the cheapest, %s", rec, pl.PriceList[0].Platform)
	}
	checkErr(e.api("GET", "/api/sms/recommended?service=tg", keyA, nil), 400, 400, "recommended without country")
	e.g.CheckHealth(context.Background())
	var ps struct {
		Platforms []struct{ Platform, State, Breaker string }
	}
	e.api("GET", "/api/sms/platforms", keyA, nil).into(t, &ps)
	if len(ps.Platforms) != 2 || ps.Platforms[0].State != "up" || ps.Platforms[0].Breaker != "closed" {
		t.Errorf("platforms %+v", ps)
	}
	var h struct{ Platform, State string }
	e.api("GET", "/api/sms/platforms/sa/health", keyA, nil).into(t, &h)
	if h.Platform != "sa" || h.State != "up" {
		t.Errorf("health %+v", h)
	}
	checkErr(e.api("GET", "/api/sms/platforms/nowhere/health", keyA, nil), 404, 1011, "unknown platform health")
	checkErr(e.api("GET", "/api/sms/statistics?groupBy=year", keyA, nil), 400, 400, "bad groupBy")
	checkErr(e.api("GET", "/api/sms/statistics?startDate=yesterday", keyA, nil), 400, 400, "bad startDate")
}

// TestUnifiedRateLimit: a tenant over its rate gets 429 with Retry-After.
func TestUnifiedRateLimit(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1, config: func(c *config.Config) { c.Tenants[1].Rate = 2 }})
	var limited apiResult
	for i := 0; i < 3; i++ {
		limited = e.api("GET", "/api/sms/balances", keyB, nil)
	}
	if limited.Status != 429 || limited.Code != 1009 || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("third request over 2/s: %d %+v", limited.Status, limited)
	}
	if r := e.api("GET", "/api/sms/balances", keyA, nil); r.Status != 200 {
		t.Fatalf("tenant a limited by b's rate: %d", r.Status)
	}
}

// TestIdempotentGetPhone: 20 concurrent getPhone calls with one key buy one
// number and all get the same answer; the key with another request is a
// conflict.
func TestIdempotentGetPhone(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1})
	sa := e.sims["sa"].Market
	before := sa.Calls("getNumberV2")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[string]int{}
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"}, "Idempotency-Key", "order-42")
			mu.Lock()
			answers[fmt.Sprintf("%d %s", r.Status, r.Data)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(answers) != 1 {
		t.Fatalf("20 requests with one key got %d different answers: %v", len(answers), answers)
	}
	if n := sa.Calls("getNumberV2") - before; n != 1 {
		t.Fatalf("upstream purchases: %d; want 1", n)
	}
	if n := len(sa.Active()); n != 1 {
		t.Fatalf("upstream holds %d orders; want 1", n)
	}
	// Later, the same key: the same order, no purchase.
	r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"}, "Idempotency-Key", "order-42")
	for a := range answers {
		if a != fmt.Sprintf("%d %s", r.Status, r.Data) {
			t.Fatalf("a repeat later answers %d %s; first %s", r.Status, r.Data, a)
		}
	}
	if c := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "gb", "service": "wa"}, "Idempotency-Key", "order-42"); c.Status != 409 || c.Code != 1013 {
		t.Fatalf("reused key, other request: %d %+v; want 409", c.Status, c)
	}
	// Keys are per tenant.
	if r := e.api("POST", "/api/sms/getPhone", keyB, map[string]any{"country": "us", "service": "tg"}, "Idempotency-Key", "order-42"); r.Status != 200 {
		t.Fatalf("tenant b with the same key: %d", r.Status)
	}
	if n := sa.Calls("getNumberV2") - before; n != 2 {
		t.Fatalf("upstream purchases: %d; want 2 (one per tenant)", n)
	}
}

// TestGetSmsCodeLongPoll: getSmsCode returns within one poll interval of
// the code's arrival upstream, times out cleanly with "waiting", and many
// waiters cost no upstream call beyond the poller's.
func TestGetSmsCodeLongPoll(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: 30 * time.Second})
	sa := e.sims["sa"].Market
	var ph struct{ ID int64 }
	e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "service": "tg"}).into(t, &ph)

	// Times out cleanly.
	start := time.Now()
	var w struct{ Status, State string }
	r := e.api("POST", "/api/sms/getSmsCode", keyA, map[string]any{"orderId": ph.ID, "wait": "300ms"})
	r.into(t, &w)
	if r.Status != 200 || w.Status != "waiting" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("before the code: %d %+v after %s", r.Status, w, time.Since(start))
	}

	// 30 waiters, then the code arrives upstream.
	statusCalls := sa.Calls("getStatus")
	type got struct {
		ans struct{ Status, Code string }
		at  time.Time
	}
	results := make(chan got, 30)
	for i := 0; i < 30; i++ {
		go func() {
			var g got
			e.api("POST", "/api/sms/getSmsCode", keyA, map[string]any{"orderId": ph.ID, "maxRetries": 8, "retryInterval": 1}).into(t, &g.ans)
			g.at = time.Now()
			results <- g
		}()
	}
	time.Sleep(200 * time.Millisecond) // every waiter is in
	e.clock.Advance(30 * time.Second)  // the code is due upstream now
	arrived := time.Now()
	e.g.Kick() // the poller's next round (its tick, without waiting for it)
	for i := 0; i < 30; i++ {
		g := <-results
		if g.ans.Status != "received" || len(g.ans.Code) != 6 {
			t.Fatalf("waiter %d: %+v", i, g.ans)
		}
		// One poll interval of the platform (1 s simulated, the poller
		// ticks every 250 ms of real time) plus slack for a busy machine.
		if d := g.at.Sub(arrived); d > 2*time.Second {
			t.Errorf("waiter %d got the code %s after it became due", i, d)
		}
	}
	// 30 waiters, a few polls: the waiters added no upstream call.
	if n := sa.Calls("getStatus") - statusCalls; n > 3 {
		t.Errorf("%d upstream status calls while 30 clients waited; want only the poller's (≤ 3)", n)
	}
}

// TestStatistics: a seeded ledger with known orders across days,
// platforms, countries and outcomes gives exact figures per day, week and
// month.
func TestStatistics(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 2, d, h, 0, 0, 0, time.UTC) }
	type seed struct {
		at                time.Time
		platform, country string
		state             adapters.State
		price             int64 // micro USD
		codeAfter         time.Duration
	}
	seeds := []seed{
		// Week 2026-W09 (Feb 23..Mar 1): Feb 23 and Feb 24.
		{day(23, 10), "sa", "us", adapters.StateFinished, 500_000, 10 * time.Second},
		{day(23, 11), "sa", "us", adapters.StateFinished, 500_000, 20 * time.Second},
		{day(23, 12), "hero", "gb", adapters.StateCancelled, 300_000, -1},
		{day(24, 9), "hero", "us", adapters.StateFinished, 400_000, 40 * time.Second},
		{day(24, 10), "sa", "gb", adapters.StateExpired, 500_000, -1},
		// Week W08: Feb 16.
		{day(16, 8), "sa", "us", adapters.StateFinished, 600_000, 100 * time.Second},
		// January: Jan 31 (week W05), outside February.
		{time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC), "hero", "us", adapters.StateFinished, 700_000, 30 * time.Second},
		// Another tenant's order: never counted for a.
		{day(23, 13), "sa", "us", adapters.StateFinished, 900_000, 5 * time.Second},
	}
	e := unifiedEnv(t, envOptions{codeDelay: -1, preStart: func(e *env) {
		for i, s := range seeds {
			tenant := "a"
			if i == len(seeds)-1 {
				tenant = "b"
			}
			o := ledger.Order{Tenant: tenant, Platform: s.platform, UpstreamID: fmt.Sprint(i), Phone: "1", Country: s.country, Service: "tg",
				Price: adapters.Money{Micros: s.price, Currency: "USD"}, BasePrice: adapters.Money{Micros: s.price, Currency: "USD"},
				State: s.state, CreatedAt: s.at, UpdatedAt: s.at}
			if s.codeAfter >= 0 {
				o.Codes = []ledger.Code{{Code: "123456", Text: "123456", ReceivedAt: s.at.Add(s.codeAfter)}}
			}
			if err := e.store.Create(context.Background(), &o); err != nil {
				t.Fatal(err)
			}
		}
	}})
	type row struct {
		Key                                   string
		Orders, Delivered, Cancelled, Expired int
		SuccessRate                           float64
		Spend                                 string
		AvgTimeToCodeSec, P95TimeToCodeSec    float64
	}
	type stats struct {
		Total                                   row
		Periods, Platforms, Countries, Services []row
	}
	get := func(q string) stats {
		var s stats
		r := e.api("GET", "/api/sms/statistics?"+q, keyA, nil)
		if r.Status != 200 {
			t.Fatalf("statistics?%s: %d %s", q, r.Status, r.Msg)
		}
		r.into(t, &s)
		return s
	}
	s := get("startDate=2026-02-01&endDate=2026-02-28&groupBy=day")
	wantDays := []row{
		{Key: "2026-02-16", Orders: 1, Delivered: 1, SuccessRate: 1, Spend: "0.60", AvgTimeToCodeSec: 100, P95TimeToCodeSec: 100},
		{Key: "2026-02-23", Orders: 3, Delivered: 2, Cancelled: 1, SuccessRate: 0.6667, Spend: "1.00", AvgTimeToCodeSec: 15, P95TimeToCodeSec: 20},
		{Key: "2026-02-24", Orders: 2, Delivered: 1, Expired: 1, SuccessRate: 0.5, Spend: "0.40", AvgTimeToCodeSec: 40, P95TimeToCodeSec: 40},
	}
	if fmt.Sprint(s.Periods) != fmt.Sprint(wantDays) {
		t.Errorf("days:\n got %+v\nwant %+v", s.Periods, wantDays)
	}
	wantTotal := row{Key: "total", Orders: 6, Delivered: 4, Cancelled: 1, Expired: 1, SuccessRate: 0.6667, Spend: "2.00", AvgTimeToCodeSec: 42.5, P95TimeToCodeSec: 100}
	if fmt.Sprint(s.Total) != fmt.Sprint(wantTotal) {
		t.Errorf("total:\n got %+v\nwant %+v", s.Total, wantTotal)
	}
	wantPlatforms := []row{
		{Key: "hero", Orders: 2, Delivered: 1, Cancelled: 1, SuccessRate: 0.5, Spend: "0.40", AvgTimeToCodeSec: 40, P95TimeToCodeSec: 40},
		{Key: "sa", Orders: 4, Delivered: 3, Expired: 1, SuccessRate: 0.75, Spend: "1.60", AvgTimeToCodeSec: 43.333, P95TimeToCodeSec: 100},
	}
	if fmt.Sprint(s.Platforms) != fmt.Sprint(wantPlatforms) {
		t.Errorf("platforms:\n got %+v\nwant %+v", s.Platforms, wantPlatforms)
	}
	if len(s.Countries) != 2 || s.Countries[0].Key != "gb" || s.Countries[0].Orders != 2 || s.Countries[1].Orders != 4 {
		t.Errorf("countries %+v", s.Countries)
	}
	if len(s.Services) != 1 || s.Services[0].Key != "tg" || s.Services[0].Orders != 6 {
		t.Errorf("services %+v", s.Services)
	}
	w := get("startDate=2026-01-26&endDate=2026-03-01&groupBy=week")
	var weeks []string
	for _, p := range w.Periods {
		weeks = append(weeks, fmt.Sprintf("%s:%d/%d", p.Key, p.Orders, p.Delivered))
	}
	if got := strings.Join(weeks, " "); got != "2026-W05:1/1 2026-W08:1/1 2026-W09:5/3" {
		t.Errorf("weeks: %s", got)
	}
	m := get("startDate=2026-01-01&endDate=2026-02-28&groupBy=month")
	var months []string
	for _, p := range m.Periods {
		months = append(months, fmt.Sprintf("%s:%d/%d:%s", p.Key, p.Orders, p.Delivered, p.Spend))
	}
	if got := strings.Join(months, " "); got != "2026-01:1/1:0.70 2026-02:6/4:2.00" {
		t.Errorf("months: %s", got)
	}
	f := get("startDate=2026-02-01&endDate=2026-02-28&platform=hero&country=us")
	if f.Total.Orders != 1 || f.Total.Delivered != 1 {
		t.Errorf("filtered by platform and country: %+v", f.Total)
	}
}

// TestAdminPlatforms: disabling a platform takes it out of routing at once
// and survives a restart; a tenant key gets 403.
func TestAdminPlatforms(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1})
	if r := e.api("GET", "/api/sms/admin/platforms", keyA, nil); r.Status != 403 || r.Code != 403 {
		t.Fatalf("tenant key on admin: %d %+v", r.Status, r)
	}
	if r := e.api("PATCH", "/api/sms/admin/platforms/sa", keyA, map[string]any{"enabled": false}); r.Status != 403 {
		t.Fatalf("tenant key on admin PATCH: %d", r.Status)
	}
	if r := e.api("GET", "/api/sms/admin/platforms", "", nil); r.Status != 401 {
		t.Fatalf("no key on admin: %d", r.Status)
	}
	var a struct {
		Code              string
		Config, Effective struct{ Enabled bool }
		Override          map[string]any
	}
	e.api("PATCH", "/api/sms/admin/platforms/sa", adminKey, map[string]any{"enabled": false}).into(t, &a)
	if a.Code != "sa" || !a.Config.Enabled || a.Effective.Enabled || a.Override["enabled"] != false {
		t.Fatalf("after disabling: %+v", a)
	}
	if id := e.buy(keyA, "service", "tg", "country", "187"); e.order(id).Platform != "hero" {
		t.Fatalf("bought from %s with sa disabled", e.order(id).Platform)
	}
	if r := e.api("POST", "/api/sms/getPhone", keyA, map[string]any{"country": "us", "platform": "sa"}); r.Status != 404 {
		t.Fatalf("pinned to a disabled platform: %d", r.Status)
	}
	e.restart()
	e.api("GET", "/api/sms/admin/platforms/sa", adminKey, nil).into(t, &a)
	if a.Effective.Enabled {
		t.Fatalf("sa enabled again after restart: %+v", a)
	}
	if id := e.buy(keyA, "service", "tg", "country", "187"); e.order(id).Platform != "hero" {
		t.Fatal("disabled platform used after restart")
	}
	if r := e.api("PATCH", "/api/sms/admin/platforms/sa", adminKey, map[string]any{"weight": 0}); r.Status != 400 {
		t.Fatalf("weight 0: %d", r.Status)
	}
	if r := e.api("PATCH", "/api/sms/admin/platforms/sa", adminKey, map[string]any{}); r.Status != 400 {
		t.Fatalf("empty patch: %d", r.Status)
	}
	if r := e.api("PATCH", "/api/sms/admin/platforms/nowhere", adminKey, map[string]any{"enabled": true}); r.Status != 404 {
		t.Fatalf("unknown platform: %d", r.Status)
	}
	a.Override = nil // decoding into a map merges keys
	e.api("PATCH", "/api/sms/admin/platforms/sa", adminKey, map[string]any{"reset": true}).into(t, &a)
	if !a.Effective.Enabled || len(a.Override) != 0 {
		t.Fatalf("after reset: %+v", a)
	}
	if id := e.buy(keyA, "service", "tg", "country", "187"); e.order(id).Platform != "sa" {
		t.Fatal("re-enabled platform not used first")
	}
}
