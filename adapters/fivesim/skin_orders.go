package fivesim

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
)

// 5SIM's account and order routes: profile, buy, check, finish, cancel and
// ban, and how an order is shown.

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
	s.json(ctx, s.orderObject(o, status))
}

// orderObject is o as 5SIM shows an order (§3.3); status "" means the
// order's own.
func (s *skin) orderObject(o simulator.Order, status string) skinOrder {
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
	return w
}

// historyPage is the order history answer (§3.9): PascalCase keys, the
// orders as §3.3 shows them.
type historyPage struct {
	Data         []skinOrder `json:"Data"`
	ProductNames []string    `json:"ProductNames"`
	Statuses     []string    `json:"Statuses"`
	Total        int         `json:"Total"`
}

// historyLimit is the page size when the request names none: the docs'
// example asks for 15.
const historyLimit = 15

// orders serves GET /v1/user/orders?category=activation|hosting&limit=
// &offset=&order=id&reverse=true (§3.9). The market sells activations
// only, so the hosting history is empty. Reading the history reads the
// orders' SMS as check does, so a code-received order may get one more
// (repeat).
func (s *skin) orders(ctx *fasthttp.RequestCtx, parts []string) {
	if len(parts) != 0 {
		s.notFound(ctx)
		return
	}
	args := ctx.QueryArgs()
	limit, err := strconv.Atoi(string(args.Peek("limit")))
	if err != nil || limit <= 0 {
		limit = historyLimit
	}
	offset, err := strconv.Atoi(string(args.Peek("offset")))
	if err != nil || offset < 0 {
		offset = 0
	}
	page := historyPage{Data: []skinOrder{}, ProductNames: []string{}, Statuses: []string{}}
	if string(args.Peek("category")) != "hosting" {
		var list []simulator.Order
		list, page.Total = s.m.History(offset, limit, string(args.Peek("reverse")) == "true")
		for _, o := range list {
			s.repeat(o)
			page.Data = append(page.Data, s.orderObject(o, ""))
		}
	}
	s.json(ctx, page)
}
