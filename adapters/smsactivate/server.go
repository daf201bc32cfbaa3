package smsactivate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/valyala/fasthttp"
)

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
	actionArg := r.argBytes("action")
	act, known := actions[string(actionArg)]
	if s.OnAction != nil {
		if known {
			s.OnAction(act.name)
		} else {
			s.OnAction(string(actionArg))
		}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	// RequestCtx is never cancelled per request: backend work gets the
	// request's own deadline (made only if something waits on it).
	x := getExchange(r, time.Now().Add(timeout))
	defer x.put()
	if len(r.argBytes("api_key")) == 0 {
		s.fail(ctx, TokNoKey)
		return
	}
	account, ok := s.authenticate(&x.ctx, &x.r)
	if !ok {
		s.fail(ctx, TokBadKey)
		return
	}
	if !known {
		s.fail(ctx, TokBadAction)
		return
	}
	act.fn(s, &x.ctx, &x.r, account)
}

// Authenticated is a Backend bound to one request by a front end that has
// already resolved its api_key (the gateway's, one hash per request): the
// server takes that outcome instead of handing Authenticate a copy of the
// key, which would cost an allocation per request.
type Authenticated interface {
	Account() (account string, ok bool)
}

func (s *Server) authenticate(cctx context.Context, r *request) (string, bool) {
	if a, ok := s.Backend.(Authenticated); ok {
		return a.Account()
	}
	return s.Backend.Authenticate(cctx, r.arg("api_key"))
}

type request struct{ ctx *fasthttp.RequestCtx }

// arg reads a parameter from the query, then the form body; the result is
// a copy (fasthttp reuses the buffers).
func (r *request) arg(name string) string { return string(r.argBytes(name)) }

// argBytes is arg without the copy: valid only during the request.
func (r *request) argBytes(name string) []byte {
	if v := r.ctx.QueryArgs().Peek(name); v != nil {
		return v
	}
	if r.ctx.IsPost() {
		return r.ctx.PostArgs().Peek(name)
	}
	return nil
}

type actionFunc func(s *Server, cctx context.Context, r *request, account string)

// action is a handler and its name (the map's own string, handed to
// OnAction without a copy).
type action struct {
	name string
	fn   actionFunc
}

var actions map[string]action

func init() {
	fns := map[string]actionFunc{
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
	actions = make(map[string]action, len(fns))
	for name, fn := range fns {
		actions[name] = action{name: name, fn: fn}
	}
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

var setStatusAnswer = map[int]string{1: TokAccessReady, 3: TokAccessRetryGet, 6: TokAccessActivation, 8: TokAccessCancel}

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

type jsonError struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

// PriceInfo is one (country, service) cell of getPrices.
type PriceInfo struct {
	Cost          json.Number `json:"cost"`
	Count         int         `json:"count"`
	PhysicalCount int         `json:"physicalCount"`
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

type serviceEntry struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type servicesList struct {
	Status   string         `json:"status"`
	Services []serviceEntry `json:"services"`
}

type operatorsAnswer struct {
	Status           string              `json:"status"`
	CountryOperators map[string][]string `json:"countryOperators"`
}

// TopCountry is one rank of getTopCountriesByService. We sell at one
// price, so retail_price equals price.
type TopCountry struct {
	Country     int         `json:"country"`
	Count       int         `json:"count"`
	Price       json.Number `json:"price"`
	RetailPrice json.Number `json:"retail_price"`
}
