// Package getsmscode is the GetSMSCode (getsmscode.com) adapter: a client
// of its small pre-JSON API (one PHP script per number pool, "username" and
// "token" on every call, '|'-delimited text answers) and a skin that serves
// that protocol over the simulated market. Facts and exact strings are from
// protocols/getsmscode.md, which rests on third-party clients only.
//
// What GetSMSCode does differently, and how the client copes:
//   - the pool decides the script: do.php (China), usdo.php (USA), vndo.php
//     with cocode=<region> (everyone else);
//   - services are numeric project ids (pid);
//   - there is no activation id: a rental is (pid, number, pool), which the
//     client encodes as the UpstreamID "pid:number:region" ("10:8613800000000:cn");
//   - the only terminal call is addblack (release and blacklist the
//     number): Cancel, Finish and Ban all use it, and Cancel first checks
//     that no SMS arrived, since addblack cannot tell them apart;
//   - the purchase answer has no price: Buy reads it from projectapi.php
//     first, which also enforces MaxPrice;
//   - no stock figures exist anywhere in the API: offers carry
//     Count adapters.StockUnknown.
package getsmscode

import (
	"context"
	_ "embed"
	"errors"
	"slices"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// DefaultBaseURL is the API host. Clients use both http:// and https://;
// the token travels in the query string, so https is the default.
const DefaultBaseURL = "https://api.getsmscode.com"

// DefaultCurrency is the account currency: amounts carry no currency
// marker; dollars are inferred (protocols/getsmscode.md §6).
const DefaultCurrency = "USD"

// Scripts, one per pool, and the price list.
const (
	pathChina    = "/do.php"
	pathUSA      = "/usdo.php"
	pathOthers   = "/vndo.php"
	pathProjects = "/projectapi.php"

	regionChina = "cn"
	regionUSA   = "us"
)

var (
	//go:embed countries.tsv
	countriesTSV []byte
	//go:embed services.tsv
	servicesTSV []byte

	// countries maps ISO alpha-2 to pool regions ("gb" → "uk"); services
	// maps SMS-Activate codes to project ids ("tg" → "10").
	countries = catalog.MustCodeMap(countriesTSV)
	services  = catalog.MustCodeMap(servicesTSV)
)

// Options configure a Client.
type Options struct {
	Code     string        // platform code for errors and Code(); default "getsmscode"
	BaseURL  string        // default DefaultBaseURL; the script paths are added
	User     string        // the account e-mail, sent as "username" (required by the platform)
	Key      string        // the API token, sent as "token"
	Currency string        // the account currency; default DefaultCurrency
	Timeout  time.Duration // per call; default 10s
}

// protocol: GetSMSCode takes the token (and the user name, added by
// call) in the query string.
var protocol = upstream.Protocol{Code: "getsmscode", BaseURL: DefaultBaseURL, Currency: DefaultCurrency, KeyQuery: "token"}

// Client is an adapters.Platform for GetSMSCode. Safe for concurrent use.
type Client struct {
	upstream.Account
	user string
	memo memo
	now  func() time.Time
}

var (
	_ adapters.Platform     = (*Client)(nil)
	_ adapters.ActiveLister = (*Client)(nil)
	_ adapters.Banner       = (*Client)(nil)
)

// New builds a Client. An empty User is not refused here: the platform
// answers "username is wrong", which is ErrAuth like a wrong token.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings{Code: o.Code, BaseURL: o.BaseURL, Key: o.Key, Currency: o.Currency, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct, user: o.User, memo: newMemo(), now: time.Now}, nil
}

// pool is where a region's numbers live: its script and the cocode it
// needs (none for China and the USA).
type pool struct {
	region string
	path   string
	cocode string
}

func poolOf(region string) pool {
	switch region {
	case regionChina:
		return pool{region, pathChina, ""}
	case regionUSA:
		return pool{region, pathUSA, ""}
	}
	return pool{region, pathOthers, region}
}

// call sends one action to a pool's script with the credentials. The
// answer is for the caller's parser.
func (c *Client) call(ctx context.Context, op string, p pool, action string, params map[string]string, mutating bool) (upstream.Response, error) {
	q := map[string]string{"action": action, "username": c.user}
	for k, v := range params {
		q[k] = v
	}
	if p.cocode != "" {
		q["cocode"] = p.cocode
	}
	return c.Do(ctx, upstream.Call{Path: p.path, Query: q, Op: op, Mutating: mutating})
}

