package unified

import (
	"errors"

	"github.com/valyala/fasthttp"

	"smsgate/gateway/overrides"
	"smsgate/gateway/pools"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
)

// apiAdminPlatforms lists every platform's settings and, beside them, its
// last health check, so one request shows the admin (and the dashboard)
// all of a platform's state.
func (s *API) apiAdminPlatforms(c *call) (any, error) {
	list, err := s.overrides.List(c.cctx)
	if err != nil {
		return nil, err
	}
	health := make([]PlatformHealth, 0, len(s.platforms))
	for _, p := range s.platforms {
		health = append(health, s.platformHealth(p))
	}
	return map[string]any{"platforms": list, "health": health}, nil
}

// AdminOrderView is an order as the admin sees it: any tenant's, named.
type AdminOrderView struct {
	Tenant string `json:"tenant"`
	OrderView
}

// apiAdminOrders lists the newest orders of every tenant (or of one,
// ?tenant=), read-only: the dashboard's order feed.
func (s *API) apiAdminOrders(c *call) (any, error) {
	f, err := orderFilter(c, c.query("tenant"), 50)
	if err != nil {
		return nil, err
	}
	list, err := s.store.List(c.cctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]AdminOrderView, 0, len(list))
	for _, o := range list {
		t, ok := s.tenants.ByName(o.Tenant)
		if !ok { // a tenant since removed from the configuration
			t = &tenant.Tenant{Name: o.Tenant, Currency: s.fx.Base()}
		}
		out = append(out, AdminOrderView{Tenant: o.Tenant, OrderView: s.orderView(t, o)})
	}
	return map[string]any{"orders": out}, nil
}

// apiAdminStatistics is the statistics of every tenant's orders (or of
// one, ?tenant=).
func (s *API) apiAdminStatistics(c *call) (any, error) {
	return s.statistics(c, c.query("tenant"), func(string) bool { return true })
}

func (s *API) apiAdminPlatform(c *call) (any, error) {
	list, err := s.overrides.List(c.cctx)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a.Code == c.params["code"] {
			return a, nil
		}
	}
	return nil, route.ErrBadPlatform
}

func (s *API) apiAdminPatch(c *call) (any, error) {
	var p overrides.PlatformPatch
	if err := c.decode(&p); err != nil {
		return nil, err
	}
	if p.Enabled == nil && p.Priority == nil && p.Weight == nil && !p.Reset {
		return nil, badRequest("nothing to change: send enabled, priority, weight or reset")
	}
	a, err := s.overrides.Patch(c.cctx, c.params["code"], p)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *API) apiAdminPool(c *call) (any, error) {
	list, err := s.pools.Numbers(c.cctx, c.params["code"])
	if errors.Is(err, pools.ErrNotPool) {
		return nil, &apiErr{fasthttp.StatusConflict, codeNotPool, "platform " + c.params["code"] + " has no numbers of its own", nil}
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"platform": c.params["code"], "numbers": list}, nil
}
