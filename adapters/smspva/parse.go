package smspva

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// The parsers below are pure functions of (HTTP status, body), so each can
// be fuzzed on its own. They return canonical errors wrapped with what the
// platform said; the client adds the platform code and the operation.
//
// The docs say the HTTP status "appears to mirror" statusCode (medium
// confidence), so the body's statusCode is what counts; the HTTP status is
// only used when the body carries no envelope at all.

// answer is one decoded v2 envelope.
type answer struct {
	code int             // statusCode from the body
	data json.RawMessage // "data" on success, may be empty
	desc string          // error.description or error.type, for messages only
}

// flexInt takes a JSON number or a quoted one: the docs' schema shows
// statusCode as "200" in one place and 200 in the samples.
type flexInt struct {
	v   int
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("statusCode %q is not an integer", upstream.Snippet(b))
	}
	f.v, f.set = n, true
	return nil
}

// v1Errors are the plain-text answers of the old priemnik.php API. The v2
// auth failure is not documented; a server that falls back to these texts
// must still read as the right canonical error (protocols/smspva.md §5.2).
var v1Errors = []struct {
	text string
	err  error
}{
	{"API KEY NOT FOUND!", adapters.ErrAuth},
	{"API KEY не найден!", adapters.ErrAuth},
	{"API KEY not received!", adapters.ErrAuth},
	{"API KEY не получен!", adapters.ErrAuth},
	{"BANNED", adapters.ErrAuth},
	{"Недостаточно средств!", adapters.ErrNoBalance},
	{"Service NOT FOUND!", adapters.ErrBadService},
	{"UNKNOWN SERVICE OR COUNTRY", adapters.ErrBadService},
	{"Превышено количество попыток!", adapters.ErrUnavailable},
	{"Произошла неизвестная ошибка.", adapters.ErrUnavailable},
	{"Произошла внутренняя ошибка сервера.", adapters.ErrUnavailable},
	{"Неверный запрос.", adapters.ErrUnavailable},
}

// errUnreadable marks a 2xx answer we cannot read. Read-only callers turn it
// into ErrUnavailable; state-changing ones into ErrOutcomeUnknown, since the
// platform may have acted on a request whose answer we cannot read.
var errUnreadable = errors.New("unreadable answer")

