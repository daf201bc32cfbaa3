package onlinesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

// SkinOptions choose between readings of the protocol that the sources
// leave open, so tests can hold the client to both. The zero value is the
// simulator checklist of §10.
type SkinOptions struct {
	// InPoolPolls is how many getState answers show a new operation as
	// TZ_INPOOL before TZ_NUM_WAIT: 0 means 1 (§10); negative means it
	// never leaves TZ_INPOOL (a number that never comes).
	InPoolPolls int
	// LateNumber leaves the number out of getNum even with number=true,
	// and out of TZ_INPOOL elements, as one client saw (§3.3).
	LateNumber bool
	// EmptyFirst answers [] to the first getState of each operation, as
	// seen right after getNum (§3.4).
	EmptyFirst bool
	// GuardFinish refuses setOperationOk inside the protective interval
	// even after an SMS (the strict reading of §3.6, §10). By default only
	// a close without an SMS, which is a cancel, is refused.
	GuardFinish bool
}

// NewSkin serves OnlineSIM's main API over a simulated market, with the
// market's fault injection in front.
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with the protocol variants of o.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	if o.InPoolPolls == 0 {
		o.InPoolPolls = 1
	}
	s := &skin{m: m, o: o}
	return m.Wrap(s.handle)
}

type skin struct {
	m *simulator.Market
	o SkinOptions

	polls skinkit.Side[int64, int] // getState answers given per operation

	ones atomic.Int64 // success flags sent: odd ones are `1`, even ones `"1"`
}

// handler serves one routed request.
type handler = func(*skin, *fasthttp.RequestCtx)

// ListRoute is the name under which the market counts getState without a
// tzid, the list of every active operation (§3.4), so that a test tells
// list rounds from per-operation checks.
const ListRoute = "getState:all"

var routes = skinkit.Routes[handler]{
	"getBalance": (*skin).balance, "getNum": (*skin).getNum, "getState": (*skin).getState, ListRoute: (*skin).getState,
	"setOperationRevise": (*skin).revise, "setOperationOk": (*skin).closeOp,
	"getNumbersStats": (*skin).stats, "getTariffs": (*skin).tariffs, "getPrice": (*skin).price,
}

func (s *skin) handle(ctx *fasthttp.RequestCtx) {
	method, ok := strings.CutPrefix(string(ctx.Path()), PathPrefix)
	if ok {
		method, ok = strings.CutSuffix(method, ".php")
	}
	switch {
	case !ok, method == ListRoute:
		method = "" // routed nowhere, counted as unknown
	case method == "getState" && skinkit.Arg(ctx, "tzid") == "":
		method = ListRoute
	}
	h, ok := routes.Route(s.m, method)
	if !ok {
		s.code(ctx, CodeNotFound)
		return
	}
	key := skinkit.Arg(ctx, "apikey")
	if key == "" {
		// The OpenAPI pages also list a bearer token (§2).
		if b, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer ")); ok {
			key = string(b)
		}
	}
	switch {
	case key == "":
		s.code(ctx, CodeNoKey)
		return
	case !s.m.CheckKey(key):
		s.code(ctx, CodeWrongKey)
		return
	}
	if _, banned := s.m.BannedUntil(); banned {
		s.code(ctx, CodeBlocked)
		return
	}
	h(s, ctx)
}

// code answers an error: always HTTP 200 with {"response":"<CODE>"} (§5).
func (s *skin) code(ctx *fasthttp.RequestCtx, code string) {
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
	}{code})
}

// one is the success flag, 1 or "1" in turn, to keep parsers honest (§10).
func (s *skin) one() json.RawMessage {
	if s.ones.Add(1)%2 == 1 {
		return json.RawMessage(`1`)
	}
	return json.RawMessage(`"1"`)
}

// number renders micro-units as a JSON number with two decimals.
func number(micros int64) json.RawMessage {
	return json.RawMessage(adapters.FormatDecimal(micros, 2))
}

func (s *skin) balance(ctx *fasthttp.RequestCtx) {
	var frozen int64
	for _, o := range s.m.Active() {
		if len(o.SMS) == 0 {
			frozen += o.Price
		}
	}
	simulator.WriteJSON(ctx, struct {
		Response json.RawMessage `json:"response"`
		Balance  string          `json:"balance"`
		ZBalance json.RawMessage `json:"zbalance"`
	}{json.RawMessage(`"1"`), adapters.FormatDecimal(s.m.Balance(), 2), number(frozen)})
}