// Balance reads action=login (any script answers it; do.php is used).
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	resp, err := c.call(ctx, "balance", poolOf(regionChina), "login", nil, false)
	info, err := upstream.Parsed(&c.Account, "balance", resp, err, parseLogin)
	return c.MoneyOf(info.Balance, err)
}

// rental is a decoded UpstreamID.
type rental struct {
	pid, number string
	pool        pool
}

// UpstreamID encodes a rental: GetSMSCode has no activation id, a rental
// is the project, the number and the pool holding it.
func (r rental) UpstreamID() string { return r.pid + ":" + r.number + ":" + r.pool.region }

// parseRental decodes "pid:number:region"; anything else was never ours.
func (c *Client) parseRental(op, id string) (rental, error) {
	f := strings.Split(id, ":")
	if len(f) != 3 || !upstream.IsDigits(f[0], 1, maxPIDDigits) || !upstream.IsDigits(f[1], minPhoneDigits, maxPhoneDigits) {
		return rental{}, c.Errorf(op, "upstream id %q is not pid:number:region: %w", upstream.Snippet([]byte(id)), adapters.ErrNoActivation)
	}
	if _, ok := countries.Canonical(f[2]); !ok {
		return rental{}, c.Errorf(op, "upstream id %q names no known region: %w", upstream.Snippet([]byte(id)), adapters.ErrNoActivation)
	}
	return rental{pid: f[0], number: f[1], pool: poolOf(f[2])}, nil
}

// projects reads projectapi.php (pid "" lists every project). The price
// list needs no credentials and none are sent.
func (c *Client) projects(ctx context.Context, op, pid string) ([]project, error) {
	var q map[string]string
	if pid != "" {
		q = map[string]string{"pid": pid}
	}
	resp, err := c.Do(ctx, upstream.Call{Path: pathProjects, Query: q, Op: op, Anonymous: true})
	return upstream.Parsed(&c.Account, op, resp, err, parseProjects)
}

// Buy reads the project's price for the pool from projectapi.php, refuses
// it above MaxPrice, then rents a number with action=getmobile. A price
// raised between the two calls is paid. A lost or unreadable purchase
// answer is ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	region, pid, err := c.Native("buy", countries, services, r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	// No operator can be chosen; another operator's number is not what
	// was asked for, so this platform has none to sell.
	if err := c.AnyOperator("buy", r.Operator); err != nil {
		return adapters.Purchase{}, err
	}
	list, err := c.projects(ctx, "buy", pid)
	if err != nil {
		return adapters.Purchase{}, err
	}
	i := slices.IndexFunc(list, func(p project) bool { return p.PID == pid })
	if i < 0 {
		return adapters.Purchase{}, c.Errorf("buy", "project %s not listed: %w", pid, adapters.ErrBadService)
	}
	price, ok := list[i].Prices[region]
	if !ok {
		// No price for the pool: never buy blind, the cap could not hold.
		return adapters.Purchase{}, c.Errorf("buy", "project %s has no price for region %s: %w", pid, region, adapters.ErrNoNumbers)
	}
	if r.MaxPrice.Micros > 0 && price > r.MaxPrice.Micros {
		return adapters.Purchase{}, c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(price)})
	}
	p := poolOf(region)
	resp, err := c.call(ctx, "buy", p, "getmobile", map[string]string{"pid": pid}, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	number, err := parseGetMobile(resp.Status, resp.Body)
	if err != nil {
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	return adapters.Purchase{
		UpstreamID: rental{pid, number, p}.UpstreamID(),
		Phone:      number,
		Price:      c.Money(price),
		// ExpiresAt stays zero: how long a number is held is unknown
		// [uncertain]; the gateway applies its default lifetime.
	}, nil
}

// getSMS polls one rental.
func (c *Client) getSMS(ctx context.Context, op string, r rental) (smsKind, string, error) {
	resp, err := c.call(ctx, op, r.pool, "getsms", map[string]string{"pid": r.pid, "mobile": r.number}, false)
	if err != nil {
		return 0, "", err
	}
	kind, text, err := parseGetSMS(resp.Status, resp.Body)
	return kind, text, c.Wrap(op, err)
}

// No PollActive: mobilelist answers only number|pid pairs, the numbers
// held, without their SMS (protocols/getsmscode.md §2.5), so the poller
// checks each order with getsms.

// Check polls action=getsms. A number no longer held is a terminal state,
// never an error; a rental ended here is answered from memory without a
// request. The platform allows one poll per number every 10 s; a faster
// one is answered with the last known state.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	r, err := c.parseRental("check", id)
	if err != nil {
		return adapters.Update{}, err
	}
	if u, ok := c.memo.Ended(id, c.now()); ok {
		return u, nil
	}
	kind, text, err := c.getSMS(ctx, "check", r)
	if err != nil {
		return adapters.Update{}, err
	}
	switch kind {
	case smsReceived:
		return c.memo.received(id, text, c.now()), nil
	case smsGone:
		return c.memo.Closed(id, c.now()), nil
	default:
		return c.memo.current(id, c.now()), nil
	}
}

