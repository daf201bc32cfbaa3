package fivesim

import (
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

// NewSkin serves 5SIM's v1 API over a simulated market in the default
// reading, with the market's fault injection in front.
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with a chosen reading of the open questions.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	if o.ErrorStatus == 0 {
		o.ErrorStatus = fasthttp.StatusBadRequest
	}
	if o.MaxSMS <= 0 {
		o.MaxSMS = 2
	}
	s := &skin{m: m, opt: o}
	return m.Wrap(s.serve)
}

type skin struct {
	m   *simulator.Market
	opt SkinOptions

	// cancelled holds orders cancelled inside the market's guard under
	// NoCancelGuard. The market cannot cancel there, so they were closed
	// with Ban (which refunds the same way) and are shown as CANCELED.
	cancelled skinkit.Side[int64, bool]
}

// handler serves one routed request; args are the path segments after
// the method's name.
type handler = func(s *skin, ctx *fasthttp.RequestCtx, args []string)

var (
	guestRoutes = skinkit.Routes[handler]{
		"countries": func(s *skin, ctx *fasthttp.RequestCtx, _ []string) { s.countries(ctx) },
		"prices":    func(s *skin, ctx *fasthttp.RequestCtx, _ []string) { s.prices(ctx) },
		"products":  (*skin).products,
	}
	userRoutes = skinkit.Routes[handler]{
		"profile": func(s *skin, ctx *fasthttp.RequestCtx, _ []string) { s.profile(ctx) },
		"buy":     (*skin).buy,
		"check":   orderRoute("check"), "finish": orderRoute("finish"),
		"cancel": orderRoute("cancel"), "ban": orderRoute("ban"),
		"orders": (*skin).orders,
	}
)

// areas are the two halves of the API: public lists and the account's.
var areas = map[string]skinkit.Routes[handler]{"guest": guestRoutes, "user": userRoutes}

func orderRoute(verb string) handler {
	return func(s *skin, ctx *fasthttp.RequestCtx, args []string) { s.orderAction(ctx, verb, args) }
}

// serve routes one request. It copies what it needs out of ctx and keeps
// nothing after returning.
func (s *skin) serve(ctx *fasthttp.RequestCtx) {
	rest, ok := strings.CutPrefix(string(ctx.Path()), "/v1/")
	parts := strings.Split(rest, "/")
	routes := areas[parts[0]]
	if !ok || len(parts) < 2 || routes == nil {
		parts = []string{"", ""} // routed nowhere, counted as unknown
	}
	h, ok := routes.Route(s.m, parts[1])
	if !ok {
		s.notFound(ctx)
		return
	}
	if !ctx.IsGet() {
		skinkit.Text(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if parts[0] == "user" && !s.authorized(ctx) {
		// 5SIM answers a bad token with 401 and an empty body.
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	h(s, ctx, parts[2:])
}

func (s *skin) authorized(ctx *fasthttp.RequestCtx) bool {
	scheme, tok, ok := strings.Cut(string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && s.m.CheckKey(strings.TrimSpace(tok))
}

func (s *skin) notFound(ctx *fasthttp.RequestCtx) {
	skinkit.Text(ctx, fasthttp.StatusNotFound, "404 page not found")
}

// fail answers one of the documented error bodies.
func (s *skin) fail(ctx *fasthttp.RequestCtx, text string) {
	skinkit.Text(ctx, s.opt.ErrorStatus, text)
}

func (s *skin) internal(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusInternalServerError)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(txtInternalError)
}

func (s *skin) json(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.internal(ctx)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (s *skin) number(micros int64) json.Number {
	return json.Number(adapters.FormatTrimmed(micros, 0))
}
