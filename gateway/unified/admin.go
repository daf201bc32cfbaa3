package unified

import (
	"errors"

	"github.com/valyala/fasthttp"

	"smsgate/gateway/overrides"
	"smsgate/gateway/pools"
	"smsgate/gateway/route"
)

func (s *API) apiAdminPlatforms(c *call) (any, error) {
	list, err := s.overrides.List(c.cctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"platforms": list}, nil
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