// Ready is a no-op: GetSMSCode has no "SMS sent" signal.
func (c *Client) Ready(_ context.Context, id string) error {
	_, err := c.parseRental("ready", id)
	return err
}

// addBlack releases a rental: the number goes back and is never given to
// this account again for that project.
func (c *Client) addBlack(ctx context.Context, op string, r rental) error {
	resp, err := c.call(ctx, op, r.pool, "addblack", map[string]string{"pid": r.pid, "mobile": r.number}, true)
	if err != nil {
		return err
	}
	return c.Wrap(op, parseAddBlack(resp.Status, resp.Body))
}

// Finish releases the number with addblack: a held number counts against
// the account's limit of numbers at once, so it is not kept after use. A
// number already released or expired is finished all the same.
func (c *Client) Finish(ctx context.Context, id string) error {
	r, err := c.parseRental("finish", id)
	if err != nil {
		return err
	}
	if u, ok := c.memo.Ended(id, c.now()); ok {
		if u.State == adapters.StateFinished {
			return nil
		}
		return c.Errorf("finish", "rental already %s: %w", u.State, adapters.ErrBadState)
	}
	if err := c.addBlack(ctx, "finish", r); err != nil && !errors.Is(err, adapters.ErrNoActivation) {
		return err
	}
	c.memo.End(id, adapters.StateFinished, c.now())
	return nil
}

// Cancel releases a number that got no SMS. addblack releases whatever the
// number received, so an SMS is looked for first: cancelling a number
// whose code arrived would refund the tenant for a number the platform
// charged us for. A poll refused as too fast gives no answer; the release
// then goes ahead.
func (c *Client) Cancel(ctx context.Context, id string) error {
	r, err := c.parseRental("cancel", id)
	if err != nil {
		return err
	}
	if _, ok := c.memo.Ended(id, c.now()); ok || c.memo.HasCode(id) {
		return c.Errorf("cancel", "rental has a code or has ended: %w", adapters.ErrBadState)
	}
	kind, text, err := c.getSMS(ctx, "cancel", r)
	if err != nil {
		return err
	}
	switch kind {
	case smsReceived:
		c.memo.received(id, text, c.now())
		return c.Errorf("cancel", "an SMS arrived: %w", adapters.ErrBadState)
	case smsGone:
		c.memo.Closed(id, c.now())
		return c.Errorf("cancel", "number no longer held: %w", adapters.ErrBadState)
	}
	if err := c.addBlack(ctx, "cancel", r); err != nil {
		if errors.Is(err, adapters.ErrNoActivation) {
			return c.Errorf("cancel", "number no longer held: %w", adapters.ErrBadState)
		}
		return err
	}
	c.memo.End(id, adapters.StateCancelled, c.now())
	return nil
}

