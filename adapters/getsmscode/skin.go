package getsmscode

import (
	"errors"
	"slices"
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

// SkinOptions tune the simulated account. The zero value is the account
// the protocols file describes.
type SkinOptions struct {
	// MaxHeld is how many numbers the account may hold at once (login's
	// api_thread); default 5, the limit one client met.
	MaxHeld int
	// PollSpacing is the least time between two getsms of one number;
	// default 10s (the server's own message). Negative: no limit.
	PollSpacing time.Duration
}

// NewSkin serves GetSMSCode's API over a simulated market, with the
// market's fault injection in front. Requests are counted by action
// ("login", "getmobile", "getsms", "addblack", "mobilelist",
// "cancelSMSRecv"), "projectapi" for the price list, "unknown" otherwise.
//
// Credentials: any non-empty username is accepted with the market's key as
// token ("username is wrong" / "token is wrong" otherwise). The protocol
// has no answer for a banned account; the skin assumes its credentials are
// refused and answers "token is wrong" while the market bans the account.
//
// The skin keeps what the protocol needs and the market lacks: which
// (pool, pid, number) is which order, the account's limit of held numbers
// and the 10-second poll spacing. addblack ends the market order as a
// cancel (refunded) before an SMS and as a finish (charge kept) after one;
// a cancel the market refuses as early goes through the market's ban,
// which refunds the same way (GetSMSCode has no guard). Uncertain in the
// protocol and chosen here: the charge is taken at purchase and refunded
// on release without an SMS; "cancelSMSRecv" (usdo.php) answers like
// addblack; an unknown action answers "Message|unknown action"; every
// answer is text/html as PHP sends by default. The market's Lifetime
// stands for the unknown hold time (the file suggests 10 minutes).
func NewSkin(m *simulator.Market) fasthttp.RequestHandler { return NewSkinWith(m, SkinOptions{}) }

// NewSkinWith is NewSkin with a tuned account.
func NewSkinWith(m *simulator.Market, o SkinOptions) fasthttp.RequestHandler {
	if o.MaxHeld <= 0 {
		o.MaxHeld = 5
	}
	if o.PollSpacing == 0 {
		o.PollSpacing = 10 * time.Second
	}
	s := &skin{m: m, o: o, held: map[holdKey]*hold{}}
	return m.Wrap(s.serve)
}

type skin struct {
	m *simulator.Market
	o SkinOptions

	mu   sync.Mutex // guards held
	held map[holdKey]*hold
}

// holdKey names a rental as the protocol does.
type holdKey struct{ region, pid, mobile string }

type hold struct {
	id       int64     // market order
	lastPoll time.Time // last getsms answered (zero: never polled)
}

func reply(ctx *fasthttp.RequestCtx, body string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=UTF-8")
	ctx.SetBodyString(body)
}

// action is one of the scripts' actions: it answers the rental named by
// key with the body to send.
type action struct {
	h       func(s *skin, ctx *fasthttp.RequestCtx, key holdKey) string
	usaOnly bool // only usdo.php knows it
}

var actions = skinkit.Routes[action]{
	"login": {h: func(s *skin, ctx *fasthttp.RequestCtx, _ holdKey) string {
		return skinkit.Arg(ctx, "username") + "|" + amount(s.m.Balance()) + "|0|1|" + strconv.Itoa(s.o.MaxHeld)
	}},
	"getmobile":  {h: func(s *skin, _ *fasthttp.RequestCtx, k holdKey) string { return s.getMobile(k) }},
	"getsms":     {h: func(s *skin, _ *fasthttp.RequestCtx, k holdKey) string { return s.getSMS(k) }},
	"addblack":   {h: func(s *skin, _ *fasthttp.RequestCtx, k holdKey) string { return s.addBlack(k) }},
	"mobilelist": {h: func(s *skin, _ *fasthttp.RequestCtx, _ holdKey) string { return s.mobileList() }},
	// The USA script's cancel is addblack under another name.
	"cancelSMSRecv": {h: func(s *skin, _ *fasthttp.RequestCtx, k holdKey) string { return s.addBlack(k) }, usaOnly: true},
}

func (s *skin) serve(ctx *fasthttp.RequestCtx) {
	var region string
	switch string(ctx.Path()) {
	case pathChina:
		region = regionChina
	case pathUSA:
		region = regionUSA
	case pathOthers:
		// China and the USA have their own scripts, not a cocode here.
		if region = skinkit.Arg(ctx, "cocode"); region == regionChina || region == regionUSA {
			region = ""
		}
	case pathProjects:
		s.m.CountCall("projectapi")
		s.projects(ctx)
		return
	default:
		s.m.CountCall(skinkit.Unknown)
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString("Not Found")
		return
	}
	act, known := actions.Route(s.m, skinkit.Arg(ctx, "action"))
	_, banned := s.m.BannedUntil()
	switch {
	case skinkit.Arg(ctx, "username") == "":
		reply(ctx, ansUserWrong)
		return
	case !s.m.CheckKey(skinkit.Arg(ctx, "token")) || banned:
		reply(ctx, ansTokenWrong)
		return
	case !known || act.usaOnly && region != regionUSA:
		reply(ctx, msgPrefix+"unknown action")
		return
	}
	reply(ctx, act.h(s, ctx, holdKey{region, skinkit.Arg(ctx, "pid"), skinkit.Arg(ctx, "mobile")}))
}

// amount renders a balance or price as the platform does: "12.45",
// "0.135", at least two decimals.
func amount(micros int64) string { return adapters.FormatTrimmed(micros, 2) }

// order returns the live order held under key, forgetting it once the
// market has ended it; s.mu held.
func (s *skin) order(key holdKey) (*hold, simulator.Order, bool) {
	h, ok := s.held[key]
	if !ok {
		return nil, simulator.Order{}, false
	}
	o, err := s.m.Get(h.id)
	if err != nil || !o.State.Active() {
		delete(s.held, key)
		return nil, simulator.Order{}, false
	}
	return h, o, true
}

func (s *skin) getMobile(key holdKey) string {
	country, ok1 := countries.Canonical(key.region)
	service, ok2 := services.Canonical(key.pid)
	if !ok1 || !ok2 {
		return msgUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.held {
		s.order(k) // drops rentals the market has ended
	}
	if len(s.held) >= s.o.MaxHeld {
		return msgCaptureMax + strconv.Itoa(s.o.MaxHeld)
	}
	o, err := s.m.Buy(simulator.BuyArgs{Country: country, Service: service})
	switch {
	case errors.Is(err, adapters.ErrNoBalance):
		return msgNoBalance
	case errors.Is(err, adapters.ErrNoNumbers), errors.Is(err, adapters.ErrBadService), errors.Is(err, adapters.ErrBadCountry):
		return msgUnavailable
	case err != nil:
		return msgIssue
	}
	key.mobile = o.Phone
	s.held[key] = &hold{id: o.ID}
	return o.Phone
}

func (s *skin) getSMS(key holdKey) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, o, ok := s.order(key)
	if !ok {
		return msgNotFound
	}
	now := s.m.Now()
	if s.o.PollSpacing > 0 && !h.lastPoll.IsZero() && now.Sub(h.lastPoll) < s.o.PollSpacing {
		return msgWait
	}
	h.lastPoll = now
	if o.State == adapters.StateCodeReceived {
		return smsPrefix + o.SMS[len(o.SMS)-1].Text
	}
	return msgNotReceive
}

func (s *skin) addBlack(key holdKey) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, o, ok := s.order(key)
	if !ok {
		return msgNotFound
	}
	var err error
	if len(o.SMS) > 0 {
		_, err = s.m.Finish(h.id)
	} else {
		_, err = s.m.Cancel(h.id)
		if errors.Is(err, adapters.ErrEarlyCancel) {
			_, err = s.m.Ban(h.id) // no guard on GetSMSCode; see NewSkin
		}
	}
	if err != nil {
		return msgIssue
	}
	delete(s.held, key)
	return msgBlacklisted
}

