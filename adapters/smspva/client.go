// Package smspva is the SMS-PVA (smspva.com) adapter: a client of its
// activation API v2 (REST + JSON, key in an "apikey" header) and a skin
// that serves that protocol over the simulated market. Facts and exact
// shapes are from protocols/smspva.md.
//
// What SMS-PVA does differently, and how the client copes:
//   - countries are upper-case two-letter codes with UK for Great Britain,
//     services are optN codes: both through embedded code maps;
//   - the number comes without its country calling code: the client adds it;
//   - there is no max-price parameter: Buy reads the offer's price first and
//     refuses (a *PriceFloorError) above MaxPrice, which also gives the
//     purchase its price, absent from the number answer;
//   - there is no finish call: orders close themselves about 10 minutes
//     after purchase and then answer 410 even after a code, so Finish is
//     local and the client remembers codes and its own finish or cancel to
//     report the right terminal state;
//   - abuse is policed by a per-account karma score. For us: every cancel
//     or ban without an SMS lowers it, and a low score blocks the API
//     (411; v1 said 10 minutes), purchases included. 411 is also the rate
//     limit, and either way the platform refuses our account for a while,
//     so it is ErrAuth (fail over, alert an operator), never "no numbers",
//     which would let the router keep hammering it. Karma reads the score.
package smspva

import (
	"context"
	_ "embed"
	"errors"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// DefaultBaseURL is the activation API v2 host.
const DefaultBaseURL = "https://api.smspva.com"

// DefaultCurrency is the account currency: SMS-PVA quotes dollars
// (protocols/smspva.md §2, medium-high confidence).
const DefaultCurrency = "USD"

// Lifetime is how long an order stays open without a code (orderExpireIn
// 600 s); the docs also advise banning before 580 s.
const Lifetime = 10 * time.Minute

var (
	//go:embed countries.tsv
	countriesTSV []byte
	//go:embed services.tsv
	servicesTSV []byte

	// countries maps ISO alpha-2 to v2 codes ("gb" → "UK"); services maps
	// SMS-Activate codes to optN ("tg" → "opt29").
	countries = catalog.MustCodeMap(countriesTSV)
	services  = catalog.MustCodeMap(servicesTSV)
)

// Options configure a Client.
type Options struct {
	Code     string        // platform code for errors and Code(); default "smspva"
	BaseURL  string        // default DefaultBaseURL; the /activation/... paths are added
	Key      string        // the account's API key, sent as the "apikey" header
	Currency string        // the account currency; default DefaultCurrency
	Timeout  time.Duration // per call; default 10s
}

// protocol: SMS-PVA takes the key in an "apikey" header.
var protocol = upstream.Protocol{Code: "smspva", BaseURL: DefaultBaseURL, Currency: DefaultCurrency, KeyHeader: "apikey"}

// Client is an adapters.Platform for SMS-PVA's activation API v2. Safe for
// concurrent use.
type Client struct {
	upstream.Account
	memo memo
	now  func() time.Time
}

var (
	_ adapters.Platform     = (*Client)(nil)
	_ adapters.ActiveLister = (*Client)(nil)
	_ adapters.Banner       = (*Client)(nil)
)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings(o))
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct, memo: newMemo(), now: time.Now}, nil
}

// do sends one request with the key header. Transport failures come back
// canonical from upstream; the answer is for the caller's parser.
func (c *Client) do(ctx context.Context, op, method, path string, mutating bool) (upstream.Response, error) {
	return c.Do(ctx, upstream.Call{Method: method, Path: path, Mutating: mutating, Op: op})
}

// Balance reads GET /activation/balance.
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	resp, err := c.do(ctx, "balance", fasthttp.MethodGet, "/activation/balance", false)
	return c.MoneyOf(upstream.Parsed(&c.Account, "balance", resp, err, parseBalance))
}

// Karma reads the account's karma score from GET /activation/userinfo. It
// is not part of adapters.Platform: it is for operators, since a falling
// karma (cancels and bans without an SMS lower it) ends in 411 answers,
// which this client reports as ErrAuth.
func (c *Client) Karma(ctx context.Context) (float64, error) {
	resp, err := c.do(ctx, "userinfo", fasthttp.MethodGet, "/activation/userinfo", false)
	u, err := upstream.Parsed(&c.Account, "userinfo", resp, err, parseUserInfo)
	return u.Karma, err
}

// price reads GET /activation/serviceprice/{cc}/{opt}.
func (c *Client) price(ctx context.Context, op, cc, opt string) (int64, error) {
	resp, err := c.do(ctx, op, fasthttp.MethodGet, "/activation/serviceprice/"+cc+"/"+opt, false)
	return upstream.Parsed(&c.Account, op, resp, err, parsePrice)
}

