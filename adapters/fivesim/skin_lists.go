package fivesim

import (
	"encoding/json"
	"slices"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/catalog"
)

// 5SIM's guest routes: the public price, product and country lists.

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
