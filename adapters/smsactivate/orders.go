package smsactivate

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// The handler API's account and order actions: balance, buying, setStatus,
// the status and SMS readers and the list of active orders.

func (s *Server) getBalance(cctx context.Context, r *request, account string) {
	m, err := s.Backend.Balance(cctx, account)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	var buf [32]byte
	s.text(r.ctx, TokAccessBalance)
	r.ctx.Response.AppendBody(appendMoney(append(buf[:0], ':'), m.Micros))
}

// buyParams parses getNumber's parameters; token != "" is the error answer.
func (s *Server) buyParams(r *request, account string) (p BuyParams, token string) {
	p.Service = strings.ToLower(r.arg("service"))
	if _, ok := catalog.ServiceByCode(p.Service); !ok {
		return p, TokBadService
	}
	country, token := countryArg(r.arg("country"), true)
	if token != "" {
		return p, token
	}
	p.Country = country
	p.Operator = r.arg("operator")
	if mp := r.arg("maxPrice"); mp != "" {
		v, err := adapters.ParseDecimal(mp)
		if err != nil || v <= 0 {
			return p, TokWrongMaxPrice
		}
		p.MaxPrice = adapters.Money{Micros: v, Currency: s.Backend.Currency(account)}
	}
	p.Strategy = r.arg("strategy")
	p.Platform = r.arg("platform")
	p.Failover = r.arg("failover") == "1" || r.arg("failover") == "true"
	return p, ""
}

// countryArg turns a numeric country id into ISO. An absent country is
// Russia (0), as the original service defaulted, when required.
func countryArg(v string, defaultRussia bool) (string, string) {
	if v == "" {
		if defaultRussia {
			v = "0"
		} else {
			return "", ""
		}
	}
	id, err := strconv.Atoi(v)
	if err != nil {
		return "", TokWrongCountry
	}
	c, ok := catalog.CountryBySMSActivateID(id)
	if !ok {
		return "", TokWrongCountry
	}
	return c.ISO, ""
}

func saID(iso string) int {
	if c, ok := catalog.CountryByISO(iso); ok {
		return c.SMSActivateID
	}
	return -1
}

func (s *Server) getNumber(cctx context.Context, r *request, account string) {
	p, tok := s.buyParams(r, account)
	if tok != "" {
		s.fail(r.ctx, tok)
		return
	}
	a, err := s.Backend.Buy(cctx, account, p)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	s.text(r.ctx, TokAccessNumber+":"+itoa(a.ID)+":"+a.Phone)
}

func (s *Server) getNumberV2(cctx context.Context, r *request, account string) {
	p, tok := s.buyParams(r, account)
	if tok != "" {
		s.fail(r.ctx, tok)
		return
	}
	p.OrderID = r.arg("orderId")
	a, err := s.Backend.Buy(cctx, account, p)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	op := a.Operator
	if op == "" {
		op = "any"
	}
	s.json(r.ctx, NumberV2{
		ActivationID:       a.ID,
		PhoneNumber:        a.Phone,
		ActivationCost:     json.Number(money(a.Cost.Micros)),
		Currency:           CurrencyNumeric(a.Cost.Currency),
		CountryCode:        strconv.Itoa(saID(a.Country)),
		CanGetAnotherSms:   boolDigit(a.CanRetry),
		ActivationTime:     FormatTime(a.CreatedAt),
		ActivationOperator: op,
	})
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// idArg parses the activation id; token != "" is the error answer.
func idArg(r *request) (int64, string) {
	id, err := strconv.ParseInt(string(r.argBytes("id")), 10, 64)
	if err != nil || id <= 0 {
		return 0, TokWrongActivationID
	}
	return id, ""
}

func (s *Server) setStatus(cctx context.Context, r *request, account string) {
	id, tok := idArg(r)
	if tok != "" {
		s.fail(r.ctx, tok)
		return
	}
	status, err := strconv.Atoi(r.arg("status"))
	if err != nil {
		s.fail(r.ctx, TokBadStatus)
		return
	}
	if status == -1 {
		status = 8 // legacy alias for cancel
	}
	answer, ok := setStatusAnswer[status]
	if !ok {
		// Check the id first so a foreign id never learns more than NO_ACTIVATION.
		if _, err := s.Backend.Activation(cctx, account, id); err != nil {
			s.failErr(r.ctx, err)
			return
		}
		s.fail(r.ctx, TokBadStatus)
		return
	}
	if _, err := s.Backend.SetStatus(cctx, account, id, status); err != nil {
		s.failErr(r.ctx, err)
		return
	}
	s.text(r.ctx, answer)
}

func lastCode(a Activation) string {
	if len(a.SMS) == 0 {
		return ""
	}
	return a.SMS[len(a.SMS)-1].Code
}

func (s *Server) activation(cctx context.Context, r *request, account string) (Activation, bool) {
	id, tok := idArg(r)
	if tok != "" {
		s.fail(r.ctx, tok)
		return Activation{}, false
	}
	a, err := s.Backend.Activation(cctx, account, id)
	if err != nil {
		s.failErr(r.ctx, err)
		return Activation{}, false
	}
	return a, true
}

func (s *Server) getStatus(cctx context.Context, r *request, account string) {
	if a, ok := s.activation(cctx, r, account); ok {
		// StatusText's answer, written in parts: no string is built.
		tok, withCode := statusToken(a.State)
		if withCode {
			s.text2(r.ctx, tok, lastCode(a))
			return
		}
		s.text(r.ctx, tok)
	}
}

func (s *Server) getStatusV2(cctx context.Context, r *request, account string) {
	a, ok := s.activation(cctx, r, account)
	if !ok {
		return
	}
	if !a.State.Active() && len(a.SMS) == 0 {
		s.text(r.ctx, TokStatusCancel)
		return
	}
	if a.State == adapters.StateCancelled || a.State == adapters.StateExpired || a.State == adapters.StateBanned {
		s.text(r.ctx, TokStatusCancel)
		return
	}
	out := StatusV2{}
	if n := len(a.SMS); n > 0 && a.State != adapters.StateRetryWaiting {
		m := a.SMS[n-1]
		out.SMS = &SMSV2{DateTime: FormatTime(m.ReceivedAt), Code: m.Code, Text: m.Text}
	}
	s.json(r.ctx, out)
}

func (s *Server) getFullSms(cctx context.Context, r *request, account string) {
	a, ok := s.activation(cctx, r, account)
	if !ok {
		return
	}
	switch {
	case a.State == adapters.StateCodeReceived || (a.State == adapters.StateFinished && len(a.SMS) > 0):
		s.text(r.ctx, TokFullSMS+":"+a.SMS[len(a.SMS)-1].Text)
	case a.State.Active():
		s.text(r.ctx, TokStatusWaitCode)
	default:
		s.text(r.ctx, TokStatusCancel)
	}
}
