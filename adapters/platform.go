package adapters

import (
	"context"
	"time"
)

// State is an order's canonical lifecycle state. Each maps to exactly one
// legacy status string (see gateway).
type State string

const (
	StateWaiting      State = "waiting"       // number issued, no code yet
	StateCodeReceived State = "code_received" // a code arrived
	StateRetryWaiting State = "retry_waiting" // "send another code" asked after a code
	StateFinished     State = "finished"      // client confirmed; charge kept
	StateCancelled    State = "cancelled"     // cancelled before a code; refunded
	StateExpired      State = "expired"       // lifetime ended without a code; refunded
	StateBanned       State = "banned"        // platform reported the number banned/blocked
)

// Active reports whether the order can still change (and must be polled).
func (s State) Active() bool {
	return s == StateWaiting || s == StateCodeReceived || s == StateRetryWaiting
}

// Valid reports whether s is one of the canonical states.
func (s State) Valid() bool {
	switch s {
	case StateWaiting, StateCodeReceived, StateRetryWaiting, StateFinished, StateCancelled, StateExpired, StateBanned:
		return true
	}
	return false
}

// BuyRequest asks a platform for one number. Country is ISO alpha-2 lower
// case, Service a canonical (SMS-Activate) service code.
type BuyRequest struct {
	Country  string
	Service  string
	Operator string // "" or "any" means any operator
	// MaxPrice caps the price in the platform's currency; zero Micros means
	// no cap. The router converts the client's cap before calling.
	MaxPrice Money
}

// Purchase is a number the platform has sold us.
type Purchase struct {
	UpstreamID string // the platform's order id, opaque
	Phone      string // digits with country calling code, no '+'
	Price      Money  // what the platform charged, its currency
	Operator   string
	// ExpiresAt is when the platform ends the order if no code arrives
	// (zero: the adapter does not know; the gateway applies its default).
	ExpiresAt time.Time
}

// SMS is one received message.
type SMS struct {
	Code       string // extracted code, "" if none could be extracted
	Text       string // full text as the platform gave it
	From       string // sender if known
	ReceivedAt time.Time
}

// Update is what Check learns about an order: its state and every SMS the
// platform reports for it, oldest first (the gateway de-duplicates).
type Update struct {
	State State
	SMS   []SMS
}

// Offer is a platform's price and stock for one (country, service).
type Offer struct {
	Country  string
	Service  string
	Operator string // "" for the aggregate over operators
	Price    Money
	// Count is the stock; StockUnknown (-1) where the platform publishes
	// none (the pair is sold, how many is not said).
	Count int
}

// StockUnknown is Offer.Count for a platform that publishes no stock.
const StockUnknown = -1

// Platform is what the gateway needs from an upstream SMS platform. Every
// method takes a context whose deadline bounds the upstream call; errors are
// the canonical ones above, wrapped with context.
type Platform interface {
	// Code is the platform's config code ("smsactivate", "fivesim").
	Code() string
	Balance(ctx context.Context) (Money, error)
	Buy(ctx context.Context, r BuyRequest) (Purchase, error)
	Check(ctx context.Context, upstreamID string) (Update, error)
	// Ready tells the platform the SMS was requested (SMS-Activate status 1);
	// a no-op where the platform has no such call.
	Ready(ctx context.Context, upstreamID string) error
	Finish(ctx context.Context, upstreamID string) error
	Cancel(ctx context.Context, upstreamID string) error
	// RequestAnother asks for one more SMS on the same number.
	RequestAnother(ctx context.Context, upstreamID string) error
	// Offers lists price and stock; empty country or service means all.
	Offers(ctx context.Context, service, country string) ([]Offer, error)
	// Countries lists the canonical countries the platform sells in.
	Countries(ctx context.Context) ([]string, error)
}

// ActiveOrder is one order a platform reports as still active.
type ActiveOrder struct {
	UpstreamID string
	Phone      string
	Country    string // canonical, "" if the platform does not say
	Service    string // canonical, "" if the platform does not say
}

// ActiveLister is implemented by platforms that can list our active
// orders. The gateway uses it to find a number whose purchase answer was
// lost, so it is recorded (never lost) and never bought twice.
type ActiveLister interface {
	ActiveOrders(ctx context.Context) ([]ActiveOrder, error)
}

// Banner is implemented by platforms that can be told the service refused
// the number: a pool keeps that number from the service (quarantine); a
// marketplace with its own "bad number" call (5SIM ban, SMS-PVA
// blocknumber, GetSMSCode addblack) ends the order there. The order ends
// banned.
type Banner interface {
	Ban(ctx context.Context, upstreamID string) error
}

// AnotherAfter is implemented by platforms that must be told which codes
// the client already has when it asks for another: a pool reads its
// number's whole inbox, so "another" means "after the newest code the
// client got" (last, that code's ReceivedAt), not "after whatever is there
// now", which could swallow a code that arrived and was not yet delivered.
type AnotherAfter interface {
	RequestAnotherAfter(ctx context.Context, upstreamID string, last time.Time) error
}

// ActiveUpdate is what a platform's list of active orders says about one
// of them: the same Update a Check of that order would give.
type ActiveUpdate struct {
	UpstreamID string
	Update     Update
}

// ListPoller is implemented by platforms whose list of active orders
// carries each order's state and codes, so that one list round (all its
// pages) replaces a Check per order (DESIGN §7). An order missing from
// the list is not thereby ended: the poller asks it with Check. An
// adapter that shares a protocol's client but whose platform has no such
// list answers errors.ErrUnsupported (without calling the platform), and
// the poller checks its orders one by one.
type ListPoller interface {
	PollActive(ctx context.Context) ([]ActiveUpdate, error)
}
