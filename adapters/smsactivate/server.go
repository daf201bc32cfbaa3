package smsactivate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// Activation is one order as the handler API shows it.
type Activation struct {
	ID        int64
	Phone     string
	Country   string // ISO alpha-2
	Service   string
	Operator  string
	Cost      adapters.Money // in the account's currency
	State     adapters.State
	SMS       []adapters.SMS // oldest first
	CreatedAt time.Time
	CanRetry  bool // another SMS possible on this number
}

// BuyParams is a getNumber/getNumberV2 request after parsing.
type BuyParams struct {
	Country  string // ISO alpha-2
	Service  string
	Operator string
	MaxPrice adapters.Money // account currency; zero Micros = none
	// Strategy and Platform are the gateway's extra parameters; real
	// SMS-Activate ignores unknown parameters, so legacy clients may send them.
	Strategy string
	Platform string
	Failover bool // a pinned purchase may move on to other platforms
	// OrderID is getNumberV2's reseller order id (idempotency).
	OrderID string
}

// Offer is price and stock of one (country, service) in the account currency.
type Offer struct {
	Country, Service string
	Price            adapters.Money
	Count            int
}

// Backend is what the handler API serves: the simulated market for a fake
// upstream, the router and ledger for the gateway. account is whatever
// Authenticate returned. Errors are canonical (adapters.Err*) or a
// *TokenError; anything else is answered as ERROR_SQL.
type Backend interface {
	Authenticate(ctx context.Context, key string) (account string, ok bool)
	Currency(account string) string
	Balance(ctx context.Context, account string) (adapters.Money, error)
	Buy(ctx context.Context, account string, p BuyParams) (Activation, error)
	Activation(ctx context.Context, account string, id int64) (Activation, error)
	// SetStatus applies status 1, 3, 6 or 8 and returns the order after it.
	SetStatus(ctx context.Context, account string, id int64, status int) (Activation, error)
	Active(ctx context.Context, account string) ([]Activation, error)
	Offers(ctx context.Context, account, country, service string) ([]Offer, error)
	Operators(ctx context.Context, account, country string) (map[string][]string, error)
}

// Dialect selects how errors travel.
type Dialect int

const (
	// Classic: HTTP 200 with a text token (the original service).
	Classic Dialect = iota
	// Hero: non-200 with a JSON {"title","details","info"} body (HeroSMS).
	Hero
)

// ParseDialect reads "classic" or "hero".
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "", "classic":
		return Classic, nil
	case "hero":
		return Hero, nil
	}
	return Classic, fmt.Errorf("unknown dialect %q (want classic|hero)", s)
}

// Server answers the handler API over a Backend.
type Server struct {
	Backend Backend
	Dialect Dialect
	// Path served; default Path.
	Path string
	// Timeout bounds one request's backend work; default 15s.
	Timeout time.Duration
	// OnAction, when set, is told each answered action (for metrics and
	// call counting); it must not keep ctx.
	OnAction func(action string)
	// Active is the layout of getActiveActivations; the zero value is the
	// docs' (what the gateway's front end answers). The others are
	// successors' variants, for skins.
	Active ActiveLayout
}

// ActiveLayout says how getActiveActivations lays out its answer.
type ActiveLayout struct {
	// List is where the entries go.
	List ActiveList
	// BareNone answers "none" as the bare text token NO_ACTIVATIONS, as
	// some clients see it, instead of the JSON error object.
	BareNone bool
}

// ActiveList is where getActiveActivations puts its entries.
type ActiveList int

const (
	// ActiveListDocs: {"status":"success","activeActivations":[…]}.
	ActiveListDocs ActiveList = iota
	// ActiveListData: {"status":"success","data":[…]} (HeroSMS answers).
	ActiveListData
	// ActiveListRows: {"status":"success","activeActivations":{"rows":[…],
	// "count":n}} (HeroSMS, paged).
	ActiveListRows
)

