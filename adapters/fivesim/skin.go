package fivesim

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

// SkinOptions pick between readings of the protocol that the protocols
// file leaves open. The zero value is the default reading.
type SkinOptions struct {
	// ErrorStatus is the HTTP status of error bodies: 400 by default (what
	// newer integrations see); 200 is what older clients saw.
	ErrorStatus int
	// NoCancelGuard drops the early-cancel guard. By default a cancel
	// inside the market's guard is answered "you need to wait time", a
	// string seen in the wild whose delay nobody documented.
	NoCancelGuard bool
	// MaxSMS caps the SMS one order receives; default 2. 5SIM has no "send
	// another code" call: the target service resends when the user asks it
	// to, and the SMS joins the open order. The simulator cannot see that
	// ask, so after an order's code has been read it lets one more SMS
	// arrive, up to this cap.
	MaxSMS int
}

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

func (s *skin) profile(ctx *fasthttp.RequestCtx) {
	var frozen int64
	for _, o := range s.m.Active() {
		frozen += o.Price
	}
	rating := 96
	if _, banned := s.m.BannedUntil(); banned {
		rating = 0
	}
	type named struct {
		Name   string `json:"name"`
		ISO    string `json:"iso,omitempty"`
		Prefix string `json:"prefix,omitempty"`
	}
	s.json(ctx, struct {
		ID                      int         `json:"id"`
		Email                   string      `json:"email"`
		Vendor                  string      `json:"vendor"`
		DefaultForwardingNumber string      `json:"default_forwarding_number"`
		Balance                 json.Number `json:"balance"`
		Rating                  int         `json:"rating"`
		DefaultCountry          named       `json:"default_country"`
		DefaultOperator         named       `json:"default_operator"`
		FrozenBalance           json.Number `json:"frozen_balance"`
	}{
		ID: 1, Email: "sim@example.com", Balance: s.number(s.m.Balance()), Rating: rating,
		DefaultCountry: named{Name: "russia", ISO: "ru", Prefix: "+7"},
		FrozenBalance:  s.number(frozen),
	})
}

// operators are the operator slugs the skin lists for a country. A country
// the catalogue has no operators for gets one virtual pool, as 5SIM names
// them: it never lists "any" itself.
func operators(iso string) []string {
	ops := simulator.Operators(iso)
	if len(ops) == 1 && ops[0] == "any" {
		return []string{"virtual21"}
	}
	return ops
}

// buy serves /v1/user/buy/activation/{country}/{operator}/{product}.
func (s *skin) buy(ctx *fasthttp.RequestCtx, parts []string) {
	if len(parts) == 0 || parts[0] != "activation" {
		// Hosting (rental) numbers are not simulated.
		s.fail(ctx, txtNoProduct)
		return
	}
	args := append(slices.Clone(parts[1:]), "", "", "")
	switch {
	case args[0] == "":
		s.fail(ctx, txtSelectCountry)
		return
	case args[1] == "":
		s.fail(ctx, txtSelectOperator)
		return
	case args[2] == "":
		s.fail(ctx, txtNoProduct)
		return
	}
	iso, ok := countries.Canonical(args[0])
	if !ok {
		s.fail(ctx, txtBadCountry)
		return
	}
	svc, ok := services.Canonical(args[2])
	if !ok {
		s.fail(ctx, txtNoProduct)
		return
	}
	op := args[1]
	if op != "any" && !slices.Contains(operators(iso), op) {
		s.fail(ctx, txtBadOperator)
		return
	}
	if _, banned := s.m.BannedUntil(); banned {
		// A blocked account (rating 0) cannot buy.
		s.fail(ctx, txtNoRating)
		return
	}
	var max int64
	if op == "any" { // maxPrice is honoured only with operator "any"
		if v := ctx.QueryArgs().Peek("maxPrice"); len(v) > 0 {
			if p, err := adapters.ParseDecimal(string(v)); err == nil && p > 0 {
				max = p
			}
		}
	}
	o, err := s.m.Buy(simulator.BuyArgs{Country: iso, Service: svc, Operator: op, MaxPrice: max})
	switch {
	case err == nil:
		// A fresh order is still PENDING in the buy answer; checks show RECEIVED.
		s.writeOrder(ctx, o, stPending)
	case errors.Is(err, adapters.ErrBadService):
		s.fail(ctx, txtNoProduct)
	case errors.Is(err, adapters.ErrBadCountry):
		s.fail(ctx, txtBadCountry)
	case errors.Is(err, adapters.ErrNoNumbers), errors.Is(err, adapters.ErrPriceTooHigh):
		// 5SIM has no price error: nothing at or under maxPrice is "no free phones".
		s.fail(ctx, txtNoFreePhones)
	case errors.Is(err, adapters.ErrNoBalance):
		s.fail(ctx, txtNoBalance)
	default:
		s.internal(ctx)
	}
}