// Ban reports the number unusable with addblack, GetSMSCode's only call
// about a number: it is released and never given to this account again
// for the project, which is what a ban asks. Unlike Cancel it goes ahead
// after an SMS (the number is refused either way; the platform keeps what
// it charged). A rental this client already ended is refused without a
// request; one it banned is banned, so a retried ban succeeds. "mobile
// number not found!" (released, expired or never ours: the platform does
// not say which) is ErrNoActivation.
func (c *Client) Ban(ctx context.Context, id string) error {
	r, err := c.parseRental("ban", id)
	if err != nil {
		return err
	}
	if u, ok := c.memo.Ended(id, c.now()); ok {
		if u.State == adapters.StateBanned {
			return nil
		}
		return c.Errorf("ban", "rental already %s: %w", u.State, adapters.ErrBadState)
	}
	if err := c.addBlack(ctx, "ban", r); err != nil {
		return err
	}
	c.memo.End(id, adapters.StateBanned, c.now())
	return nil
}

// RequestAnother is not supported: the API has no call for another SMS on
// a held number.
func (c *Client) RequestAnother(_ context.Context, id string) error {
	if _, err := c.parseRental("another", id); err != nil {
		return err
	}
	return c.Errorf("another", "no second SMS on one number: %w", adapters.ErrBadState)
}

// Offers reads projectapi.php (one project when service is given): a price
// per project and pool. The API publishes no stock, so Count is
// adapters.StockUnknown: the figure is unknown, not zero (see the package
// comment).
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	pid, region := "", ""
	if service != "" {
		p, ok := services.Native(service)
		if !ok {
			return nil, nil
		}
		pid = p
	}
	if country != "" {
		r, ok := countries.Native(country)
		if !ok {
			return nil, nil
		}
		region = r
	}
	list, err := c.projects(ctx, "offers", pid)
	if err != nil {
		return nil, err
	}
	var out []adapters.Offer
	for _, p := range list {
		svc, ok := services.Canonical(p.PID)
		if !ok || (pid != "" && p.PID != pid) {
			continue
		}
		for reg, price := range p.Prices {
			iso, ok := countries.Canonical(reg)
			if !ok || (region != "" && reg != region) {
				continue
			}
			out = append(out, adapters.Offer{Country: iso, Service: svc, Price: c.Money(price), Count: adapters.StockUnknown})
		}
	}
	slices.SortFunc(out, func(a, b adapters.Offer) int {
		if a.Country != b.Country {
			return strings.Compare(a.Country, b.Country)
		}
		return strings.Compare(a.Service, b.Service)
	})
	return out, nil
}

// ActiveOrders lists the numbers the account holds (action=mobilelist,
// "number|pid,…", in holding order), for the gateway's reconciliation of
// a purchase whose answer was lost. The list names no pool, so it is read
// from the number's calling code (each mapped region has its own); a number
// of a pool the client does not know cannot be ours and is left out. Which
// pools one script's list covers is not documented [uncertain]: the skin
// lists the whole account on any script.
func (c *Client) ActiveOrders(ctx context.Context) ([]adapters.ActiveOrder, error) {
	resp, err := c.call(ctx, "active", poolOf(regionChina), "mobilelist", nil, false)
	if err != nil {
		return nil, err
	}
	held, err := parseMobileList(resp.Status, resp.Body)
	if err != nil {
		return nil, c.Wrap("active", err)
	}
	out := make([]adapters.ActiveOrder, 0, len(held))
	for _, h := range held {
		iso, region, ok := regionByNumber(h.Number)
		if !ok {
			continue
		}
		a := adapters.ActiveOrder{
			UpstreamID: rental{h.PID, h.Number, poolOf(region)}.UpstreamID(),
			Phone:      h.Number,
			Country:    iso,
		}
		a.Service, _ = services.Canonical(h.PID)
		out = append(out, a)
	}
	return out, nil
}

// regionByNumber finds the mapped region whose calling code starts an
// international number, the longest code first.
func regionByNumber(number string) (iso, region string, ok bool) {
	best := ""
	for _, c := range countries.Canonicals() {
		ctry, known := catalog.CountryByISO(c)
		if known && len(ctry.Dial) > len(best) && strings.HasPrefix(number, ctry.Dial) {
			best, iso = ctry.Dial, c
		}
	}
	if best == "" {
		return "", "", false
	}
	region, _ = countries.Native(iso)
	return iso, region, true
}

// Countries lists the pools the client knows (the embedded map): the API
// has no country list.
func (c *Client) Countries(context.Context) ([]string, error) {
	return countries.Canonicals(), nil
}
