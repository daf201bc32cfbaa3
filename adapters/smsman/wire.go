package smsman

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// Error codes of the control API's envelope {"success":false,
// "error_code":…, "error_msg":…} (protocols/smsman.md §5).
const (
	codeWrongToken       = "wrong_token"
	codeWaitSMS          = "wait_sms"
	codeNoNumbers        = "no_numbers"
	codeWrongApplication = "wrong_application_id"
	// Variants public clients check for besides the docs' codes: stock out
	// as no_free_phones, an unknown service as wrong_service_id.
	codeNoFreePhones = "no_free_phones"
	codeWrongService = "wrong_service_id"
	// Not observed, assumed by analogy with wrong_application_id.
	codeWrongCountry = "wrong_country_id"
	codeWrongStatus  = "wrong_status"
	// A closed or unknown request; one source each, all low confidence.
	codeNoActivation    = "no_activation"
	codeRequestNotFound = "request_not_found"
	codeWrongRequest    = "wrong_request"
	// The code of the balance error was never captured, only its message;
	// the skin needs one, and the client matches the message instead.
	codeNoBalance = "no_balance"
)

// Messages that go with the codes, as SMS-Man words them where known.
const (
	msgWrongToken       = "Wrong token!"
	msgWaitSMS          = "Still waiting..."
	msgNoNumbers        = "No Numbers, try again."
	msgWrongApplication = "Wrong application ID!"
	msgWrongService     = "Wrong service ID!" // the skin's wording; only the code is known
	msgWrongCountry     = "Wrong country ID!"
	msgWrongStatus      = "Wrong status!"
	msgClosed           = "Request not found or closed"
	msgNoBalance        = "The price is more than the balance. Need more funds, please charge your balance"
)

// set-status values (protocols/smsman.md §3.5), majority reading: reject
// cancels and refunds, close finishes, used reports a bad number.
const (
	statusReady  = "ready"
	statusClose  = "close"
	statusReject = "reject"
	statusUsed   = "used"
	statusRetry  = "retrysms" // low confidence: seen in one integration
)

// call says which call an error envelope answered, since one code means
// different things to different calls.
type call int

const (
	callOther  call = iota
	callBuy         // get-number
	callSMS         // get-sms
	callStatus      // set-status
)

// malformedError is a success answer we cannot read. After a purchase it
// means a number may be ours that we cannot see, so Buy reports
// ErrOutcomeUnknown rather than a plain failure.
type malformedError struct{ snippet string }

func (e *malformedError) Error() string { return fmt.Sprintf("unreadable answer %q", e.snippet) }
func (e *malformedError) Unwrap() error { return adapters.ErrUnavailable }

func malformed(b []byte) error { return &malformedError{snippet: upstream.Snippet(b)} }

// envelope is the error part of an answer; wait_sms rides in it too.
type envelope struct {
	Success   *bool               `json:"success"`
	ErrorCode upstream.FlexString `json:"error_code"`
	ErrorMsg  json.RawMessage     `json:"error_msg"`
}

// isError reports whether the answer carries an error code or says it failed.
func (e envelope) isError() bool {
	return e.ErrorCode != "" || (e.Success != nil && !*e.Success)
}

