package fivesim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// Error bodies, exactly as 5SIM sends them (protocols/5sim.md §5): short
// lower-case text, not JSON.
const (
	txtNoFreePhones     = "no free phones"
	txtNoBalance        = "not enough user balance"
	txtNoRating         = "not enough rating"
	txtBadCountry       = "bad country"
	txtCountryIncorrect = "country is incorrect"
	txtBadOperator      = "bad operator"
	txtSelectCountry    = "select country"
	txtSelectOperator   = "select operator"
	txtNoProduct        = "no product"
	txtProductIncorrect = "product is incorrect"
	txtServerOffline    = "server offline"
	txtInternalError    = "internal error"
	txtOrderNotFound    = "order not found"
	txtOrderExpired     = "order expired"
	txtOrderHasSMS      = "order has sms"
	txtOrderNoSMS       = "order no sms"
	txtHostingOrder     = "hosting order"
	txtWaitTime         = "you need to wait time"
	txtRecordNotFound   = "record not found"
	txtReuseNotPossible = "reuse not possible"
)

// textErrors maps each documented error body (lower-cased) to its
// canonical error.
var textErrors = map[string]error{
	txtNoFreePhones: adapters.ErrNoNumbers,
	txtNoBalance:    adapters.ErrNoBalance,
	// Rating caps the account's concurrent orders, and rating 0 blocks
	// purchases for 24 h: the account cannot buy, whatever we ask for. That
	// is the account-banned answer, so it counts against the platform and
	// alerts, like a refused key.
	txtNoRating:         adapters.ErrAuth,
	txtBadCountry:       adapters.ErrBadCountry,
	txtCountryIncorrect: adapters.ErrBadCountry,
	txtSelectCountry:    adapters.ErrBadCountry,
	// An operator with nothing for us; the country may still sell.
	txtBadOperator:      adapters.ErrNoNumbers,
	txtSelectOperator:   adapters.ErrNoNumbers,
	txtNoProduct:        adapters.ErrBadService,
	txtProductIncorrect: adapters.ErrBadService,
	txtServerOffline:    adapters.ErrUnavailable,
	txtInternalError:    adapters.ErrUnavailable,
	txtOrderNotFound:    adapters.ErrNoActivation,
	txtRecordNotFound:   adapters.ErrNoActivation,
	txtOrderExpired:     adapters.ErrBadState,
	txtOrderHasSMS:      adapters.ErrBadState,
	txtOrderNoSMS:       adapters.ErrBadState,
	txtHostingOrder:     adapters.ErrBadState,
	txtReuseNotPossible: adapters.ErrBadState,
	// Low confidence in the protocols file, and the delay is unknown: read
	// it as an early-cancel guard, so the caller retries later instead of
	// treating the order as closed.
	txtWaitTime: adapters.ErrEarlyCancel,
	// The body of a 401 ("Unauthorized"), lower-cased like every key here.
	"unauthorized": adapters.ErrAuth,
}

// Order statuses (protocols/5sim.md §6).
const (
	stPending  = "PENDING"
	stReceived = "RECEIVED"
	stCanceled = "CANCELED"
	stTimeout  = "TIMEOUT"
	stFinished = "FINISHED"
	stBanned   = "BANNED"
)

// malformedError is a success answer we cannot read. After a purchase it
// means a number may be ours that we cannot see, so Buy reports
// ErrOutcomeUnknown rather than a plain failure.
type malformedError struct{ snippet string }

func (e *malformedError) Error() string { return fmt.Sprintf("unreadable answer %q", e.snippet) }
func (e *malformedError) Unwrap() error { return adapters.ErrUnavailable }

func malformed(b []byte) error { return &malformedError{snippet: upstream.Snippet(b)} }