// decode reads the envelope. Errors: errUnreadable (2xx we cannot read),
// ErrAuth (401/403 or a v1 key/ban text), ErrUnavailable (empty, HTML,
// another status without an envelope) or a v1 business text.
func decode(httpStatus int, body []byte) (answer, error) {
	body = bytes.TrimSpace(body)
	switch {
	case httpStatus == 401 || httpStatus == 403:
		// Checked again below for bodies we cannot read; an empty or HTML
		// body under 401 is still the key refused.
	case len(body) == 0:
		return answer{}, fmt.Errorf("empty body (http %d): %w", httpStatus, adapters.ErrUnavailable)
	case upstream.LooksHTML(body):
		return answer{}, fmt.Errorf("html body (http %d) %q: %w", httpStatus, upstream.Snippet(body), adapters.ErrUnavailable)
	}
	if len(body) > 0 && body[0] == '{' {
		var env struct {
			StatusCode flexInt         `json:"statusCode"`
			Data       json.RawMessage `json:"data"`
			Error      json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(body, &env); err == nil && env.StatusCode.set {
			return answer{code: env.StatusCode.v, data: env.Data, desc: errorText(env.Error)}, nil
		}
	} else {
		text := string(body)
		for _, e := range v1Errors {
			if strings.EqualFold(text, e.text) {
				return answer{}, fmt.Errorf("%q: %w", e.text, e.err)
			}
		}
	}
	switch {
	case httpStatus == 401 || httpStatus == 403:
		return answer{}, fmt.Errorf("http %d %q: %w", httpStatus, upstream.Snippet(body), adapters.ErrAuth)
	case httpStatus < 200 || httpStatus > 299:
		return answer{}, fmt.Errorf("http %d %q: %w", httpStatus, upstream.Snippet(body), adapters.ErrUnavailable)
	}
	return answer{}, fmt.Errorf("%w %q", errUnreadable, upstream.Snippet(body))
}

// errorText renders the error object ({"type":…,"description":…}, whose
// fields are not documented) for messages.
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var e struct {
		Type        any `json:"type"`
		Description any `json:"description"`
	}
	if json.Unmarshal(raw, &e) == nil {
		if s, ok := e.Description.(string); ok && s != "" {
			return upstream.Snippet([]byte(s))
		}
		if s, ok := e.Type.(string); ok && s != "" {
			return upstream.Snippet([]byte(s))
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return upstream.Snippet([]byte(s))
	}
	return ""
}

// fail renders a statusCode that maps to err.
func (a answer) fail(meaning string, err error) error {
	if a.desc != "" {
		return fmt.Errorf("statusCode %d (%s: %q): %w", a.code, meaning, a.desc, err)
	}
	return fmt.Errorf("statusCode %d (%s): %w", a.code, meaning, err)
}

// common maps the codes every endpoint may answer. Karma: SMS-PVA scores
// each account; cancels and bans without an SMS lower it, and a low score
// limits API access (411, v1: a 10-minute block). The same 411 is also the
// rate limit. Either way the platform refuses our account for a while, so
// it is ErrAuth: it fails over and raises an alert, where ErrNoNumbers would
// let the router keep hammering it and lower the karma further.
func (a answer) common() error {
	switch a.code {
	case 401, 403:
		return a.fail("key refused", adapters.ErrAuth)
	case 411:
		return a.fail("access limited by low karma or rate limit", adapters.ErrAuth)
	case 429:
		return a.fail("rate limited", adapters.ErrUnavailable)
	case 500, 501, 502, 503, 504:
		return a.fail("server failure", adapters.ErrUnavailable)
	}
	return a.fail("unexpected", adapters.ErrUnavailable)
}

// unreadable turns errUnreadable into the read-only caller's error.
func unreadable(err error) error {
	if errors.Is(err, errUnreadable) {
		return fmt.Errorf("%v: %w", err, adapters.ErrUnavailable)
	}
	return err
}

// outcomeUnknown turns errUnreadable into the state-changing caller's error.
func outcomeUnknown(err error) error {
	if errors.Is(err, errUnreadable) {
		return fmt.Errorf("%v: %w", err, adapters.ErrOutcomeUnknown)
	}
	return err
}

// dataField decodes data as an object and returns one field's raw value.
func dataField(data json.RawMessage, name string) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil, false
	}
	v, ok := obj[name]
	return v, ok && len(v) > 0 && string(v) != "null"
}

// rawScalar returns a JSON number or string as its text, a string trimmed
// ("" for anything else).
func rawScalar(raw json.RawMessage) string {
	s, _, _ := upstream.Scalar(raw)
	return strings.TrimSpace(s)
}

// amount reads a money value given as a JSON number (10.5) or string
// ("0.50"); the error quotes no more of the value than a snippet.
func amount(raw json.RawMessage) (int64, error) {
	s := rawScalar(raw)
	v, err := adapters.ParseAmount(s)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not a number", upstream.Snippet([]byte(s)))
	}
	return v, nil
}