// message flattens error_msg, a string or an object keyed by parameter
// ({"token":"Wrong token!"}).
func (e envelope) message() string {
	var s string
	if json.Unmarshal(e.ErrorMsg, &s) == nil {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(e.ErrorMsg, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		var v string
		if json.Unmarshal(m[k], &v) == nil {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, "; ")
}

// closed reports a code that means the request is closed (or unknown: the
// platform answers both alike).
func closed(code string) bool {
	return code == codeNoActivation || code == codeRequestNotFound || code == codeWrongRequest
}

// err maps the envelope to a canonical error for the call it answered.
func (e envelope) err(c call) error {
	code, msg := string(e.ErrorCode), e.message()
	lower := strings.ToLower(code + " " + msg)
	detail := code
	if detail == "" {
		detail = upstream.Snippet([]byte(msg))
	}
	wrap := func(err error) error { return fmt.Errorf("%q: %w", detail, err) }
	switch {
	case code == codeWrongToken:
		return wrap(adapters.ErrAuth)
	case code == codeNoNumbers, code == codeNoFreePhones:
		return wrap(adapters.ErrNoNumbers)
	case code == codeWrongApplication, code == codeWrongService:
		return wrap(adapters.ErrBadService)
	case code == codeWrongCountry:
		return wrap(adapters.ErrBadCountry)
	case code == codeWrongStatus:
		return wrap(adapters.ErrBadState)
	case closed(code):
		if c == callStatus {
			// The gateway only acts on requests it bought, so "not found"
			// here means closed: the transition is no longer possible.
			return wrap(adapters.ErrBadState)
		}
		return wrap(adapters.ErrNoActivation)
	case strings.Contains(lower, "balance"):
		// Matched on the message: its code was never captured.
		return wrap(adapters.ErrNoBalance)
	case c == callBuy && (strings.Contains(lower, "no numbers") || strings.Contains(lower, "no free phones")):
		// Stock out said only in words ("No Numbers, try again") under
		// another code or none: a business answer, which must not trip
		// the breaker as an unknown error would.
		return wrap(adapters.ErrNoNumbers)
	case c == callStatus && code == codeWaitSMS:
		// close (or retrysms) before any SMS.
		return wrap(adapters.ErrBadState)
	case c == callStatus && (strings.Contains(lower, "early") || strings.Contains(lower, "wait")):
		// No cancel guard is documented; if SMS-Man has one, its refusal
		// most likely says to wait. Retry later rather than give up.
		return wrap(adapters.ErrEarlyCancel)
	case c == callStatus && code == "":
		// success:false without a reason: the platform refused the change.
		return wrap(adapters.ErrBadState)
	}
	return fmt.Errorf("unexpected error %q: %w", detail, adapters.ErrUnavailable)
}

// decode sorts an answer into a JSON body to read or an error. It returns
// the envelope of an error answer unmapped, for the caller to judge. For
// 200 and 4xx answers the body decides (SMS-Man sends some errors with HTTP
// 400); any other status is a failure, and an HTML page is always a
// proxy's.
func decode(status int, body []byte) (b []byte, env *envelope, err error) {
	b = bytes.TrimSpace(body)
	switch {
	case upstream.LooksHTML(b):
		return nil, nil, fmt.Errorf("html page (http %d): %w", status, adapters.ErrUnavailable)
	case status == 429 || (status != 200 && (status < 400 || status > 499)):
		// Throttling, server failures, and statuses no API answer carries
		// (1xx, 3xx, other 2xx): whatever the body says, not SMS-Man's word.
		return nil, nil, fmt.Errorf("http %d %q: %w", status, upstream.Snippet(b), adapters.ErrUnavailable)
	}
	if len(b) > 0 && b[0] == '{' {
		var e envelope
		if json.Unmarshal(b, &e) == nil && e.isError() {
			return nil, &e, nil
		}
	}
	switch {
	case status == 401 || status == 403:
		return nil, nil, fmt.Errorf("http %d: %w", status, adapters.ErrAuth)
	case status != 200:
		return nil, nil, fmt.Errorf("http %d %q: %w", status, upstream.Snippet(b), adapters.ErrUnavailable)
	case len(b) == 0 || (b[0] != '{' && b[0] != '['):
		return nil, nil, fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(b), adapters.ErrUnavailable)
	}
	return b, nil, nil
}

// parseBalance reads get-balance: {"balance":"799.70"} (newer answers add
// hold, channels, rating; ignored).
func parseBalance(status int, body []byte) (int64, error) {
	b, env, err := decode(status, body)
	if err != nil {
		return 0, err
	}
	if env != nil {
		return 0, env.err(callOther)
	}
	var v struct {
		Balance *upstream.FlexString `json:"balance"`
	}
	if json.Unmarshal(b, &v) != nil || v.Balance == nil {
		return 0, malformed(b)
	}
	m, err := adapters.ParseAmount(string(*v.Balance))
	if err != nil {
		return 0, malformed(b)
	}
	return m, nil
}

// number is get-number's answer.
type number struct {
	RequestID     string // digits
	Phone         string // digits with country code, no '+'
	CountryID     string
	ApplicationID string
}

// parseNumber reads get-number: {"request_id":1,"country_id":1,
// "application_id":1,"number":"79002415539"}. It carries no price.
func parseNumber(status int, body []byte) (number, error) {
	b, env, err := decode(status, body)
	if err != nil {
		return number{}, err
	}
	if env != nil {
		return number{}, env.err(callBuy)
	}
	var v struct {
		RequestID     upstream.FlexString `json:"request_id"`
		CountryID     upstream.FlexString `json:"country_id"`
		ApplicationID upstream.FlexString `json:"application_id"`
		Number        upstream.FlexString `json:"number"`
	}
	if json.Unmarshal(b, &v) != nil {
		return number{}, malformed(b)
	}
	n := number{
		RequestID:     string(v.RequestID),
		Phone:         strings.TrimPrefix(strings.TrimSpace(string(v.Number)), "+"),
		CountryID:     string(v.CountryID),
		ApplicationID: string(v.ApplicationID),
	}
	if !upstream.IsDigits(n.RequestID, 1, 20) || !upstream.IsDigits(n.Phone, 5, 20) {
		return number{}, malformed(b)
	}
	return n, nil
}

// smsResult is what get-sms says about a request.
type smsResult struct {
	State adapters.State // waiting, code_received, or cancelled for a closed request
	Code  string
	Text  string // sms_text when present, else the code
}

// parseSMS reads get-sms. Waiting is the wait_sms envelope; a code is
// sms_code; a closed request answers one of the closed codes, which is an
// end of the order, not an error (SMS-Man has no status field: closed,
// expired and refunded all read alike, and the gateway tells them apart
// by what it already knows).
func parseSMS(status int, body []byte) (smsResult, error) {
	b, env, err := decode(status, body)
	if err != nil {
		return smsResult{}, err
	}
	if env != nil {
		switch code := string(env.ErrorCode); {
		case code == codeWaitSMS:
			return smsResult{State: adapters.StateWaiting}, nil
		case closed(code):
			return smsResult{State: adapters.StateCancelled}, nil
		}
		return smsResult{}, env.err(callSMS)
	}
	var v struct {
		RequestID upstream.FlexString  `json:"request_id"`
		Code      *upstream.FlexString `json:"sms_code"`
		// Undocumented; one client reads it. Taken when present.
		Text *string `json:"sms_text"`
	}
	if json.Unmarshal(b, &v) != nil || v.Code == nil {
		return smsResult{}, malformed(b)
	}
	r := smsResult{State: adapters.StateCodeReceived, Code: strings.TrimSpace(string(*v.Code))}
	if r.Code == "" {
		// A code field with nothing in it: nothing to hand on yet.
		return smsResult{State: adapters.StateWaiting}, nil
	}
	r.Text = r.Code
	if v.Text != nil && strings.TrimSpace(*v.Text) != "" {
		r.Text = *v.Text
	}
	return r, nil
}

// parseSetStatus reads set-status: {"request_id":1,"success":true}.
func parseSetStatus(status int, body []byte) error {
	b, env, err := decode(status, body)
	if err != nil {
		return err
	}
	if env != nil {
		return env.err(callStatus)
	}
	var v struct {
		Success *bool `json:"success"`
	}
	if json.Unmarshal(b, &v) != nil || v.Success == nil || !*v.Success {
		return malformed(b)
	}
	return nil
}

// priceRow is one (country, application) of get-prices.
type priceRow struct {
	CountryID, ApplicationID string
	Cost                     int64 // micro-units
	Count                    int
}

type wirePrice struct {
	ApplicationID upstream.FlexString  `json:"application_id"`
	CountryID     upstream.FlexString  `json:"country_id"`
	Cost          *upstream.FlexString `json:"cost"`
	Count         upstream.FlexString  `json:"count"`
}

// parsePrices reads get-prices in any of the containers SMS-Man has used:
// nested {country_id: {application_id: {cost, count}}} (no country given),
// an object keyed by application id whose entries carry their ids (a
// country given), or a plain array of such entries. countryID is the
// country asked for ("" for none), for entries that do not say theirs.
// Entries of an unexpected shape are skipped; rows come sorted.
func parsePrices(status int, body []byte, countryID string) ([]priceRow, error) {
	b, env, err := decode(status, body)
	if err != nil {
		return nil, err
	}
	if env != nil {
		return nil, env.err(callOther)
	}
	var out []priceRow
	add := func(cid, aid string, w wirePrice) {
		if w.CountryID != "" {
			cid = string(w.CountryID)
		}
		if w.ApplicationID != "" {
			aid = string(w.ApplicationID)
		}
		if !upstream.IsDigits(cid, 1, 10) || !upstream.IsDigits(aid, 1, 10) || w.Cost == nil {
			return
		}
		c, err := adapters.ParseAmount(string(*w.Cost))
		if err != nil || c < 0 {
			return
		}
		n, _ := upstream.Count(string(w.Count))
		out = append(out, priceRow{CountryID: cid, ApplicationID: aid, Cost: c, Count: n})
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil {
			return nil, malformed(b)
		}
		for _, raw := range list {
			var w wirePrice
			if json.Unmarshal(raw, &w) == nil {
				add(countryID, "", w)
			}
		}
	} else {
		var top map[string]json.RawMessage
		if json.Unmarshal(b, &top) != nil {
			return nil, malformed(b)
		}
		for k, raw := range top {
			var fields map[string]json.RawMessage
			if json.Unmarshal(raw, &fields) != nil {
				continue
			}
			if _, leaf := fields["cost"]; leaf {
				// Keyed by application id, for the country asked for.
				var w wirePrice
				if json.Unmarshal(raw, &w) == nil {
					add(countryID, k, w)
				}
				continue
			}
			// Nested: k is a country id.
			for aid, inner := range fields {
				var w wirePrice
				if json.Unmarshal(inner, &w) == nil {
					add(k, aid, w)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b priceRow) int {
		return cmp.Or(cmp.Compare(len(a.CountryID), len(b.CountryID)), strings.Compare(a.CountryID, b.CountryID),
			cmp.Compare(len(a.ApplicationID), len(b.ApplicationID)), strings.Compare(a.ApplicationID, b.ApplicationID),
			cmp.Compare(a.Cost, b.Cost), cmp.Compare(b.Count, a.Count))
	})
	// An entry may appear twice (its own ids disagreeing with its key);
	// keep the cheapest.
	out = slices.CompactFunc(out, func(a, b priceRow) bool {
		return a.CountryID == b.CountryID && a.ApplicationID == b.ApplicationID
	})
	return out, nil
}

// entry is one item of the countries or applications list.
type entry struct {
	ID, Title, Code string
}

// parseCatalogue reads countries or applications: {"1":{"id":"1",
// "title":"Russia","code":"RU"},…}, or the same items in an array. Items
// without a numeric id are skipped; entries come sorted by id.
func parseCatalogue(status int, body []byte) ([]entry, error) {
	b, env, err := decode(status, body)
	if err != nil {
		return nil, err
	}
	if env != nil {
		return nil, env.err(callOther)
	}
	type item struct {
		ID    upstream.FlexString `json:"id"`
		Title upstream.FlexString `json:"title"`
		Name  upstream.FlexString `json:"name"` // the stubs API's spelling
		Code  upstream.FlexString `json:"code"`
	}
	raw := map[string]json.RawMessage{}
	if b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil {
			return nil, malformed(b)
		}
		for i, r := range list {
			raw["#"+strconv.Itoa(i)] = r
		}
	} else if json.Unmarshal(b, &raw) != nil {
		return nil, malformed(b)
	}
	var out []entry
	for k, r := range raw {
		var it item
		if json.Unmarshal(r, &it) != nil {
			continue
		}
		e := entry{ID: string(it.ID), Title: strings.TrimSpace(string(it.Title)), Code: strings.TrimSpace(string(it.Code))}
		if e.ID == "" {
			e.ID = k
		}
		if e.Title == "" {
			e.Title = strings.TrimSpace(string(it.Name))
		}
		if upstream.IsDigits(e.ID, 1, 10) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b entry) int {
		return cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), strings.Compare(a.ID, b.ID), strings.Compare(a.Code, b.Code), strings.Compare(a.Title, b.Title))
	})
	return out, nil
}
