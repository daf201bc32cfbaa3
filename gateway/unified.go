package gateway

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"
)

// unified serves the JSON API under /api/sms/: every answer is
// {"code":0,"data":…} or {"code":<non-zero>,"msg":"…"} with a meaningful
// HTTP status. Tenants authenticate with "Authorization: Bearer <key>".
func (s *Server) unified(ctx *fasthttp.RequestCtx, path string) {
	t, ok := s.bearer(ctx)
	if !ok {
		apiError(ctx, fasthttp.StatusUnauthorized, 401, "missing or wrong bearer key")
		s.g.metrics.request("unified", "auth", "unauthorized")
		return
	}
	rest := strings.TrimPrefix(path, "/api/sms/")
	switch {
	case rest == "platforms" && ctx.IsGet():
		out := make([]Health, 0, len(s.g.platforms))
		for _, p := range s.g.usable(t) {
			out = append(out, s.g.health.snapshot(p))
		}
		apiOK(ctx, out)
	case strings.HasPrefix(rest, "platforms/") && strings.HasSuffix(rest, "/health") && ctx.IsGet():
		code := strings.TrimSuffix(strings.TrimPrefix(rest, "platforms/"), "/health")
		p, ok := s.g.byCode[code]
		if !ok || !t.Allows(code) {
			apiError(ctx, fasthttp.StatusNotFound, 404, "unknown platform")
			return
		}
		apiOK(ctx, s.g.health.snapshot(p))
	default:
		apiError(ctx, fasthttp.StatusNotFound, 404, "unknown endpoint")
	}
}

// bearer authenticates the request's tenant.
func (s *Server) bearer(ctx *fasthttp.RequestCtx) (*Tenant, bool) {
	h := ctx.Request.Header.Peek("Authorization")
	key, ok := bytes.CutPrefix(h, []byte("Bearer "))
	if !ok || len(key) == 0 {
		return nil, false
	}
	return s.g.tenants.ByKey(string(key))
}

type apiAnswer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg,omitempty"`
	Data any    `json:"data,omitempty"`
}

func apiOK(ctx *fasthttp.RequestCtx, data any) {
	writeAPI(ctx, fasthttp.StatusOK, apiAnswer{Code: 0, Data: data})
}

func apiError(ctx *fasthttp.RequestCtx, status, code int, msg string) {
	writeAPI(ctx, status, apiAnswer{Code: code, Msg: msg})
}

func writeAPI(ctx *fasthttp.RequestCtx, status int, a apiAnswer) {
	b, err := json.Marshal(a)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"code":500,"msg":"cannot encode answer"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
