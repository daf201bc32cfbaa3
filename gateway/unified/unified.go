package unified

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/gateway/orders"
	"smsgate/gateway/overrides"
	"smsgate/gateway/route"
	"smsgate/gateway/tenant"
)

// The unified JSON API under /api/sms/. Every answer is
// {"code":0,"data":…} or {"code":<non-zero>,"msg":"…"} with a meaningful
// HTTP status. Tenants authenticate with "Authorization: Bearer <key>";
// admin endpoints want the admin key.

// API error codes (the "code" of an error answer).
const (
	codeBadRequest   = 400
	codeUnauthorized = 401
	codeForbidden    = 403
	codeNotFound     = 404
	codeNoNumbers    = 1001
	codeNoBalance    = 1002
	codePriceTooHigh = 1003
	codeBadService   = 1004
	codeBadCountry   = 1005
	codeBadStatus    = 1006
	codeEarlyCancel  = 1007
	codeActiveLimit  = 1008
	codeRateLimit    = 1009
	codeUnavailable  = 1010
	codeBadPlatform  = 1011
	codeBadStrategy  = 1012
	codeIdempotency  = 1013
	codeNotPool      = 1014
	codeNoWallet     = 1015
	// codeInsufficientFunds: the tenant's wallet cannot pay (HTTP 402).
	codeInsufficientFunds = 402
	codeInternalError     = 500
)

// apiErr is an error answer.
type apiErr struct {
	status int
	code   int
	msg    string
	data   any
}

func (e *apiErr) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiErr {
	return &apiErr{fasthttp.StatusBadRequest, codeBadRequest, fmt.Sprintf(format, args...), nil}
}

// apiErrorOf maps a gateway error to its answer. Messages name the
// canonical condition, never an upstream's text (which could carry
// details of our accounts).
func (s *API) apiErrorOf(err error, currency string) *apiErr {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae
	}
	var pf *adapters.PriceFloorError
	switch {
	case errors.As(err, &pf):
		return &apiErr{fasthttp.StatusConflict, codePriceTooHigh, "maxPrice is below the lowest offer",
			map[string]string{"minPrice": adapters.FormatDecimal(pf.Min.Micros, 2), "currency": pf.Min.Currency}}
	case errors.Is(err, orders.ErrTenantActiveLimit):
		return &apiErr{fasthttp.StatusTooManyRequests, codeActiveLimit, "too many active orders (CHANNELS_LIMIT)", nil}
	case errors.Is(err, route.ErrBadPlatform):
		return &apiErr{fasthttp.StatusNotFound, codeBadPlatform, "unknown platform", nil}
	case errors.Is(err, route.ErrBadStrategy):
		return &apiErr{fasthttp.StatusBadRequest, codeBadStrategy, "unknown strategy (price|success|balance|random|priority|value)", nil}
	case errors.Is(err, overrides.ErrBadRequest):
		return badRequest("%s", err.Error())
	case errors.Is(err, adapters.ErrNoActivation):
		return &apiErr{fasthttp.StatusNotFound, codeNotFound, "order not found", nil}
	case errors.Is(err, adapters.ErrEarlyCancel):
		return &apiErr{fasthttp.StatusConflict, codeEarlyCancel, "cancel refused in the first minutes (EARLY_CANCEL_DENIED)", nil}
	case errors.Is(err, adapters.ErrBadState):
		return &apiErr{fasthttp.StatusConflict, codeBadStatus, "status change not allowed in the order's state (BAD_STATUS)", nil}
	case errors.Is(err, adapters.ErrNoNumbers):
		return &apiErr{fasthttp.StatusNotFound, codeNoNumbers, "no numbers available (NO_NUMBERS)", nil}
	case errors.Is(err, orders.ErrInsufficientFunds):
		return &apiErr{fasthttp.StatusPaymentRequired, codeInsufficientFunds, "wallet balance too low for this purchase (NO_BALANCE)", nil}
	case errors.Is(err, orders.ErrNoWallet):
		return &apiErr{fasthttp.StatusConflict, codeNoWallet, "tenant has no wallet (operator mode)", nil}
	case errors.Is(err, adapters.ErrNoBalance):
		return &apiErr{fasthttp.StatusServiceUnavailable, codeNoBalance, "no platform has balance for this purchase (NO_BALANCE)", nil}
	case errors.Is(err, adapters.ErrBadService):
		return &apiErr{fasthttp.StatusBadRequest, codeBadService, "unknown or unsold service (BAD_SERVICE)", nil}
	case errors.Is(err, adapters.ErrBadCountry):
		return &apiErr{fasthttp.StatusBadRequest, codeBadCountry, "unknown or unsold country (WRONG_COUNTRY)", nil}
	case errors.Is(err, adapters.ErrUnavailable), errors.Is(err, adapters.ErrAuth):
		return &apiErr{fasthttp.StatusServiceUnavailable, codeUnavailable, "upstream platforms unavailable, try again", nil}
	}
	s.log.Error("unified API error", zapErr(err))
	return &apiErr{fasthttp.StatusInternalServerError, codeInternalError, "internal error", nil}
}

