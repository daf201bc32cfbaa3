package smsreg

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

// SkinOptions choose the timing of number assignment and the readings of
// the protocol the sources leave open. The zero value assigns the number
// on the second getState, answers errors with "response":"ERROR" and sends
// no full_msg.
type SkinOptions struct {
	// InPoolPolls is how many getState answers show a new operation as
	// TZ_INPOOL before its number is assigned (TZ_NUM_PREPARE): 0 means 1;
	// negative means the number never comes.
	InPoolPolls int
	// AssignDelay also holds the number back until this long after getNum,
	// on the market clock.
	AssignDelay time.Duration
	// FullMsg adds full_msg (the SMS text) next to msg (§2.4, uncertain).
	FullMsg bool
	// ZeroErrors answers errors as {"response":"0","error_msg":…}, the
	// form some methods use (§1).
	ZeroErrors bool
}

// NewSkin serves SMS-REG's API over a simulated market, with the market's
// fault injection in front. getNum buys from the market at once (so an
// empty balance is getNum's WARNING_LOW_BALANCE); the number is shown
// from the second getState on, as SMS-REG assigns numbers late.
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with the variants of o.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	if o.InPoolPolls == 0 {
		o.InPoolPolls = 1
	}
	s := &skin{m: m, o: o, ops: map[int64]*operation{}, byOrder: map[int64]int64{}, next: 20000000 + m.IDOffset()}
	return m.Wrap(s.handle)
}

// operation is the skin's side of one tzid: SMS-REG's states that the
// market does not model (late assignment, readiness, clarification).
type operation struct {
	order       int64  // market order id; 0 when issuing failed
	fail        string // WARNING_NO_NUMS or WARNING_WAIT15MIN when order is 0
	service     string // SMS-REG code
	created     time.Time
	polls       int  // getState answers given while TZ_INPOOL
	assigned    bool // the number is shown
	revised     bool // setOperationRevise was accepted
	smsAtRevise int  // messages before the revise
	wrongCode   bool // closed by setOperationOver
}

type skin struct {
	m *simulator.Market
	o SkinOptions

	mu      sync.Mutex // guards ops, byOrder and next, and serialises each operation's transitions
	ops     map[int64]*operation
	byOrder map[int64]int64 // market order id → tzid, so the active list walks only active orders
	next    int64
}

// routes are SMS-REG's methods; each runs with s.mu held.
// handler serves one routed request.
type handler = func(*skin, *fasthttp.RequestCtx)

var routes = skinkit.Routes[handler]{
	"getBalance": (*skin).balance, "getList": (*skin).list, "getNum": (*skin).getNum,
	"getState":           onOperation((*skin).getState),
	"setReady":           transitionBy("setReady"),
	"setOperationOk":     transitionBy("setOperationOk"),
	"setOperationUsed":   transitionBy("setOperationUsed"),
	"setOperationRevise": transitionBy("setOperationRevise"),
	"setOperationOver":   transitionBy("setOperationOver"),
	"getNumRepeat":       (*skin).numRepeat, "getOperations": (*skin).operations, "setRate": (*skin).setRate,
}

func (s *skin) handle(ctx *fasthttp.RequestCtx) {
	method, ok := strings.CutPrefix(string(ctx.Path()), "/")
	if ok {
		method, ok = strings.CutSuffix(method, ".php")
	}
	if !ok {
		method = "" // routed nowhere, counted as unknown
	}
	h, ok := routes.Route(s.m, method)
	if !ok {
		ctx.Error("Not Found", fasthttp.StatusNotFound)
		return
	}
	// Every parameter is in the query string, also on POST (§1).
	switch key := string(ctx.QueryArgs().Peek("apikey")); {
	case key == "":
		s.fail(ctx, MsgNoKey)
		return
	case !s.m.CheckKey(key):
		s.fail(ctx, MsgWrongKey)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h(s, ctx)
}

// onOperation runs h on the operation the request names, once found.
func onOperation(h func(*skin, *fasthttp.RequestCtx, *operation)) func(*skin, *fasthttp.RequestCtx) {
	return func(s *skin, ctx *fasthttp.RequestCtx) {
		if op, ok := s.lookup(ctx); ok {
			h(s, ctx, op)
		}
	}
}

// transitionBy is the route of one state-changing method.
func transitionBy(method string) func(*skin, *fasthttp.RequestCtx) {
	return onOperation(func(s *skin, ctx *fasthttp.RequestCtx, op *operation) { s.transition(ctx, method, op) })
}

func (s *skin) balance(ctx *fasthttp.RequestCtx) {
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
		Balance  string `json:"balance"`
	}{"1", adapters.FormatDecimal(s.m.Balance(), 2)})
}

// numRepeat: repeats are not simulated: "0" is "repeat not possible" (§2.9).
func (s *skin) numRepeat(ctx *fasthttp.RequestCtx) {
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
	}{"0"})
}

// fail answers an error, HTTP 200 like every answer (§1).
func (s *skin) fail(ctx *fasthttp.RequestCtx, msg string) {
	resp := "ERROR"
	if s.o.ZeroErrors {
		resp = "0"
	}
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
		ErrorMsg string `json:"error_msg"`
	}{resp, msg})
}