// orderAction serves check, finish, cancel and ban on /v1/user/{verb}/{id}.
func (s *skin) orderAction(ctx *fasthttp.RequestCtx, verb string, parts []string) {
	if len(parts) != 1 {
		s.fail(ctx, txtOrderNotFound)
		return
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		s.fail(ctx, txtOrderNotFound)
		return
	}
	var o simulator.Order
	switch verb {
	case "check":
		o, err = s.m.Get(id)
		if err == nil {
			s.repeat(o)
		}
	case "finish":
		o, err = s.m.Finish(id)
	case "cancel":
		o, err = s.m.Cancel(id)
		if errors.Is(err, adapters.ErrEarlyCancel) {
			if !s.opt.NoCancelGuard {
				s.fail(ctx, txtWaitTime)
				return
			}
			if o, err = s.m.Ban(id); err == nil {
				s.cancelled.Set(id, true)
			}
		}
	case "ban":
		o, err = s.m.Ban(id)
	}
	switch {
	case err == nil:
		s.writeOrder(ctx, o, "")
	case errors.Is(err, adapters.ErrNoActivation):
		s.fail(ctx, txtOrderNotFound)
	case errors.Is(err, adapters.ErrBadState):
		s.refuse(ctx, verb, o)
	default:
		s.internal(ctx)
	}
}

// refuse answers an action the order's state does not allow. Repeating an
// action that already happened answers the order again (an undocumented
// corner; idempotence lets a caller whose answer was lost ask again).
// Otherwise the closest documented refusal.
func (s *skin) refuse(ctx *fasthttp.RequestCtx, verb string, o simulator.Order) {
	st := s.status(o)
	switch {
	case verb == "finish" && st == stFinished, verb == "cancel" && st == stCanceled, verb == "ban" && st == stBanned:
		s.writeOrder(ctx, o, "")
	case verb == "cancel" && len(o.SMS) > 0:
		s.fail(ctx, txtOrderHasSMS)
	case verb == "finish" && len(o.SMS) == 0 && st != stTimeout:
		s.fail(ctx, txtOrderNoSMS)
	default:
		s.fail(ctx, txtOrderExpired)
	}
}

// repeat lets one more SMS arrive on an order whose code has been read (see
// SkinOptions.MaxSMS).
func (s *skin) repeat(o simulator.Order) {
	if o.State == adapters.StateCodeReceived && len(o.SMS) < s.opt.MaxSMS && s.m.RetryAllowed(o.Country) {
		// The order may have moved on meanwhile; then there is nothing to arm.
		_, _ = s.m.RequestAnother(o.ID)
	}
}

func (s *skin) status(o simulator.Order) string {
	switch o.State {
	case adapters.StateFinished:
		return stFinished
	case adapters.StateCancelled:
		return stCanceled
	case adapters.StateExpired:
		return stTimeout
	case adapters.StateBanned:
		if s.cancelled.Get(o.ID) {
			return stCanceled
		}
		return stBanned
	}
	return stReceived // issued: waiting for SMS or holding some
}

type skinSMS struct {
	CreatedAt string `json:"created_at"`
	Date      string `json:"date"`
	Sender    string `json:"sender"`
	Text      string `json:"text"`
	Code      string `json:"code"`
}