type apiAnswer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg,omitempty"`
	Data any    `json:"data,omitempty"`
}

func apiOK(ctx *fasthttp.RequestCtx, data any) {
	writeAPI(ctx, fasthttp.StatusOK, apiAnswer{Code: 0, Data: data})
}

func apiFail(ctx *fasthttp.RequestCtx, e *apiErr) {
	writeAPI(ctx, e.status, apiAnswer{Code: e.code, Msg: e.msg, Data: e.data})
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

// endpoint is one endpoint: method, path pattern ("orders/{id}") and handler.
type endpoint struct {
	method  string
	pattern []string
	admin   bool
	name    string // metric label
	h       func(s *API, c *call) (any, error)
	// stream answers itself (an event stream) instead of h: no request
	// timeout, no JSON envelope once the stream has begun.
	stream func(s *API, c *call) error
}

// call is one unified request being served.
type call struct {
	ctx    *fasthttp.RequestCtx
	cctx   context.Context
	t      *tenant.Tenant
	params map[string]string // path parameters
}

func (c *call) query(name string) string { return string(c.ctx.QueryArgs().Peek(name)) }

// decode reads the JSON body into v; unknown fields are allowed (clients
// send the integration guide's extra fields).
func (c *call) decode(v any) error {
	body := c.ctx.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("empty body: want a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("bad JSON: %s", jsonErrMsg(err))
	}
	return nil
}

func jsonErrMsg(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	return "cannot decode"
}

var routes = []endpoint{
	{method: "POST", pattern: []string{"getPhone"}, name: "getPhone", h: (*API).apiGetPhone},
	{method: "POST", pattern: []string{"getSmsCode"}, name: "getSmsCode", h: (*API).apiGetSmsCode},
	{method: "POST", pattern: []string{"setStatus"}, name: "setStatus", h: (*API).apiSetStatus},
	{method: "GET", pattern: []string{"orders", "{id}"}, name: "order", h: (*API).apiOrder},
	{method: "GET", pattern: []string{"orders"}, name: "orders", h: (*API).apiOrders},
	{method: "GET", pattern: []string{"balances"}, name: "balances", h: (*API).apiBalances},
	{method: "GET", pattern: []string{"platforms", "{code}", "balance"}, name: "platformBalance", h: (*API).apiPlatformBalance},
	{method: "GET", pattern: []string{"prices"}, name: "prices", h: (*API).apiPrices},
	{method: "GET", pattern: []string{"recommended"}, name: "recommended", h: (*API).apiRecommended},
	{method: "GET", pattern: []string{"platforms"}, name: "platforms", h: (*API).apiPlatforms},
	{method: "GET", pattern: []string{"platforms", "{code}", "health"}, name: "health", h: (*API).apiHealth},
	{method: "GET", pattern: []string{"statistics"}, name: "statistics", h: (*API).apiStatistics},
	{method: "GET", pattern: []string{"wallet"}, name: "wallet", h: (*API).apiWallet},
	{method: "GET", pattern: []string{"events"}, name: "events", stream: (*API).apiEvents},
	{method: "GET", pattern: []string{"admin", "events"}, admin: true, name: "adminEvents", stream: (*API).apiAdminEvents},
	{method: "GET", pattern: []string{"admin", "tenants", "{name}", "webhooks"}, admin: true, name: "adminWebhooks", h: (*API).apiAdminWebhooks},
	{method: "GET", pattern: []string{"admin", "tenants", "{name}", "wallet"}, admin: true, name: "adminWallet", h: (*API).apiAdminWallet},
	{method: "POST", pattern: []string{"admin", "tenants", "{name}", "wallet"}, admin: true, name: "adminFund", h: (*API).apiAdminFund},
	{method: "GET", pattern: []string{"admin", "orders", "{id}", "actions"}, admin: true, name: "adminActions", h: (*API).apiAdminActions},
	{method: "GET", pattern: []string{"admin", "orders"}, admin: true, name: "adminOrders", h: (*API).apiAdminOrders},
	{method: "GET", pattern: []string{"admin", "statistics"}, admin: true, name: "adminStatistics", h: (*API).apiAdminStatistics},
	{method: "GET", pattern: []string{"admin", "platforms"}, admin: true, name: "adminPlatforms", h: (*API).apiAdminPlatforms},
	{method: "GET", pattern: []string{"admin", "platforms", "{code}"}, admin: true, name: "adminPlatform", h: (*API).apiAdminPlatform},
	{method: "PATCH", pattern: []string{"admin", "platforms", "{code}"}, admin: true, name: "adminPatch", h: (*API).apiAdminPatch},
	{method: "GET", pattern: []string{"admin", "platforms", "{code}", "numbers"}, admin: true, name: "adminPoolNumbers", h: (*API).apiAdminPool},
}

func match(pattern, parts []string) (map[string]string, bool) {
	if len(pattern) != len(parts) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if parts[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(p, "{}")] = parts[i]
		} else if p != parts[i] {
			return nil, false
		}
	}
	return params, true
}

