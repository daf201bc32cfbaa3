// Package smsreg is the adapter for SMS-REG (sms-reg.com): the client, the
// protocol skin over the simulated market, and the maps from canonical
// codes to SMS-REG's country and service codes. SMS-REG issues a number in
// two steps: getNum opens an operation (tzid) and the number shows up
// later in getState (TZ_INPOOL → TZ_NUM_PREPARE), so Buy waits for it.
// Facts and their confidence are from protocols/smsreg.md; "§n" in
// comments points there.
package smsreg

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

const (
	// DefaultBaseURL is the API host (§1); the client adds /<method>.php.
	DefaultBaseURL = "https://api.sms-reg.com"
	// DefaultCurrency is SMS-REG's: balances and rates are in roubles (§7).
	DefaultCurrency = "RUB"
	// DefaultPollInterval is how often Buy reads getState while the number
	// is being assigned.
	DefaultPollInterval = 500 * time.Millisecond
)

// Options configure a Client.
type Options struct {
	Code     string        // platform code for errors and Code(); default "smsreg"
	BaseURL  string        // scheme://host[:port]; default DefaultBaseURL
	Key      string        // the account's apikey
	Currency string        // the account currency; default DefaultCurrency
	Timeout  time.Duration // per call when ctx has no earlier deadline; default 10s
	// PollInterval is how often Buy reads getState while it waits for the
	// number; default DefaultPollInterval.
	PollInterval time.Duration
}

// protocol: SMS-REG takes every parameter and the apikey in the query (§1).
var protocol = upstream.Protocol{Code: "smsreg", BaseURL: DefaultBaseURL, Currency: DefaultCurrency, KeyQuery: "apikey"}

// Client is an adapters.Platform for SMS-REG.
type Client struct {
	upstream.Account
	poll time.Duration
}

var _ adapters.Platform = (*Client)(nil)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings{Code: o.Code, BaseURL: o.BaseURL, Key: o.Key, Currency: o.Currency, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct, poll: cmp.Or(max(o.PollInterval, 0), DefaultPollInterval)}, nil
}

// call sends GET /<method>.php and returns a 200 body that is not HTML.
// Errors come with HTTP 200 (§1); a 4xx that still carries an error
// answer is read for it.
func (c *Client) call(ctx context.Context, op, method string, params map[string]string, mutating bool) ([]byte, error) {
	call := upstream.Call{Path: "/" + method + ".php", Query: params, Op: op, Mutating: mutating}
	resp, err := c.Do(ctx, call)
	return c.Answer(call, resp, err, func(body []byte) error {
		var ae *APIError
		if _, _, err := decode(body); errors.As(err, &ae) {
			return err
		}
		return nil
	})
}

// Balance reads getBalance.
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	body, err := c.call(ctx, "balance", "getBalance", nil, false)
	return c.MoneyOf(upstream.ParsedBody(&c.Account, "balance", body, err, ParseBalance))
}

// list reads getList extended=1 (see ParseList for the assumed detail).
func (c *Client) list(ctx context.Context, op string) ([]ListService, error) {
	body, err := c.call(ctx, op, "getList", map[string]string{"extended": "1"}, false)
	return upstream.ParsedBody(&c.Account, op, body, err, ParseList)
}

// Buy opens an operation with getNum and waits for its number (getState
// every PollInterval, within ctx's deadline). getNum tells no price, so
// the service list is read first: it gives the price, refuses a sold-out
// or too dear pair before anything is bought, and enforces MaxPrice,
// which getNum has no parameter for. Once the number is there, setReady is
// sent (see Ready). A number that never comes is cancelled with
// setOperationUsed; see abandon for the error then.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	// No operator parameter exists: a number of any operator would be
	// the wrong answer to a request for a given one.
	if err := c.AnyOperator("buy", r.Operator); err != nil {
		return adapters.Purchase{}, err
	}
	country, svc, err := c.Native("buy", Countries, Services, r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	price, err := c.quote(ctx, svc, country, r.MaxPrice.Micros)
	if err != nil {
		return adapters.Purchase{}, err
	}
	body, err := c.call(ctx, "buy", "getNum", map[string]string{"service": svc, "country": country}, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	id, err := ParseNum(body)
	if err != nil {
		if isUnexpected(err) {
			return adapters.Purchase{}, c.Unreadable("buy", err)
		}
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	st, err := c.awaitNumber(ctx, id)
	if err != nil {
		return adapters.Purchase{}, err
	}
	// Readiness is said to be detected automatically now (a 2019 client),
	// but without setReady an operation may end as TZ_OVER_NR (§2.5). The
	// gateway's clients may never send status 1, and an SMS-Activate number
	// can take its SMS as soon as it is sold: so it is sent here, best
	// effort. A failure leaves the order usable; Ready can still send it.
	_ = c.simple(ctx, "buy", "setReady", id)
	return adapters.Purchase{UpstreamID: id, Phone: st.Number, Price: c.Money(price)}, nil
}

// quote finds the listed price of (svc, country) and refuses what cannot
// succeed: an unlisted service is ErrBadService, a sold-out or unlisted
// pair ErrNoNumbers, a dearer price a *PriceFloorError. Without listed
// detail the price is unknown (0): fine without a cap, refused with one,
// since the cap cannot be checked.
func (c *Client) quote(ctx context.Context, svc, country string, limit int64) (int64, error) {
	l, err := c.list(ctx, "buy")
	if err != nil {
		return 0, err
	}
	for _, s := range l {
		if s.Code != svc {
			continue
		}
		if s.Countries == nil {
			if limit > 0 {
				return 0, c.Errorf("buy", "no price listed for %s to check the max price: %w", svc, adapters.ErrPriceTooHigh)
			}
			return 0, nil
		}
		o, ok := s.Countries[country]
		switch {
		case !ok || o.Count <= 0:
			return 0, c.Errorf("buy", "%s/%s out of stock: %w", country, svc, adapters.ErrNoNumbers)
		case limit > 0 && o.Price > limit:
			return 0, c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(o.Price)})
		}
		return o.Price, nil
	}
	return 0, c.Errorf("buy", "service %s not listed: %w", svc, adapters.ErrBadService)
}

