package smsservice

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
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
	std := &smsactivate.Server{Backend: smsactivate.NewMarketBackend(m), Path: Path}
	native, _ := Lang(m.Currency())
	h := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != Path {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		arg := func(k string) string {
			if v := ctx.QueryArgs().Peek(k); v != nil {
				return string(v)
			}
			return string(ctx.PostArgs().Peek(k))
		}
		action := arg("action")
		m.CountCall(action)
		text := func(s string) { ctx.SetContentType("text/plain; charset=utf-8"); ctx.SetBodyString(s) }
		if !m.CheckKey(arg("api_key")) {
			text(smsactivate.TokBadKey) // documented for a wrong or a missing key
			return
		}
		lang := arg("lang")
		if lang != "ru" && lang != "en" {
			// Undocumented on the real site; the simulator refuses loudly.
			text("BAD_LANG")
			return
		}
		other := lang != native
		switch action {
		case "getBalance":
			bal := m.Balance()
			if other {
				bal = 0
			}
			text(adapters.FormatDecimal(bal, 2))
		case "getCountryAndOperators":
			type entry struct {
				ID        int               `json:"id"`
				Name      string            `json:"name"`
				Operators map[string]string `json:"operators"`
			}
			var out []entry
			for _, iso := range m.Countries() {
				c, _ := catalog.CountryByISO(iso)
				ops := map[string]string{"any": "any"}
				for _, op := range simulator.Operators(iso) {
					ops[op] = op
				}
				out = append(out, entry{ID: c.SMSActivateID, Name: c.Name, Operators: ops})
			}
			writeJSON(ctx, out)
		case "getServicesAndCost":
			id, err := strconv.Atoi(arg("country"))
			c, ok := catalog.CountryBySMSActivateID(id)
			if err != nil || !ok {
				writeJSON(ctx, []any{})
				return
			}
			type entry struct {
				ID       string      `json:"id"`
				Name     string      `json:"name"`
				Price    json.Number `json:"price"`
				Quantity int         `json:"quantity"`
			}
			out := []entry{}
			for _, o := range m.Offers(c.ISO, "") {
				name := o.Service
				if s, ok := catalog.ServiceByCode(o.Service); ok {
					name = s.Name
				}
				out = append(out, entry{ID: o.Service, Name: name, Price: json.Number(adapters.FormatDecimal(o.Price, 2)), Quantity: o.Count})
			}
			writeJSON(ctx, out)
		case "getNumber":
			if other {
				text(smsactivate.TokNoBalance)
				return
			}
			std.Handle(ctx)
		case "getStatus", "setStatus", "getFullSms":
			std.Handle(ctx)
		default:
			text(smsactivate.TokBadAction)
		}
	}
	return m.Wrap(h)
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, _ := json.Marshal(v)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
