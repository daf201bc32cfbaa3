// Package events delivers the ledger's order events to clients as they
// happen: Server-Sent Events streams per tenant (and one over every
// tenant for the admin's dashboard), woken by a Hub when an event is
// committed here or, through a Bus, on another instance. The ledger is
// the truth: a stream reads what follows its cursor there, so a lost
// wake-up delays an event (until the next one) and never loses it.
package events

import (
	"encoding/json"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// View is an event's public JSON: the body of an SSE "data:" line and of
// an "smsgate" webhook. It carries only what the tenant may see of its
// own order (never the upstream id or the platform's price).
type View struct {
	Seq      int64  `json:"seq"`
	Tenant   string `json:"tenant"`
	OrderID  int64  `json:"orderId"`
	Kind     string `json:"kind"`
	At       string `json:"at"` // RFC 3339, UTC
	State    string `json:"state"`
	Phone    string `json:"phone"`
	Country  string `json:"country"`
	Service  string `json:"service"`
	Platform string `json:"platform"`
	Price    string `json:"price"` // the tenant's price, decimal
	Currency string `json:"currency"`
	Code     string `json:"code,omitempty"` // kind "code": the new code
	Text     string `json:"text,omitempty"` // kind "code": the SMS text
}

// ViewOf is e's public view.
func ViewOf(e ledger.Event) View {
	return View{Seq: e.Seq, Tenant: e.Tenant, OrderID: e.OrderID, Kind: string(e.Kind),
		At: e.At.UTC().Format(time.RFC3339Nano), State: string(e.State), Phone: e.Phone, Country: e.Country,
		Service: e.Service, Platform: e.Platform, Price: adapters.FormatDecimal(e.Price.Micros, 2),
		Currency: e.Price.Currency, Code: e.Code, Text: e.Text}
}

// JSON is e's view encoded.
func JSON(e ledger.Event) []byte {
	b, err := json.Marshal(ViewOf(e))
	if err != nil {
		panic("BUG: cannot encode an event view: " + err.Error()) // strings and numbers only
	}
	return b
}
