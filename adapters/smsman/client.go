// Package smsman speaks SMS-Man's control API v2 (api.sms-man.com/control):
// the adapter the gateway buys through, and the protocol skin that serves
// the same API over the simulated market. Facts are from
// protocols/smsman.md.
package smsman

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// DefaultBaseURL is SMS-Man's API host; the client adds the /control paths.
const DefaultBaseURL = "https://api.sms-man.com"

// Options configure a Client.
type Options struct {
	Code string // platform code for errors and Code(); default "smsman"
	// BaseURL is scheme://host without /control; default DefaultBaseURL.
	BaseURL string
	Key     string // the API token, sent as the token query parameter
	// Currency of the account: amounts are bare decimals, rubles unless
	// the account says otherwise; default "RUB". A cap is sent with it
	// when it is RUB, USD or EUR, the currencies get-number accepts.
	Currency string
	Timeout  time.Duration // per call; default 10s
}

// protocol: SMS-Man takes the token as a query parameter on every call.
var protocol = upstream.Protocol{Code: "smsman", BaseURL: DefaultBaseURL, Currency: "RUB", KeyQuery: "token"}

// Client is an adapters.Platform for SMS-Man. It caches SMS-Man's
// countries and applications lists (their numeric ids) for a day.
type Client struct {
	upstream.Account
	now func() time.Time

	cat     atomic.Pointer[catalogue] // current id maps; nil until loaded
	loadMu  sync.Mutex                // guards loading
	loading *load                     // the fetch in flight, if any

	seenMu sync.Mutex
	// seen holds, per request id, its latest code and when we first saw
	// it: get-sms tells no time, and the gateway tells a repeated code from
	// a new one by its time.
	seen map[string]seenCode
}

type seenCode struct {
	code string
	at   time.Time
}

var _ adapters.Platform = (*Client)(nil)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings(o))
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct, now: time.Now, seen: map[string]seenCode{}}, nil
}

// get calls one control API method; the account adds the token and keeps
// it out of bodies and errors. mutating marks the calls that change state
// (get-number, set-status) so a lost answer is reported as an unknown
// outcome.
func (c *Client) get(ctx context.Context, op, method string, query map[string]string, mutating bool) (upstream.Response, error) {
	return c.Do(ctx, upstream.Call{Path: "/control/" + method, Query: query, Op: op, Mutating: mutating})
}

// Balance reads get-balance.
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	resp, err := c.get(ctx, "balance", "get-balance", nil, false)
	return c.MoneyOf(upstream.Parsed(&c.Account, "balance", resp, err, parseBalance))
}

// ids maps canonical codes to SMS-Man's ids through the catalogue. A code
// the gateway does not know fails before any call; one SMS-Man does not
// list is not sold there.
func (c *Client) ids(ctx context.Context, op, country, service string) (cid, aid string, err error) {
	if _, ok := catalog.CountryByISO(country); country != "" && !ok {
		return "", "", c.Errorf(op, "country %q: %w", country, adapters.ErrBadCountry)
	}
	if _, ok := catalog.ServiceByCode(service); service != "" && !ok {
		return "", "", c.Errorf(op, "service %q: %w", service, adapters.ErrBadService)
	}
	cat, err := c.catalogue(ctx)
	if err != nil {
		return "", "", err
	}
	if country != "" {
		if cid = cat.countryID[strings.ToLower(country)]; cid == "" {
			return "", "", c.Errorf(op, "country %q not listed: %w", country, adapters.ErrBadCountry)
		}
	}
	if service != "" {
		if aid = cat.appID[strings.ToLower(service)]; aid == "" {
			return "", "", c.Errorf(op, "service %q not listed: %w", service, adapters.ErrBadService)
		}
	}
	return cid, aid, nil
}

// Buy buys a number with get-number. SMS-Man chooses no operator, so a
// request for a named one is not sold here. The answer carries no price:
// the listed price right after the purchase stands for it. A lost answer
// is adapters.ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	if r.Country == "" {
		return adapters.Purchase{}, c.Errorf("buy", "no country: %w", adapters.ErrBadCountry)
	}
	if r.Service == "" {
		return adapters.Purchase{}, c.Errorf("buy", "no service: %w", adapters.ErrBadService)
	}
	if err := c.AnyOperator("buy", r.Operator); err != nil {
		return adapters.Purchase{}, err
	}
	cid, aid, err := c.ids(ctx, "buy", r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	q := map[string]string{"country_id": cid, "application_id": aid}
	max := r.MaxPrice.Micros
	if max > 0 {
		q["maxPrice"] = adapters.FormatTrimmed(max, 0)
		switch c.Currency() {
		case "RUB", "USD", "EUR":
			q["currency"] = c.Currency()
		}
	}
	resp, err := c.get(ctx, "buy", "get-number", q, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	n, err := parseNumber(resp.Status, resp.Body)
	var mf *malformedError
	switch {
	case errors.As(err, &mf):
		return adapters.Purchase{}, c.Unreadable("buy", mf)
	case errors.Is(err, adapters.ErrNoNumbers) && max > 0:
		// "no numbers" under a cap may mean "none that cheap".
		if row, ok := c.listed(ctx, cid, aid); ok && row.Count > 0 && row.Cost > max {
			return adapters.Purchase{}, c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(row.Cost)})
		}
		return adapters.Purchase{}, c.Wrap("buy", err)
	case err != nil:
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	var price int64 // unknown if the price list cannot be read
	if row, ok := c.listed(ctx, cid, aid); ok {
		price = row.Cost
	}
	if max > 0 && price > max {
		price = max // SMS-Man does not charge above maxPrice
	}
	return adapters.Purchase{UpstreamID: n.RequestID, Phone: n.Phone, Price: c.Money(price)}, nil
}

