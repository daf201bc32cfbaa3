package ledger

import (
	"context"
	"time"

	"smsgate/adapters"
)

// EventKind is what happened to an order.
type EventKind string

const (
	EventBought    EventKind = "bought"
	EventCode      EventKind = "code"    // a new code arrived (one event per code)
	EventAnother   EventKind = "another" // the client asked for another code
	EventFinished  EventKind = "finished"
	EventCancelled EventKind = "cancelled"
	EventExpired   EventKind = "expired"
	EventBanned    EventKind = "banned"
)

// Event is one row of a tenant's append-only order-event sequence,
// written in the same transaction as the change it records. Seq is the
// tenant's own sequence: 1, 2, 3, … without gaps, and a reader that has
// seen Seq k and asks for what follows gets exactly k+1, k+2, … — no
// event is ever visible before one with a lower Seq of the same tenant
// (the sequence is taken under a per-tenant row lock held to commit).
// The fields are the order's public ones at that moment: never another
// tenant's, never a secret, never the upstream id or the platform's price.
type Event struct {
	Seq      int64
	Tenant   string
	OrderID  int64
	Kind     EventKind
	At       time.Time
	State    adapters.State
	Phone    string
	Country  string
	Service  string
	Platform string
	Price    adapters.Money // the tenant's price (Order.TenantPrice)
	Code     string         // EventCode: the new code; "" otherwise
	Text     string         // EventCode: the SMS text
}

// Events is the ledger's order-event half (part of Store).
//
// Writing: Create writes an EventBought for the new order; Apply writes
// one event per entry of Change.Events (EventCode entries take Code and
// Text from the Change, everything else from the order as written). With
// Change.Webhook (Order.Webhook for Create) each event written also
// queues an ActWebhook action in the same transaction, Payload the
// event's Seq in decimal, Tenant the order's.
type Events interface {
	// EventsAfter returns the tenant's events with Seq > after, oldest
	// first, at most limit.
	EventsAfter(ctx context.Context, tenant string, after int64, limit int) ([]Event, error)
	// Event returns one of the tenant's events by Seq, or ErrNotFound.
	Event(ctx context.Context, tenant string, seq int64) (Event, error)
	// LastEvent is the tenant's highest Seq (0 when none).
	LastEvent(ctx context.Context, tenant string) (int64, error)
}

// EventNote is one event of a Change: its kind and, for a code, which.
type EventNote struct {
	Kind EventKind
	Code string
	Text string
}
