// Package onlinesim is the adapter for OnlineSIM (onlinesim.io) through its
// main API (/api/<method>.php, JSON): the client, the protocol skin over the
// simulated market, and the maps from canonical codes to OnlineSIM's
// dial-code countries and service slugs. Facts and their confidence are
// from protocols/onlinesim.md; "§n" in comments points there.
package onlinesim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

const (
	// DefaultBaseURL is the main API host (§2); the client adds /api/<method>.php.
	DefaultBaseURL = "https://onlinesim.io"
	// DefaultCurrency is assumed when Options.Currency is empty. OnlineSIM
	// does not state the currency in its answers and accounts differ (RUB
	// for Russian-language accounts, USD on the international site, §2).
	// USD is the defensive guess: if the account is really in RUB, prices
	// look dearer than they are and the gateway buys less; the other way
	// round it would buy above the tenants' caps. Configure it.
	DefaultCurrency = "USD"
	// DefaultRate is the outbound rate OnlineSIM tolerates, in requests per
	// second per key: the server drops TCP connections after about six
	// quick requests (§2, live-verified by a client). The gateway's limiter
	// enforces it; this package does not. A Buy makes two requests
	// (getNum, getState), three with a max price (getNumbersStats first)
	// and more while a late number is awaited; Cancel and Finish make two.
	DefaultRate = 1.0
)

// Options configure a Client.
type Options struct {
	Code     string        // platform code for errors and Code(); default "onlinesim"
	BaseURL  string        // scheme://host[:port]; default DefaultBaseURL
	Key      string        // the account's apikey
	Currency string        // the account currency; default DefaultCurrency
	Timeout  time.Duration // per call when ctx has no earlier deadline; default 10s
	// PollInterval is how often Buy reads getState while the number it
	// bought is not known yet; default 1s (see DefaultRate).
	PollInterval time.Duration
}

// protocol: OnlineSIM takes the apikey in the query (the form every
// client uses, §2).
var protocol = upstream.Protocol{Code: "onlinesim", BaseURL: DefaultBaseURL, Currency: DefaultCurrency, KeyQuery: "apikey"}

// Client is an adapters.Platform for OnlineSIM's main API.
type Client struct {
	upstream.Account
	poll time.Duration

	mu    sync.Mutex
	texts map[string]textMemo // tzid → full texts of the codes last seen
}

// textMemo remembers the full SMS texts fetched for a list of codes, so the
// second getState (message_to_code=0) is sent once per new SMS, not per poll.
type textMemo struct{ codes, texts []string }

var _ adapters.Platform = (*Client)(nil)