func (s *skin) getNum(ctx *fasthttp.RequestCtx) {
	svc, ok := canonicalService(skinkit.Arg(ctx, "service"))
	if !ok {
		s.code(ctx, CodeNoService)
		return
	}
	dial := skinkit.Arg(ctx, "country")
	if dial == "" {
		dial = "7" // the documented default (§3.3)
	}
	iso, ok := Countries.Canonical(dial)
	if !ok {
		s.code(ctx, CodeNoNumber)
		return
	}
	o, err := s.m.Buy(simulator.BuyArgs{Country: iso, Service: svc})
	switch {
	case errors.Is(err, adapters.ErrBadService):
		s.code(ctx, CodeNoService)
		return
	case errors.Is(err, adapters.ErrNoBalance):
		s.code(ctx, CodeLowBalance)
		return
	case err != nil:
		s.code(ctx, CodeNoNumber)
		return
	}
	reply := struct {
		Response json.RawMessage `json:"response"`
		TZID     int64           `json:"tzid"`
		Number   string          `json:"number,omitempty"`
	}{Response: s.one(), TZID: o.ID}
	if n := skinkit.Arg(ctx, "number"); (n == "true" || n == "1") && !s.o.LateNumber {
		reply.Number = "+" + o.Phone
	}
	simulator.WriteJSON(ctx, reply)
}

// tzid reads the tzid parameter; false means an answer was written.
func (s *skin) tzid(ctx *fasthttp.RequestCtx) (int64, bool) {
	v := skinkit.Arg(ctx, "tzid")
	if v == "" {
		s.code(ctx, CodeNoTZID)
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.code(ctx, CodeWrongTZID)
		return 0, false
	}
	return id, true
}

// stateItem is one getState element, fields in the documented order.
type stateItem struct {
	Country  int             `json:"country"`
	Sum      json.RawMessage `json:"sum"`
	Service  string          `json:"service"`
	Number   string          `json:"number,omitempty"`
	Response string          `json:"response"`
	TZID     int64           `json:"tzid"`
	Time     int64           `json:"time"`
	Form     string          `json:"form"`
	Msg      any             `json:"msg,omitempty"`
}

type msgItem struct {
	Service string `json:"service"`
	Msg     string `json:"msg"`
}

func (s *skin) getState(ctx *fasthttp.RequestCtx) {
	var orders []simulator.Order
	if skinkit.Arg(ctx, "tzid") == "" {
		orders = s.m.Active()
	} else {
		id, ok := s.tzid(ctx)
		if !ok {
			return
		}
		o, err := s.m.Get(id)
		if err != nil {
			s.code(ctx, CodeNoOps)
			return
		}
		orders = []simulator.Order{o}
	}
	if len(orders) == 0 {
		s.code(ctx, CodeNoOps)
		return
	}
	codes, list := skinkit.Arg(ctx, "message_to_code") == "1", skinkit.Arg(ctx, "msg_list") == "1"
	items := make([]stateItem, 0, len(orders))
	for _, o := range orders {
		seen := s.poll(o.ID)
		if s.o.EmptyFirst {
			if seen == 0 && len(orders) == 1 {
				ctx.SetContentType("application/json")
				ctx.SetBodyString("[]")
				return
			}
			seen-- // the [] answer showed no element
		}
		items = append(items, s.element(o, codes, list, seen))
	}
	simulator.WriteJSON(ctx, items)
}

// poll counts one getState answer for id and returns the count before it.
func (s *skin) poll(id int64) int {
	return s.polls.Update(id, func(n int) int { return n + 1 })
}

// element renders o; seen is how many elements were shown for it before.
func (s *skin) element(o simulator.Order, codes, list bool, seen int) stateItem {
	dial, _ := Countries.Native(o.Country)
	d, _ := strconv.Atoi(dial)
	slug, _ := Services.Native(o.Service)
	now := s.m.Now()
	it := stateItem{
		Country: d, Sum: number(o.Price), Service: slug, Number: "+" + o.Phone,
		TZID: o.ID, Time: max(0, int64(o.ExpiresAt.Sub(now)/time.Second)), Form: "index",
	}
	switch o.State {
	case adapters.StateWaiting:
		it.Response = StateWait
		if s.o.InPoolPolls < 0 || seen < s.o.InPoolPolls {
			it.Response = StateInPool
			if s.o.LateNumber {
				it.Number = ""
			}
		}
	case adapters.StateRetryWaiting:
		// Revise sends the operation back to waiting with its messages (§10).
		it.Response = StateWait
	case adapters.StateCodeReceived:
		it.Response = StateAnswer
	case adapters.StateFinished:
		it.Response = StateOverOK
	case adapters.StateBanned:
		it.Response = StateOverEmpty
		if len(o.SMS) > 0 {
			it.Response = StateOverOK
		}
	default: // cancelled, expired
		it.Response = StateOverEmpty
	}
	if len(o.SMS) > 0 {
		msgs := make([]msgItem, len(o.SMS))
		for i, m := range o.SMS {
			msgs[i] = msgItem{Service: slug, Msg: m.Text}
			if codes {
				msgs[i].Msg = m.Code
			}
		}
		if list {
			it.Msg = msgs
		} else {
			it.Msg = msgs[len(msgs)-1].Msg
		}
	}
	return it
}