// Handle serves one request; it never panics on bad input and never keeps
// ctx or its byte slices after returning.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	path := s.Path
	if path == "" {
		path = Path
	}
	if string(ctx.Path()) != path {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString("not found")
		return
	}
	r := request{ctx: ctx}
	action := r.arg("action")
	key := r.arg("api_key")
	if s.OnAction != nil {
		s.OnAction(action)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	// RequestCtx is never cancelled per request: give backend work its own deadline.
	cctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if key == "" {
		s.fail(ctx, TokNoKey)
		return
	}
	account, ok := s.Backend.Authenticate(cctx, key)
	if !ok {
		s.fail(ctx, TokBadKey)
		return
	}
	h, ok := actions[action]
	if !ok {
		s.fail(ctx, TokBadAction)
		return
	}
	h(s, cctx, &r, account)
}

type request struct{ ctx *fasthttp.RequestCtx }

// arg reads a parameter from the query, then the form body; the result is
// a copy (fasthttp reuses the buffers).
func (r *request) arg(name string) string {
	if v := r.ctx.QueryArgs().Peek(name); v != nil {
		return string(v)
	}
	if r.ctx.IsPost() {
		if v := r.ctx.PostArgs().Peek(name); v != nil {
			return string(v)
		}
	}
	return ""
}

type actionFunc func(s *Server, cctx context.Context, r *request, account string)

var actions map[string]actionFunc

func init() {
	actions = map[string]actionFunc{
		"getBalance":               (*Server).getBalance,
		"getBalanceAndCashBack":    (*Server).getBalance,
		"getNumber":                (*Server).getNumber,
		"getNumberV2":              (*Server).getNumberV2,
		"setStatus":                (*Server).setStatus,
		"getStatus":                (*Server).getStatus,
		"getStatusV2":              (*Server).getStatusV2,
		"getFullSms":               (*Server).getFullSms,
		"getActiveActivations":     (*Server).getActiveActivations,
		"getPrices":                (*Server).getPrices,
		"getCountries":             (*Server).getCountries,
		"getServicesList":          (*Server).getServicesList,
		"getNumbersStatus":         (*Server).getNumbersStatus,
		"getOperators":             (*Server).getOperators,
		"getTopCountriesByService": (*Server).getTopCountries,
	}
}

// Result classifies an answer body for metrics: "ok", or the error token
// it carries (its part before ':'), or "error" for a JSON error object.
func Result(body []byte) string {
	if len(body) > 0 && body[0] == '{' {
		if strings.Contains(string(body), `"status":"error"`) {
			return "error"
		}
		return "ok"
	}
	tok, _, _ := strings.Cut(string(body), ":")
	if _, bad := resultTokens[tok]; bad {
		return tok
	}
	return "ok"
}

// resultTokens are the error answers, by their part before ':'.
var resultTokens = map[string]struct{}{
	TokNoKey: {}, TokBadKey: {}, TokBadAction: {}, TokErrorSQL: {}, TokNoNumbers: {}, TokNoBalance: {},
	TokWrongMaxPrice: {}, TokBadService: {}, TokWrongCountry: {}, TokNoActivation: {}, TokWrongActivationID: {},
	TokBadStatus: {}, TokEarlyCancelDenied: {}, TokChannelsLimit: {}, TokBanned: {}, TokOrderExists: {},
	"BAD_PLATFORM": {}, "BAD_STRATEGY": {},
}

