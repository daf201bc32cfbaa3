package smsman

import (
	"errors"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

// SkinOptions pick between readings of the protocol that the protocols
// file leaves open. The zero value is the default reading.
type SkinOptions struct {
	// PricesArray answers get-prices for a country as a plain array of
	// entries instead of an object keyed by application id.
	PricesArray bool
	// LimitsKeyed answers limits as {country_id: {application_id: {…}}}
	// instead of the docs' array.
	LimitsKeyed bool
	// NoRetrySMS refuses set-status retrysms (wrong_status): the reading
	// in which SMS-Man has no such status.
	NoRetrySMS bool
	// SMSText adds the full text as sms_text to get-sms, as one client
	// expects; undocumented, so off by default.
	SMSText bool
	// ClosedCode is the error_code for a closed or unknown request; default
	// "no_activation" (sources also show request_not_found, wrong_request).
	ClosedCode string
	// NoNumbers is how get-number says it is out of stock: "" the docs'
	// error_code no_numbers; "no_free_phones", the code some public clients
	// check for; NoNumbersMessageOnly no error_code at all, only the
	// message "No Numbers, try again" that other clients match on.
	NoNumbers string
	// WrongServiceCode is the error_code for an unknown application:
	// default "wrong_application_id" (the docs); public clients also check
	// "wrong_service_id".
	WrongServiceCode string
}

// NoNumbersMessageOnly is SkinOptions.NoNumbers for an out-of-stock answer
// that carries its message and no error_code.
const NoNumbersMessageOnly = "message"

// NewSkin serves SMS-Man's control API over a simulated market in the
// default reading, with the market's fault injection in front.
//
// Country and application ids are the skin's own, as on SMS-Man: 1 is
// Russia and 5 the USA as in the docs, 1 VK and 3 Telegram as in their
// examples, the rest numbered in catalogue order. The client must learn
// them from the countries and applications calls.
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with a chosen reading of the open questions.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	if o.ClosedCode == "" {
		o.ClosedCode = codeNoActivation
	}
	if o.NoNumbers == "" {
		o.NoNumbers = codeNoNumbers
	}
	if o.WrongServiceCode == "" {
		o.WrongServiceCode = codeWrongApplication
	}
	s := &skin{m: m, opt: o}
	return m.Wrap(s.serve)
}

type skin struct {
	m   *simulator.Market
	opt SkinOptions
}

// idTable numbers a catalogue list: pinned ids first, the rest in order.
type idTable struct {
	id   map[string]int // canonical code -> id
	code map[int]string // id -> canonical code
}

func newIDTable(codes []string, pinned map[string]int) idTable {
	t := idTable{id: map[string]int{}, code: map[int]string{}}
	for c, id := range pinned {
		t.id[c], t.code[id] = id, c
	}
	next := 1
	for _, c := range codes {
		if _, ok := t.id[c]; ok {
			continue
		}
		for t.code[next] != "" {
			next++
		}
		t.id[c], t.code[next] = next, c
	}
	return t
}

// The skin's id spaces, fixed for every market.
var skinCountries, skinApps = func() (idTable, idTable) {
	var cs, ss []string
	for _, c := range catalog.Countries() {
		cs = append(cs, c.ISO)
	}
	for _, s := range catalog.Services() {
		ss = append(ss, s.Code)
	}
	return newIDTable(cs, map[string]int{"ru": 1, "us": 5}), newIDTable(ss, map[string]int{"vk": 1, "tg": 3})
}()

// handler serves one routed request.
type handler = func(*skin, *fasthttp.RequestCtx)

var routes = skinkit.Routes[handler]{
	"get-balance": (*skin).balance, "limits": (*skin).limits, "get-number": (*skin).getNumber,
	"get-sms": (*skin).getSMS, "set-status": (*skin).setStatus, "countries": (*skin).countries,
	"applications": (*skin).applications, "get-prices": (*skin).prices,
}

