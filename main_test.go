package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"smsgate/config"
)

// TestShippedGateway starts what `go run .` starts (the shipped
// gateway.toml: every platform from its simulator) and buys one number
// from each platform through the legacy API, pinned with platform=<code>;
// getPrices merges them.
func TestShippedGateway(t *testing.T) {
	env := []string{
		"SMSGATE_LEDGER__URL=" + filepath.Join(t.TempDir(), "l.db"),
		"SMSGATE_SERVER__LISTEN=127.0.0.1:0",
	}
	cfg, err := config.Load("gateway.toml", env)
	if err != nil {
		t.Fatal(err)
	}
	a, err := start(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	base := "http://" + a.ln.Addr().String() + "/stubs/handler_api.php?api_key=" + demoKey
	get := func(q string) string {
		resp, err := http.Get(base + "&" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if len(cfg.Platforms) < 8 {
		t.Fatalf("%d platforms in gateway.toml; want every marketplace", len(cfg.Platforms))
	}
	// Russia (0), the USA (187), the UK (16), Indonesia (6): each platform
	// must sell in at least one of them.
	for _, p := range cfg.Platforms {
		var got []string
		ok := false
		for _, country := range []string{"0", "187", "16", "6"} {
			b := get(url.Values{"action": {"getNumber"}, "service": {"tg"}, "country": {country}, "platform": {p.Code}}.Encode())
			got = append(got, b)
			if strings.HasPrefix(b, "ACCESS_NUMBER:") {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("platform %s: getNumber pinned to it answered %v", p.Code, got)
		}
	}
	prices := get("action=getPrices&service=tg&country=0")
	var merged map[string]map[string]struct {
		Cost  json.Number
		Count int
	}
	if err := json.Unmarshal([]byte(prices), &merged); err != nil {
		t.Fatalf("getPrices = %s", prices)
	}
	// The per-platform list of the JSON API: the merge is the lowest price
	// and the summed stock of the platforms that publish one.
	req, _ := http.NewRequest("GET", "http://"+a.ln.Addr().String()+"/api/sms/prices?service=tg&country=ru", nil)
	req.Header.Set("Authorization", "Bearer "+demoKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data struct {
			PriceList []struct {
				Platform  string
				BasePrice string
				Count     int
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&list)
	sum, platforms := 0, map[string]bool{}
	for _, it := range list.Data.PriceList {
		platforms[it.Platform] = true
		if it.Count > 0 {
			sum += it.Count
		}
	}
	cell := merged["0"]["tg"]
	if len(platforms) < 5 || cell.Count != sum || cell.Cost.String() != list.Data.PriceList[0].BasePrice {
		t.Fatalf("merged %+v from %d platforms (stock sum %d, cheapest %s)", cell, len(platforms), sum, list.Data.PriceList[0].BasePrice)
	}
	if b := get("action=getBalance"); !strings.HasPrefix(b, "ACCESS_BALANCE:") {
		t.Fatalf("getBalance = %s", b)
	}
}

// seedCodes are the platform codes the seed's clients send.
var seedCodes = []string{"smsactivate", "smspva", "5sim", "smsman", "getsmscode", "smsreg", "onlinesim", "textnow", "receivesms", "smsservice"}

// TestSeedPlatformCodes: the shipped gateway.toml names its platforms by
// the codes the seed's clients send, and a purchase pinned to "5sim" —
// unified and legacy — is bought at the 5SIM simulator.
func TestSeedPlatformCodes(t *testing.T) {
	env := []string{
		"SMSGATE_LEDGER__URL=" + filepath.Join(t.TempDir(), "l.db"),
		"SMSGATE_SERVER__LISTEN=127.0.0.1:0",
	}
	cfg, err := config.Load("gateway.toml", env)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, p := range cfg.Platforms {
		at[p.Code] = i
	}
	for _, code := range seedCodes {
		if _, ok := at[code]; !ok {
			t.Errorf("gateway.toml has no platform %q (has %v)", code, at)
		}
	}
	five, ok := at["5sim"]
	if !ok {
		t.FailNow()
	}
	if typ := cfg.Platforms[five].Type; typ != "fivesim" {
		t.Fatalf("platform 5sim has type %q; want fivesim", typ)
	}
	a, err := start(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	if len(a.sims) != len(cfg.Platforms) {
		t.Fatalf("%d simulators for %d platforms: the demo simulates every platform", len(a.sims), len(cfg.Platforms))
	}
	market := a.sims[five].Market
	// boughtThere: phone is an active order at the 5SIM simulator.
	boughtThere := func(phone string) bool {
		for _, o := range market.Active() {
			if strings.TrimPrefix(o.Phone, "+") == strings.TrimPrefix(phone, "+") {
				return true
			}
		}
		return false
	}
	base := "http://" + a.ln.Addr().String()

	// Unified: {"platform":"5sim"}.
	req, _ := http.NewRequest("POST", base+"/api/sms/getPhone", strings.NewReader(`{"country":"us","service":"tg","platform":"5sim"}`))
	req.Header.Set("Authorization", "Bearer "+demoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ph struct {
		Code int
		Msg  string
		Data struct{ Phone, Platform string }
	}
	err = json.NewDecoder(resp.Body).Decode(&ph)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || ph.Code != 0 {
		t.Fatalf("getPhone platform 5sim: HTTP %d %+v (%v)", resp.StatusCode, ph, err)
	}
	if ph.Data.Platform != "5sim" || !boughtThere(ph.Data.Phone) {
		t.Fatalf("getPhone platform 5sim = %+v; the 5SIM simulator's active orders: %+v", ph.Data, market.Active())
	}

	// Legacy: platform=5sim.
	resp, err = http.Get(base + "/stubs/handler_api.php?" + url.Values{"api_key": {demoKey}, "action": {"getNumber"},
		"service": {"tg"}, "country": {"187"}, "platform": {"5sim"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "ACCESS_NUMBER" || !boughtThere(parts[2]) {
		t.Fatalf("getNumber platform=5sim = %q; the 5SIM simulator's active orders: %+v", b, market.Active())
	}
	id, _ := strconv.ParseInt(parts[1], 10, 64)
	order, err := a.store.Get(context.Background(), id)
	if err != nil || order.Platform != "5sim" {
		t.Fatalf("order %s: platform %q (%v); want 5sim", parts[1], order.Platform, err)
	}

	// getCountries lists the platforms' country lists (every demo
	// platform's adapter answers one).
	resp, err = http.Get(base + "/stubs/handler_api.php?api_key=" + demoKey + "&action=getCountries")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var list map[string]struct{ Eng string }
	if err := json.Unmarshal(b, &list); err != nil || list["187"].Eng == "" || list["0"].Eng == "" {
		t.Fatalf("getCountries = %.300s", b)
	}
	if n := market.Calls("countries"); n != 1 {
		t.Errorf("the 5SIM simulator answered %d countries calls; want 1", n)
	}
}
