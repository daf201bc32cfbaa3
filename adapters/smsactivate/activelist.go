package smsactivate

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// How the server writes getActiveActivations. The list is every active
// order (a page of 100 in the HeroSMS dialect), read each poll round: at
// 100,000 orders the classic answer is some 37 MB. Reflection JSON over
// a struct per entry cost half a second per round, so the entries are
// appended straight into the response body, byte for byte what
// encoding/json wrote for the struct this replaced (activelist_test.go
// holds that struct and compares).

// ActivePager is a Backend that reads a page of its active orders into a
// caller's buffer, so a round neither copies every order to serve 100 of
// them nor allocates the list anew: start is 0-based, limit <= 0 means
// all the rest. The server reuses dst between requests, so the backend
// must not keep it; the SMS slices in it are read, never written.
type ActivePager interface {
	ActivePage(ctx context.Context, account string, dst []Activation, start, limit int) ([]Activation, error)
}

// activationsPool holds the lists ActivePager fills (a *[]Activation).
var activationsPool sync.Pool

func (s *Server) getActiveActivations(cctx context.Context, r *request, account string) {
	start, limit := 0, 0
	if s.Dialect == Hero {
		start, limit = heroRange(r)
	}
	var list []Activation
	if p, ok := s.Backend.(ActivePager); ok {
		buf, _ := activationsPool.Get().(*[]Activation)
		if buf == nil {
			buf = new([]Activation)
		}
		defer func() {
			clear(*buf) // the pool must not keep the orders' strings alive
			activationsPool.Put(buf)
		}()
		var err error
		if start >= 0 {
			*buf, err = p.ActivePage(cctx, account, (*buf)[:0], start, limit)
		}
		if err != nil {
			s.failErr(r.ctx, err)
			return
		}
		list = *buf
	} else {
		var err error
		if list, err = s.Backend.Active(cctx, account); err != nil {
			s.failErr(r.ctx, err)
			return
		}
		if s.Dialect == Hero {
			list = page(list, start, limit)
		}
	}
	if len(list) == 0 {
		if s.Active.BareNone {
			s.text(r.ctx, TokNoActivations)
			return
		}
		s.json(r.ctx, jsonError{Status: "error", Error: TokNoActivations})
		return
	}
	s.writeActive(r.ctx, list)
}

// writeActive answers the list in the server's layout. The body is
// built in one buffer sized from the first entry, handed to the response
// without a copy: a 37 MB answer grown by doubling would be copied
// several times over.
func (s *Server) writeActive(ctx *fasthttp.RequestCtx, list []Activation) {
	var names countryNames
	first := appendActive(nil, &list[0], &names)
	b := make([]byte, 0, 64+(len(first)+len(first)/8)*len(list))
	switch s.Active.List {
	case ActiveListData:
		b = append(b, `{"status":"success","data":[`...)
	case ActiveListRows:
		b = append(b, `{"status":"success","activeActivations":{"rows":[`...)
	default:
		b = append(b, `{"status":"success","activeActivations":[`...)
	}
	b = append(b, first...)
	for i := 1; i < len(list); i++ {
		b = appendActive(append(b, ','), &list[i], &names)
	}
	b = append(b, ']')
	if s.Active.List == ActiveListRows {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(len(list)), 10)
		b = append(b, '}')
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(append(b, '}')) // b is the response's from now on
}

// countryNames remembers the last country looked up: a list is mostly a
// few countries, often one.
type countryNames struct {
	iso, name string
	id        int
}

func (c *countryNames) lookup(iso string) (id int, name string) {
	if iso != c.iso || c.iso == "" {
		c.iso, c.id, c.name = iso, -1, ""
		if ctry, ok := catalog.CountryByISO(iso); ok {
			c.id, c.name = ctry.SMSActivateID, ctry.Name
		}
	}
	return c.id, c.name
}

// appendActive appends one entry of the list:
//
//	{"activationId":"…","serviceCode":"…","phoneNumber":"…","activationCost":0.50,
//	 "activationStatus":"2","smsCode":["…"],"smsText":"…","activationTime":"…",
//	 "discount":"0.00","repeated":"0","countryCode":"187","countryName":"…",
//	 "canGetAnotherSms":"1","currency":840}
//
// smsCode is every code received and smsText the newest text; both are
// null before the first SMS. repeated is "1" while another SMS is awaited.
func appendActive(b []byte, a *Activation, names *countryNames) []byte {
	b = append(b, `{"activationId":"`...)
	b = strconv.AppendInt(b, a.ID, 10)
	b = append(b, `","serviceCode":`...)
	b = appendJSONString(b, a.Service)
	b = append(b, `,"phoneNumber":`...)
	b = appendJSONString(b, a.Phone)
	b = append(b, `,"activationCost":`...)
	b = appendMoney(b, a.Cost.Micros)
	b = append(b, `,"activationStatus":"`...)
	b = append(b, ActivationStatus(a.State)...)
	b = append(b, `","smsCode":`...)
	if len(a.SMS) == 0 {
		b = append(b, `null,"smsText":null`...)
	} else {
		for i, m := range a.SMS {
			if i == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = appendJSONString(b, m.Code)
		}
		b = append(b, `],"smsText":`...)
		b = appendJSONString(b, a.SMS[len(a.SMS)-1].Text)
	}
	b = append(b, `,"activationTime":"`...)
	if !a.CreatedAt.IsZero() {
		b = a.CreatedAt.UTC().AppendFormat(b, TimeLayout)
	}
	b = append(b, `","discount":"0.00","repeated":"`...)
	if a.State == adapters.StateRetryWaiting {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	id, name := names.lookup(a.Country)
	b = append(b, `","countryCode":"`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `","countryName":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"canGetAnotherSms":"`...)
	b = append(b, boolDigit(a.CanRetry)...)
	b = append(b, `","currency":`...)
	b = strconv.AppendInt(b, int64(CurrencyNumeric(a.Cost.Currency)), 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes it. Phones, codes
// and names are plain ASCII and are copied as they are; anything else (an
// SMS text with quotes, HTML characters, control characters, non-ASCII
// or invalid UTF-8) goes through encoding/json, whose escaping rules the
// answer must keep.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// heroRange reads HeroSMS's start and limit: limit is at most
// HeroPageMax, which is also its default; a negative start is no page.
func heroRange(r *request) (start, limit int) {
	start, _ = strconv.Atoi(r.arg("start"))
	limit, err := strconv.Atoi(r.arg("limit"))
	if err != nil || limit <= 0 || limit > HeroPageMax {
		limit = HeroPageMax
	}
	return start, limit
}

// page is the part of list from start, at most limit entries (for a
// Backend that is not an ActivePager).
func page(list []Activation, start, limit int) []Activation {
	if start < 0 || start >= len(list) {
		return nil
	}
	return list[start:min(len(list), start+limit)]
}

// HeroPageMax is the most entries one getActiveActivations page holds in
// the HeroSMS dialect (its "limit" parameter, which defaults to it). The
// classic service has no paging and answers every entry.
const HeroPageMax = 100