// serve routes one request. It copies what it needs out of ctx and keeps
// nothing after returning.
func (s *skin) serve(ctx *fasthttp.RequestCtx) {
	name, ok := strings.CutPrefix(string(ctx.Path()), "/control/")
	if !ok {
		name = "" // routed nowhere, counted as unknown
	}
	h, ok := routes.Route(s.m, name)
	if !ok {
		skinkit.NotFound(ctx)
		return
	}
	if !s.m.CheckKey(skinkit.Arg(ctx, "token")) {
		s.fail(ctx, 200, codeWrongToken, msgWrongToken)
		return
	}
	h(s, ctx)
}

func (s *skin) balance(ctx *fasthttp.RequestCtx) {
	simulator.WriteJSON(ctx, map[string]string{"balance": adapters.FormatDecimal(s.m.Balance(), 2)})
}

type errorBody struct {
	Success   bool   `json:"success"`
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}

// fail answers the error envelope. wrong_application_id has been seen with
// HTTP 400; the other codes come with 200 as far as anyone saw.
func (s *skin) fail(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	skinkit.JSON(ctx, status, errorBody{ErrorCode: code, ErrorMsg: msg})
}

func (s *skin) closed(ctx *fasthttp.RequestCtx) {
	s.fail(ctx, 200, s.opt.ClosedCode, msgClosed)
}

// noNumbers answers an out-of-stock get-number in the chosen variant.
func (s *skin) noNumbers(ctx *fasthttp.RequestCtx) {
	if s.opt.NoNumbers == NoNumbersMessageOnly {
		simulator.WriteJSON(ctx, struct {
			Success  bool   `json:"success"`
			ErrorMsg string `json:"error_msg"`
		}{false, "No Numbers, try again"})
		return
	}
	s.fail(ctx, 200, s.opt.NoNumbers, msgNoNumbers)
}

// wrongApplication answers an unknown application id in the chosen variant.
func (s *skin) wrongApplication(ctx *fasthttp.RequestCtx) {
	msg := msgWrongApplication
	if s.opt.WrongServiceCode == codeWrongService {
		msg = msgWrongService
	}
	s.fail(ctx, 400, s.opt.WrongServiceCode, msg)
}

// ids reads country_id and application_id. ok is false after an error
// answer. A missing country_id is 0, "any country".
func (s *skin) ids(ctx *fasthttp.RequestCtx, needApp bool) (iso, svc string, cid, aid int, ok bool) {
	if v := skinkit.Arg(ctx, "country_id"); v != "" {
		var err error
		if cid, err = strconv.Atoi(v); err != nil || (cid != 0 && skinCountries.code[cid] == "") {
			s.fail(ctx, 400, codeWrongCountry, msgWrongCountry)
			return "", "", 0, 0, false
		}
		iso = skinCountries.code[cid]
	}
	if v := skinkit.Arg(ctx, "application_id"); v != "" || needApp {
		var err error
		if aid, err = strconv.Atoi(v); err != nil || skinApps.code[aid] == "" {
			s.wrongApplication(ctx)
			return "", "", 0, 0, false
		}
		svc = skinApps.code[aid]
	}
	return iso, svc, cid, aid, true
}

func (s *skin) getNumber(ctx *fasthttp.RequestCtx) {
	iso, svc, cid, aid, ok := s.ids(ctx, true)
	if !ok {
		return
	}
	if _, banned := s.m.BannedUntil(); banned {
		// Undocumented; a blocked account most plausibly sees its token refused.
		s.fail(ctx, 200, codeWrongToken, msgWrongToken)
		return
	}
	var max int64
	if v := skinkit.Arg(ctx, "maxPrice"); v != "" {
		// The simulator has no exchange rates: a cap in another currency
		// than the account's is not applied.
		if cur := skinkit.Arg(ctx, "currency"); cur == "" || strings.EqualFold(cur, s.m.Currency()) {
			max, _ = adapters.ParseDecimal(v)
		}
	}
	if iso == "" { // country_id=0: any country with stock
		for _, o := range s.m.Offers("", svc) {
			if o.Count > 0 && (max <= 0 || o.Price <= max) {
				iso, cid = o.Country, skinCountries.id[o.Country]
				break
			}
		}
		if iso == "" {
			s.noNumbers(ctx)
			return
		}
	}
	o, err := s.m.Buy(simulator.BuyArgs{Country: iso, Service: svc, MaxPrice: max})
	switch {
	case err == nil:
		simulator.WriteJSON(ctx, struct {
			RequestID     int64  `json:"request_id"`
			CountryID     int    `json:"country_id"`
			ApplicationID int    `json:"application_id"`
			Number        string `json:"number"`
		}{o.ID, cid, aid, o.Phone})
	case errors.Is(err, adapters.ErrNoNumbers), errors.Is(err, adapters.ErrPriceTooHigh):
		// No price error exists: nothing at or under maxPrice is "no numbers".
		s.noNumbers(ctx)
	case errors.Is(err, adapters.ErrNoBalance):
		s.fail(ctx, 200, codeNoBalance, msgNoBalance)
	case errors.Is(err, adapters.ErrBadService):
		s.wrongApplication(ctx)
	case errors.Is(err, adapters.ErrBadCountry):
		s.fail(ctx, 400, codeWrongCountry, msgWrongCountry)
	default:
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
	}
}

