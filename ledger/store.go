// Package ledger is the order store: every number the gateway has bought,
// who owns it, its state and its codes. Nothing else in the gateway keeps
// orders; an order acknowledged to a client is in the ledger first.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
)

// ErrNotFound: no order with that id (for that tenant).
var ErrNotFound = errors.New("order not found")

// ErrConflict: an order with the same (tenant, idempotency key) exists.
var ErrConflict = errors.New("order conflict")

// ErrDuplicateUpstream: the platform already has an active order with that
// upstream id. Two ledger orders for one upstream activation would hand
// one number (and its codes) to two clients, so the ledger refuses the
// second; the error names the platform and the upstream id (neither is a
// secret).
var ErrDuplicateUpstream = errors.New("duplicate upstream order")

// duplicateUpstream is the error for o's (platform, upstream id) pair.
func duplicateUpstream(platform, upstreamID string) error {
	return fmt.Errorf("platform %s already has an active order with upstream id %q: %w", platform, upstreamID, ErrDuplicateUpstream)
}

// Code is one SMS received for an order.
type Code struct {
	Code       string
	Text       string
	From       string
	ReceivedAt time.Time
}

// Order is one ledger row. ID is assigned by the Store on Create.
type Order struct {
	ID         int64
	Tenant     string
	Platform   string
	UpstreamID string
	Phone      string
	Country    string // ISO alpha-2 lower case
	Service    string // canonical service code
	Operator   string
	Price      adapters.Money // in the platform's currency
	BasePrice  adapters.Money // in the gateway's base currency
	State      adapters.State
	Codes      []Code // oldest first
	// CodesSeen is how many of Codes the client had when it last asked for
	// another SMS: codes after it are "new" for STATUS_OK after a retry.
	CodesSeen      int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      time.Time
	NextPollAt     time.Time // zero when not active
	IdempotencyKey string    // "" when none

	// TenantPrice is what the tenant is shown and charged (its currency,
	// markup included); TenantPriceBase the same in the base currency, for
	// revenue and margin.
	TenantPrice     adapters.Money
	TenantPriceBase adapters.Money
	// Wallet is where TenantPrice stands in a wallet tenant's wallet
	// (WalletNone in operator mode); only Apply moves it.
	Wallet WalletState
	// IntentID is the purchase intent this order closed (0 when none).
	IntentID int64
	// Version counts the order's writes; Apply and Update refuse to write
	// over a version that moved on (ErrStale).
	Version int64
	// Webhook (not stored) makes Create queue a webhook delivery for the
	// EventBought it writes.
	Webhook bool
}

// LastCode returns the newest code, or "".
func (o *Order) LastCode() string {
	if len(o.Codes) == 0 {
		return ""
	}
	return o.Codes[len(o.Codes)-1].Code
}

// Store is the only way to orders. Implementations are safe for concurrent
// use. Times are stored with at least millisecond precision, in UTC.
type Store interface {
	// Create inserts o, assigns o.ID (unique, positive, increasing) and
	// returns only after the row is durable. With o.IntentID set it closes
	// that intent (IntentBought, its OrderID) in the same transaction; an
	// intent no longer open makes Create fail with ErrStale and record
	// nothing (a reconciliation already decided the number's fate). A non-empty IdempotencyKey
	// already used by the same tenant gives ErrConflict; an active order
	// whose non-empty UpstreamID an active order of the same Platform
	// already has gives ErrDuplicateUpstream (ended orders do not count:
	// some platforms' ids name a number, which may be rented again later).
	Create(ctx context.Context, o *Order) error
	// Get returns the order with that id, or ErrNotFound.
	Get(ctx context.Context, id int64) (Order, error)
	// GetByIdempotencyKey returns the tenant's order with that key, or ErrNotFound.
	GetByIdempotencyKey(ctx context.Context, tenant, key string) (Order, error)
	// Update writes o's mutable fields (State, Codes, CodesSeen, UpdatedAt,
	// ExpiresAt, NextPollAt, UpstreamID, Phone) by o.ID over o.Version and
	// increments it; ErrNotFound if absent, ErrStale if the stored version
	// moved on, ErrDuplicateUpstream as for Create. It is Apply with no
	// Change.
	Update(ctx context.Context, o *Order) error
	Money
	Events
	// List returns the tenant's orders (all tenants when tenant is ""),
	// newest first, filtered by the options.
	List(ctx context.Context, f Filter) ([]Order, error)
	// Due returns active orders whose NextPollAt <= now, soonest first, at
	// most limit of them.
	Due(ctx context.Context, now time.Time, limit int) ([]Order, error)
	// Outcomes lists the orders statistics are computed from.
	Outcomes(ctx context.Context, f OutcomeFilter) ([]Outcome, error)
	// Ended lists the newest ended orders (finished, cancelled, expired,
	// banned) last written at or after since, at most limit of them, newest
	// first: the delivery record routing learns from, on start and from
	// other instances.
	Ended(ctx context.Context, since time.Time, limit int) ([]Outcome, error)
	// Overrides returns the admin overrides of platform settings by code.
	Overrides(ctx context.Context) (map[string]PlatformOverride, error)
	// SetOverride stores a platform's override (all fields nil removes it).
	SetOverride(ctx context.Context, code string, o PlatformOverride) error
	// Close flushes and releases the store.
	Close() error
}

// Filter narrows List.
type Filter struct {
	Tenant     string // "" = every tenant
	ActiveOnly bool   // only states for which State.Active() is true
	Platform   string // "" = every platform
	Limit      int    // 0 = no limit
}