// New builds a Client.
func New(o Options) (*Client, error) {
	acct, err := protocol.Open(upstream.Settings{Code: o.Code, BaseURL: o.BaseURL, Key: o.Key, Currency: o.Currency, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Client{Account: acct, poll: cmp.Or(max(o.PollInterval, 0), time.Second), texts: map[string]textMemo{}}, nil
}

// call sends GET /api/<method>.php and returns a 200 body that is not
// HTML. Errors are documented as HTTP 200 (§5); a 4xx that still carries
// an error code is read for it.
func (c *Client) call(ctx context.Context, op, method string, params map[string]string, mutating bool) ([]byte, error) {
	call := upstream.Call{Path: PathPrefix + method + ".php", Query: params, Op: op, Mutating: mutating}
	resp, err := c.Do(ctx, call)
	return c.Answer(call, resp, err, func(body []byte) error {
		var env envelope
		if json.Unmarshal(body, &env) == nil {
			if s, isStr, ok := upstream.Scalar(env.Response); ok && isStr && upstream.IsToken(s) && s != "1" {
				return &CodeError{Code: s}
			}
		}
		return nil
	})
}

// Balance reads getBalance: the available balance, without the part
// frozen for open operations (zbalance).
func (c *Client) Balance(ctx context.Context) (adapters.Money, error) {
	body, err := c.call(ctx, "balance", "getBalance", nil, false)
	return c.MoneyOf(upstream.ParsedBody(&c.Account, "balance", body, err, ParseBalance))
}

// Buy orders a number with getNum (number=true) and reads the operation
// once with getState for what getNum does not say: the price charged
// (`sum`), the time left and, when getNum left it out, the number (§3.3).
// OnlineSIM has no max-price parameter, so with a MaxPrice the price is
// checked first against getNumbersStats. A lost getNum answer is
// adapters.ErrOutcomeUnknown.
func (c *Client) Buy(ctx context.Context, r adapters.BuyRequest) (adapters.Purchase, error) {
	// No operator parameter exists: selling any operator's number to a
	// request for a given one would be wrong.
	if err := c.AnyOperator("buy", r.Operator); err != nil {
		return adapters.Purchase{}, err
	}
	dial, slug, err := c.Native("buy", Countries, Services, r.Country, r.Service)
	if err != nil {
		return adapters.Purchase{}, err
	}
	p := adapters.Purchase{Price: c.Money(0)}
	if r.MaxPrice.Micros > 0 {
		price, err := c.quote(ctx, slug, dial, r.MaxPrice.Micros)
		if err != nil {
			return adapters.Purchase{}, err
		}
		p.Price.Micros = price
	}
	body, err := c.call(ctx, "buy", "getNum", map[string]string{"service": slug, "country": dial, "number": "true"}, true)
	if err != nil {
		return adapters.Purchase{}, err
	}
	num, err := ParseNum(body)
	if err != nil {
		if isUnexpected(err) {
			return adapters.Purchase{}, c.Unreadable("buy", err)
		}
		return adapters.Purchase{}, c.Wrap("buy", err)
	}
	p.UpstreamID = num.TZID
	op, err := c.awaitNumber(ctx, num)
	if err != nil {
		return adapters.Purchase{}, err
	}
	p.Phone = op.Number
	if op.HasSum && op.Sum > 0 {
		p.Price.Micros = op.Sum
	}
	if op.TimeLeft >= 0 {
		p.ExpiresAt = time.Now().Add(time.Duration(op.TimeLeft) * time.Second).UTC()
	}
	return p, nil
}

// quote returns the listed price of (slug, dial) and refuses a purchase
// that cannot succeed within limit: not listed or no stock is
// ErrNoNumbers, a dearer price a *PriceFloorError.
func (c *Client) quote(ctx context.Context, slug, dial string, limit int64) (int64, error) {
	body, err := c.call(ctx, "buy", "getNumbersStats", map[string]string{"country": dial}, false)
	if err != nil {
		return 0, err
	}
	stats, err := ParseStats(body)
	if err != nil {
		return 0, c.Wrap("buy", err)
	}
	for _, sc := range stats {
		if sc.Code != dial {
			continue
		}
		for _, s := range sc.Services {
			if !strings.EqualFold(s.Slug, slug) {
				continue
			}
			switch {
			case !sc.Enabled || s.Count <= 0:
				return 0, c.Errorf("buy", "%s/%s out of stock: %w", dial, slug, adapters.ErrNoNumbers)
			case s.Price > limit:
				return 0, c.Wrap("buy", &adapters.PriceFloorError{Min: c.Money(s.Price)})
			}
			return s.Price, nil
		}
	}
	return 0, c.Errorf("buy", "%s/%s not listed: %w", dial, slug, adapters.ErrNoNumbers)
}

// awaitNumber reads getState until the operation shows its number. When
// getNum already gave the number, getState is asked at most twice (for the
// price); otherwise it is polled every PollInterval within ctx's deadline,
// keeping a reserve to close the operation if the number never comes.
func (c *Client) awaitNumber(ctx context.Context, num NumReply) (Operation, error) {
	wctx, cancel, reserve := upstream.WithReserve(ctx, c.Timeout())
	defer cancel()

	fallback := Operation{TZID: num.TZID, Number: num.Number, TimeLeft: -1}
	var lastErr error
	for attempt := 1; ; attempt++ {
		ops, err := c.getState(wctx, "buy", num.TZID, true)
		if err == nil {
			if op, ok := findOp(ops, num.TZID); ok {
				if over(op.State) {
					// Ended (and refunded, §6) before we could use it.
					return Operation{}, c.Errorf("buy", "operation %s ended as %s before use: %w", num.TZID, op.State, adapters.ErrNoNumbers)
				}
				if op.Number == "" {
					op.Number = num.Number
				}
				if op.Number != "" {
					return op, nil
				}
			}
			// [] right after getNum, or TZ_INPOOL without a number: pending.
		} else {
			lastErr = err
		}
		if num.Number != "" && attempt >= 2 {
			// The purchase stands; the price stays the quoted one (or unknown).
			return fallback, nil
		}
		t := time.NewTimer(c.poll)
		select {
		case <-wctx.Done():
			t.Stop()
			if num.Number != "" {
				return fallback, nil
			}
			return Operation{}, c.abandon(ctx, num.TZID, reserve, lastErr)
		case <-t.C:
		}
	}
}

// abandon closes an operation whose number never came. Its money is only
// reserved, and OnlineSIM releases it when an operation ends without an
// SMS (§3.6, §6): so even when the close is refused (NO_COMPLETE_TZID in
// the protective interval) nothing is charged, and the outcome is known —
// no number — rather than ErrOutcomeUnknown.
func (c *Client) abandon(ctx context.Context, id string, reserve time.Duration, cause error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve)
	defer cancel()
	how := "closed"
	if _, err := c.close(cctx, "buy", id); err != nil {
		how = "left to expire"
	}
	msg := fmt.Sprintf("%s buy: operation %s: number not assigned in time, %s", c.Code(), id, how)
	if cause != nil {
		msg += fmt.Sprintf(" (last poll: %v)", cause)
	}
	return fmt.Errorf("%s: %w", msg, adapters.ErrUnavailable)
}

// getState reads one operation; codes asks for the extracted codes
// (message_to_code=1), else full texts. msg_list=1 returns every message,
// so a second code after setOperationRevise does not hide the first.
func (c *Client) getState(ctx context.Context, op, id string, codes bool) ([]Operation, error) {
	mtc := "0"
	if codes {
		mtc = "1"
	}
	body, err := c.call(ctx, op, "getState", map[string]string{"tzid": id, "message_to_code": mtc, "msg_list": "1"}, false)
	if err != nil {
		return nil, err
	}
	ops, err := ParseState(body)
	if err != nil {
		return nil, c.Wrap(op, err)
	}
	return ops, nil
}

func findOp(ops []Operation, id string) (Operation, bool) {
	for _, o := range ops {
		if o.TZID == id {
			return o, true
		}
	}
	return Operation{}, false
}

// errNotListed: getState answered [] for the id. Right after getNum that
// means "not listed yet" (§3.4); later, not found.
var errNotListed = fmt.Errorf("operation not listed: %w", adapters.ErrNoActivation)

// operation reads the one operation id is.
func (c *Client) operation(ctx context.Context, op, id string, codes bool) (Operation, error) {
	ops, err := c.getState(ctx, op, id, codes)
	if err != nil {
		return Operation{}, err
	}
	o, ok := findOp(ops, id)
	if !ok {
		return Operation{}, c.Wrap(op, errNotListed)
	}
	return o, nil
}

func over(state string) bool { return state == StateOverEmpty || state == StateOverOK }

// canonical maps an operation's state (§6). TZ_NUM_WAIT with messages is
// the wait after setOperationRevise, which keeps the earlier messages.
// TZ_OVER_EMPTY is "expired": a cancel made through the gateway is recorded
// by the gateway itself, so the poller only meets timeouts.
func canonical(o Operation) (adapters.State, bool) {
	switch o.State {
	case StateInPool, StatePool, StatePrepare, StateWait:
		if len(o.Msgs) > 0 {
			return adapters.StateRetryWaiting, true
		}
		return adapters.StateWaiting, true
	case StateAnswer:
		return adapters.StateCodeReceived, true
	case StateOverOK:
		return adapters.StateFinished, true
	case StateOverEmpty:
		return adapters.StateExpired, true
	}
	return "", false
}

// Check reads getState with the platform's extracted codes, and once per
// new message the full texts.
func (c *Client) Check(ctx context.Context, id string) (adapters.Update, error) {
	o, err := c.operation(ctx, "check", id, true)
	if err != nil {
		var ce *CodeError
		if errors.As(err, &ce) && ce.Code == CodeExpired {
			c.forget(id)
			return adapters.Update{State: adapters.StateExpired}, nil
		}
		return adapters.Update{}, err
	}
	st, ok := canonical(o)
	if !ok {
		return adapters.Update{}, c.Errorf("check", "unknown state %q: %w", upstream.Snippet([]byte(o.State)), adapters.ErrUnavailable)
	}
	u := adapters.Update{State: st}
	if len(o.Msgs) > 0 {
		u.SMS = c.messages(ctx, id, o.Msgs)
	}
	if !st.Active() {
		c.forget(id)
	}
	return u, nil
}

// messages pairs the codes with their full texts (fetched once per new
// list, best effort: on failure the text is the code). The lists come from
// the same operation in the same order, so they pair by index when their
// lengths agree. Items may repeat (§3.4): exact repeats are dropped.
func (c *Client) messages(ctx context.Context, id string, codes []string) []adapters.SMS {
	return c.pairTexts(id, codes, func() ([]string, bool) {
		o, err := c.operation(ctx, "check", id, false)
		return o.Msgs, err == nil
	})
}

// pairTexts is messages with the full texts read by fetch, which is
// called only when the memo does not hold them.
func (c *Client) pairTexts(id string, codes []string, fetch func() ([]string, bool)) []adapters.SMS {
	c.mu.Lock()
	memo, ok := c.texts[id]
	c.mu.Unlock()
	texts := codes
	if ok && slices.Equal(memo.codes, codes) {
		texts = memo.texts
	} else if fetched, ok := fetch(); ok && len(fetched) == len(codes) {
		texts = fetched
		c.mu.Lock()
		if len(c.texts) > 50000 { // bounded: operations live 20 minutes
			c.texts = map[string]textMemo{}
		}
		c.texts[id] = textMemo{codes: slices.Clone(codes), texts: slices.Clone(texts)}
		c.mu.Unlock()
	}
	out := make([]adapters.SMS, 0, len(codes))
	seen := map[[2]string]bool{}
	for i, m := range codes {
		k := [2]string{m, texts[i]}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, adapters.SMS{Code: codeOf(m), Text: texts[i]})
	}
	return out
}

