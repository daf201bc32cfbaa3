package gateway

func (s *Server) apiAdminPlatforms(c *call) (any, error) {
	list, err := s.g.overrides.List(c.cctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"platforms": list}, nil
}

func (s *Server) apiAdminPlatform(c *call) (any, error) {
	list, err := s.g.overrides.List(c.cctx)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a.Code == c.params["code"] {
			return a, nil
		}
	}
	return nil, ErrBadPlatform
}

func (s *Server) apiAdminPatch(c *call) (any, error) {
	var p PlatformPatch
	if err := c.decode(&p); err != nil {
		return nil, err
	}
	if p.Enabled == nil && p.Priority == nil && p.Weight == nil && !p.Reset {
		return nil, badRequest("nothing to change: send enabled, priority, weight or reset")
	}
	a, err := s.g.overrides.Patch(c.cctx, c.params["code"], p)
	if err != nil {
		return nil, err
	}
	return a, nil
}