// Actions lists the actions the server answers, sorted.
func Actions() []string {
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (s *Server) text(ctx *fasthttp.RequestCtx, body string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

func (s *Server) json(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(ctx, TokErrorSQL)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// heroStatus is the HTTP status HeroSMS uses for each error token.
var heroStatus = map[string]int{
	TokBadKey: 401, TokNoBalance: 402, TokBanned: 403, TokChannelsLimit: 403,
	TokBadAction: 404, TokNoActivation: 404, TokEarlyCancelDenied: 409, TokBadStatus: 409,
	TokNoKey: 422, TokBadService: 422, TokWrongCountry: 422, TokWrongActivationID: 422,
	TokWrongMaxPrice: 400, TokOrderExists: 409, TokErrorSQL: 500, TokOperatorsNotFound: 404,
}

// fail answers an error token in the server's dialect. NO_NUMBERS stays a
// 200 text answer in both (HeroSMS kept it so for getNumber).
func (s *Server) fail(ctx *fasthttp.RequestCtx, token string) {
	if s.Dialect != Hero || token == TokNoNumbers {
		s.text(ctx, token)
		return
	}
	title, rest, _ := strings.Cut(token, ":")
	status, ok := heroStatus[title]
	if !ok {
		status = 400
	}
	body := map[string]any{"title": title, "details": strings.ToLower(strings.ReplaceAll(title, "_", " "))}
	switch title {
	case TokWrongMaxPrice:
		if min, err := strconv.ParseFloat(rest, 64); err == nil {
			body["info"] = map[string]any{"min": min}
		}
	case TokNoKey:
		body["title"] = "UNPROCESSABLE_ENTITY"
		body["info"] = map[string]any{"field": "api_key", "code": "REQUIRED"}
	case TokEarlyCancelDenied:
		body["info"] = map[string]any{"minActivationTime": 120}
	}
	b, _ := json.Marshal(body)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (s *Server) failErr(ctx *fasthttp.RequestCtx, err error) { s.fail(ctx, ErrorToken(err)) }

func (s *Server) getBalance(cctx context.Context, r *request, account string) {
	m, err := s.Backend.Balance(cctx, account)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	s.text(r.ctx, TokAccessBalance+":"+money(m.Micros))
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

// NumberV2 is getNumberV2's answer.
type NumberV2 struct {
	ActivationID       int64       `json:"activationId"`
	PhoneNumber        string      `json:"phoneNumber"`
	ActivationCost     json.Number `json:"activationCost"`
	Currency           int         `json:"currency"`
	CountryCode        string      `json:"countryCode"`
	CanGetAnotherSms   string      `json:"canGetAnotherSms"`
	ActivationTime     string      `json:"activationTime"`
	ActivationOperator string      `json:"activationOperator"`
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
	v := r.arg("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, TokWrongActivationID
	}
	return id, ""
}

var setStatusAnswer = map[int]string{1: TokAccessReady, 3: TokAccessRetryGet, 6: TokAccessActivation, 8: TokAccessCancel}

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
		s.text(r.ctx, StatusText(a.State, lastCode(a)))
	}
}

// StatusV2 is getStatusV2's answer.
type StatusV2 struct {
	VerificationType int       `json:"verificationType"`
	SMS              *SMSV2    `json:"sms"`
	Call             *struct{} `json:"call"`
}

// SMSV2 is one SMS in getStatusV2.
type SMSV2 struct {
	DateTime string `json:"dateTime"`
	Code     string `json:"code"`
	Text     string `json:"text"`
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

// ActiveActivation is one entry of getActiveActivations.
type ActiveActivation struct {
	ActivationID     string      `json:"activationId"`
	ServiceCode      string      `json:"serviceCode"`
	PhoneNumber      string      `json:"phoneNumber"`
	ActivationCost   json.Number `json:"activationCost"`
	ActivationStatus string      `json:"activationStatus"`
	SMSCode          []string    `json:"smsCode"`
	SMSText          *string     `json:"smsText"`
	ActivationTime   string      `json:"activationTime"`
	Discount         string      `json:"discount"`
	Repeated         string      `json:"repeated"`
	CountryCode      string      `json:"countryCode"`
	CountryName      string      `json:"countryName"`
	CanGetAnotherSms string      `json:"canGetAnotherSms"`
	Currency         int         `json:"currency"`
}

type activeList struct {
	Status            string             `json:"status"`
	ActiveActivations []ActiveActivation `json:"activeActivations"`
}

type jsonError struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

func (s *Server) getActiveActivations(cctx context.Context, r *request, account string) {
	list, err := s.Backend.Active(cctx, account)
	if err != nil {
		s.failErr(r.ctx, err)
		return
	}
	if len(list) == 0 {
		if s.Active.BareNone {
			s.text(r.ctx, TokNoActivations)
			return
		}
		s.json(r.ctx, jsonError{Status: "error", Error: TokNoActivations})
		return
	}
	out := activeList{Status: "success", ActiveActivations: make([]ActiveActivation, 0, len(list))}
	for _, a := range list {
		e := ActiveActivation{
			ActivationID:     itoa(a.ID),
			ServiceCode:      a.Service,
			PhoneNumber:      a.Phone,
			ActivationCost:   json.Number(money(a.Cost.Micros)),
			ActivationStatus: ActivationStatus(a.State),
			ActivationTime:   FormatTime(a.CreatedAt),
			Discount:         "0.00",
			Repeated:         "0",
			CountryCode:      strconv.Itoa(saID(a.Country)),
			CanGetAnotherSms: boolDigit(a.CanRetry),
			Currency:         CurrencyNumeric(a.Cost.Currency),
		}
		if c, ok := catalog.CountryByISO(a.Country); ok {
			e.CountryName = c.Name
		}
		if len(a.SMS) > 0 {
			for _, m := range a.SMS {
				e.SMSCode = append(e.SMSCode, m.Code)
			}
			t := a.SMS[len(a.SMS)-1].Text
			e.SMSText = &t
		}
		if a.State == adapters.StateRetryWaiting {
			e.Repeated = "1"
		}
		out.ActiveActivations = append(out.ActiveActivations, e)
	}
	switch s.Active.List {
	case ActiveListData:
		s.json(r.ctx, struct {
			Status string             `json:"status"`
			Data   []ActiveActivation `json:"data"`
		}{out.Status, out.ActiveActivations})
	case ActiveListRows:
		type rows struct {
			Rows  []ActiveActivation `json:"rows"`
			Count int                `json:"count"`
		}
		s.json(r.ctx, struct {
			Status string `json:"status"`
			Active rows   `json:"activeActivations"`
		}{out.Status, rows{out.ActiveActivations, len(out.ActiveActivations)}})
	default:
		s.json(r.ctx, out)
	}
}

// PriceInfo is one (country, service) cell of getPrices.
type PriceInfo struct {
	Cost          json.Number `json:"cost"`
	Count         int         `json:"count"`
	PhysicalCount int         `json:"physicalCount"`
}

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

// CountryInfo is one entry of getCountries.
type CountryInfo struct {
	ID           int    `json:"id"`
	Rus          string `json:"rus"`
	Eng          string `json:"eng"`
	Chn          string `json:"chn"`
	Visible      int    `json:"visible"`
	Retry        int    `json:"retry"`
	Rent         int    `json:"rent"`
	MultiService int    `json:"multiService"`
}

// CountryLister is a Backend that keeps its own country list (the
// gateway: cached per platform); getCountries lists it instead of the
// countries of the offers.
type CountryLister interface {
	Countries(ctx context.Context, account string) ([]string, error)
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

type serviceEntry struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type servicesList struct {
	Status   string         `json:"status"`
	Services []serviceEntry `json:"services"`
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

type operatorsAnswer struct {
	Status           string              `json:"status"`
	CountryOperators map[string][]string `json:"countryOperators"`
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

// TopCountry is one rank of getTopCountriesByService. We sell at one
// price, so retail_price equals price.
type TopCountry struct {
	Country     int         `json:"country"`
	Count       int         `json:"count"`
	Price       json.Number `json:"price"`
	RetailPrice json.Number `json:"retail_price"`
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