// codeOf returns the code in a message_to_code=1 message: the message
// itself when it is a short token, else the code in the text (the
// platform sends the text when it could not extract a code).
func codeOf(msg string) string {
	msg = strings.TrimSpace(msg)
	if len(msg) <= 12 && !strings.ContainsAny(msg, " \t\n") {
		return msg
	}
	return adapters.ExtractCode(msg)
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.texts, id)
	c.mu.Unlock()
}

// Ready is a no-op: OnlineSIM has no "SMS requested" call (§4).
func (c *Client) Ready(context.Context, string) error { return nil }

// close sends setOperationOk, which both finishes and cancels (§3.6).
func (c *Client) close(ctx context.Context, op, id string) (string, error) {
	body, err := c.call(ctx, op, "setOperationOk", map[string]string{"tzid": id}, true)
	if err != nil {
		return "", err
	}
	tz, err := ParseOK(body)
	if err != nil {
		return "", c.Wrap(op, err)
	}
	return tz, nil
}

// Finish closes an operation that has its code. setOperationOk on an
// operation without an SMS is a cancel with a refund (§3.6), which would
// leave the ledger charging for a refunded order: the state is read first
// and such a finish is refused as ErrBadState. A close refused inside the
// protective interval is ErrBadState too (not ErrEarlyCancel: this is no
// cancel); the operation ends by itself, charged, when its time runs out.
func (c *Client) Finish(ctx context.Context, id string) error {
	// LIFICYCLE_NUM_EXPIRED here already unwraps to ErrBadState.
	o, err := c.operation(ctx, "finish", id, true)
	if err != nil {
		return err
	}
	switch {
	case over(o.State):
		return c.Errorf("finish", "operation already ended (%s): %w", o.State, adapters.ErrBadState)
	case len(o.Msgs) == 0 && o.State != StateAnswer:
		return c.Errorf("finish", "no code received; closing would cancel it: %w", adapters.ErrBadState)
	}
	if _, err := c.close(ctx, "finish", id); err != nil {
		if errors.Is(err, adapters.ErrEarlyCancel) {
			return c.Errorf("finish", "%s: %w", CodeNoComplete, adapters.ErrBadState)
		}
		return err
	}
	c.forget(id)
	return nil
}

