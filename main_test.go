package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
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
