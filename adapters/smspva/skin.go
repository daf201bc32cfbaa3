package smspva

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
	"smsgate/adapters/upstream"
)

// SkinOptions pick between readings of facts the docs leave uncertain, so
// tests can hold the client to both. The zero value is the reading the
// protocols file leans to.
type SkinOptions struct {
	// StatusInBody answers every request with HTTP 200, the status only in
	// the body's statusCode. Default: the HTTP status mirrors statusCode
	// (the docs say it "appears to", medium confidence).
	StatusInBody bool
	// PhoneAsString sends phoneNumber as a JSON string; default a JSON
	// number, as in the docs' sample.
	PhoneAsString bool
	// AuthText answers a missing or wrong key with v1's plain text ("API
	// KEY NOT FOUND!", HTTP 200). Default: HTTP 401 with a statusCode 401
	// envelope. v2's auth failure is undocumented.
	AuthText bool
}

// NewSkin serves SMS-PVA's activation API v2 over a simulated market, with
// the market's fault injection in front. Each request is counted under its
// route name ("number", "sms", "clearsms", …; "unknown" otherwise). The
// routes are the protocols file's checklist plus orders, whose item fields
// are this skin's guess (the docs show none): those of the number answer
// plus "service".
//
// Where the market and SMS-PVA differ, the skin speaks for SMS-PVA:
//   - SMS-PVA has no cancel guard: a cancel the market refuses as early
//     ends the order through the market's ban, which refunds the same way
//     (only the market's label differs; the protocol answers 410 for both);
//   - a cancel after an SMS is refused with 405 (undocumented; assumed), and
//     actions on a closed order answer 406 (it is no longer found among open
//     orders; undocumented for cancelorder, documented for clearsms);
//   - the market charges at purchase, SMS-PVA on delivery: the skin never
//     answers 407 on sms (an SMS withheld until the balance pays for it);
//   - clearsms does not extend the market's order lifetime;
//   - an account banned in the market is SMS-PVA's karma block: 411 on the
//     calls the docs list it for (number, sms, cancelorder, blocknumber),
//     with a negative karma in userinfo.
//
// The market's Lifetime should be 10 minutes, SMS-PVA's orderExpireIn.
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with a chosen reading of the uncertain facts.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	s := &skin{m: m, o: o}
	return m.Wrap(s.serve)
}

type skin struct {
	m *simulator.Market
	o SkinOptions
}

type route struct {
	method string
	args   int
	karma  bool // answers 411 while the account is banned
	h      func(s *skin, ctx *fasthttp.RequestCtx, args []string)
}

var routes = skinkit.Routes[route]{
	"number":         {fasthttp.MethodGet, 2, true, (*skin).number},
	"sms":            {fasthttp.MethodGet, 1, true, (*skin).sms},
	"clearsms":       {fasthttp.MethodPut, 1, false, (*skin).clearSMS},
	"cancelorder":    {fasthttp.MethodPut, 1, true, (*skin).cancel},
	"blocknumber":    {fasthttp.MethodPut, 1, true, (*skin).block},
	"balance":        {fasthttp.MethodGet, 0, false, (*skin).balance},
	"userinfo":       {fasthttp.MethodGet, 0, false, (*skin).userInfo},
	"countnumbers":   {fasthttp.MethodGet, 1, false, (*skin).countNumbers},
	"serviceprice":   {fasthttp.MethodGet, 2, false, (*skin).servicePrice},
	"servicesprices": {fasthttp.MethodGet, 0, false, (*skin).servicesPrices},
	"orders":         {fasthttp.MethodGet, 0, false, (*skin).orders},
}