// Handle serves /api/sms/*.
func (s *API) Handle(ctx *fasthttp.RequestCtx, path string) {
	rest := strings.TrimSuffix(strings.TrimPrefix(path, "/api/sms/"), "/")
	if rest == "openapi.json" && ctx.IsGet() {
		ctx.SetContentType("application/json")
		ctx.SetBody(openAPIDoc)
		return
	}
	parts := strings.Split(rest, "/")
	method := string(ctx.Method())
	var (
		rt     *endpoint
		params map[string]string
		allow  []string // the methods the path takes, when not this one
	)
	for i := range routes {
		if p, ok := match(routes[i].pattern, parts); ok {
			if routes[i].method == method {
				rt, params = &routes[i], p
				break
			}
			allow = append(allow, routes[i].method)
		}
	}
	if rt == nil {
		if len(allow) > 0 {
			ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
			apiFail(ctx, &apiErr{fasthttp.StatusMethodNotAllowed, 405, "method not allowed", nil})
		} else {
			apiFail(ctx, &apiErr{fasthttp.StatusNotFound, codeNotFound, "unknown endpoint", nil})
		}
		return
	}
	key := bearerKey(ctx)
	c := &call{ctx: ctx, params: params}
	if rt.admin {
		if !s.admin(key) {
			if _, isTenant := s.tenants.ByKey(key); isTenant {
				apiFail(ctx, &apiErr{fasthttp.StatusForbidden, codeForbidden, "admin key required", nil})
			} else {
				apiFail(ctx, &apiErr{fasthttp.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer key", nil})
			}
			s.metrics.Request("unified", rt.name, "unauthorized")
			return
		}
	} else {
		t, ok := s.tenants.ByKey(key)
		if !ok {
			apiFail(ctx, &apiErr{fasthttp.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer key", nil})
			s.metrics.Request("unified", rt.name, "unauthorized")
			return
		}
		if ok, wait := s.limiter.Allow(t); !ok {
			ctx.Response.Header.Set("Retry-After", tenant.RetryAfter(wait))
			apiFail(ctx, &apiErr{fasthttp.StatusTooManyRequests, codeRateLimit, "request rate limit", nil})
			s.metrics.Request("unified", rt.name, "rate_limited")
			return
		}
		c.t = t
	}
	if rt.stream != nil {
		if err := rt.stream(s, c); err != nil {
			e := s.apiErrorOf(err, "")
			apiFail(ctx, e)
			s.metrics.Request("unified", rt.name, fmt.Sprint(e.code))
			return
		}
		s.metrics.Request("unified", rt.name, "ok")
		return
	}
	timeout := s.cfg.Server.RequestTimeout
	if rt.name == "getSmsCode" {
		timeout += s.cfg.API.MaxWait
	}
	cctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.cctx = cctx
	data, err := rt.h(s, c)
	if err != nil {
		cur := ""
		if c.t != nil {
			cur = c.t.Currency
		}
		e := s.apiErrorOf(err, cur)
		apiFail(ctx, e)
		s.metrics.Request("unified", rt.name, fmt.Sprint(e.code))
		return
	}
	apiOK(ctx, data)
	s.metrics.Request("unified", rt.name, "ok")
}

// bearerKey is the key of "Authorization: Bearer <key>", copied.
func bearerKey(ctx *fasthttp.RequestCtx) string {
	h := ctx.Request.Header.Peek("Authorization")
	key, ok := bytes.CutPrefix(h, []byte("Bearer "))
	if !ok {
		return ""
	}
	return string(bytes.TrimSpace(key))
}

// flexDuration reads a JSON number of seconds or a duration string ("10s").
type flexDuration struct {
	d   time.Duration
	set bool
}

func (f *flexDuration) UnmarshalJSON(b []byte) error {
	var n float64
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 {
			return errors.New("negative duration")
		}
		f.d, f.set = time.Duration(n*float64(time.Second)), true
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want seconds or a duration string")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New("want seconds or a duration string such as \"10s\"")
	}
	f.d, f.set = d, true
	return nil
}

// flexID reads an order id given as a JSON number or a string holding a
// plain decimal integer. The string form is strict ("1abc", " 1", "0x1",
// "+1" are refused): a lenient scan would turn garbage into a real order
// id and act on someone's order 1.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexID(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want an order id")
	}
	n, ok := parseOrderID(s)
	if !ok {
		return errors.New("want an order id: a decimal integer")
	}
	*f = flexID(n)
	return nil
}

// parseOrderID accepts only ASCII digits (at most 18, so no overflow).
func parseOrderID(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// RequestError answers a request fasthttp could not read under /api/sms/:
// status 400 or 413 (body too large), as a unified error.
func RequestError(ctx *fasthttp.RequestCtx, status int, msg string) {
	code := codeBadRequest
	if status == fasthttp.StatusRequestEntityTooLarge {
		code = status
	}
	apiFail(ctx, &apiErr{status, code, msg, nil})
}