// ended answers an operation that can no longer change: past its lifetime
// it is LIFICYCLE_NUM_EXPIRED, closed otherwise it is no active operation.
func (s *skin) ended(ctx *fasthttp.RequestCtx, o simulator.Order) {
	if !s.m.Now().Before(o.ExpiresAt) {
		s.code(ctx, CodeExpired)
		return
	}
	s.code(ctx, CodeNoOps)
}

func (s *skin) okTZID(ctx *fasthttp.RequestCtx, id int64) {
	simulator.WriteJSON(ctx, struct {
		Response json.RawMessage `json:"response"`
		TZID     int64           `json:"tzid"`
	}{s.one(), id})
}

func (s *skin) revise(ctx *fasthttp.RequestCtx) {
	id, ok := s.tzid(ctx)
	if !ok {
		return
	}
	o, err := s.m.Get(id)
	switch {
	case err != nil:
		s.code(ctx, CodeWrongTZID)
		return
	case !o.State.Active():
		s.ended(ctx, o)
		return
	case o.State == adapters.StateWaiting || o.State == adapters.StateRetryWaiting:
		// Already waiting for an SMS: nothing to revise, nothing refused.
	default:
		if _, err := s.m.RequestAnother(id); err != nil {
			s.code(ctx, CodeNoOps)
			return
		}
	}
	s.okTZID(ctx, id)
}

// closeOp is setOperationOk: a finish after an SMS, a cancel with refund
// before one, both refused for the protective interval after purchase
// (only the cancel unless GuardFinish). ban=1 also flags the number.
func (s *skin) closeOp(ctx *fasthttp.RequestCtx) {
	id, ok := s.tzid(ctx)
	if !ok {
		return
	}
	o, err := s.m.Get(id)
	if err != nil {
		s.code(ctx, CodeWrongTZID)
		return
	}
	if !o.State.Active() {
		s.ended(ctx, o)
		return
	}
	hasSMS := len(o.SMS) > 0
	young := o.Age(s.m.Now()) < s.m.Config().CancelGuard
	switch {
	case young && (!hasSMS || s.o.GuardFinish):
		err = adapters.ErrEarlyCancel
	case skinkit.Arg(ctx, "ban") == "1":
		_, err = s.m.Ban(id)
	case hasSMS:
		_, err = s.m.Finish(id)
	default:
		_, err = s.m.Cancel(id)
	}
	switch {
	case errors.Is(err, adapters.ErrEarlyCancel):
		s.code(ctx, CodeNoComplete)
	case err != nil:
		s.code(ctx, CodeNoOps)
	default:
		s.okTZID(ctx, id)
	}
}

type statsService struct {
	Count   int             `json:"count"`
	Popular bool            `json:"popular"`
	Code    int             `json:"code"`
	Price   json.RawMessage `json:"price"`
	ID      int             `json:"id"`
	Service string          `json:"service"`
	Slug    string          `json:"slug"`
}

type statsCountry struct {
	Name     string                  `json:"name"`
	Position int                     `json:"position"`
	Code     int                     `json:"code"`
	Other    int                     `json:"other"`
	New      bool                    `json:"new"`
	Enabled  bool                    `json:"enabled"`
	Services map[string]statsService `json:"services"`
}

// sold lists the market's countries this skin can name, in a stable order.
func (s *skin) sold() []string {
	var out []string
	for _, iso := range s.m.Countries() {
		if _, ok := Countries.Native(iso); ok {
			out = append(out, iso)
		}
	}
	return out
}

// serviceID is a stable small id per slug (the `id` field).
func serviceID(svc string) int {
	for i, c := range Services.Canonicals() {
		if c == svc {
			return i + 1
		}
	}
	return 0
}

func countryName(iso string) string {
	if c, ok := catalog.CountryByISO(iso); ok {
		return c.Name
	}
	return strings.ToUpper(iso)
}

func serviceName(svc string) string {
	if s, ok := catalog.ServiceByCode(svc); ok {
		return s.Name
	}
	return svc
}

func (s *skin) statsFor(iso string, pos int) statsCountry {
	dial, _ := Countries.Native(iso)
	d, _ := strconv.Atoi(dial)
	c := statsCountry{Name: countryName(iso), Position: pos, Code: d, Services: map[string]statsService{}}
	for _, of := range s.m.Offers(iso, "") {
		slug, ok := Services.Native(of.Service)
		if !ok {
			continue
		}
		c.Enabled = true
		c.Services["service_"+slug] = statsService{
			Count: of.Count, Popular: of.Count > 0, Code: d, Price: number(of.Price),
			ID: serviceID(of.Service), Service: serviceName(of.Service), Slug: slug,
		}
	}
	return c
}