func (s *skin) ok(ctx *fasthttp.RequestCtx) {
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
	}{"1"})
}

type listItem struct {
	Service     string                   `json:"service"`
	Description string                   `json:"description"`
	Countries   map[string]listItemOffer `json:"countries,omitempty"`
}

type listItemOffer struct {
	Price string `json:"price"`
	Count int    `json:"count"`
}

// list is getList; extended=1 adds price and stock per country in the
// shape ParseList assumes (not documented: see there).
func (s *skin) list(ctx *fasthttp.RequestCtx) {
	extended := string(ctx.QueryArgs().Peek("extended")) == "1"
	var items []listItem
	for _, svc := range Services.Canonicals() {
		if !s.m.Sells(svc) {
			continue
		}
		native, _ := Services.Native(svc)
		it := listItem{Service: native, Description: native}
		if sv, ok := catalog.ServiceByCode(svc); ok {
			it.Description = sv.Name
		}
		if extended {
			it.Countries = map[string]listItemOffer{}
			for _, iso := range Countries.Canonicals() {
				for _, of := range s.m.Offers(iso, svc) {
					c, _ := Countries.Native(iso)
					it.Countries[c] = listItemOffer{Price: adapters.FormatDecimal(of.Price, 2), Count: of.Count}
				}
			}
		}
		items = append(items, it)
	}
	simulator.WriteJSON(ctx, struct {
		Response string     `json:"response"`
		Services []listItem `json:"services"`
	}{"1", items})
}

func (s *skin) getNum(ctx *fasthttp.RequestCtx) {
	native := string(ctx.QueryArgs().Peek("service"))
	svc, ok := Services.Canonical(native)
	if !ok {
		s.fail(ctx, MsgNoService)
		return
	}
	country := string(ctx.QueryArgs().Peek("country"))
	if country == "" {
		country = "all" // what clients send by default (§2.3)
	}
	op := &operation{service: native, created: s.m.Now()}
	iso := ""
	if country == "all" {
		for _, c := range Countries.Canonicals() {
			if of := s.m.Offers(c, svc); len(of) > 0 && of[0].Count > 0 {
				iso = c
				break
			}
		}
	} else if c, ok := Countries.Canonical(country); ok {
		iso = c
	}
	_, banned := s.m.BannedUntil()
	switch {
	case banned:
		// SMS-REG's penalty for an account is a freeze on issuing, told
		// through the operation (§2.4, §7).
		op.fail = StateWait15
	case iso == "":
		op.fail = StateNoNums
	default:
		o, err := s.m.Buy(simulator.BuyArgs{Country: iso, Service: svc})
		switch {
		case errors.Is(err, adapters.ErrNoBalance):
			s.fail(ctx, MsgLowBalance)
			return
		case errors.Is(err, adapters.ErrBadService):
			s.fail(ctx, MsgNoService)
			return
		case err != nil:
			// No suitable number: the operation opens and fails (§6).
			op.fail = StateNoNums
		default:
			op.order = o.ID
		}
	}
	s.next++
	id := s.next
	s.ops[id] = op
	if op.order != 0 {
		s.byOrder[op.order] = id
	}
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
		TZID     string `json:"tzid"`
	}{"1", strconv.FormatInt(id, 10)})
}

// lookup reads tzid and finds its operation; false means an error was
// answered.
func (s *skin) lookup(ctx *fasthttp.RequestCtx) (*operation, bool) {
	v := string(ctx.QueryArgs().Peek("tzid"))
	if v == "" {
		s.fail(ctx, MsgNoTZID)
		return nil, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.fail(ctx, MsgTZIDNotNumber)
		return nil, false
	}
	op, ok := s.ops[id]
	if !ok {
		s.fail(ctx, MsgWrongTZID)
		return nil, false
	}
	return op, true
}

// view returns op's state token and its market order. A getState poll
// (poll true) is what moves an operation out of TZ_INPOOL.
func (s *skin) view(op *operation, poll bool) (string, simulator.Order) {
	if op.order == 0 {
		return op.fail, simulator.Order{}
	}
	o, _ := s.m.Get(op.order)
	if !o.State.Active() {
		switch o.State {
		case adapters.StateCancelled, adapters.StateBanned:
			return StateDeleted, o
		case adapters.StateExpired:
			if !o.Ready {
				return StateOverNR, o
			}
			return StateOverEmpty, o
		}
		switch { // finished
		case op.wrongCode:
			return StateOverGR, o
		case op.revised && len(o.SMS) > op.smsAtRevise:
			return StateOver2OK, o
		case op.revised:
			return StateOver2Empty, o
		}
		return StateOverOK, o
	}
	if !op.assigned && poll && s.o.InPoolPolls >= 0 && op.polls >= s.o.InPoolPolls &&
		s.m.Now().Sub(op.created) >= s.o.AssignDelay {
		op.assigned = true
	}
	if !op.assigned {
		if poll {
			op.polls++
		}
		return StateInPool, o
	}
	switch o.State {
	case adapters.StateCodeReceived:
		if op.revised {
			return StateAnswer2, o
		}
		return StateAnswer, o
	case adapters.StateRetryWaiting:
		return StateWait2, o
	}
	if o.Ready {
		return StateWait, o
	}
	return StatePrepare, o
}