// mobileList answers "number|pid,number|pid" (empty when nothing is held).
func (s *skin) mobileList() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type entry struct {
		id   int64
		text string
	}
	var list []entry
	for k := range s.held {
		if h, _, ok := s.order(k); ok {
			list = append(list, entry{h.id, k.mobile + "|" + k.pid})
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return int(a.id - b.id) })
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.text
	}
	return strings.Join(out, ",")
}

// projects answers projectapi.php: "pid|name|region:price|…" per project,
// joined by "<br>", only pools where the market sells it; ?pid= narrows to
// one project (an unknown one gives an empty body). The price layout is
// this skin's reading of an uncertain fact (see parseProjects).
func (s *skin) projects(ctx *fasthttp.RequestCtx) {
	want := skinkit.Arg(ctx, "pid")
	var recs []string
	pids := make([]int, 0, services.Len())
	for _, svc := range services.Canonicals() {
		pid, _ := services.Native(svc)
		n, _ := strconv.Atoi(pid)
		pids = append(pids, n)
	}
	slices.Sort(pids)
	for _, n := range pids {
		pid := strconv.Itoa(n)
		if want != "" && pid != want {
			continue
		}
		svc, _ := services.Canonical(pid)
		name := svc
		if sv, ok := catalog.ServiceByCode(svc); ok {
			name = sv.Name
		}
		rec := pid + "|" + name
		for _, o := range s.m.Offers("", svc) {
			if region, ok := countries.Native(o.Country); ok {
				rec += "|" + region + ":" + amount(o.Price)
			}
		}
		recs = append(recs, rec)
	}
	reply(ctx, strings.Join(recs, projectSep))
}