// answer sorts an HTTP answer into a JSON body to decode (nil error) or a
// canonical error. 5SIM sends errors as short text with HTTP 400 (200 in
// older eras), so for 200 and 4xx answers the text decides; the status
// decides for auth and for everything else, and an HTML page is always a
// proxy's.
func answer(status int, body []byte) ([]byte, error) {
	b := bytes.TrimSpace(body)
	switch {
	case upstream.LooksHTML(b):
		return nil, fmt.Errorf("html page (http %d): %w", status, adapters.ErrUnavailable)
	case status == 401 || status == 403:
		// The body is empty or "Unauthorized"; some clients saw 403.
		return nil, fmt.Errorf("http %d: %w", status, adapters.ErrAuth)
	case status == 429 || (status != 200 && (status < 400 || status > 499)):
		// Throttling, server failures, and statuses no API answer carries
		// (1xx, 3xx, other 2xx): whatever the body says, not 5SIM's word.
		return nil, fmt.Errorf("http %d %q: %w", status, upstream.Snippet(b), adapters.ErrUnavailable)
	}
	if err := textError(b); err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("http %d %q: %w", status, upstream.Snippet(b), adapters.ErrUnavailable)
	}
	if len(b) == 0 || (b[0] != '{' && b[0] != '[' && !bytes.Equal(b, []byte("null"))) {
		return nil, fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(b), adapters.ErrUnavailable)
	}
	return b, nil
}

// textErr is a documented error body and its canonical error; callers that
// must tell two texts of one canonical error apart (check's "order
// expired") look at text.
type textErr struct {
	text string
	err  error
}

func (e *textErr) Error() string { return fmt.Sprintf("%q: %v", e.text, e.err) }
func (e *textErr) Unwrap() error { return e.err }