// stats is getNumbersStats: one country by dial code, or every country
// (country=all) in an object keyed by dial code (§3.9).
func (s *skin) stats(ctx *fasthttp.RequestCtx) {
	dial := skinkit.Arg(ctx, "country")
	if dial == "" {
		dial = "7"
	}
	sold := s.sold()
	if dial == "all" {
		out := map[string]statsCountry{}
		for i, iso := range sold {
			c := s.statsFor(iso, i+1)
			out[strconv.Itoa(c.Code)] = c
		}
		simulator.WriteJSON(ctx, out)
		return
	}
	iso, ok := Countries.Canonical(dial)
	if !ok {
		s.code(ctx, CodeBadNumParam)
		return
	}
	pos := sort.SearchStrings(sold, iso) + 1
	simulator.WriteJSON(ctx, s.statsFor(iso, pos))
}

func (s *skin) price(ctx *fasthttp.RequestCtx) {
	svc, ok := canonicalService(skinkit.Arg(ctx, "service"))
	if !ok {
		s.code(ctx, CodeNoService)
		return
	}
	dial := skinkit.Arg(ctx, "country")
	if dial == "" {
		dial = "7"
	}
	iso, ok := Countries.Canonical(dial)
	if !ok {
		s.code(ctx, CodeNoNumber)
		return
	}
	offers := s.m.Offers(iso, svc)
	if len(offers) == 0 {
		s.code(ctx, CodeNoNumber)
		return
	}
	simulator.WriteJSON(ctx, struct {
		Response json.RawMessage `json:"response"`
		Price    json.RawMessage `json:"price"`
	}{s.one(), number(offers[0].Price)})
}

type tariffCountry struct {
	Name     string `json:"name"`
	Original string `json:"original"`
	Code     int    `json:"code"`
	Pos      int    `json:"pos"`
	Other    bool   `json:"other"`
	New      bool   `json:"new"`
	Enable   bool   `json:"enable"`
}

type tariffService struct {
	ID      int    `json:"id"`
	Service string `json:"service"`
	Slug    string `json:"slug"`
	Count   int    `json:"count"`
	Price   string `json:"price"`
}

// tariffs is getTariffs (§3.10): the countries, and the services of one
// country (default 7). Without filter only the first 30 services are
// listed; with a filter but no country the services are empty and the
// countries are those where a matching service is sold.
func (s *skin) tariffs(ctx *fasthttp.RequestCtx) {
	dial, filter := skinkit.Arg(ctx, "country"), strings.ToLower(skinkit.Arg(ctx, "filter"))
	matches := func(svc, slug string) bool {
		return filter == "" || strings.Contains(strings.ToLower(slug), filter) ||
			strings.Contains(strings.ToLower(serviceName(svc)), filter)
	}
	countries := map[string]tariffCountry{}
	for i, iso := range s.sold() {
		if filter != "" && dial == "" {
			found := false
			for _, of := range s.m.Offers(iso, "") {
				if slug, ok := Services.Native(of.Service); ok && matches(of.Service, slug) {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		d, _ := Countries.Native(iso)
		code, _ := strconv.Atoi(d)
		name := countryName(iso)
		countries["_"+d] = tariffCountry{Name: name, Original: name, Code: code, Pos: i + 1, Enable: true}
	}
	services := map[string]tariffService{}
	shown := dial
	if shown == "" {
		shown = "7"
	}
	if iso, ok := Countries.Canonical(shown); ok && !(filter != "" && dial == "") {
		for _, of := range s.m.Offers(iso, "") {
			slug, ok := Services.Native(of.Service)
			if !ok || !matches(of.Service, slug) || (filter == "" && len(services) >= 30) {
				continue
			}
			services["service_"+slug] = tariffService{
				ID: serviceID(of.Service), Service: serviceName(of.Service), Slug: slug,
				Count: of.Count, Price: adapters.FormatDecimal(of.Price, 2),
			}
		}
	}
	code, _ := strconv.Atoi(shown)
	simulator.WriteJSON(ctx, struct {
		Response          json.RawMessage          `json:"response"`
		Countries         map[string]tariffCountry `json:"countries"`
		Services          map[string]tariffService `json:"services"`
		FavoriteCountries struct{}                 `json:"favorite_countries"`
		FavoriteServices  []string                 `json:"favorite_services"`
		Favorites         struct{}                 `json:"favorites"`
		Page              int                      `json:"page"`
		Country           int                      `json:"country"`
		Filter            string                   `json:"filter"`
		End               bool                     `json:"end"`
	}{
		Response: json.RawMessage(`"1"`), Countries: countries, Services: services,
		FavoriteServices: []string{}, Page: 1, Country: code, Filter: skinkit.Arg(ctx, "filter"), End: true,
	})
}