// Cancel closes an operation that has no SMS; inside the protective
// interval the platform answers NO_COMPLETE_TZID (adapters.ErrEarlyCancel).
// setOperationOk after an SMS would finish (charge) instead of cancel, so
// the state is read first and such a cancel is refused as ErrBadState.
func (c *Client) Cancel(ctx context.Context, id string) error {
	o, err := c.operation(ctx, "cancel", id, true)
	switch {
	case errors.Is(err, errNotListed):
		// Not listed yet right after purchase: let the platform decide.
	case err != nil:
		return err
	case over(o.State):
		return c.Errorf("cancel", "operation already ended (%s): %w", o.State, adapters.ErrBadState)
	case len(o.Msgs) > 0 || o.State == StateAnswer:
		return c.Errorf("cancel", "a code was received; closing would finish it: %w", adapters.ErrBadState)
	}
	if _, err := c.close(ctx, "cancel", id); err != nil {
		return err
	}
	c.forget(id)
	return nil
}

// RequestAnother sends setOperationRevise. The answer may echo another
// tzid (one module stores it as the new id, §3.5); the order keeps its
// original id, which getState and setOperationOk keep accepting.
func (c *Client) RequestAnother(ctx context.Context, id string) error {
	body, err := c.call(ctx, "another", "setOperationRevise", map[string]string{"tzid": id}, true)
	if err != nil {
		return err
	}
	if _, err := ParseOK(body); err != nil {
		return c.Wrap("another", err)
	}
	return nil
}

