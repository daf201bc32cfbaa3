// Package smsservice is the adapter for SMS-Service (sms-service-online.com
// and its sister sites): an SMS-Activate handler-API clone, so the client is
// adapters/smsactivate with the clone's quirks switched on — the path has
// no ".php", every call carries lang=ru|en which selects the RUB or USD
// account, balances may be bare numbers, and the catalogue comes from
// getCountryAndOperators + getServicesAndCost instead of getPrices.
package smsservice

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/smsactivate"
	"smsgate/adapters/upstream"
)

// Path is the clone's endpoint: the handler API without ".php".
const Path = "/stubs/handler_api"

// Options configure a Client.
type Options struct {
	Code     string // default "smsservice"
	BaseURL  string // e.g. https://sms-service-online.com
	Key      string
	Currency string        // "USD" (lang=en, the default) or "RUB" (lang=ru)
	Timeout  time.Duration // per call; default 10s
}

// Client is an adapters.Platform for SMS-Service.
type Client struct {
	*smsactivate.Client

	mu        sync.Mutex
	countries []countryEntry // getCountryAndOperators, cached: it changes rarely
}

var _ adapters.Platform = (*Client)(nil)

// Lang is the lang parameter that selects the account in currency cur.
func Lang(cur string) (string, error) {
	switch cur {
	case "", "USD":
		return "en", nil
	case "RUB":
		return "ru", nil
	}
	return "", fmt.Errorf("smsservice: currency %q not offered (USD or RUB)", cur)
}

// New builds a Client.
func New(o Options) (*Client, error) {
	o.Code = cmp.Or(o.Code, "smsservice")
	o.Currency = cmp.Or(o.Currency, "USD")
	lang, err := Lang(o.Currency)
	if err != nil {
		return nil, err
	}
	sa, err := smsactivate.New(smsactivate.Options{
		Code: o.Code, BaseURL: o.BaseURL, Key: o.Key, Currency: o.Currency, Timeout: o.Timeout,
		Path: Path, Extra: map[string]string{"lang": lang},
		NoV2: true, // getNumberV2 support is unverified on this engine: use what is documented
	})
	if err != nil {
		return nil, err
	}
	c := &Client{Client: sa}
	sa.SetPriceLookup(c.Offers)
	return c, nil
}

type countryEntry struct {
	ID        json.Number       `json:"id"`
	Name      string            `json:"name"`
	Operators map[string]string `json:"operators"`
}

func (c *Client) catalogue(ctx context.Context) ([]countryEntry, error) {
	c.mu.Lock()
	cached := c.countries
	c.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	body, err := c.Call(ctx, "countries", "getCountryAndOperators", nil, false)
	if err != nil {
		return nil, err
	}
	list, err := ParseCountries(body)
	if err != nil {
		return nil, c.Wrap("countries", err)
	}
	c.mu.Lock()
	c.countries = list
	c.mu.Unlock()
	return list, nil
}

// ParseCountries reads getCountryAndOperators.
func ParseCountries(body []byte) ([]countryEntry, error) {
	var list []countryEntry
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	return list, nil
}

// Countries lists the canonical countries of getCountryAndOperators.
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	list, err := c.catalogue(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range list {
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

// ServiceCost is one entry of getServicesAndCost.
type ServiceCost struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Price    json.Number `json:"price"`
	Cost     json.Number `json:"cost"` // one client reads "cost": accept either
	Quantity json.Number `json:"quantity"`
}

// ParseServicesAndCost reads getServicesAndCost.
func ParseServicesAndCost(body []byte) ([]ServiceCost, error) {
	var list []ServiceCost
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	return list, nil
}

// Offers asks getServicesAndCost per country (one call per country when
// no country is given; the gateway caches offers).
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	var ids []int
	if country != "" {
		ctry, ok := catalog.CountryByISO(country)
		if !ok {
			return nil, c.Errorf("offers", "country %q: %w", country, adapters.ErrBadCountry)
		}
		ids = []int{ctry.SMSActivateID}
	} else {
		list, err := c.catalogue(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			if id, err := strconv.Atoi(e.ID.String()); err == nil {
				ids = append(ids, id)
			}
		}
	}
	var out []adapters.Offer
	for _, id := range ids {
		ctry, ok := catalog.CountryBySMSActivateID(id)
		if !ok {
			continue
		}
		body, err := c.Call(ctx, "offers", "getServicesAndCost", map[string]string{"country": strconv.Itoa(id), "operator": "any"}, false)
		if err != nil {
			return nil, err
		}
		list, err := ParseServicesAndCost(body)
		if err != nil {
			return nil, c.Wrap("offers", err)
		}
		for _, s := range list {
			if service != "" && s.ID != service {
				continue
			}
			if _, ok := catalog.ServiceByCode(s.ID); !ok {
				continue
			}
			p := s.Price
			if p == "" {
				p = s.Cost
			}
			price, err := adapters.ParseDecimal(strings.Trim(p.String(), `"`))
			if err != nil {
				continue
			}
			n, _ := strconv.Atoi(s.Quantity.String())
			out = append(out, adapters.Offer{Country: ctry.ISO, Service: s.ID, Price: c.Money(price), Count: n})
		}
	}
	return out, nil
}

// PollActive: SMS-Service documents no getActiveActivations nor any other
// list of orders (protocols/smsservice.md §2: getBalance,
// getCountryAndOperators, getServicesAndCost, getNumber, getStatus,
// setStatus, and an unverified getServices), so its orders are checked
// one by one; the call is never sent.
func (c *Client) PollActive(context.Context) ([]adapters.ActiveUpdate, error) {
	return nil, fmt.Errorf("smsservice: no list of active orders: %w", errors.ErrUnsupported)
}