// parseBalance reads GET /activation/balance: {"balance": 10.5}.
func parseBalance(httpStatus int, body []byte) (int64, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return 0, unreadable(err)
	}
	if a.code != 200 {
		return 0, a.common()
	}
	raw, ok := dataField(a.data, "balance")
	if !ok {
		return 0, fmt.Errorf("no data.balance in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	v, err := amount(raw)
	if err != nil {
		return 0, fmt.Errorf("%v: %w", err, adapters.ErrUnavailable)
	}
	return v, nil
}

// userInfo is GET /activation/userinfo.
type userInfo struct {
	Balance int64
	Karma   float64
}

// parseUserInfo reads {"balance": 10.5, "name": "user123", "karma": 100.5}.
func parseUserInfo(httpStatus int, body []byte) (userInfo, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return userInfo{}, unreadable(err)
	}
	if a.code != 200 {
		return userInfo{}, a.common()
	}
	var u userInfo
	raw, ok := dataField(a.data, "balance")
	if ok {
		u.Balance, err = amount(raw)
	}
	if !ok || err != nil {
		return userInfo{}, fmt.Errorf("no readable data.balance in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	raw, ok = dataField(a.data, "karma")
	k, err := strconv.ParseFloat(rawScalar(raw), 64)
	if !ok || err != nil || math.IsNaN(k) || math.IsInf(k, 0) {
		return userInfo{}, fmt.Errorf("no readable data.karma in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	u.Karma = k
	return u, nil
}

// parsePrice reads GET /activation/serviceprice/{cc}/{opt}:
// {"service": "opt29", "serviceDescription": "Telegram", "price": 0.5}.
func parsePrice(httpStatus int, body []byte) (int64, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return 0, unreadable(err)
	}
	switch a.code {
	case 200:
	case 405:
		// Our codes come from the docs' lists, so "invalid parameters" means
		// the platform does not take this country/service pair now.
		return 0, a.fail("invalid parameters", adapters.ErrBadService)
	default:
		return 0, a.common()
	}
	raw, ok := dataField(a.data, "price")
	if !ok {
		return 0, fmt.Errorf("no data.price in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	v, err := amount(raw)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("price %q: %w", upstream.Snippet(raw), adapters.ErrUnavailable)
	}
	return v, nil
}

// parseCounts reads GET /activation/countnumbers/{cc}: an array of objects
// ("for each country and mobile operator") whose fields the docs do not
// show. Public v2 clients read {"country", "operator", "services":
// [{"service": "opt29", "total": 3}]}; this parser also takes "Services",
// "count" or "online" for the figure and a flat item carrying "service"
// itself, and sums every operator's stock per optN code.
func parseCounts(httpStatus int, body []byte) (map[string]int, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return nil, unreadable(err)
	}
	switch a.code {
	case 200:
	case 405:
		return nil, a.fail("invalid parameters", adapters.ErrBadCountry)
	default:
		return nil, a.common()
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(a.data, &items); err != nil {
		return nil, fmt.Errorf("data is not an array in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	out := map[string]int{}
	add := func(item map[string]json.RawMessage) {
		svc := rawScalar(field(item, "service", "Service"))
		if svc == "" {
			return
		}
		for _, name := range []string{"total", "Total", "count", "Count", "online", "Online"} {
			if raw, ok := item[name]; ok {
				if n, err := strconv.Atoi(rawScalar(raw)); err == nil && n > 0 && out[svc] <= math.MaxInt32-n {
					out[svc] += n
				}
				return
			}
		}
	}
	for _, item := range items {
		add(item)
		var services []map[string]json.RawMessage
		if raw := field(item, "services", "Services"); len(raw) > 0 && json.Unmarshal(raw, &services) == nil {
			for _, s := range services {
				add(s)
			}
		}
	}
	return out, nil
}

// field returns the first of names present in obj.
func field(obj map[string]json.RawMessage, names ...string) json.RawMessage {
	for _, n := range names {
		if v, ok := obj[n]; ok {
			return v
		}
	}
	return nil
}

// numberAnswer is a successful GET /activation/number/{cc}/{opt}.
type numberAnswer struct {
	OrderID  string // digits
	Phone    string // national digits, or international when it came with '+'
	Intl     bool   // Phone came with a leading '+'
	Country  string // v2 country code of the number ("UK"), "" if absent
	ExpireIn int    // seconds, 0 if absent
}

// parseNumber reads {"orderId": 123456, "phoneNumber": 7700900123,
// "countryCode": "UK", "orderExpireIn": 600}. A purchase answer we cannot
// read is ErrOutcomeUnknown: we may own a number we cannot name.
func parseNumber(httpStatus int, body []byte) (numberAnswer, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return numberAnswer{}, outcomeUnknown(err)
	}
	switch {
	case a.code == 200:
	case a.code == 405:
		return numberAnswer{}, a.fail("invalid parameters", adapters.ErrBadService)
	case a.code == 407:
		return numberAnswer{}, a.fail("balance too low", adapters.ErrNoBalance)
	case a.code == 501 || a.code == 502:
		return numberAnswer{}, a.fail("number not found", adapters.ErrNoNumbers)
	case a.code == 500:
		return numberAnswer{}, a.fail("failed to fetch number", adapters.ErrUnavailable)
	case a.code > 200 && a.code < 300:
		// A success-class code we do not know, on a purchase: reconcile.
		return numberAnswer{}, a.fail("unexpected", adapters.ErrOutcomeUnknown)
	default:
		return numberAnswer{}, a.common()
	}
	var n numberAnswer
	id, _ := dataField(a.data, "orderId")
	phone, _ := dataField(a.data, "phoneNumber")
	n.OrderID = rawScalar(id)
	n.Phone = rawScalar(phone)
	n.Phone, n.Intl = strings.CutPrefix(n.Phone, "+")
	if !upstream.IsDigits(n.OrderID, 1, 19) || !upstream.IsDigits(n.Phone, 1, 15) {
		return numberAnswer{}, fmt.Errorf("no readable orderId/phoneNumber in %q: %w", upstream.Snippet(body), adapters.ErrOutcomeUnknown)
	}
	if raw, ok := dataField(a.data, "countryCode"); ok {
		n.Country = rawScalar(raw)
	}
	if raw, ok := dataField(a.data, "orderExpireIn"); ok {
		if s, err := strconv.Atoi(rawScalar(raw)); err == nil && s > 0 && s < 86400 {
			n.ExpireIn = s
		}
	}
	return n, nil
}

// smsKind is what GET /activation/sms/{id} says about an order.
type smsKind int

const (
	smsWaiting  smsKind = iota // 202, or 200 without an SMS
	smsReceived                // 200 with an SMS
	smsUnpaid                  // 407: an SMS arrived, held until the balance covers it
	smsClosed                  // 410: expired, cancelled or banned (even after a code)
)

// smsAnswer is a readable GET /activation/sms/{id}.
type smsAnswer struct {
	Kind smsKind
	SMS  []adapters.SMS // Code and Text only
}

// parseSMS reads {"sms": {"code": "48213", "fullText": "…"}, "orderId":
// "123456", "orderExpireIn": 412}. The docs show "sms": {} and a client
// reads sms.code; the text's key is a guess, so any other string field is
// taken as the text, and sms may also be a bare string or an array.
func parseSMS(httpStatus int, body []byte) (smsAnswer, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return smsAnswer{}, unreadable(err)
	}
	switch a.code {
	case 200:
	case 202:
		return smsAnswer{Kind: smsWaiting}, nil
	case 407:
		return smsAnswer{Kind: smsUnpaid}, nil
	case 410:
		return smsAnswer{Kind: smsClosed}, nil
	case 405, 406:
		return smsAnswer{}, a.fail("order id invalid or not found", adapters.ErrNoActivation)
	default:
		return smsAnswer{}, a.common()
	}
	raw, ok := dataField(a.data, "sms")
	if !ok {
		if len(bytes.TrimSpace(a.data)) == 0 || bytes.TrimSpace(a.data)[0] != '{' {
			return smsAnswer{}, fmt.Errorf("no data object in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
		}
		return smsAnswer{Kind: smsWaiting}, nil
	}
	var list []json.RawMessage
	if raw[0] == '[' {
		if json.Unmarshal(raw, &list) != nil {
			return smsAnswer{}, fmt.Errorf("unreadable data.sms in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
		}
	} else {
		list = []json.RawMessage{raw}
	}
	var out smsAnswer
	for _, item := range list {
		m, err := oneSMS(item)
		if err != nil {
			return smsAnswer{}, fmt.Errorf("%v in %q: %w", err, upstream.Snippet(body), adapters.ErrUnavailable)
		}
		if m.Code != "" || m.Text != "" {
			out.SMS = append(out.SMS, m)
		}
	}
	if len(out.SMS) > 0 {
		out.Kind = smsReceived
	}
	return out, nil
}

// oneSMS reads one sms value: an object or a bare text.
func oneSMS(raw json.RawMessage) (adapters.SMS, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return adapters.SMS{}, errors.New("unreadable sms text")
		}
		return adapters.SMS{Code: adapters.ExtractCode(text), Text: text}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return adapters.SMS{}, errors.New("unreadable sms object")
	}
	var m adapters.SMS
	m.Code = rawScalar(obj["code"])
	for _, k := range []string{"fullText", "fulltext", "text", "message"} {
		if s := rawScalar(obj[k]); s != "" && isString(obj[k]) {
			m.Text = s
			break
		}
	}
	if m.Text == "" {
		// Any other string field: sorted, so the choice does not depend on
		// map order.
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s := rawScalar(obj[k]); k != "code" && s != "" && isString(obj[k]) {
				m.Text = s
				break
			}
		}
	}
	if m.Code == "" {
		m.Code = adapters.ExtractCode(m.Text)
	}
	if m.Text == "" {
		m.Text = m.Code
	}
	return m, nil
}

// isString reports whether raw is a JSON string.
func isString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// action is a state-changing PUT under /activation/.
type action string

const (
	actCancel   action = "cancelorder"
	actClearSMS action = "clearsms"
	actBlock    action = "blocknumber"
)

// parseAction reads the answer to a PUT: 200 {"orderId": …} is success.
// An unreadable 2xx is ErrOutcomeUnknown: the platform may have acted.
func parseAction(act action, httpStatus int, body []byte) error {
	a, err := decode(httpStatus, body)
	if err != nil {
		return outcomeUnknown(err)
	}
	switch {
	case a.code == 200:
		return nil
	case a.code == 406:
		return a.fail("order not found", adapters.ErrNoActivation)
	case a.code == 410:
		return a.fail("order closed", adapters.ErrBadState)
	case act == actClearSMS && (a.code == 404 || a.code == 503):
		// Documented for clearsms: no SMS yet, or an unpaid one waiting.
		// (503 is "overload" elsewhere; here the docs give it this meaning.)
		return a.fail("no SMS to clear", adapters.ErrBadState)
	case a.code == 405:
		// Our ids are digits, so "invalid parameters" is the platform
		// refusing this order in its state (assumed for a cancel after an
		// SMS, which the docs leave undocumented).
		return a.fail("refused in this state", adapters.ErrBadState)
	case a.code == 404:
		return a.fail("not found", adapters.ErrBadState)
	case a.code > 200 && a.code < 300:
		return a.fail("unexpected", adapters.ErrOutcomeUnknown)
	}
	return a.common()
}

// orderItem is one open order from GET /activation/orders.
type orderItem struct {
	OrderID string
	Phone   string // as numberAnswer.Phone
	Intl    bool
	Country string // v2 code, "" if absent
	Service string // optN, "" if absent
}

// parseOrders reads GET /activation/orders: {"orders": [...]}. The items'
// fields are not in the docs [uncertain]: they are read as the number
// answer's (orderId, phoneNumber, countryCode) plus "service", each also
// under a shorter name (id, number, country). Items without a readable id
// are left out.
func parseOrders(httpStatus int, body []byte) ([]orderItem, error) {
	a, err := decode(httpStatus, body)
	if err != nil {
		return nil, unreadable(err)
	}
	if a.code != 200 {
		return nil, a.common()
	}
	raw, ok := dataField(a.data, "orders")
	var items []map[string]json.RawMessage
	if !ok || json.Unmarshal(raw, &items) != nil {
		if ok && string(bytes.TrimSpace(raw)) == "{}" {
			return nil, nil // an empty PHP array can encode as an object
		}
		return nil, fmt.Errorf("no data.orders array in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	var out []orderItem
	for _, item := range items {
		o := orderItem{
			OrderID: rawScalar(field(item, "orderId", "id")),
			Phone:   rawScalar(field(item, "phoneNumber", "number")),
			Country: rawScalar(field(item, "countryCode", "country")),
			Service: rawScalar(field(item, "service")),
		}
		o.Phone, o.Intl = strings.CutPrefix(o.Phone, "+")
		if !upstream.IsDigits(o.OrderID, 1, 19) {
			continue
		}
		if !upstream.IsDigits(o.Phone, 1, 15) {
			o.Phone, o.Intl = "", false
		}
		out = append(out, o)
	}
	return out, nil
}