// Offers reads getNumbersStats for one country (or country=all). A
// service or country OnlineSIM does not sell has no offers: an empty list,
// not an error, since the gateway counts errors as platform failures.
func (c *Client) Offers(ctx context.Context, service, country string) ([]adapters.Offer, error) {
	if service != "" {
		if _, ok := Services.Native(service); !ok {
			return nil, nil
		}
	}
	dial := "all"
	if country != "" {
		d, ok := Countries.Native(country)
		if !ok {
			return nil, nil
		}
		dial = d
	}
	body, err := c.call(ctx, "offers", "getNumbersStats", map[string]string{"country": dial}, false)
	if err != nil {
		return nil, err
	}
	stats, err := ParseStats(body)
	if err != nil {
		return nil, c.Wrap("offers", err)
	}
	var out []adapters.Offer
	for _, sc := range stats {
		iso, ok := Countries.Canonical(sc.Code)
		if !ok || !sc.Enabled || (country != "" && iso != strings.ToLower(country)) {
			continue
		}
		for _, s := range sc.Services {
			svc, ok := canonicalService(s.Slug)
			if !ok || (service != "" && svc != strings.ToLower(service)) {
				continue
			}
			out = append(out, adapters.Offer{Country: iso, Service: svc, Price: c.Money(s.Price), Count: s.Count})
		}
	}
	return out, nil
}

// Countries reads the country section of getTariffs (small, unlike
// getNumbersStats for every country) and keeps the enabled countries
// this adapter can map.
func (c *Client) Countries(ctx context.Context) ([]string, error) {
	body, err := c.call(ctx, "countries", "getTariffs", nil, false)
	if err != nil {
		return nil, err
	}
	codes, err := ParseTariffCountries(body)
	if err != nil {
		return nil, c.Wrap("countries", err)
	}
	var out []string
	for _, code := range codes {
		if iso, ok := Countries.Canonical(code); ok && !slices.Contains(out, iso) {
			out = append(out, iso)
		}
	}
	slices.Sort(out)
	return out, nil
}
