package gateway_test

import (
	"testing"
)

// TestAdminReadAPI: the admin's read-only views the dashboard is built on
// (every tenant's orders, every tenant's statistics, platform health beside
// the settings), answers checked against openapi.json.
func TestAdminReadAPI(t *testing.T) {
	e := unifiedEnv(t, envOptions{codeDelay: -1})
	idA := e.buy(keyA, "service", "tg", "country", "187")
	idB := e.buy(keyB, "service", "wa", "country", "187", "platform", "hero")

	// Tenant keys and no key are refused, as on every admin endpoint.
	for _, path := range []string{"/api/sms/admin/orders", "/api/sms/admin/statistics"} {
		if r := e.api("GET", path, keyA, nil); r.Status != 403 {
			t.Errorf("%s with a tenant key: %d; want 403", path, r.Status)
		}
		if r := e.api("GET", path, "", nil); r.Status != 401 {
			t.Errorf("%s with no key: %d; want 401", path, r.Status)
		}
	}

	type order struct {
		ID               int64
		Tenant, Platform string
		Service          string
	}
	var list struct{ Orders []order }
	e.api("GET", "/api/sms/admin/orders", adminKey, nil).into(t, &list)
	if len(list.Orders) != 2 || strconvFormat(list.Orders[0].ID) != idB || list.Orders[0].Tenant != "b" ||
		list.Orders[0].Platform != "hero" || strconvFormat(list.Orders[1].ID) != idA || list.Orders[1].Tenant != "a" {
		t.Fatalf("admin orders = %+v; want b's %s (newest) then a's %s", list.Orders, idB, idA)
	}
	list.Orders = nil
	e.api("GET", "/api/sms/admin/orders?limit=1", adminKey, nil).into(t, &list)
	if len(list.Orders) != 1 || strconvFormat(list.Orders[0].ID) != idB {
		t.Fatalf("limit=1: %+v", list.Orders)
	}
	list.Orders = nil
	e.api("GET", "/api/sms/admin/orders?tenant=a&state=active", adminKey, nil).into(t, &list)
	if len(list.Orders) != 1 || list.Orders[0].Tenant != "a" {
		t.Fatalf("tenant=a: %+v", list.Orders)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "state=done"} {
		if r := e.api("GET", "/api/sms/admin/orders?"+q, adminKey, nil); r.Status != 400 {
			t.Errorf("admin orders?%s: %d; want 400", q, r.Status)
		}
	}

	type row struct {
		Key    string
		Orders int
	}
	var st struct {
		Total     row
		Platforms []row
	}
	e.api("GET", "/api/sms/admin/statistics", adminKey, nil).into(t, &st)
	if st.Total.Orders != 2 || len(st.Platforms) != 2 {
		t.Fatalf("admin statistics = %+v; want both tenants' 2 orders on 2 platforms", st)
	}
	st = struct {
		Total     row
		Platforms []row
	}{}
	e.api("GET", "/api/sms/admin/statistics?tenant=b&groupBy=month", adminKey, nil).into(t, &st)
	if st.Total.Orders != 1 || len(st.Platforms) != 1 || st.Platforms[0].Key != "hero" {
		t.Fatalf("admin statistics of b = %+v", st)
	}
	if r := e.api("GET", "/api/sms/admin/statistics?groupBy=year", adminKey, nil); r.Status != 400 {
		t.Errorf("admin statistics groupBy=year: %d; want 400", r.Status)
	}

	var pl struct {
		Platforms []struct{ Code string }
		Health    []struct{ Platform, State, Breaker string }
	}
	e.api("GET", "/api/sms/admin/platforms", adminKey, nil).into(t, &pl)
	if len(pl.Platforms) != 2 || len(pl.Health) != 2 || pl.Health[0].Platform != "sa" || pl.Health[1].Platform != "hero" ||
		pl.Health[0].Breaker == "" {
		t.Fatalf("admin platforms = %+v", pl)
	}
}