func (s *skin) requestID(ctx *fasthttp.RequestCtx) (int64, bool) {
	id, err := strconv.ParseInt(skinkit.Arg(ctx, "request_id"), 10, 64)
	return id, err == nil
}

func (s *skin) getSMS(ctx *fasthttp.RequestCtx) {
	id, ok := s.requestID(ctx)
	if !ok {
		s.closed(ctx)
		return
	}
	o, err := s.m.Get(id)
	if err != nil {
		s.closed(ctx)
		return
	}
	switch o.State {
	case adapters.StateWaiting, adapters.StateRetryWaiting:
		simulator.WriteJSON(ctx, struct {
			RequestID int64  `json:"request_id"`
			ErrorCode string `json:"error_code"`
			ErrorMsg  string `json:"error_msg"`
		}{o.ID, codeWaitSMS, msgWaitSMS})
	case adapters.StateCodeReceived:
		last := o.SMS[len(o.SMS)-1]
		code := last.Code
		if code == "" {
			code = last.Text // nothing to extract: the text is all there is
		}
		type answer struct {
			RequestID     int64   `json:"request_id"`
			CountryID     int     `json:"country_id"`
			ApplicationID int     `json:"application_id"`
			Number        string  `json:"number"`
			SMSCode       string  `json:"sms_code"`
			SMSText       *string `json:"sms_text,omitempty"`
		}
		a := answer{o.ID, skinCountries.id[o.Country], skinApps.id[o.Service], o.Phone, code, nil}
		if s.opt.SMSText {
			a.SMSText = &last.Text
		}
		simulator.WriteJSON(ctx, a)
	default:
		// Closed, refunded or expired: SMS-Man no longer knows the request.
		s.closed(ctx)
	}
}

func (s *skin) setStatus(ctx *fasthttp.RequestCtx) {
	id, ok := s.requestID(ctx)
	if !ok {
		s.closed(ctx)
		return
	}
	var err error
	switch skinkit.Arg(ctx, "status") {
	case statusReady:
		_, err = s.m.Ready(id)
	case statusClose:
		_, err = s.m.Finish(id)
	case statusReject:
		_, err = s.m.Cancel(id)
		if errors.Is(err, adapters.ErrEarlyCancel) {
			// SMS-Man documents no cancel guard, but the market always has
			// one: close the order with Ban instead, which refunds an order
			// without SMS the same way. Through this protocol the two are
			// indistinguishable (no status field).
			_, err = s.m.Ban(id)
		}
	case statusUsed:
		_, err = s.m.Ban(id)
	case statusRetry:
		if s.opt.NoRetrySMS {
			err = adapters.ErrBadState
			break
		}
		_, err = s.m.RequestAnother(id)
	default:
		err = adapters.ErrBadState
	}
	switch {
	case err == nil:
		simulator.WriteJSON(ctx, struct {
			RequestID int64 `json:"request_id"`
			Success   bool  `json:"success"`
		}{id, true})
	case errors.Is(err, adapters.ErrNoActivation):
		s.closed(ctx)
	case errors.Is(err, adapters.ErrBadState):
		if o, gerr := s.m.Get(id); gerr != nil || !o.State.Active() {
			s.closed(ctx)
			return
		}
		s.fail(ctx, 200, codeWrongStatus, msgWrongStatus)
	default:
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
	}
}

