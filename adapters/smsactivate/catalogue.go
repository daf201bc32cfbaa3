package smsactivate

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"smsgate/adapters/catalog"
)

// The handler API's catalogue actions: prices, stock, countries, services
// and operators, read from the Backend's offers.

// offers reads the optional service and country filters and fetches offers.
func (s *Server) offers(cctx context.Context, r *request, account string) ([]Offer, bool) {
	service := strings.ToLower(r.arg("service"))
	if service != "" {
		if _, ok := catalog.ServiceByCode(service); !ok {
			s.fail(r.ctx, TokBadService)
			return nil, false
		}
	}
	country, tok := countryArg(r.arg("country"), false)
	if tok != "" {
		s.fail(r.ctx, tok)
		return nil, false
	}
	list, err := s.Backend.Offers(cctx, account, country, service)
	if err != nil {
		s.failErr(r.ctx, err)
		return nil, false
	}
	return list, true
}

func (s *Server) getPrices(cctx context.Context, r *request, account string) {
	list, ok := s.offers(cctx, r, account)
	if !ok {
		return
	}
	out := map[string]map[string]PriceInfo{}
	for _, o := range list {
		id := saID(o.Country)
		if id < 0 {
			continue
		}
		k := strconv.Itoa(id)
		if out[k] == nil {
			out[k] = map[string]PriceInfo{}
		}
		out[k][o.Service] = PriceInfo{Cost: json.Number(money(o.Price.Micros)), Count: o.Count, PhysicalCount: o.Count}
	}
	s.json(r.ctx, out)
}

// NumbersStatus answers plain service codes (the later documented shape),
// not the old "tg_0" form: clients strip the suffix when present anyway.
func (s *Server) getNumbersStatus(cctx context.Context, r *request, account string) {
	list, ok := s.offers(cctx, r, account)
	if !ok {
		return
	}
	if r.arg("country") == "" {
		// Without a country the original answered for the account's
		// default country; ours is Russia (0), like getNumber.
		filtered := list[:0:0]
		for _, o := range list {
			if o.Country == "ru" {
				filtered = append(filtered, o)
			}
		}
		list = filtered
	}
	out := map[string]int{}
	for _, o := range list {
		out[o.Service] += o.Count
	}
	s.json(r.ctx, out)
}

func (s *Server) getCountries(cctx context.Context, r *request, account string) {
	sold := map[string]bool{}
	if cl, ok := s.Backend.(CountryLister); ok {
		list, err := cl.Countries(cctx, account)
		if err != nil {
			s.failErr(r.ctx, err)
			return
		}
		for _, c := range list {
			sold[c] = true
		}
	} else {
		list, err := s.Backend.Offers(cctx, account, "", "")
		if err != nil {
			s.failErr(r.ctx, err)
			return
		}
		for _, o := range list {
			sold[o.Country] = true
		}
	}
	out := map[string]CountryInfo{}
	for _, c := range catalog.Countries() {
		if !sold[c.ISO] {
			continue
		}
		// The catalog keeps English names only; rus/chn repeat them rather
		// than being absent, because clients index these fields directly.
		out[strconv.Itoa(c.SMSActivateID)] = CountryInfo{ID: c.SMSActivateID, Rus: c.Name, Eng: c.Name, Chn: c.Name, Visible: 1, Retry: 1}
	}
	s.json(r.ctx, out)
}

func (s *Server) getServicesList(cctx context.Context, r *request, account string) {
	country, tok := countryArg(r.arg("country"), false)
	if tok != "" {
		s.fail(r.ctx, tok)
		return
	}
	var sold map[string]bool
	if country != "" {
		list, err := s.Backend.Offers(cctx, account, country, "")
		if err != nil {
			s.failErr(r.ctx, err)
			return
		}
		sold = map[string]bool{}
		for _, o := range list {
			sold[o.Service] = true
		}
	}
	out := servicesList{Status: "success", Services: []serviceEntry{}}
	for _, sv := range catalog.Services() {
		if sold == nil || sold[sv.Code] {
			out.Services = append(out.Services, serviceEntry{Code: sv.Code, Name: sv.Name})
		}
	}
	s.json(r.ctx, out)
}

func (s *Server) getOperators(cctx context.Context, r *request, account string) {
	country, tok := countryArg(r.arg("country"), false)
	if tok != "" {
		s.json(r.ctx, jsonError{Status: "error", Error: TokOperatorsNotFound})
		return
	}
	ops, err := s.Backend.Operators(cctx, account, country)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	out := operatorsAnswer{Status: "success", CountryOperators: map[string][]string{}}
	for iso, list := range ops {
		if id := saID(iso); id >= 0 {
			out.CountryOperators[strconv.Itoa(id)] = list
		}
	}
	if len(out.CountryOperators) == 0 {
		s.json(r.ctx, jsonError{Status: "error", Error: TokOperatorsNotFound})
		return
	}
	s.json(r.ctx, out)
}

func (s *Server) getTopCountries(cctx context.Context, r *request, account string) {
	service := strings.ToLower(r.arg("service"))
	if _, ok := catalog.ServiceByCode(service); !ok {
		s.fail(r.ctx, TokBadService)
		return
	}
	list, err := s.Backend.Offers(cctx, account, "", service)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	// Rank by stock, then by price: where a client is most likely to buy.
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Count != list[j].Count {
			return list[i].Count > list[j].Count
		}
		if list[i].Price.Micros != list[j].Price.Micros {
			return list[i].Price.Micros < list[j].Price.Micros
		}
		return list[i].Country < list[j].Country
	})
	out := map[string]TopCountry{}
	rank := 0
	for _, o := range list {
		id := saID(o.Country)
		if id < 0 || o.Count <= 0 {
			continue
		}
		out[strconv.Itoa(rank)] = TopCountry{Country: id, Count: o.Count, Price: json.Number(money(o.Price.Micros)), RetailPrice: json.Number(money(o.Price.Micros))}
		rank++
	}
	s.json(r.ctx, out)
}
