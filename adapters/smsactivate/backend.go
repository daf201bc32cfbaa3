package smsactivate

import (
	"context"
	"time"

	"smsgate/adapters"
)

// What the handler API serves from: its Backend and the values that cross it.

// Activation is one order as the handler API shows it.
type Activation struct {
	ID        int64
	Phone     string
	Country   string // ISO alpha-2
	Service   string
	Operator  string
	Cost      adapters.Money // in the account's currency
	State     adapters.State
	SMS       []adapters.SMS // oldest first
	CreatedAt time.Time
	CanRetry  bool // another SMS possible on this number
}

// BuyParams is a getNumber/getNumberV2 request after parsing.
type BuyParams struct {
	Country  string // ISO alpha-2
	Service  string
	Operator string
	MaxPrice adapters.Money // account currency; zero Micros = none
	// Strategy and Platform are the gateway's extra parameters; real
	// SMS-Activate ignores unknown parameters, so legacy clients may send them.
	Strategy string
	Platform string
	Failover bool // a pinned purchase may move on to other platforms
	// OrderID is getNumberV2's reseller order id (idempotency).
	OrderID string
}

// Offer is price and stock of one (country, service) in the account currency.
type Offer struct {
	Country, Service string
	Price            adapters.Money
	Count            int
}

// Backend is what the handler API serves: the simulated market for a fake
// upstream, the router and ledger for the gateway. account is whatever
// Authenticate returned. Errors are canonical (adapters.Err*) or a
// *TokenError; anything else is answered as ERROR_SQL.
type Backend interface {
	Authenticate(ctx context.Context, key string) (account string, ok bool)
	Currency(account string) string
	Balance(ctx context.Context, account string) (adapters.Money, error)
	Buy(ctx context.Context, account string, p BuyParams) (Activation, error)
	Activation(ctx context.Context, account string, id int64) (Activation, error)
	// SetStatus applies status 1, 3, 6 or 8 and returns the order after it.
	SetStatus(ctx context.Context, account string, id int64, status int) (Activation, error)
	Active(ctx context.Context, account string) ([]Activation, error)
	Offers(ctx context.Context, account, country, service string) ([]Offer, error)
	Operators(ctx context.Context, account, country string) (map[string][]string, error)
}