func (s *skin) serve(ctx *fasthttp.RequestCtx) {
	// string() copies: nothing below keeps fasthttp's buffers.
	rest, ok := strings.CutPrefix(string(ctx.Path()), "/activation/")
	parts := strings.Split(rest, "/")
	if !ok {
		parts[0] = "" // routed nowhere, counted as unknown
	}
	r, known := routes.Route(s.m, parts[0])
	if !known || len(parts)-1 != r.args {
		s.fail(ctx, fasthttp.StatusNotFound, "not_found", "Not found")
		return
	}
	if string(ctx.Method()) != r.method {
		s.fail(ctx, fasthttp.StatusMethodNotAllowed, "invalid_parameters", "Invalid parameters")
		return
	}
	key := string(ctx.Request.Header.Peek("apikey"))
	if !s.m.CheckKey(key) {
		s.unauthorized(ctx, key == "")
		return
	}
	if _, banned := s.m.BannedUntil(); banned && r.karma {
		s.fail(ctx, 411, "access_limited", "API access limited by low karma or ratelimits")
		return
	}
	r.h(s, ctx, parts[1:])
}

// envelope is the v2 answer; field order as in the docs.
type envelope struct {
	StatusCode int       `json:"statusCode"`
	Data       any       `json:"data,omitempty"`
	Error      *errorObj `json:"error,omitempty"`
}

type errorObj struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

func (s *skin) write(ctx *fasthttp.RequestCtx, env envelope) {
	status := env.StatusCode
	if s.o.StatusInBody {
		status = fasthttp.StatusOK
	}
	skinkit.JSON(ctx, status, env)
}

func (s *skin) ok(ctx *fasthttp.RequestCtx, data any) {
	s.write(ctx, envelope{StatusCode: 200, Data: data})
}

func (s *skin) fail(ctx *fasthttp.RequestCtx, code int, typ, desc string) {
	s.write(ctx, envelope{StatusCode: code, Error: &errorObj{Type: typ, Description: desc}})
}

func (s *skin) unauthorized(ctx *fasthttp.RequestCtx, missing bool) {
	if s.o.AuthText {
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("text/html; charset=utf-8")
		if missing {
			ctx.SetBodyString("API KEY not received!")
		} else {
			ctx.SetBodyString("API KEY NOT FOUND!")
		}
		return
	}
	s.fail(ctx, fasthttp.StatusUnauthorized, "unauthorized", "Invalid API key")
}

// decimal renders micro-units as a JSON number with no trailing zeros
// (10.5, 0.37, 1000), as the docs' samples show amounts.
func decimal(micros int64) json.Number { return json.Number(adapters.FormatTrimmed(micros, 0)) }

// pair maps v2 codes (matched exactly: paths are case-sensitive) to
// canonical ones.
func pair(cc, opt string) (string, string, bool) {
	country, ok1 := countries.Canonical(cc)
	service, ok2 := services.Canonical(opt)
	return country, service, ok1 && ok2
}