// Buy reads the offer's price, refuses it above MaxPrice, then buys with
// GET /activation/number/{cc}/{opt}. The protocol has no price cap, so the
// cap is checked on the quote: a price raised between the two calls is
// paid. A lost or unreadable number answer is ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	cc, opt, err := c.Native("buy", countries, services, r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	// v2 documents no operator choice; a number from another operator
	// is not what was asked for, so this platform has none to sell.
	if err := c.AnyOperator("buy", r.Operator); err != nil {
		return adapters.Purchase{}, err
	}
	price, err := c.price(ctx, "buy", cc, opt)
	if err != nil {
		return adapters.Purchase{}, err
	}
	if r.MaxPrice.Micros > 0 && price > r.MaxPrice.Micros {
		return adapters.Purchase{}, c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(price)})
	}
	resp, err := c.do(ctx, "buy", fasthttp.MethodGet, "/activation/number/"+cc+"/"+opt, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	n, err := parseNumber(resp.Status, resp.Body)
	if err != nil {
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	now := c.now()
	p := adapters.Purchase{
		UpstreamID: n.OrderID,
		Phone:      international(n, r.Country),
		Price:      c.Money(price),
		ExpiresAt:  now.Add(Lifetime),
	}
	if n.ExpireIn > 0 {
		p.ExpiresAt = now.Add(time.Duration(n.ExpireIn) * time.Second)
	}
	return p, nil
}

// international prefixes the national number with the calling code of the
// number's country (its countryCode, else the one asked for). A number that
// came with '+' is already international.
func international(n numberAnswer, asked string) string {
	if n.Intl {
		return n.Phone
	}
	iso := asked
	if canon, ok := countries.Canonical(n.Country); ok {
		iso = canon
	}
	if ctry, ok := catalog.CountryByISO(iso); ok {
		return ctry.Dial + n.Phone
	}
	return n.Phone
}

// checkID rejects ids SMS-PVA never issues (they are integers) without a
// request.
func (c *Client) checkID(op, id string) error {
	if !upstream.IsDigits(id, 1, 19) {
		return c.Errorf(op, "order id %q: %w", upstream.Snippet([]byte(id)), adapters.ErrNoActivation)
	}
	return nil
}

// No PollActive: GET /activation/orders lists open orders, but its item
// fields were never captured ("item fields not captured", confidence low,
// protocols/smspva.md §3.12), so nothing says where an entry's id, state
// or SMS would be; reading codes from it would be guessing. The poller
// checks each order with /activation/sms/{id}.

// Check reads GET /activation/sms/{id}. A closed order (410) is a terminal
// state, never an error; an order finished or cancelled here is answered
// from memory without a request.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	if err := c.checkID("check", id); err != nil {
		return adapters.Update{}, err
	}
	if u, ok := c.memo.Ended(id, c.now()); ok {
		return u, nil
	}
	resp, err := c.do(ctx, "check", fasthttp.MethodGet, "/activation/sms/"+id, false)
	if err != nil {
		return adapters.Update{}, err
	}
	a, err := parseSMS(resp.Status, resp.Body)
	if err != nil {
		return adapters.Update{}, c.Wrap("check", err)
	}
	switch a.Kind {
	case smsReceived:
		return c.memo.received(id, a.SMS, c.now()), nil
	case smsClosed:
		return c.memo.Closed(id, c.now()), nil
	default:
		// 407 (an SMS held until the balance pays for it) is still waiting
		// from the tenant's point of view.
		return c.memo.waiting(id, c.now()), nil
	}
}

// Ready is a no-op: SMS-PVA has no "SMS sent" signal.
func (c *Client) Ready(_ context.Context, id string) error {
	return c.checkID("ready", id)
}

// Finish is local and always succeeds for a well-formed id: SMS-PVA has no
// finish call, the order closes by itself (the charge for the SMS stays).
// It is remembered, so Check reports the order finished without a request.
func (c *Client) Finish(_ context.Context, id string) error {
	if err := c.checkID("finish", id); err != nil {
		return err
	}
	c.memo.End(id, adapters.StateFinished, c.now())
	return nil
}

// Cancel sends PUT /activation/cancelorder/{id} (no charge without an SMS).
// A cancel without an SMS lowers the account's karma.
func (c *Client) Cancel(ctx context.Context, id string) error {
	if err := c.checkID("cancel", id); err != nil {
		return err
	}
	if err := c.put(ctx, "cancel", actCancel, id); err != nil {
		return err
	}
	c.memo.End(id, adapters.StateCancelled, c.now())
	return nil
}