type catalogueItem struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Code  string `json:"code"`
}

func (s *skin) countries(ctx *fasthttp.RequestCtx) {
	out := map[string]catalogueItem{}
	for _, iso := range s.m.Countries() {
		c, ok := catalog.CountryByISO(iso)
		id := skinCountries.id[iso]
		if !ok || id == 0 {
			continue
		}
		out[strconv.Itoa(id)] = catalogueItem{ID: strconv.Itoa(id), Title: c.Name, Code: strings.ToUpper(iso)}
	}
	simulator.WriteJSON(ctx, out)
}

func (s *skin) applications(ctx *fasthttp.RequestCtx) {
	out := map[string]catalogueItem{}
	for _, svc := range catalog.Services() {
		if !s.m.Sells(svc.Code) {
			continue
		}
		id := strconv.Itoa(skinApps.id[svc.Code])
		out[id] = catalogueItem{ID: id, Title: svc.Name, Code: svc.Code}
	}
	simulator.WriteJSON(ctx, out)
}

// offers lists the market's offers under the skin's ids, filtered by the
// request's country_id and application_id.
// A missing or zero country_id means every country.
func (s *skin) offers(ctx *fasthttp.RequestCtx) (offers []simulator.Offer, byCountry, ok bool) {
	iso, svc, cid, _, ok := s.ids(ctx, false)
	if !ok {
		return nil, false, false
	}
	if cid == 0 {
		iso = ""
	}
	return s.m.Offers(iso, svc), cid != 0, true
}

func (s *skin) limits(ctx *fasthttp.RequestCtx) {
	offers, _, ok := s.offers(ctx)
	if !ok {
		return
	}
	type limit struct {
		ApplicationID string `json:"application_id"`
		CountryID     string `json:"country_id"`
		Numbers       string `json:"numbers"`
	}
	list := []limit{}
	keyed := map[string]map[string]limit{}
	for _, o := range offers {
		cid, aid := strconv.Itoa(skinCountries.id[o.Country]), strconv.Itoa(skinApps.id[o.Service])
		l := limit{ApplicationID: aid, CountryID: cid, Numbers: strconv.Itoa(max(o.Count, 0))}
		list = append(list, l)
		if keyed[cid] == nil {
			keyed[cid] = map[string]limit{}
		}
		keyed[cid][aid] = l
	}
	if s.opt.LimitsKeyed {
		simulator.WriteJSON(ctx, keyed)
		return
	}
	simulator.WriteJSON(ctx, list)
}

func (s *skin) prices(ctx *fasthttp.RequestCtx) {
	offers, byCountry, ok := s.offers(ctx)
	if !ok {
		return
	}
	type short struct {
		Cost  string `json:"cost"`
		Count int    `json:"count"`
	}
	type long struct {
		ApplicationID string `json:"application_id"`
		CountryID     string `json:"country_id"`
		Cost          string `json:"cost"`
		Count         int    `json:"count"`
		Country       string `json:"country"`
		Application   string `json:"application"`
	}
	nested := map[string]map[string]short{}
	keyed := map[string]long{}
	list := []long{}
	for _, o := range offers {
		cid, aid := strconv.Itoa(skinCountries.id[o.Country]), strconv.Itoa(skinApps.id[o.Service])
		cost, n := adapters.FormatDecimal(o.Price, 2), max(o.Count, 0)
		if !byCountry {
			if nested[cid] == nil {
				nested[cid] = map[string]short{}
			}
			nested[cid][aid] = short{cost, n}
			continue
		}
		c, _ := catalog.CountryByISO(o.Country)
		sv, _ := catalog.ServiceByCode(o.Service)
		l := long{aid, cid, cost, n, c.Name, sv.Name}
		keyed[aid] = l
		list = append(list, l)
	}
	switch {
	case !byCountry:
		simulator.WriteJSON(ctx, nested)
	case s.opt.PricesArray:
		simulator.WriteJSON(ctx, list)
	default:
		simulator.WriteJSON(ctx, keyed)
	}
}
