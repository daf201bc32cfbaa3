// Package fivesim speaks 5SIM's v1 REST API (5sim.net/v1): the adapter the
// gateway buys through, and the protocol skin that serves the same API over
// the simulated market. Facts are from protocols/5sim.md.
package fivesim

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// DefaultBaseURL is 5SIM's API host; the client adds the /v1 paths.
const DefaultBaseURL = "https://5sim.net"

// Options configure a Client.
type Options struct {
	Code string // platform code for errors and Code(); default "fivesim"
	// BaseURL is scheme://host without /v1 (5SIM also answers on
	// https://5sim.biz); default DefaultBaseURL.
	BaseURL string
	Key     string // the API token from the profile page, sent as a Bearer token
	// Currency of the account. 5SIM sends bare numbers: historically
	// rubles, though one recent integration reads them as dollars. Check
	// the account page; default "RUB".
	Currency string
	Timeout  time.Duration // per call; default 10s
}

// protocol: 5SIM takes the token as a Bearer header on user calls.
var protocol = upstream.Protocol{
	Code: "fivesim", BaseURL: DefaultBaseURL, Currency: "RUB",
	KeyHeader: "Authorization", KeyPrefix: "Bearer ",
}

// Client is an adapters.Platform for 5SIM. It keeps no state between calls.
type Client struct {
	upstream.Account
}

var (
	_ adapters.Platform = (*Client)(nil)
	_ adapters.Banner   = (*Client)(nil)
)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings(o))
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct}, nil
}

// get sends one GET. user calls carry the token; guest calls do not, so the
// key travels only where it is needed. 5SIM changes state with GETs too:
// mutating marks those (buy, finish, cancel, ban) so a lost answer is reported
// as an unknown outcome.
func (c *Client) get(ctx context.Context, op, path string, query map[string]string, user, mutating bool) (upstream.Response, error) {
	return c.Do(ctx, upstream.Call{
		Path: path, Query: query, Header: map[string]string{"Accept": "application/json"},
		Op: op, Mutating: mutating, Anonymous: !user,
	})
}

// Balance reads the profile's balance.
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	resp, err := c.get(ctx, "balance", "/v1/user/profile", nil, true, false)
	return c.MoneyOf(upstream.Parsed(&c.Account, "balance", resp, err, parseProfile))
}

// operatorSlug checks a requested operator: a path segment, so only a slug.
func operatorSlug(op string) (string, bool) {
	op = strings.ToLower(op)
	if op == "" {
		return "any", true
	}
	for i := 0; i < len(op); i++ {
		ch := op[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return "", false
		}
	}
	return op, len(op) <= 32
}

// Buy buys an activation. 5SIM honours maxPrice only with operator "any",
// so with a named operator the listed price is checked first; the charged
// price is checked after in every case. A lost answer is
// adapters.ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	ctry, product, err := c.Native("buy", countries, services, r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	op, ok := operatorSlug(r.Operator)
	if !ok {
		return adapters.Purchase{}, c.Errorf("buy", "operator %q: %w", r.Operator, adapters.ErrNoNumbers)
	}
	max := r.MaxPrice.Micros
	var q map[string]string
	if max > 0 {
		q = map[string]string{"maxPrice": adapters.FormatTrimmed(max, 0)}
		if op != "any" {
			if err := c.checkListedPrice(ctx, ctry, product, op, max); err != nil {
				return adapters.Purchase{}, err
			}
		}
	}
	path := "/v1/user/buy/activation/" + url.PathEscape(ctry) + "/" + url.PathEscape(op) + "/" + url.PathEscape(product)
	resp, err := c.get(ctx, "buy", path, q, true, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	o, err := parseOrder(resp.Status, resp.Body)
	var mf *malformedError
	switch {
	case errors.As(err, &mf):
		return adapters.Purchase{}, c.Unreadable("buy", mf)
	case errors.Is(err, adapters.ErrNoNumbers) && max > 0 && op == "any":
		// "no free phones" under a cap may mean "none that cheap".
		if floor := c.floor(ctx, ctry, product, max); floor != nil {
			return adapters.Purchase{}, floor
		}
		return adapters.Purchase{}, c.Wrap("buy", err)
	case err != nil:
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	p := adapters.Purchase{UpstreamID: o.ID, Phone: o.Phone, Price: c.Money(o.Price), Operator: o.Operator, ExpiresAt: o.Expires}
	if max > 0 && o.Price > max {
		// Charged above the cap (the price moved, or the cap was ignored).
		// Hand the number back; if 5SIM will not take it, the number is ours
		// and charged, so report the purchase rather than orphan it.
		if c.Cancel(ctx, o.ID) == nil {
			return adapters.Purchase{}, c.Errorf("buy", "charged %s: %w", p.Price, &adapters.PriceFloorError{Min: p.Price})
		}
	}
	return p, nil
}

// checkListedPrice refuses a named-operator purchase whose listed price is
// above the cap, since 5SIM would not apply maxPrice to it.
func (c *Client) checkListedPrice(ctx context.Context, ctry, product, op string, max int64) error {
	resp, err := c.get(ctx, "buy", "/v1/guest/prices", map[string]string{"country": ctry, "product": product}, false, false)
	if err != nil {
		return err
	}
	leaves, err := parsePriceLeaves(resp.Status, resp.Body, false)
	if err != nil {
		return c.Wrap("buy", err)
	}
	for _, l := range leaves {
		if l.Country == ctry && l.Product == product && l.Operator == op && l.Cost > max {
			return c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(l.Cost)})
		}
	}
	// Not listed, or within the cap: let the purchase decide.
	return nil
}

