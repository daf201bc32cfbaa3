package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"smsgate/adapters"
)

// How values are stored, in both dialects: money as integer micro-units
// plus a currency, times as unix milliseconds UTC with 0 for "none", codes
// as a JSON array.

// orderRow is an order's insert arguments, copied from the caller's
// *Order so that a writer goroutine never touches it.
type orderRow struct {
	args       []any  // in insertColumns order
	platform   string // names the order in an ErrDuplicateUpstream
	upstreamID string
	intentID   int64 // the intent the insert closes, 0 when none
	at         int64 // when it closes it (unix ms)
	event      Event // the EventBought, without its OrderID and Seq
	webhook    bool  // queue a webhook delivery of the event
}

// closeIntentArgs are the arguments of moneySQL.buyIntent for the order
// id just inserted.
func (r *orderRow) closeIntentArgs(id int64) []any {
	return []any{id, r.at, r.intentID}
}

// writeBought writes the row's EventBought (and its webhook) for the
// order id just inserted.
func (s *store) writeBought(ctx context.Context, q querier, r *orderRow, id int64) error {
	e := r.event
	e.OrderID = id
	return s.writeEvents(ctx, q, []Event{e}, r.webhook)
}

// firstTime returns the first non-zero of ts, or the zero time.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func newOrderRow(o *Order) (*orderRow, error) {
	codes, err := encodeCodes(o.Codes)
	if err != nil {
		return nil, err
	}
	return &orderRow{
		platform: o.Platform, upstreamID: o.UpstreamID,
		args: []any{
			o.Tenant, o.Platform, o.UpstreamID, o.Phone, o.Country, o.Service, o.Operator,
			o.Price.Micros, o.Price.Currency, o.BasePrice.Micros, o.BasePrice.Currency,
			string(o.State), codes, o.CodesSeen,
			toMillis(o.CreatedAt), toMillis(o.UpdatedAt), toMillis(o.ExpiresAt), toMillis(o.NextPollAt),
			o.IdempotencyKey,
			o.TenantPrice.Micros, o.TenantPrice.Currency, o.TenantPriceBase.Micros, o.TenantPriceBase.Currency,
			string(o.Wallet), o.IntentID, o.Version,
		},
		intentID: o.IntentID, at: toMillis(firstTime(o.UpdatedAt, o.CreatedAt, time.Now())),
		event: orderEvent(o, EventNote{Kind: EventBought}, o.CreatedAt), webhook: o.Webhook,
	}, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanOrder reads one orderColumns row; no row is ErrNotFound.
func scanOrder(r rowScanner) (Order, error) {
	var (
		o                                   Order
		state, codes, wallet                string
		created, updated, expires, nextPoll int64
	)
	err := r.Scan(&o.ID, &o.Tenant, &o.Platform, &o.UpstreamID, &o.Phone, &o.Country, &o.Service, &o.Operator,
		&o.Price.Micros, &o.Price.Currency, &o.BasePrice.Micros, &o.BasePrice.Currency,
		&state, &codes, &o.CodesSeen, &created, &updated, &expires, &nextPoll, &o.IdempotencyKey,
		&o.TenantPrice.Micros, &o.TenantPrice.Currency, &o.TenantPriceBase.Micros, &o.TenantPriceBase.Currency,
		&wallet, &o.IntentID, &o.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, err
	}
	o.State, o.Wallet = adapters.State(state), WalletState(wallet)
	if o.Codes, err = decodeCodes(codes); err != nil {
		return Order{}, fmt.Errorf("order %d: %w", o.ID, err)
	}
	o.CreatedAt = fromMillis(created)
	o.UpdatedAt = fromMillis(updated)
	o.ExpiresAt = fromMillis(expires)
	o.NextPollAt = fromMillis(nextPoll)
	return o, nil
}

// toMillis stores a time as unix milliseconds; the zero time is 0 so that
// it comes back as the zero time (an order at exactly the Unix epoch would
// too, which no order is).
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// storedCode is a Code as stored in the orders.codes JSON array. The names
// are spelled out so that statistics SQL (json_extract, ->>) reads well.
type storedCode struct {
	Code       string `json:"code"`
	Text       string `json:"text,omitempty"`
	From       string `json:"from,omitempty"`
	ReceivedAt int64  `json:"received_at"` // unix milliseconds, 0 = unknown
}

func encodeCodes(codes []Code) (string, error) {
	if len(codes) == 0 {
		return "[]", nil
	}
	sc := make([]storedCode, len(codes))
	for i, c := range codes {
		sc[i] = storedCode{Code: c.Code, Text: c.Text, From: c.From, ReceivedAt: toMillis(c.ReceivedAt)}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("cannot encode codes: %w", err)
	}
	return string(b), nil
}

func decodeCodes(s string) ([]Code, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var sc []storedCode
	if err := json.Unmarshal([]byte(s), &sc); err != nil {
		return nil, fmt.Errorf("cannot decode codes: %w", err)
	}
	if len(sc) == 0 {
		return nil, nil
	}
	codes := make([]Code, len(sc))
	for i, c := range sc {
		codes[i] = Code{Code: c.Code, Text: c.Text, From: c.From, ReceivedAt: fromMillis(c.ReceivedAt)}
	}
	return codes, nil
}
