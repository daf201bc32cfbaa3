package smsservice

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
	"smsgate/adapters/smsactivate"
)

// NewSkin serves SMS-Service's flavour of the handler API over a market:
// path without ".php", lang required, bare-number balance, the JSON
// catalogue calls; the activation actions are the shared handler API.
//
// A real account has a RUB and a USD balance selected by lang; the
// simulated market has one currency, so the other lang sees an empty
// account (balance 0.00, purchases NO_BALANCE).
func NewSkin(m *simulator.Market) fasthttp.RequestHandler {
	native, _ := Lang(m.Currency())
	s := &skin{m: m, native: native, std: &smsactivate.Server{Backend: smsactivate.NewMarketBackend(m), Path: Path}}
	return m.Wrap(s.serve)
}

type skin struct {
	m      *simulator.Market
	native string              // the lang of the market's currency
	std    *smsactivate.Server // the shared handler API
}

// handler serves one action; other is true when lang selects the account
// in the currency the market does not have.
type handler = func(s *skin, ctx *fasthttp.RequestCtx, other bool)

var routes = skinkit.Routes[handler]{
	"getBalance":             (*skin).balance,
	"getCountryAndOperators": (*skin).countries,
	"getServicesAndCost":     (*skin).servicesAndCost,
	"getNumber":              (*skin).getNumber,
	"getStatus":              (*skin).standard,
	"setStatus":              (*skin).standard,
	"getFullSms":             (*skin).standard,
}

func (s *skin) serve(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != Path {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	h, routed := routes.Route(s.m, skinkit.Arg(ctx, "action"))
	if !s.m.CheckKey(skinkit.Arg(ctx, "api_key")) {
		text(ctx, smsactivate.TokBadKey) // documented for a wrong or a missing key
		return
	}
	lang := skinkit.Arg(ctx, "lang")
	if lang != "ru" && lang != "en" {
		// Undocumented on the real site; the simulator refuses loudly.
		text(ctx, "BAD_LANG")
		return
	}
	if !routed {
		text(ctx, smsactivate.TokBadAction)
		return
	}
	h(s, ctx, lang != s.native)
}

func text(ctx *fasthttp.RequestCtx, body string) { skinkit.Text(ctx, fasthttp.StatusOK, body) }

// standard actions are the shared handler API's.
func (s *skin) standard(ctx *fasthttp.RequestCtx, _ bool) { s.std.Handle(ctx) }

// getNumber in the other currency's account has nothing to pay with.
func (s *skin) getNumber(ctx *fasthttp.RequestCtx, other bool) {
	if other {
		text(ctx, smsactivate.TokNoBalance)
		return
	}
	s.std.Handle(ctx)
}

// balance is a bare number, and 0 in the other currency's account.
func (s *skin) balance(ctx *fasthttp.RequestCtx, other bool) {
	bal := s.m.Balance()
	if other {
		bal = 0
	}
	text(ctx, adapters.FormatDecimal(bal, 2))
}

func (s *skin) countries(ctx *fasthttp.RequestCtx, _ bool) {
	type entry struct {
		ID        int               `json:"id"`
		Name      string            `json:"name"`
		Operators map[string]string `json:"operators"`
	}
	var out []entry
	for _, iso := range s.m.Countries() {
		c, _ := catalog.CountryByISO(iso)
		ops := map[string]string{"any": "any"}
		for _, op := range simulator.Operators(iso) {
			ops[op] = op
		}
		out = append(out, entry{ID: c.SMSActivateID, Name: c.Name, Operators: ops})
	}
	simulator.WriteJSON(ctx, out)
}

func (s *skin) servicesAndCost(ctx *fasthttp.RequestCtx, _ bool) {
	id, err := strconv.Atoi(skinkit.Arg(ctx, "country"))
	c, ok := catalog.CountryBySMSActivateID(id)
	if err != nil || !ok {
		simulator.WriteJSON(ctx, []any{})
		return
	}
	type entry struct {
		ID       string      `json:"id"`
		Name     string      `json:"name"`
		Price    json.Number `json:"price"`
		Quantity int         `json:"quantity"`
	}
	out := []entry{}
	for _, o := range s.m.Offers(c.ISO, "") {
		name := o.Service
		if svc, ok := catalog.ServiceByCode(o.Service); ok {
			name = svc.Name
		}
		out = append(out, entry{ID: o.Service, Name: name, Price: json.Number(adapters.FormatDecimal(o.Price, 2)), Quantity: o.Count})
	}
	simulator.WriteJSON(ctx, out)
}