func (s *skin) getState(ctx *fasthttp.RequestCtx, op *operation) {
	token, o := s.view(op, true)
	reply := struct {
		Response string `json:"response"`
		Service  string `json:"service"`
		Number   string `json:"number,omitempty"`
		Msg      string `json:"msg,omitempty"`
		FullMsg  string `json:"full_msg,omitempty"`
	}{Response: token, Service: op.service}
	if op.assigned {
		reply.Number = o.Phone
	}
	if m, ok := shownSMS(token, o); ok {
		reply.Msg = m.Code
		if s.o.FullMsg {
			reply.FullMsg = m.Text
		}
	}
	simulator.WriteJSON(ctx, reply)
}

// shownSMS is the message a state shows in msg (§2.4: with the answer;
// and kept once the operation is over after one): the newest. A wait
// after a revise shows none.
func shownSMS(token string, o simulator.Order) (adapters.SMS, bool) {
	switch token {
	case StateAnswer, StateAnswer2, StateOverOK, StateOver2OK, StateOverGR:
		if n := len(o.SMS); n > 0 {
			return o.SMS[n-1], true
		}
	}
	return adapters.SMS{}, false
}

// transition applies a state-changing method, or answers "<method> to
// this TZID not applicable" when op's state does not allow it.
func (s *skin) transition(ctx *fasthttp.RequestCtx, method string, op *operation) {
	token, o := s.view(op, false)
	var err error = adapters.ErrBadState
	switch method {
	case "setReady":
		if token == StatePrepare {
			_, err = s.m.Ready(op.order)
		}
	case "setOperationOk":
		if token == StateAnswer || token == StateAnswer2 || token == StateWait2 {
			_, err = s.m.Finish(op.order)
		}
	case "setOperationUsed":
		// The number was never used, so the operation is deleted and its
		// money returned; also before the number was shown (a cancel).
		if op.order != 0 && o.State == adapters.StateWaiting {
			_, err = s.m.Ban(op.order)
		}
	case "setOperationRevise":
		if token == StateAnswer {
			if _, err = s.m.RequestAnother(op.order); err == nil {
				op.revised, op.smsAtRevise = true, len(o.SMS)
			}
		}
	case "setOperationOver":
		if token == StateAnswer || token == StateAnswer2 {
			if _, err = s.m.Finish(op.order); err == nil {
				op.wrongCode = true
			}
		}
	}
	if err != nil {
		s.fail(ctx, method+NotApplicable)
		return
	}
	s.ok(ctx)
}

// operations is getOperations: the skin's operations, active or
// completed, newest first.
func (s *skin) operations(ctx *fasthttp.RequestCtx) {
	completed := string(ctx.QueryArgs().Peek("opstate")) == "completed"
	count, err := strconv.Atoi(string(ctx.QueryArgs().Peek("count")))
	if err != nil || count <= 0 || count > 1000 {
		count = 100
	}
	// An operation is active exactly while its market order is, so the
	// active list walks the market's active orders, not every operation.
	var ids []int64
	if completed {
		ids = make([]int64, 0, len(s.ops))
		for id := range s.ops {
			ids = append(ids, id)
		}
	} else {
		for _, o := range s.m.Active() {
			if id, ok := s.byOrder[o.ID]; ok {
				ids = append(ids, id)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	type item struct {
		TZID    string `json:"tzid"`
		Service string `json:"service"`
		Phone   string `json:"phone"`
		Status  string `json:"status"`
		Msg     string `json:"msg"`
	}
	var out []item
	for _, id := range ids {
		op := s.ops[id]
		token, o := s.view(op, false)
		over := op.order == 0 || terminal(token)
		if over != completed || len(out) >= count {
			continue
		}
		it := item{TZID: strconv.FormatInt(id, 10), Service: op.service, Status: token}
		if op.assigned {
			it.Phone = o.Phone
		}
		if m, ok := shownSMS(token, o); ok && op.assigned {
			it.Msg = m.Code // §2.10 documents msg only, no full_msg
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		s.fail(ctx, MsgNoActive)
		return
	}
	simulator.WriteJSON(ctx, out)
}

var rateFormat = regexp.MustCompile(`^\d{1,13}\.\d{2}$`)

// setRate accepts a personal bid with exactly two decimals while no
// operation is active (§2.11); the bid does not change simulated prices.
func (s *skin) setRate(ctx *fasthttp.RequestCtx) {
	rate := string(ctx.QueryArgs().Peek("rate"))
	if !rateFormat.MatchString(rate) {
		s.fail(ctx, MsgBadChars)
		return
	}
	for _, op := range s.ops {
		if token, _ := s.view(op, false); op.order != 0 && !terminal(token) {
			s.fail(ctx, MsgRate)
			return
		}
	}
	simulator.WriteJSON(ctx, struct {
		Response string `json:"response"`
		Rate     string `json:"rate"`
	}{"1", rate})
}
