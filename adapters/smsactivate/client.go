package smsactivate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// Options configure a Client.
type Options struct {
	Code     string        // platform code for errors and Code(); default "smsactivate"
	BaseURL  string        // e.g. https://hero-sms.com (the path is added)
	Key      string        // the account's api_key
	Currency string        // the account currency; default "USD"
	Timeout  time.Duration // per call; default 10s
	// Clones' quirks (SMS-Service and its sister sites):
	Path  string            // endpoint path; default Path ("/stubs/handler_api.php")
	Extra map[string]string // parameters sent on every call (e.g. lang=en)
	NoV2  bool              // buy with getNumber only (no getNumberV2)
}

// protocol: the handler API takes api_key in the query; BaseURL has no
// default, since many platforms speak it.
var protocol = upstream.Protocol{Code: "smsactivate", Currency: "USD", KeyQuery: "api_key"}

// Client is an adapters.Platform for any upstream speaking the handler API.
// It understands both dialects on every answer: classic (200 + text token)
// and HeroSMS (non-200 + JSON {"title": token}).
type Client struct {
	upstream.Account
	path  string
	extra map[string]string
	// noV2 is set once the upstream answered BAD_ACTION to getNumberV2
	// (older clones): then getNumber is used and the price read from getPrices.
	noV2 atomic.Bool
	// offers looks up the price getNumber does not tell; default c.Offers.
	offers func(ctx context.Context, service, country string) ([]adapters.Offer, error)

	mu    sync.Mutex
	texts map[string]smsText // upstream id → text of its latest code
}

type smsText struct{ code, text string }

var _ adapters.Platform = (*Client)(nil)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings{Code: o.Code, BaseURL: o.BaseURL, Key: o.Key, Currency: o.Currency, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	c := &Client{Account: acct, path: cmp.Or(o.Path, Path), extra: o.Extra, texts: map[string]smsText{}}
	c.noV2.Store(o.NoV2)
	c.offers = c.Offers
	return c, nil
}

// SetPriceLookup replaces how Buy learns the price of a getNumber purchase
// (clones whose catalogue is not getPrices). Call it before use.
func (c *Client) SetPriceLookup(f func(ctx context.Context, service, country string) ([]adapters.Offer, error)) {
	c.offers = f
}

// Call sends one action and returns the body of a successful answer; error
// answers of either dialect are canonical errors. For adapters of clones
// that add their own actions.
func (c *Client) Call(ctx context.Context, op, action string, params map[string]string, mutating bool) ([]byte, error) {
	return c.call(ctx, op, action, params, mutating)
}

// call sends one action and returns the body of a 200 answer that is not an
// error token; error answers of either dialect become canonical errors.
func (c *Client) call(ctx context.Context, op, action string, params map[string]string, mutating bool) ([]byte, error) {
	q := map[string]string{"action": action}
	for k, v := range c.extra {
		q[k] = v
	}
	for k, v := range params {
		q[k] = v
	}
	call := upstream.Call{Path: c.path, Query: q, Op: op, Mutating: mutating}
	resp, err := c.Do(ctx, call)
	if err != nil {
		return nil, err
	}
	return c.answer(call, resp.Status, resp.Body)
}