// textError maps a documented error body to its canonical error; nil when
// the body is not one. It also takes the text as a JSON string, which a
// proxy in front of 5SIM may produce.
func textError(b []byte) error {
	if len(b) == 0 || len(b) > 128 {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if e, ok := textErrors[s]; ok {
		return &textErr{text: s, err: e}
	}
	// "api limit is 100 requests per second" and "ip address limit is 100
	// requests per second": the number may change.
	if strings.HasPrefix(s, "api limit is ") || strings.HasPrefix(s, "ip address limit is ") {
		return fmt.Errorf("rate limited: %w", adapters.ErrUnavailable)
	}
	return nil
}

// parseProfile reads GET /v1/user/profile into the balance in micro-units.
func parseProfile(status int, body []byte) (int64, error) {
	b, err := answer(status, body)
	if err != nil {
		return 0, err
	}
	var v struct {
		Balance *json.Number `json:"balance"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Balance == nil {
		return 0, malformed(b)
	}
	m, err := adapters.ParseAmount(v.Balance.String())
	if err != nil {
		return 0, malformed(b)
	}
	return m, nil
}

// order is an order object (buy, check, finish, cancel, ban answers).
type order struct {
	ID       string // digits
	Phone    string // digits with the country code, no '+'
	Operator string
	Price    int64 // micro-units; 0 when 5SIM left it out
	Status   string
	Expires  time.Time      // zero when absent
	SMS      []adapters.SMS // oldest first
}

// State maps the order to a canonical state. RECEIVED means "number
// issued", not "code received": arrival is a non-empty sms array.
func (o order) State() adapters.State {
	switch o.Status {
	case stFinished:
		return adapters.StateFinished
	case stCanceled:
		return adapters.StateCancelled
	case stTimeout:
		return adapters.StateExpired
	case stBanned:
		return adapters.StateBanned
	}
	if len(o.SMS) > 0 {
		return adapters.StateCodeReceived
	}
	return adapters.StateWaiting
}

type wireSMS struct {
	CreatedAt string              `json:"created_at"`
	Date      string              `json:"date"`
	Sender    upstream.FlexString `json:"sender"`
	Text      string              `json:"text"`
	Code      upstream.FlexString `json:"code"`
}

// wireOrder declares only the fields the gateway uses, so a change in an
// unused field's type (forwarding, created_at) cannot break a purchase.
type wireOrder struct {
	ID       json.Number         `json:"id"`
	Phone    upstream.FlexString `json:"phone"`
	Operator string              `json:"operator"`
	Price    *json.Number        `json:"price"`
	Status   string              `json:"status"`
	Expires  string              `json:"expires"`
	SMS      []wireSMS           `json:"sms"` // null on a fresh order
}

// parseOrder reads an order object. An answer that is not one, or whose
// id, phone or status cannot be read, is a *malformedError.
func parseOrder(status int, body []byte) (order, error) {
	b, err := answer(status, body)
	if err != nil {
		return order{}, err
	}
	var w wireOrder
	if err := json.Unmarshal(b, &w); err != nil {
		return order{}, malformed(b)
	}
	o := order{
		ID:       w.ID.String(),
		Phone:    strings.TrimPrefix(strings.TrimSpace(string(w.Phone)), "+"),
		Operator: w.Operator,
		Status:   w.Status,
	}
	if !upstream.IsDigits(o.ID, 1, 20) || !upstream.IsDigits(o.Phone, 5, 20) {
		return order{}, malformed(b)
	}
	switch o.Status {
	case stPending, stReceived, stCanceled, stTimeout, stFinished, stBanned:
	default:
		return order{}, malformed(b)
	}
	if w.Price != nil {
		p, err := adapters.ParseAmount(w.Price.String())
		if err != nil || p < 0 {
			return order{}, malformed(b)
		}
		o.Price = p
	}
	o.Expires, _ = time.Parse(time.RFC3339Nano, w.Expires)
	allTimed := true
	for _, s := range w.SMS {
		m := adapters.SMS{Code: strings.TrimSpace(string(s.Code)), Text: s.Text, From: string(s.Sender)}
		if m.Code == "" {
			// 5SIM could not extract one; try ourselves.
			m.Code = adapters.ExtractCode(s.Text)
		}
		if m.Code == "" && m.Text == "" {
			continue
		}
		// date is when the SMS was received, created_at when 5SIM stored it.
		t, err := time.Parse(time.RFC3339Nano, s.Date)
		if err != nil {
			t, err = time.Parse(time.RFC3339Nano, s.CreatedAt)
		}
		if err == nil {
			m.ReceivedAt = t.UTC()
		} else {
			allTimed = false
		}
		o.SMS = append(o.SMS, m)
	}
	// The array is append-only as far as anyone has seen; sort anyway when
	// every item has a time, so "oldest first" never rests on that.
	if allTimed {
		slices.SortStableFunc(o.SMS, func(a, b adapters.SMS) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	}
	return o, nil
}

// priceLeaf is one operator's price and stock from /v1/guest/prices.
type priceLeaf struct {
	Country, Product, Operator string // 5SIM slugs
	Cost                       int64  // micro-units
	Count                      int
}

// parsePriceLeaves reads /v1/guest/prices. The nesting is {country:
// {product: {operator: leaf}}}, except with only a product filter, when it
// is {product: {country: {operator: leaf}}}. An unknown combination is the
// literal null. Entries of an unexpected shape are skipped: one odd pool
// must not hide the rest of the price list. Leaves come sorted.
func parsePriceLeaves(status int, body []byte, productFirst bool) ([]priceLeaf, error) {
	b, err := answer(status, body)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, malformed(b)
	}
	type leaf struct {
		Cost  *json.Number `json:"cost"`
		Count *json.Number `json:"count"`
	}
	var out []priceLeaf
	for k1, v1 := range top {
		var mid map[string]json.RawMessage
		if json.Unmarshal(v1, &mid) != nil {
			continue
		}
		for k2, v2 := range mid {
			var ops map[string]json.RawMessage
			if json.Unmarshal(v2, &ops) != nil {
				continue
			}
			for op, v3 := range ops {
				var l leaf
				if json.Unmarshal(v3, &l) != nil || l.Cost == nil {
					continue
				}
				c, err := adapters.ParseAmount(l.Cost.String())
				if err != nil || c < 0 {
					continue
				}
				n := 0
				if l.Count != nil {
					n, _ = upstream.Count(l.Count.String())
				}
				p := priceLeaf{Country: k1, Product: k2, Operator: op, Cost: c, Count: n}
				if productFirst {
					p.Country, p.Product = k2, k1
				}
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b priceLeaf) int {
		return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.Product, b.Product), strings.Compare(a.Operator, b.Operator))
	})
	return out, nil
}

// offerRow is one (country, product) aggregated over operators.
type offerRow struct {
	Country, Product string // 5SIM slugs
	Cost             int64  // cheapest operator with stock (cheapest of all when none has stock)
	Count            int    // stock summed over operators
}

// parsePrices reads /v1/guest/prices into one row per (country, product).
func parsePrices(status int, body []byte, productFirst bool) ([]offerRow, error) {
	leaves, err := parsePriceLeaves(status, body, productFirst)
	if err != nil {
		return nil, err
	}
	var out []offerRow
	for _, l := range leaves { // sorted, so one pair's leaves are adjacent
		if n := len(out); n == 0 || out[n-1].Country != l.Country || out[n-1].Product != l.Product {
			out = append(out, offerRow{Country: l.Country, Product: l.Product, Cost: l.Cost, Count: l.Count})
			continue
		}
		r := &out[len(out)-1]
		switch {
		case l.Count > 0 && (r.Count == 0 || l.Cost < r.Cost):
			// The first operator with stock sets the price, whatever the
			// empty ones cost.
			r.Cost = l.Cost
		case l.Count == 0 && r.Count == 0 && l.Cost < r.Cost:
			r.Cost = l.Cost
		}
		r.Count = int(min(int64(r.Count)+int64(l.Count), math.MaxInt32)) // capped as upstream.Count caps one
	}
	return out, nil
}

// parseCountries reads /v1/guest/countries into the country slugs it
// lists, sorted.
func parseCountries(status int, body []byte) ([]string, error) {
	b, err := answer(status, body)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		return nil, malformed(b)
	}
	var out []string
	for slug, v := range top {
		if v := bytes.TrimSpace(v); len(v) > 0 && v[0] == '{' {
			out = append(out, slug)
		}
	}
	slices.Sort(out)
	return out, nil
}

// history is one page of the order history (GET /v1/user/orders, §3.9).
type history struct {
	Orders  []order     // the entries it could read, in the page's order
	Created []time.Time // each order's created_at; zero when unreadable
	Read    int         // entries on the page, unreadable ones included
	Total   int         // Total: every order in the category; -1 when absent
}

// parseHistory reads {"Data":[order…],"ProductNames":[],"Statuses":[],
// "Total":3} (PascalCase keys, §3.9). An entry that is not a readable
// order is left out (the poller then checks that order alone); a body
// without a Data array is a *malformedError.
func parseHistory(status int, body []byte) (history, error) {
	b, err := answer(status, body)
	if err != nil {
		return history{}, err
	}
	var w struct {
		Data  *[]json.RawMessage `json:"Data"`
		Total *json.Number       `json:"Total"`
	}
	if err := json.Unmarshal(b, &w); err != nil || w.Data == nil {
		return history{}, malformed(b)
	}
	h := history{Read: len(*w.Data), Total: -1}
	if w.Total != nil {
		n, err := w.Total.Int64()
		if err != nil || n < 0 {
			return history{}, malformed(b)
		}
		h.Total = int(min(n, math.MaxInt32))
	}
	for _, raw := range *w.Data {
		o, err := parseOrder(200, raw)
		if err != nil {
			continue
		}
		var c struct {
			CreatedAt string `json:"created_at"`
		}
		_ = json.Unmarshal(raw, &c) // parseOrder read it as an object
		created, _ := time.Parse(time.RFC3339Nano, c.CreatedAt)
		h.Orders = append(h.Orders, o)
		h.Created = append(h.Created, created)
	}
	return h, nil
}