// Ban sends PUT /activation/blocknumber/{id}: the number is unusable
// (already registered, no SMS), SMS-PVA closes the order and does not
// issue the number again; like a cancel without an SMS it lowers karma.
// An order this client already ended is refused without a request
// (finishing is local, so SMS-PVA would still take the block); one it
// already banned is banned, so a retried ban succeeds. SMS-PVA answers a
// closed or unknown order alike, 406: ErrNoActivation.
func (c *Client) Ban(ctx context.Context, id string) error {
	if err := c.checkID("ban", id); err != nil {
		return err
	}
	if u, ok := c.memo.Ended(id, c.now()); ok {
		if u.State == adapters.StateBanned {
			return nil
		}
		return c.Errorf("ban", "order already %s: %w", u.State, adapters.ErrBadState)
	}
	if err := c.put(ctx, "ban", actBlock, id); err != nil {
		return err
	}
	c.memo.End(id, adapters.StateBanned, c.now())
	return nil
}

// RequestAnother sends PUT /activation/clearsms/{id}: the SMS shown is
// cleared so the next one can arrive (charged again, medium confidence).
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	if err := c.checkID("another", id); err != nil {
		return err
	}
	if err := c.put(ctx, "another", actClearSMS, id); err != nil {
		return err
	}
	c.memo.SetRetry(id, c.now())
	return nil
}

func (c *Client) put(ctx context.Context, op string, act action, id string) error {
	resp, err := c.do(ctx, op, fasthttp.MethodPut, "/activation/"+string(act)+"/"+id, true)
	if err != nil {
		return err
	}
	return c.Wrap(op, parseAction(act, resp.Status, resp.Body))
}

// Offers reads the country's stock (countnumbers) and its price per
// service (serviceprice). A country is required: prices are per country
// and listing all 75 would cost two requests each. A service or country
// SMS-PVA does not carry has no offers.
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	if country == "" {
		return nil, c.Errorf("offers", "a country is required (prices are per country): %w", adapters.ErrBadCountry)
	}
	cc, ok := countries.Native(country)
	if !ok {
		return nil, nil
	}
	iso, _ := countries.Canonical(cc)
	var opts []string
	if service != "" {
		opt, ok := services.Native(service)
		if !ok {
			return nil, nil
		}
		opts = []string{opt}
	}
	resp, err := c.do(ctx, "offers", fasthttp.MethodGet, "/activation/countnumbers/"+cc, false)
	if err != nil {
		return nil, err
	}
	stock, err := parseCounts(resp.Status, resp.Body)
	if err != nil {
		return nil, c.Wrap("offers", err)
	}
	if service == "" {
		// Only what is in stock: one price request per service sold now.
		for opt, n := range stock {
			if _, known := services.Canonical(opt); known && n > 0 {
				opts = append(opts, opt)
			}
		}
		slices.Sort(opts)
	}
	out := make([]adapters.Offer, 0, len(opts))
	for _, opt := range opts {
		price, err := c.price(ctx, "offers", cc, opt)
		if errors.Is(err, adapters.ErrBadService) {
			continue // not taken in this country now
		}
		if err != nil {
			return nil, err
		}
		svc, _ := services.Canonical(opt)
		out = append(out, adapters.Offer{Country: iso, Service: svc, Price: c.Money(price), Count: stock[opt]})
	}
	return out, nil
}

// ActiveOrders lists the open orders (GET /activation/orders), oldest
// first as the platform lists them, for the gateway's reconciliation of a
// purchase whose answer was lost. The items' fields are undocumented (see
// parseOrders); a number without a country is left national.
func (c *Client) ActiveOrders(ctx context.Context) ([]adapters.ActiveOrder, error) {
	resp, err := c.do(ctx, "active", fasthttp.MethodGet, "/activation/orders", false)
	if err != nil {
		return nil, err
	}
	items, err := parseOrders(resp.Status, resp.Body)
	if err != nil {
		return nil, c.Wrap("active", err)
	}
	out := make([]adapters.ActiveOrder, 0, len(items))
	for _, it := range items {
		a := adapters.ActiveOrder{UpstreamID: it.OrderID}
		a.Country, _ = countries.Canonical(it.Country)
		a.Service, _ = services.Canonical(it.Service)
		if it.Phone != "" {
			a.Phone = international(numberAnswer{Phone: it.Phone, Intl: it.Intl, Country: it.Country}, a.Country)
		}
		out = append(out, a)
	}
	return out, nil
}

// Countries lists the v2 countries: the API has no country list, the docs
// publish a static one (the embedded map).
func (c *Client) Countries(context.Context) ([]string, error) {
	return countries.Canonicals(), nil
}