// terminal reports whether an operation in that state is over.
func terminal(token string) bool {
	switch token {
	case StateOverOK, StateOverGR, StateOverNR, StateOverEmpty, StateOver2Empty, StateOver2OK, StateDeleted:
		return true
	}
	return false
}

// awaitNumber polls getState until the number is assigned, the platform
// says it has none, or ctx's deadline comes close: a reserve is kept to
// cancel the operation within the deadline.
func (c *Client) awaitNumber(ctx context.Context, id string) (State, error) {
	wctx, cancel, reserve := upstream.WithReserve(ctx, c.Timeout())
	defer cancel()
	var lastErr error
	for {
		st, err := c.state(wctx, "buy", id)
		switch {
		case err != nil:
			// Transient or not, the operation exists: keep asking, and
			// cancel it at the end if it never shows a number.
			lastErr = err
		case st.Token == StateNoNums:
			// The operation failed on the platform's side; nothing to cancel.
			return State{}, c.Errorf("buy", "operation %s: %s: %w", id, st.Token, adapters.ErrNoNumbers)
		case st.Token == StateWait15:
			return State{}, c.Errorf("buy", "operation %s: %s (issuing frozen for 15 minutes): %w", id, st.Token, adapters.ErrAuth)
		case terminal(st.Token):
			return State{}, c.Errorf("buy", "operation %s ended (%s) before a number: %w", id, st.Token, adapters.ErrNoNumbers)
		case st.Number != "":
			return st, nil
		}
		t := time.NewTimer(c.poll)
		select {
		case <-wctx.Done():
			t.Stop()
			return State{}, c.abandon(ctx, id, reserve, lastErr)
		case <-t.C:
		}
	}
}

// abandon cancels an operation whose number never came. Once the cancel is
// confirmed nothing was bought: ErrUnavailable, so the router may try
// elsewhere. If it is not confirmed the operation may still be issued and
// charged: ErrOutcomeUnknown, naming the tzid for reconciliation.
func (c *Client) abandon(ctx context.Context, id string, reserve time.Duration, cause error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve)
	defer cancel()
	last := ""
	if cause != nil {
		last = fmt.Sprintf(" (last poll: %v)", cause)
	}
	if err := c.simple(cctx, "buy", "setOperationUsed", id); err != nil {
		return fmt.Errorf("%s buy: operation %s: number not assigned in time%s, and the cancel failed: %v: %w",
			c.Code(), id, last, err, adapters.ErrOutcomeUnknown)
	}
	return c.Errorf("buy", "operation %s: number not assigned in time%s; cancelled: %w", id, last, adapters.ErrUnavailable)
}

func (c *Client) state(ctx context.Context, op, id string) (State, error) {
	body, err := c.call(ctx, op, "getState", map[string]string{"tzid": id}, false)
	if err != nil {
		return State{}, err
	}
	st, err := ParseState(body)
	if err != nil {
		return State{}, c.Wrap(op, err)
	}
	return st, nil
}

// simple sends a state-changing method whose success is {"response":"1"}.
func (c *Client) simple(ctx context.Context, op, method, id string) error {
	body, err := c.call(ctx, op, method, map[string]string{"tzid": id}, true)
	if err != nil {
		return err
	}
	if err := ParseOK(body); err != nil {
		return c.Wrap(op, err)
	}
	return nil
}