// answer reads one HTTP answer of either dialect: the body of a 200 that
// is not an error token, or a canonical error.
func (c *Client) answer(call upstream.Call, status int, raw []byte) ([]byte, error) {
	op := call.Op
	body := bytes.TrimSpace(raw)
	if status != 200 {
		// HeroSMS dialect: {"title":"NO_BALANCE","details":…,"info":{…}}.
		var he struct {
			Title string   `json:"title"`
			Info  heroInfo `json:"info"`
		}
		if json.Unmarshal(body, &he) == nil && he.Title != "" && status < 500 {
			if he.Title == TokBanned {
				return nil, c.Wrap(op, he.Info.penalty())
			}
			tok := he.Title
			if tok == TokWrongMaxPrice && he.Info.Min != "" {
				tok += ":" + he.Info.Min.String()
			}
			if tok == "UNPROCESSABLE_ENTITY" {
				tok = TokBadKey // a missing/invalid api_key field
			}
			return nil, c.tokenError(op, tok)
		}
		return nil, c.Unavailable(call, "http %d", status)
	}
	if err := c.Readable(call, body); err != nil {
		return nil, err
	}
	if body[0] != '{' && body[0] != '[' {
		if err := c.knownError(op, string(body)); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// heroInfo is the "info" of a HeroSMS JSON error: the price floor of
// WRONG_MAX_PRICE, and BANNED's scope ("global": the account; "specific":
// one service × country), end and seconds left.
type heroInfo struct {
	Min         json.Number `json:"min"`
	Scope       string      `json:"scope"`
	BannedUntil string      `json:"banned_until"`
	RetryAfter  json.Number `json:"retry_after_seconds"`
	Service     string      `json:"service"`
	Country     json.Number `json:"country"` // the protocol's numeric country id
}

// penalty reads BANNED's info. A specific ban that does not name its pair
// is the request's pair (Buy fills it in).
func (i heroInfo) penalty() *adapters.PenaltyError {
	pe := &adapters.PenaltyError{Scope: adapters.ScopeAccount, Reason: TokBanned}
	if i.Scope == "specific" {
		pe.Scope, pe.Reason = adapters.ScopePair, TokBanned+" (service × country)"
		pe.Service = i.Service
		if id, err := i.Country.Int64(); err == nil {
			if ctry, ok := catalog.CountryBySMSActivateID(int(id)); ok {
				pe.Country = ctry.ISO
			}
		}
	}
	if n, err := i.RetryAfter.Int64(); err == nil && n > 0 {
		pe.RetryAfter = time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC3339, i.BannedUntil); err == nil {
		pe.Until = t
	}
	return pe
}

// classicBanned reads the classic BANNED:'2026-1-2 15-04-05' (the docs
// quote the date, in this layout; UTC assumed): the whole account.
func classicBanned(rest string) *adapters.PenaltyError {
	pe := &adapters.PenaltyError{Scope: adapters.ScopeAccount, Reason: TokBanned}
	if t, err := time.Parse("2006-1-2 15-04-05", strings.Trim(rest, "'\" ")); err == nil {
		pe.Until = t
	}
	return pe
}

// errorTokens are the answers that are errors whatever the action.
var errorTokens = map[string]error{
	TokNoNumbers: adapters.ErrNoNumbers, TokNoBalance: adapters.ErrNoBalance,
	TokBadKey: adapters.ErrAuth, TokNoKey: adapters.ErrAuth, "ACCOUNT_INACTIVE": adapters.ErrAuth,
	TokBadService: adapters.ErrBadService, "WRONG_SERVICE": adapters.ErrBadService,
	TokWrongCountry: adapters.ErrBadCountry, "BAD_COUNTRY": adapters.ErrBadCountry,
	TokNoActivation: adapters.ErrNoActivation, TokWrongActivationID: adapters.ErrNoActivation,
	"NOT_FOUND": adapters.ErrNoActivation, "ACTIVATION_NOT_ACTIVE": adapters.ErrBadState,
	TokBadStatus: adapters.ErrBadState, TokEarlyCancelDenied: adapters.ErrEarlyCancel,
	"OTP_RECEIVED": adapters.ErrBadState, "FREE_CANCELLATION_EXPIRED": adapters.ErrBadState,
	"NEW_OTP_RECEIVED": adapters.ErrBadState,
	TokErrorSQL:        adapters.ErrUnavailable, "SQL_ERROR": adapters.ErrUnavailable, "SERVER_ERROR": adapters.ErrUnavailable,
	TokBadAction:     errBadAction,
	"WRONG_OPERATOR": adapters.ErrNoNumbers, "BAD_OPERATOR": adapters.ErrNoNumbers,
	"WHATSAPP_NOT_AVAILABLE": adapters.ErrBadService,
}

var errBadAction = fmt.Errorf("action not supported: %w", adapters.ErrUnavailable)

// knownError maps a text answer that is an error token; nil if it is not one.
func (c *Client) knownError(op, body string) error {
	title, _, _ := strings.Cut(body, ":")
	if _, ok := errorTokens[title]; ok || title == TokWrongMaxPrice || title == TokBanned || title == TokChannelsLimit {
		return c.tokenError(op, body)
	}
	return nil
}

func (c *Client) tokenError(op, tok string) error {
	title, rest, _ := strings.Cut(tok, ":")
	if title == TokWrongMaxPrice {
		min, err := adapters.ParseDecimal(strings.Trim(rest, "'\" "))
		if err != nil {
			return c.Wrap(op, adapters.ErrPriceTooHigh)
		}
		return c.Wrap(op, &adapters.PriceFloorError{Min: c.Money(min)})
	}
	switch title {
	case TokBanned:
		return c.Wrap(op, classicBanned(rest))
	case TokChannelsLimit:
		// Too many orders open on our account there: a short pause (the
		// gateway's backoff), on the whole account.
		return c.Wrap(op, &adapters.PenaltyError{Scope: adapters.ScopeAccount, Reason: TokChannelsLimit})
	}
	if e, ok := errorTokens[title]; ok {
		return c.Errorf(op, "%s: %w", title, e)
	}
	return c.Errorf(op, "unexpected answer %q: %w", upstream.Snippet([]byte(tok)), adapters.ErrUnavailable)
}

func (c *Client) unexpected(op string, body []byte) error {
	return c.Errorf(op, "unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
}

// Balance reads getBalance: ACCESS_BALANCE:<x>, or a bare number as some
// clones answer.
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	body, err := c.call(ctx, "balance", "getBalance", nil, false)
	if err != nil {
		return adapters.Money{}, err
	}
	return c.parseBalance(body)
}

// parseBalance reads ACCESS_BALANCE:<x>, or a bare number (some clones).
func (c *Client) parseBalance(body []byte) (adapters.Money, error) {
	v, ok := bytes.CutPrefix(body, []byte(TokAccessBalance+":"))
	if !ok {
		v = body
	}
	m, err := adapters.ParseDecimal(string(v))
	if err != nil {
		return adapters.Money{}, c.unexpected("balance", body)
	}
	return c.Money(m), nil
}

func (c *Client) buyParams(r adapters.BuyRequest) (map[string]string, error) {
	ctry, ok := catalog.CountryByISO(r.Country)
	if !ok {
		return nil, c.Errorf("buy", "country %q: %w", r.Country, adapters.ErrBadCountry)
	}
	if _, ok := catalog.ServiceByCode(r.Service); !ok {
		return nil, c.Errorf("buy", "service %q: %w", r.Service, adapters.ErrBadService)
	}
	p := map[string]string{"service": r.Service, "country": strconv.Itoa(ctry.SMSActivateID)}
	if r.Operator != "" && r.Operator != "any" {
		p["operator"] = r.Operator
	}
	if r.MaxPrice.Micros > 0 {
		p["maxPrice"] = adapters.FormatDecimal(r.MaxPrice.Micros, 2)
	}
	return p, nil
}

// Buy buys through getNumberV2 (which tells the price), or getNumber on
// upstreams without it. A lost answer is adapters.ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	p, err := c.buy(ctx, r)
	if pe, ok := adapters.AsPenalty(err); ok && pe.Scope == adapters.ScopePair && pe.Country == "" && pe.Service == "" {
		pe.Country, pe.Service = r.Country, r.Service // a specific ban is the pair asked for
	}
	return p, err
}

func (c *Client) buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	params, err := c.buyParams(r)
	if err != nil {
		return adapters.Purchase{}, err
	}
	if !c.noV2.Load() {
		body, err := c.call(ctx, "buy", "getNumberV2", params, true)
		if err == nil {
			return c.parseNumberV2(body, r.Operator)
		}
		if !errors.Is(err, errBadAction) {
			return adapters.Purchase{}, err
		}
		c.noV2.Store(true)
	}
	body, err := c.call(ctx, "buy", "getNumber", params, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	rest, ok := bytes.CutPrefix(body, []byte(TokAccessNumber+":"))
	id, phone, ok2 := strings.Cut(string(rest), ":")
	if !ok || !ok2 || id == "" || phone == "" {
		return adapters.Purchase{}, c.Unreadable("buy", fmt.Sprintf("unexpected answer %q", upstream.Snippet(body)))
	}
	p := adapters.Purchase{UpstreamID: id, Phone: phone, Price: c.Money(0), Operator: r.Operator}
	// getNumber does not tell the price: take the listed one, best effort.
	if offers, err := c.offers(ctx, r.Service, r.Country); err == nil && len(offers) > 0 {
		p.Price = offers[0].Price
	}
	return p, nil
}

func (c *Client) parseNumberV2(body []byte, operator string) (adapters.Purchase, error) {
	var v struct {
		ActivationID       numberField `json:"activationId"`
		PhoneNumber        numberField `json:"phoneNumber"`
		ActivationCost     numberField `json:"activationCost"`
		ActivationOperator textField   `json:"activationOperator"`
		ActivationEndTime  textField   `json:"activationEndTime"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ActivationID == "" || v.PhoneNumber == "" {
		// We asked to buy and cannot read what we bought: reconcile, never re-buy.
		return adapters.Purchase{}, c.Unreadable("buy", fmt.Sprintf("unexpected answer %q", upstream.Snippet(body)))
	}
	cost, err := adapters.ParseDecimal(string(v.ActivationCost))
	if err != nil {
		cost = 0
	}
	p := adapters.Purchase{
		UpstreamID: string(v.ActivationID),
		Phone:      strings.TrimPrefix(string(v.PhoneNumber), "+"),
		Price:      c.Money(cost),
		Operator:   string(v.ActivationOperator),
	}
	if p.Operator == "" {
		p.Operator = operator
	}
	if t, err := time.Parse(time.RFC3339, string(v.ActivationEndTime)); err == nil {
		p.ExpiresAt = t
	}
	return p, nil
}

// numberField is a JSON number that may arrive quoted or bare (the
// protocol's field types vary by version): either way it holds the
// number's text, and anything that is not a number is refused. Decoding
// straight into it replaces a decode into a map, a re-encode and a second
// decode (a third of the CPU of a purchase's answer, measured).
type numberField string

func (n *numberField) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil || len(b) == 0 {
		return fmt.Errorf("not a number: %q", upstream.Snippet(b))
	}
	*n = numberField(b)
	return nil
}

// textField is JSON text that may arrive as a string or as a bare number.
type textField string

func (t *textField) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = textField(s)
	default:
		if _, err := strconv.ParseFloat(string(b), 64); err != nil {
			return fmt.Errorf("not text or a number: %q", upstream.Snippet(b))
		}
		*t = textField(b)
	}
	return nil
}

// Check reads getStatus, and getFullSms once per new code for its text.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	body, err := c.call(ctx, "check", "getStatus", map[string]string{"id": id}, false)
	if err != nil {
		return adapters.Update{}, err
	}
	st, code, ok := ParseStatus(string(body))
	if !ok {
		return adapters.Update{}, c.unexpected("check", body)
	}
	u := adapters.Update{State: st}
	if code == "" {
		if !st.Active() {
			c.forget(id)
		}
		return u, nil
	}
	text := c.textFor(ctx, id, code, st)
	// The protocol does not say when the SMS came: ReceivedAt stays zero and
	// the gateway stamps it when it first sees the code.
	u.SMS = []adapters.SMS{{Code: code, Text: text}}
	return u, nil
}

func (c *Client) textFor(ctx context.Context, id, code string, st adapters.State) string {
	c.mu.Lock()
	t, ok := c.texts[id]
	c.mu.Unlock()
	if ok && t.code == code {
		return t.text
	}
	text := code
	if st == adapters.StateCodeReceived {
		if body, err := c.call(ctx, "check", "getFullSms", map[string]string{"id": id}, false); err == nil {
			if v, ok := bytes.CutPrefix(body, []byte(TokFullSMS+":")); ok {
				text = string(v)
			}
		}
	}
	c.mu.Lock()
	if len(c.texts) > 50000 { // bounded: orders live 20 minutes
		c.texts = map[string]smsText{}
	}
	c.texts[id] = smsText{code, text}
	c.mu.Unlock()
	return text
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.texts, id)
	c.mu.Unlock()
}

func (c *Client) setStatus(ctx context.Context, op, id string, status int, want string) error {
	body, err := c.call(ctx, op, "setStatus", map[string]string{"id": id, "status": strconv.Itoa(status)}, true)
	if err != nil {
		return err
	}
	if string(body) != want {
		return c.unexpected(op, body)
	}
	return nil
}

// Ready sends status 1.
func (c *Client) Ready(ctx context.Context, id string) error {
	return c.setStatus(ctx, "ready", id, 1, TokAccessReady)
}

// Finish sends status 6.
func (c *Client) Finish(ctx context.Context, id string) error {
	err := c.setStatus(ctx, "finish", id, 6, TokAccessActivation)
	if err == nil {
		c.forget(id)
	}
	return err
}

// Cancel sends status 8.
func (c *Client) Cancel(ctx context.Context, id string) error {
	err := c.setStatus(ctx, "cancel", id, 8, TokAccessCancel)
	if err == nil {
		c.forget(id)
	}
	return err
}

// RequestAnother sends status 3.
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	return c.setStatus(ctx, "another", id, 3, TokAccessRetryGet)
}

// Offers reads getPrices: {"<country id>":{"<service>":{"cost":…,"count":…}}}.
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	params := map[string]string{}
	if service != "" {
		params["service"] = service
	}
	if country != "" {
		ctry, ok := catalog.CountryByISO(country)
		if !ok {
			return nil, c.Errorf("offers", "country %q: %w", country, adapters.ErrBadCountry)
		}
		params["country"] = strconv.Itoa(ctry.SMSActivateID)
	}
	body, err := c.call(ctx, "offers", "getPrices", params, false)
	if err != nil {
		return nil, err
	}
	return c.parseOffers(body)
}

// parseOffers reads getPrices: {"<country id>":{"<service>":{"cost":…,
// "count"|"quant":…}}}; cells it cannot map or read are left out.
func (c *Client) parseOffers(body []byte) ([]adapters.Offer, error) {
	var raw map[string]map[string]struct {
		Cost  json.RawMessage `json:"cost"`
		Count json.RawMessage `json:"count"`
		Quant json.RawMessage `json:"quant"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, c.unexpected("offers", body)
	}
	var out []adapters.Offer
	for cid, services := range raw {
		id, err := strconv.Atoi(cid)
		if err != nil {
			continue
		}
		ctry, ok := catalog.CountryBySMSActivateID(id)
		if !ok {
			continue
		}
		for svc, info := range services {
			if _, ok := catalog.ServiceByCode(svc); !ok {
				continue
			}
			cost, err := adapters.ParseDecimal(strings.Trim(string(info.Cost), `"`))
			if err != nil {
				continue
			}
			cnt := info.Count
			if len(cnt) == 0 {
				cnt = info.Quant
			}
			n, _ := strconv.Atoi(strings.Trim(string(cnt), `"`))
			out = append(out, adapters.Offer{Country: ctry.ISO, Service: svc, Price: c.Money(cost), Count: n})
		}
	}
	return out, nil
}

// Countries reads getCountries (an object keyed by id, or an array).
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	body, err := c.call(ctx, "countries", "getCountries", nil, false)
	if err != nil {
		return nil, err
	}
	return c.parseCountries(body)
}

// parseCountries reads getCountries: an object keyed by id, or an array.
func (c *Client) parseCountries(body []byte) ([]string, error) {
	type entry struct {
		ID      json.Number `json:"id"`
		Visible *int        `json:"visible"`
	}
	var entries []entry
	var obj map[string]entry
	if err := json.Unmarshal(body, &obj); err == nil {
		for _, e := range obj {
			entries = append(entries, e)
		}
	} else if err := json.Unmarshal(body, &entries); err != nil {
		return nil, c.unexpected("countries", body)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		id, err := strconv.Atoi(e.ID.String())
		if err != nil {
			continue
		}
		if ctry, ok := catalog.CountryBySMSActivateID(id); ok && !seen[ctry.ISO] {
			seen[ctry.ISO] = true
			out = append(out, ctry.ISO)
		}
	}
	return out, nil
}