// floor returns a *PriceFloorError when the listed offers have stock above
// max, nil when they do not or cannot be read (then "no numbers" stands).
func (c *Client) floor(ctx context.Context, ctry, product string, max int64) error {
	resp, err := c.get(ctx, "buy", "/v1/guest/prices", map[string]string{"country": ctry, "product": product}, false, false)
	if err != nil {
		return nil
	}
	rows, err := parsePrices(resp.Status, resp.Body, false)
	if err != nil {
		return nil
	}
	for _, r := range rows {
		if r.Country == ctry && r.Product == product && r.Count > 0 && r.Cost > max {
			return c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(r.Cost)})
		}
	}
	return nil
}

// order reads one order through a user call (check, finish, cancel).
func (c *Client) order(ctx context.Context, op, verb, id string, mutating bool) (order, error) {
	if !upstream.IsDigits(id, 1, 20) {
		// 5SIM ids are integers; anything else cannot be one of ours.
		return order{}, c.Errorf(op, "id %q: %w", id, adapters.ErrNoActivation)
	}
	resp, err := c.get(ctx, op, "/v1/user/"+verb+"/"+id, nil, true, mutating)
	if err != nil {
		return order{}, err
	}
	o, err := parseOrder(resp.Status, resp.Body)
	if err != nil {
		return order{}, c.Wrap(op, err)
	}
	return o, nil
}

// Check reads the order: its state and every SMS in its sms array.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	o, err := c.order(ctx, "check", "check", id, false)
	var te *textErr
	if errors.As(err, &te) && te.text == txtOrderExpired {
		// The protocols file lists "order expired" among check's answers:
		// the order is over, which the poller must learn, not retry.
		return adapters.Update{State: adapters.StateExpired}, nil
	}
	if err != nil {
		return adapters.Update{}, err
	}
	return adapters.Update{State: o.State(), SMS: o.SMS}, nil
}

// Ready is a no-op: 5SIM needs no "SMS sent" signal.
func (c *Client) Ready(context.Context, string) error { return nil }

// Finish marks the order successful.
func (c *Client) Finish(ctx context.Context, id string) error {
	o, err := c.order(ctx, "finish", "finish", id, true)
	if err != nil {
		return err
	}
	if o.Status != stFinished {
		return c.Errorf("finish", "order is %s: %w", o.Status, adapters.ErrBadState)
	}
	return nil
}

// Cancel cancels an order without SMS; 5SIM refunds it. An order with SMS
// answers "order has sms" (ErrBadState): finish it instead.
func (c *Client) Cancel(ctx context.Context, id string) error {
	o, err := c.order(ctx, "cancel", "cancel", id, true)
	if err != nil {
		return err
	}
	if o.Status != stCanceled {
		return c.Errorf("cancel", "order is %s: %w", o.Status, adapters.ErrBadState)
	}
	return nil
}

// Ban reports the number unusable (GET /user/ban/{id}): 5SIM closes the
// order BANNED and refunds it. Its refusals are cancel's: "order not
// found" (ErrNoActivation), "order expired" or "hosting order" for an
// order that is over or a rental (ErrBadState).
func (c *Client) Ban(ctx context.Context, id string) error {
	o, err := c.order(ctx, "ban", "ban", id, true)
	if err != nil {
		return err
	}
	if o.Status != stBanned {
		return c.Errorf("ban", "order is %s: %w", o.Status, adapters.ErrBadState)
	}
	return nil
}

// RequestAnother has no 5SIM call: further SMS land in the same order's sms
// array while it is open, and Check returns them. It only checks that there
// is an open order with a code to follow.
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	o, err := c.order(ctx, "another", "check", id, false)
	if err != nil {
		return err
	}
	if st := o.State(); st != adapters.StateCodeReceived {
		return c.Errorf("another", "order is %s: %w", st, adapters.ErrBadState)
	}
	return nil
}

// Offers reads /v1/guest/prices, one offer per (country, service): the
// cheapest operator with stock and the stock of all operators together.
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	q := map[string]string{}
	if country != "" {
		s, ok := countries.Native(country)
		if !ok {
			return nil, c.Errorf("offers", "country %q: %w", country, adapters.ErrBadCountry)
		}
		q["country"] = s
	}
	if service != "" {
		s, ok := services.Native(service)
		if !ok {
			return nil, c.Errorf("offers", "service %q: %w", service, adapters.ErrBadService)
		}
		q["product"] = s
	}
	resp, err := c.get(ctx, "offers", "/v1/guest/prices", q, false, false)
	if err != nil {
		return nil, err
	}
	rows, err := parsePrices(resp.Status, resp.Body, q["product"] != "" && q["country"] == "")
	if err != nil {
		return nil, c.Wrap("offers", err)
	}
	out := make([]adapters.Offer, 0, len(rows))
	for _, r := range rows {
		ctry, ok1 := countries.Canonical(r.Country)
		svc, ok2 := services.Canonical(r.Product)
		if !ok1 || !ok2 || (country != "" && ctry != country) || (service != "" && svc != service) {
			continue
		}
		out = append(out, adapters.Offer{Country: ctry, Service: svc, Price: c.Money(r.Cost), Count: r.Count})
	}
	return out, nil
}

// Countries lists the canonical countries among /v1/guest/countries that
// this adapter can map.
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	resp, err := c.get(ctx, "countries", "/v1/guest/countries", nil, false, false)
	if err != nil {
		return nil, err
	}
	slugs, err := parseCountries(resp.Status, resp.Body)
	if err != nil {
		return nil, c.Wrap("countries", err)
	}
	var out []string
	for _, s := range slugs {
		if iso, ok := countries.Canonical(s); ok {
			if _, known := catalog.CountryByISO(iso); known {
				out = append(out, iso)
			}
		}
	}
	return out, nil
}