// listed reads one (country, application) from get-prices, best effort.
func (c *Client) listed(ctx context.Context, cid, aid string) (priceRow, bool) {
	resp, err := c.get(ctx, "buy", "get-prices", map[string]string{"country_id": cid}, false)
	if err != nil {
		return priceRow{}, false
	}
	rows, err := parsePrices(resp.Status, resp.Body, cid)
	if err != nil {
		return priceRow{}, false
	}
	for _, r := range rows {
		if r.CountryID == cid && r.ApplicationID == aid {
			return r, true
		}
	}
	return priceRow{}, false
}

// No PollActive: SMS-Man lists no active orders with their codes. Its
// Control API's calls are per request (get-sms, set-status; the rent
// API's "SMS list" was not captured), and its SMS-Activate stubs API
// documents no getActiveActivations (protocols/smsman.md §3, §4, §7), so
// the poller checks each order with get-sms.

// Check reads get-sms: waiting, the latest code, or closed. SMS-Man shows
// one code at a time and no full text, so Update carries at most one SMS
// whose text is the code (or sms_text, should SMS-Man send it).
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	if !upstream.IsDigits(id, 1, 20) {
		return adapters.Update{}, c.Errorf("check", "id %q: %w", id, adapters.ErrNoActivation)
	}
	resp, err := c.get(ctx, "check", "get-sms", map[string]string{"request_id": id}, false)
	if err != nil {
		return adapters.Update{}, err
	}
	r, err := parseSMS(resp.Status, resp.Body)
	if err != nil {
		return adapters.Update{}, c.Wrap("check", err)
	}
	u := adapters.Update{State: r.State}
	switch {
	case r.State == adapters.StateCodeReceived:
		u.SMS = []adapters.SMS{{Code: r.Code, Text: r.Text, ReceivedAt: c.firstSeen(id, r.Code)}}
	case !r.State.Active():
		c.forget(id)
	}
	return u, nil
}

// firstSeen returns when this code was first seen on the request.
func (c *Client) firstSeen(id, code string) time.Time {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if s, ok := c.seen[id]; ok && s.code == code {
		return s.at
	}
	if len(c.seen) > 50000 { // bounded: requests live about 20 minutes
		clear(c.seen)
	}
	at := c.now().UTC()
	c.seen[id] = seenCode{code: code, at: at}
	return at
}

func (c *Client) forget(id string) {
	c.seenMu.Lock()
	delete(c.seen, id)
	c.seenMu.Unlock()
}

func (c *Client) setStatus(ctx context.Context, op, id, status string) error {
	if !upstream.IsDigits(id, 1, 20) {
		return c.Errorf(op, "id %q: %w", id, adapters.ErrNoActivation)
	}
	resp, err := c.get(ctx, op, "set-status", map[string]string{"request_id": id, "status": status}, true)
	if err != nil {
		return err
	}
	if err := parseSetStatus(resp.Status, resp.Body); err != nil {
		return c.Wrap(op, err)
	}
	return nil
}

// Ready sends status "ready" (the SMS was requested).
func (c *Client) Ready(ctx context.Context, id string) error {
	return c.setStatus(ctx, "ready", id, statusReady)
}

// Finish sends status "close", the success close in the majority reading.
func (c *Client) Finish(ctx context.Context, id string) error {
	err := c.setStatus(ctx, "finish", id, statusClose)
	if err == nil {
		c.forget(id)
	}
	return err
}

// Cancel sends status "reject": cancel and refund. Four independent
// clients agree on it; one uses "close" instead, which would be read here
// as a finish. No cancel guard is documented.
func (c *Client) Cancel(ctx context.Context, id string) error {
	err := c.setStatus(ctx, "cancel", id, statusReject)
	if err == nil {
		c.forget(id)
	}
	return err
}

// RequestAnother sends status "retrysms". Only one integration shows it;
// if SMS-Man refuses it the answer is ErrBadState, so trying costs a call.
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	return c.setStatus(ctx, "another", id, statusRetry)
}

// Offers reads get-prices, for one country when given (SMS-Man filters
// prices by country only).
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	cid, _, err := c.ids(ctx, "offers", country, service)
	if err != nil {
		return nil, err
	}
	cat, err := c.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	var q map[string]string
	if cid != "" {
		q = map[string]string{"country_id": cid}
	}
	resp, err := c.get(ctx, "offers", "get-prices", q, false)
	if err != nil {
		return nil, err
	}
	rows, err := parsePrices(resp.Status, resp.Body, cid)
	if err != nil {
		return nil, c.Wrap("offers", err)
	}
	out := make([]adapters.Offer, 0, len(rows))
	for _, r := range rows {
		ctry, svc := cat.countryOf[r.CountryID], cat.serviceOf[r.ApplicationID]
		if ctry == "" || svc == "" || (cid != "" && r.CountryID != cid) || (service != "" && svc != strings.ToLower(service)) {
			continue
		}
		out = append(out, adapters.Offer{Country: ctry, Service: svc, Price: c.Money(r.Cost), Count: r.Count})
	}
	return out, nil
}

// Countries lists the canonical countries in SMS-Man's countries list.
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	cat, err := c.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), cat.countries...), nil
}