// canonical maps a state (§2.4, §6). An operation that ended after its
// code (TZ_OVER2_EMPTY: the clarification did not come; TZ_OVER_GR: the
// code was reported wrong) is finished: the first code was delivered and
// is taken as charged — assuming a refund we may not get would lose money.
// TZ_DELETED (setOperationUsed) and the failed issues are cancelled.
func canonical(token string) (adapters.State, bool) {
	switch token {
	case StateInPool, StatePrepare, StateWait:
		return adapters.StateWaiting, true
	case StateAnswer, StateAnswer2:
		return adapters.StateCodeReceived, true
	case StateWait2:
		return adapters.StateRetryWaiting, true
	case StateOverOK, StateOver2OK, StateOverGR, StateOver2Empty:
		return adapters.StateFinished, true
	case StateOverEmpty, StateOverNR:
		return adapters.StateExpired, true
	case StateDeleted, StateNoNums, StateWait15:
		return adapters.StateCancelled, true
	}
	return "", false
}

// Check reads getState. The code is msg; the text is full_msg where the
// platform sends it (one client reads it when msg is empty, §2.4), else
// the code itself.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	st, err := c.state(ctx, "check", id)
	if err != nil {
		return adapters.Update{}, err
	}
	u, ok := update(st)
	if !ok {
		return adapters.Update{}, c.Errorf("check", "unknown state %q: %w", upstream.Snippet([]byte(st.Token)), adapters.ErrUnavailable)
	}
	return u, nil
}

// update is what a state says of its operation: the canonical state and
// the message, if any. ok is false for a state token it does not know.
func update(st State) (u adapters.Update, ok bool) {
	s, ok := canonical(st.Token)
	if !ok {
		return adapters.Update{}, false
	}
	u = adapters.Update{State: s}
	if st.Msg != "" || st.FullMsg != "" {
		text, code := st.FullMsg, st.Msg
		if text == "" {
			text = st.Msg
		}
		if code == "" || strings.ContainsAny(code, " \t\n") {
			code = adapters.ExtractCode(text)
		}
		u.SMS = []adapters.SMS{{Code: code, Text: text}}
	}
	return u, true
}

// Ready sends setReady. Buy has usually sent it already, and the platform
// then answers "setReady to this TZID not applicable": an operation that
// is already waiting for (or has) its SMS is ready, so that is success.
func (c *Client) Ready(ctx context.Context, id string) error {
	err := c.simple(ctx, "ready", "setReady", id)
	if errors.Is(err, adapters.ErrBadState) {
		if st, serr := c.state(ctx, "ready", id); serr == nil &&
			slices.Contains([]string{StateWait, StateAnswer, StateWait2, StateAnswer2}, st.Token) {
			return nil
		}
	}
	return err
}

// Finish sends setOperationOk.
func (c *Client) Finish(ctx context.Context, id string) error {
	return c.simple(ctx, "finish", "setOperationOk", id)
}

// Cancel sends setOperationUsed, the only way to give an operation back
// (§6: SMS-Activate status 8 maps to it). It is refused once a code came.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.simple(ctx, "cancel", "setOperationUsed", id)
}

// RequestAnother sends setOperationRevise: the operation waits for a
// clarification SMS (TZ_NUM_WAIT2) on the same number and keeps its tzid.
// getNumRepeat would open a new operation with a new tzid, which an order
// cannot follow.
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	return c.simple(ctx, "another", "setOperationRevise", id)
}

// Offers reads the extended service list. A service or country SMS-REG
// does not sell has no offers (an empty list, not an error), and neither
// has a service listed without price detail.
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	if service != "" {
		if _, ok := Services.Native(service); !ok {
			return nil, nil
		}
	}
	if country != "" {
		if _, ok := Countries.Native(country); !ok {
			return nil, nil
		}
	}
	l, err := c.list(ctx, "offers")
	if err != nil {
		return nil, err
	}
	var out []adapters.Offer
	for _, s := range l {
		svc, ok := Services.Canonical(s.Code)
		if !ok || (service != "" && svc != strings.ToLower(service)) {
			continue
		}
		for native, o := range s.Countries {
			iso, ok := Countries.Canonical(native)
			if !ok || (country != "" && iso != strings.ToLower(country)) {
				continue
			}
			out = append(out, adapters.Offer{Country: iso, Service: svc, Price: c.Money(o.Price), Count: o.Count})
		}
	}
	return out, nil
}

// Countries lists the countries named in the extended service list; if
// the list carries no country detail at all, the countries SMS-REG
// documents (§5.2).
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	l, err := c.list(ctx, "countries")
	if err != nil {
		return nil, err
	}
	detail := false
	var out []string
	for _, s := range l {
		if s.Countries != nil {
			detail = true
		}
		for native := range s.Countries {
			if iso, ok := Countries.Canonical(native); ok && !slices.Contains(out, iso) {
				out = append(out, iso)
			}
		}
	}
	if !detail {
		out = Countries.Canonicals()
	}
	slices.Sort(out)
	return out, nil
}