type skinOrder struct {
	ID               int64       `json:"id"`
	Phone            string      `json:"phone"`
	Operator         string      `json:"operator"`
	Product          string      `json:"product"`
	Price            json.Number `json:"price"`
	Status           string      `json:"status"`
	Expires          string      `json:"expires"`
	SMS              []skinSMS   `json:"sms"` // null until the first SMS, as 5SIM sends it
	CreatedAt        string      `json:"created_at"`
	Forwarding       bool        `json:"forwarding"`
	ForwardingNumber string      `json:"forwarding_number"`
	Country          string      `json:"country"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// writeOrder answers an order object; status "" means the order's own.
func (s *skin) writeOrder(ctx *fasthttp.RequestCtx, o simulator.Order, status string) {
	if status == "" {
		status = s.status(o)
	}
	ctry, _ := countries.Native(o.Country)
	product, _ := services.Native(o.Service)
	op := o.Operator
	if op == "any" || op == "" {
		op = operators(o.Country)[0]
	}
	w := skinOrder{
		ID: o.ID, Phone: "+" + o.Phone, Operator: op, Product: product, Price: s.number(o.Price),
		Status: status, Expires: stamp(o.ExpiresAt), CreatedAt: stamp(o.CreatedAt), Country: ctry,
	}
	for _, m := range o.SMS {
		sender := m.From
		if svc, ok := catalog.ServiceByCode(m.From); ok {
			sender = svc.Name
		}
		w.SMS = append(w.SMS, skinSMS{CreatedAt: stamp(m.ReceivedAt), Date: stamp(m.ReceivedAt), Sender: sender, Text: m.Text, Code: m.Code})
	}
	s.json(ctx, w)
}

type skinLeaf struct {
	Cost  json.Number  `json:"cost"`
	Count int          `json:"count"`
	Rate  *json.Number `json:"rate,omitempty"` // delivery rate; 5SIM leaves it out on some pools
}

// split spreads a pair's stock over the country's operators (the market
// keeps one stock per pair), so the sum is the stock.
func split(iso string, price int64, stock int, num func(int64) json.Number) map[string]skinLeaf {
	ops := operators(iso)
	stock = max(stock, 0)
	out := make(map[string]skinLeaf, len(ops))
	for i, op := range ops {
		n := stock / len(ops)
		if i < stock%len(ops) {
			n++
		}
		l := skinLeaf{Cost: num(price), Count: n}
		if i == 0 {
			r := json.Number("99.1")
			l.Rate = &r
		}
		out[op] = l
	}
	return out
}

// prices serves /v1/guest/prices in the nesting its filters select.
func (s *skin) prices(ctx *fasthttp.RequestCtx) {
	qc := string(ctx.QueryArgs().Peek("country"))
	qp := string(ctx.QueryArgs().Peek("product"))
	var iso, svc string
	ok := true
	if qc != "" {
		iso, ok = countries.Canonical(qc)
	}
	if ok && qp != "" {
		svc, ok = services.Canonical(qp)
	}
	if !ok {
		s.null(ctx)
		return
	}
	productFirst := qp != "" && qc == ""
	out := map[string]map[string]map[string]skinLeaf{}
	for _, o := range s.m.Offers(iso, svc) {
		c, ok1 := countries.Native(o.Country)
		p, ok2 := services.Native(o.Service)
		if !ok1 || !ok2 {
			continue
		}
		k1, k2 := c, p
		if productFirst {
			k1, k2 = p, c
		}
		if out[k1] == nil {
			out[k1] = map[string]map[string]skinLeaf{}
		}
		out[k1][k2] = split(o.Country, o.Price, o.Count, s.number)
	}
	if len(out) == 0 {
		s.null(ctx)
		return
	}
	s.json(ctx, out)
}

func (s *skin) null(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString("null")
}

// products serves /v1/guest/products/{country}/{operator}.
func (s *skin) products(ctx *fasthttp.RequestCtx, parts []string) {
	parts = append(slices.Clone(parts), "", "")
	iso, ok := countries.Canonical(parts[0])
	op := parts[1]
	if !ok || (op != "any" && !slices.Contains(operators(iso), op)) {
		s.null(ctx)
		return
	}
	type product struct {
		Category string      `json:"Category"`
		Qty      int         `json:"Qty"`
		Price    json.Number `json:"Price"`
	}
	out := map[string]product{}
	for _, o := range s.m.Offers(iso, "") {
		p, ok := services.Native(o.Service)
		if !ok {
			continue
		}
		n := o.Count
		if op != "any" {
			n = split(iso, o.Price, o.Count, s.number)[op].Count
		}
		out[p] = product{Category: "activation", Qty: n, Price: s.number(o.Price)}
	}
	s.json(ctx, out)
}

// countries serves /v1/guest/countries: per slug its iso and prefix as
// single-key maps, names, and one key per operator with its categories.
func (s *skin) countries(ctx *fasthttp.RequestCtx) {
	out := map[string]map[string]any{}
	for _, iso := range s.m.Countries() {
		slug, ok := countries.Native(iso)
		c, known := catalog.CountryByISO(iso)
		if !ok || !known {
			continue
		}
		e := map[string]any{
			"iso":     map[string]int{iso: 1},
			"prefix":  map[string]int{"+" + c.Dial: 1},
			"text_en": c.Name,
			"text_ru": c.Name,
		}
		for _, op := range operators(iso) {
			e[op] = map[string]int{"activation": 1}
		}
		out[slug] = e
	}
	s.json(ctx, out)
}