func orderID(arg string) (int64, bool) {
	if !upstream.IsDigits(arg, 1, 18) {
		return 0, false
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	return id, err == nil
}

func (s *skin) expireIn(o simulator.Order) int {
	left := o.ExpiresAt.Sub(s.m.Now())
	if left < 0 {
		return 0
	}
	return int(left / time.Second)
}

// national strips the country calling code: SMS-PVA gives numbers without
// it.
func national(o simulator.Order) string {
	if c, ok := catalog.CountryByISO(o.Country); ok {
		return strings.TrimPrefix(o.Phone, c.Dial)
	}
	return o.Phone
}

func (s *skin) notFound(ctx *fasthttp.RequestCtx) {
	s.fail(ctx, 406, "order_not_found", "Order ID format is invalid or not found")
}

func (s *skin) number(ctx *fasthttp.RequestCtx, args []string) {
	country, service, ok := pair(args[0], args[1])
	if !ok {
		s.fail(ctx, 405, "invalid_parameters", "Invalid parameters")
		return
	}
	o, err := s.m.Buy(simulator.BuyArgs{Country: country, Service: service})
	switch {
	case errors.Is(err, adapters.ErrBadService), errors.Is(err, adapters.ErrBadCountry):
		s.fail(ctx, 405, "invalid_parameters", "Invalid parameters")
		return
	case errors.Is(err, adapters.ErrNoNumbers):
		s.fail(ctx, 502, "number_not_found", "Number not found.")
		return
	case errors.Is(err, adapters.ErrNoBalance):
		s.fail(ctx, 407, "low_balance", "Your balance is too low to receive sms for selected country and service.")
		return
	case err != nil:
		s.fail(ctx, 500, "server_error", "Failed to fetch number")
		return
	}
	var phone any = json.Number(national(o))
	if s.o.PhoneAsString {
		phone = national(o)
	}
	s.ok(ctx, struct {
		OrderID       int64  `json:"orderId"`
		PhoneNumber   any    `json:"phoneNumber"`
		CountryCode   string `json:"countryCode"`
		OrderExpireIn int    `json:"orderExpireIn"`
	}{o.ID, phone, args[0], s.expireIn(o)})
}

func (s *skin) sms(ctx *fasthttp.RequestCtx, args []string) {
	id, ok := orderID(args[0])
	if !ok {
		s.notFound(ctx)
		return
	}
	o, err := s.m.Get(id)
	if err != nil {
		s.notFound(ctx)
		return
	}
	switch o.State {
	case adapters.StateCodeReceived:
		last := o.SMS[len(o.SMS)-1]
		type smsObj struct {
			Code     string `json:"code"`
			FullText string `json:"fullText"`
		}
		s.ok(ctx, struct {
			SMS           smsObj `json:"sms"`
			OrderID       string `json:"orderId"` // a string here, as in the docs
			OrderExpireIn int    `json:"orderExpireIn"`
		}{smsObj{last.Code, last.Text}, args[0], s.expireIn(o)})
	case adapters.StateWaiting, adapters.StateRetryWaiting:
		s.fail(ctx, 202, "sms_not_received", "SMS not yet received")
	default:
		s.fail(ctx, 410, "order_closed", "This order is closed and unavailable")
	}
}

func (s *skin) clearSMS(ctx *fasthttp.RequestCtx, args []string) {
	id, ok := orderID(args[0])
	if !ok {
		s.notFound(ctx)
		return
	}
	o, err := s.m.RequestAnother(id)
	switch {
	case errors.Is(err, adapters.ErrBadState) && o.State.Active():
		s.fail(ctx, 404, "no_sms", "No SMS received, or there's unpaid SMS waiting.")
		return
	case err != nil:
		s.fail(ctx, 406, "order_not_found", "Order not found.")
		return
	}
	s.ok(ctx, struct {
		OrderID       int64 `json:"orderId"`
		OrderExpireIn int   `json:"orderExpireIn"`
	}{o.ID, s.expireIn(o)})
}

func (s *skin) cancel(ctx *fasthttp.RequestCtx, args []string) {
	id, ok := orderID(args[0])
	if !ok {
		s.notFound(ctx)
		return
	}
	o, err := s.m.Cancel(id)
	if errors.Is(err, adapters.ErrEarlyCancel) {
		o, err = s.m.Ban(id) // no guard on SMS-PVA; see NewSkin
	}
	switch {
	case errors.Is(err, adapters.ErrBadState) && o.State.Active():
		s.fail(ctx, 405, "invalid_parameters", "Order has SMS and cannot be cancelled")
		return
	case err != nil:
		s.notFound(ctx)
		return
	}
	s.ok(ctx, struct {
		OrderID int64 `json:"orderId"`
	}{o.ID})
}

func (s *skin) block(ctx *fasthttp.RequestCtx, args []string) {
	id, ok := orderID(args[0])
	if !ok {
		s.notFound(ctx)
		return
	}
	o, err := s.m.Ban(id)
	if err != nil {
		s.notFound(ctx)
		return
	}
	s.ok(ctx, struct {
		OrderID int64 `json:"orderId"`
	}{o.ID})
}

func (s *skin) balance(ctx *fasthttp.RequestCtx, _ []string) {
	s.ok(ctx, struct {
		Balance json.Number `json:"balance"`
	}{decimal(s.m.Balance())})
}

func (s *skin) userInfo(ctx *fasthttp.RequestCtx, _ []string) {
	karma := json.Number("100.5")
	if _, banned := s.m.BannedUntil(); banned {
		karma = "-5"
	}
	s.ok(ctx, struct {
		Balance json.Number `json:"balance"`
		Name    string      `json:"name"`
		Karma   json.Number `json:"karma"`
	}{decimal(s.m.Balance()), "sim", karma})
}

// countNumbers answers one item per operator; the market does not split
// stock by operator, so there is one item, operator "any". The item shape
// is what public v2 clients read (the docs show none).
func (s *skin) countNumbers(ctx *fasthttp.RequestCtx, args []string) {
	country, ok := countries.Canonical(args[0])
	if !ok {
		s.fail(ctx, 405, "invalid_parameters", "Invalid parameters")
		return
	}
	type svcCount struct {
		Service string `json:"service"`
		Total   int    `json:"total"`
	}
	type item struct {
		Country  string     `json:"country"`
		Operator string     `json:"operator"`
		Services []svcCount `json:"services"`
	}
	data := []item{}
	var list []svcCount
	for _, o := range s.m.Offers(country, "") {
		if opt, ok := services.Native(o.Service); ok {
			list = append(list, svcCount{opt, o.Count})
		}
	}
	if len(list) > 0 {
		data = append(data, item{args[0], "any", list})
	}
	s.ok(ctx, data)
}

type priceItem struct {
	Service            string      `json:"service"`
	ServiceDescription string      `json:"serviceDescription"`
	Price              json.Number `json:"price"`
}

func describe(service string) string {
	if sv, ok := catalog.ServiceByCode(service); ok {
		return sv.Name
	}
	return service
}

func (s *skin) servicePrice(ctx *fasthttp.RequestCtx, args []string) {
	country, service, ok := pair(args[0], args[1])
	offers := s.m.Offers(country, service)
	if !ok || len(offers) == 0 {
		s.fail(ctx, 405, "invalid_parameters", "Invalid parameters")
		return
	}
	s.ok(ctx, priceItem{args[1], describe(service), decimal(offers[0].Price)})
}

// servicesPrices lists each service once at its lowest price over the
// countries (the docs do not say whether the list is per country).
func (s *skin) servicesPrices(ctx *fasthttp.RequestCtx, _ []string) {
	lowest := map[string]int64{}
	for _, o := range s.m.Offers("", "") {
		if p, seen := lowest[o.Service]; !seen || o.Price < p {
			lowest[o.Service] = o.Price
		}
	}
	data := []priceItem{}
	for _, svc := range services.Canonicals() {
		if p, ok := lowest[svc]; ok {
			opt, _ := services.Native(svc)
			data = append(data, priceItem{opt, describe(svc), decimal(p)})
		}
	}
	s.ok(ctx, data)
}

// orders lists the open orders, oldest first.
func (s *skin) orders(ctx *fasthttp.RequestCtx, _ []string) {
	type item struct {
		OrderID       int64  `json:"orderId"`
		PhoneNumber   any    `json:"phoneNumber"`
		CountryCode   string `json:"countryCode"`
		Service       string `json:"service"`
		OrderExpireIn int    `json:"orderExpireIn"`
	}
	list := []item{}
	for _, o := range s.m.Active() {
		cc, ok1 := countries.Native(o.Country)
		opt, ok2 := services.Native(o.Service)
		if !ok1 || !ok2 {
			continue
		}
		var phone any = json.Number(national(o))
		if s.o.PhoneAsString {
			phone = national(o)
		}
		list = append(list, item{o.ID, phone, cc, opt, s.expireIn(o)})
	}
	s.ok(ctx, struct {
		Orders []item `json:"orders"`
	}{list})
}
