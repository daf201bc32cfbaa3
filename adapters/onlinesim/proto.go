package onlinesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// PathPrefix is where the main API's methods live: /api/<method>.php.
const PathPrefix = "/api/"

// Operation states, the `response` of a getState element (§6).
const (
	StateInPool     = "TZ_INPOOL"
	StatePool       = "TZ_POOL" // an alias of TZ_INPOOL seen in the wild
	StatePrepare    = "TZ_NUM_PREPARE"
	StateWait       = "TZ_NUM_WAIT"
	StateAnswer     = "TZ_NUM_ANSWER"
	StateOverEmpty  = "TZ_OVER_EMPTY"
	StateOverOK     = "TZ_OVER_OK"
	CodeNoComplete  = "NO_COMPLETE_TZID"
	CodeNoOps       = "ERROR_NO_OPERATIONS"
	CodeWrongTZID   = "ERROR_WRONG_TZID"
	CodeNoTZID      = "ERROR_NO_TZID"
	CodeExpired     = "LIFICYCLE_NUM_EXPIRED" // sic: the platform's spelling
	CodeWrongKey    = "ERROR_WRONG_KEY"
	CodeNoKey       = "ERROR_NO_KEY"
	CodeBlocked     = "ACCOUNT_BLOCKED"
	CodeNoService   = "ERROR_NO_SERVICE"
	CodeNoNumber    = "NO_NUMBER"
	CodeLowBalance  = "WARNING_LOW_BALANCE"
	CodeNotFound    = "REQUEST_NOT_FOUND"
	CodeBadNumParam = "ERROR_NUMBERS_PARAMS"
)

// codeErrors maps every documented error code (§5) to its canonical error.
// The account-level refusals (blocked, API off, IP not allowed, KYC) are
// ErrAuth: a configuration problem an operator must fix, not an outage.
// Rate and concurrency refusals are ErrUnavailable so the breaker backs
// off. Codes of modes the gateway never uses (forwarding, extensions) and
// parameter errors mean our request and the platform disagree: also
// ErrUnavailable, since retrying elsewhere is right and nothing was bought.
var codeErrors = map[string]error{
	CodeWrongKey: adapters.ErrAuth, CodeNoKey: adapters.ErrAuth, CodeBlocked: adapters.ErrAuth,
	"API_ACCESS_DISABLED": adapters.ErrAuth, "API_ACCESS_IP": adapters.ErrAuth,
	"ACCOUNT_IDENTIFICATION_REQUIRED": adapters.ErrAuth,

	CodeNoService: adapters.ErrBadService,

	CodeNoNumber: adapters.ErrNoNumbers, "WARNING_NO_NUMS": adapters.ErrNoNumbers,
	"SERVICE_TO_NUMBER_EMPTY": adapters.ErrNoNumbers, "ERROR_NO_SERVICE_REPEAT": adapters.ErrNoNumbers,

	CodeLowBalance: adapters.ErrNoBalance,

	CodeWrongTZID: adapters.ErrNoActivation, CodeNoTZID: adapters.ErrNoActivation, CodeNoOps: adapters.ErrNoActivation,

	CodeNoComplete: adapters.ErrEarlyCancel,
	CodeExpired:    adapters.ErrBadState,

	"EXCEEDED_CONCURRENT_OPERATIONS": adapters.ErrUnavailable, "TIME_INTERVAL_ERROR": adapters.ErrUnavailable,
	"INTERVAL_CONCURRENT_REQUESTS_ERROR": adapters.ErrUnavailable, "TRY_AGAIN_LATER": adapters.ErrUnavailable,
	// A duplicate is refused, so this request bought nothing; our client
	// never repeats a getNum by itself (upstream sends each call once).
	"DUPLICATE_OPERATION": adapters.ErrUnavailable,
	"ERROR_PARAMS":        adapters.ErrUnavailable, CodeBadNumParam: adapters.ErrUnavailable, CodeNotFound: adapters.ErrUnavailable,
	"NEED_EXTENSION_NUMBER": adapters.ErrUnavailable, "NO_CONFIRM_FORWARD": adapters.ErrUnavailable,
	"NO_FORWARD_FOR_DEFFER": adapters.ErrUnavailable, "NO_NUMBER_FOR_FORWARD": adapters.ErrUnavailable,
	"ERROR_LENGTH_NUMBER_FOR_FORWARD": adapters.ErrUnavailable,
}

// CodeError is an error code the platform answered in `response`. It
// unwraps to the canonical error for the code; a code not in the protocol
// file is ErrUnavailable (an envelope whose response is not 1 is an error
// by definition, so nothing was bought).
type CodeError struct {
	Code string
}

func (e *CodeError) Error() string {
	return upstream.Snippet([]byte(e.Code)) + ": " + e.Unwrap().Error()
}

// Unwrap returns the canonical error.
func (e *CodeError) Unwrap() error {
	if err, ok := codeErrors[e.Code]; ok {
		return err
	}
	return adapters.ErrUnavailable
}

// UnexpectedError is an answer the protocol does not describe: not JSON, a
// wrong shape, a missing field. It is ErrUnavailable; a purchase whose
// answer is unexpected becomes ErrOutcomeUnknown in the client.
type UnexpectedError struct {
	Snippet string
}

func (e *UnexpectedError) Error() string { return fmt.Sprintf("unexpected answer %q", e.Snippet) }

// Is reports UnexpectedError as ErrUnavailable.
func (e *UnexpectedError) Is(target error) bool { return target == adapters.ErrUnavailable }

func unexpected(body []byte) error { return &UnexpectedError{Snippet: upstream.Snippet(body)} }

// envelope is the common shape {"response": 1 | "1" | "<CODE>", ...}.
type envelope struct {
	Response json.RawMessage `json:"response"`
}

// checkEnvelope returns nil for success (response 1 or "1"), a *CodeError
// for an error code, and an *UnexpectedError otherwise.
func checkEnvelope(body []byte, raw json.RawMessage) error {
	s, isStr, ok := upstream.Scalar(raw)
	switch {
	case !ok:
		return unexpected(body)
	case s == "1":
		return nil
	case isStr && upstream.IsToken(s):
		return &CodeError{Code: s}
	}
	return unexpected(body)
}

// decodeObject decodes a JSON object body into v and checks its envelope.
func decodeObject(body []byte, v any, env *envelope) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return unexpected(body)
	}
	if err := json.Unmarshal(b, env); err != nil {
		return unexpected(body)
	}
	if err := checkEnvelope(body, env.Response); err != nil {
		return err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return unexpected(body)
		}
	}
	return nil
}

// ParseBalance reads getBalance: {"response":"1","balance":"230.25","zbalance":120.5}.
// It returns the available balance (balance), not the frozen part.
func ParseBalance(body []byte) (int64, error) {
	var v struct {
		Balance json.RawMessage `json:"balance"`
	}
	if err := decodeObject(body, &v, &envelope{}); err != nil {
		return 0, err
	}
	m, ok := upstream.Amount(v.Balance)
	if !ok {
		return 0, unexpected(body)
	}
	return m, nil
}

// NumReply is a getNum answer. Number is "" when the platform did not
// include it (it may come later through getState), otherwise digits with
// country code, without '+'.
type NumReply struct {
	TZID   string
	Number string
}

// ParseNum reads getNum: {"response":1,"tzid":10000,"number":"+447700900123"}.
func ParseNum(body []byte) (NumReply, error) {
	var v struct {
		TZID   json.RawMessage `json:"tzid"`
		Number json.RawMessage `json:"number"`
	}
	if err := decodeObject(body, &v, &envelope{}); err != nil {
		return NumReply{}, err
	}
	id, ok := upstream.Integer(v.TZID)
	if !ok {
		return NumReply{}, unexpected(body)
	}
	r := NumReply{TZID: strconv.FormatInt(id, 10)}
	if n, _, ok := upstream.Scalar(v.Number); ok {
		r.Number = upstream.PhoneDigits(n)
	}
	return r, nil
}

// ParseOK reads the answer of setOperationOk / setOperationRevise:
// {"response":1,"tzid":10000}. It returns the tzid echoed ("" if absent):
// one automation module suggests revise may answer a new id.
func ParseOK(body []byte) (string, error) {
	var v struct {
		TZID json.RawMessage `json:"tzid"`
	}
	if err := decodeObject(body, &v, &envelope{}); err != nil {
		return "", err
	}
	if id, ok := upstream.Integer(v.TZID); ok {
		return strconv.FormatInt(id, 10), nil
	}
	return "", nil
}

// Operation is one element of a getState answer.
type Operation struct {
	TZID    string
	State   string // TZ_* (§6)
	Service string // slug
	Number  string // digits, "" while not assigned
	Sum     int64  // price in micro-units; valid when HasSum
	HasSum  bool
	// TimeLeft is the `time` field: seconds remaining, -1 when absent.
	TimeLeft int64
	// Msgs are the messages in `msg`, oldest first (one for a plain string,
	// every item of a msg_list=1 list); empty for absent, false or "".
	Msgs []string
}

// ParseState reads getState. Success is a JSON array (read element by
// element); an empty array comes back as no operations and a nil error,
// since right after getNum it means "not listed yet". An object is an
// error envelope ({"response":"ERROR_NO_OPERATIONS"}).
func ParseState(body []byte) ([]Operation, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, unexpected(body)
	}
	if b[0] == '{' {
		var env envelope
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, unexpected(body)
		}
		if err := checkEnvelope(body, env.Response); err != nil {
			return nil, err
		}
		// A success envelope is not what getState answers.
		return nil, unexpected(body)
	}
	var items []json.RawMessage
	if b[0] != '[' || json.Unmarshal(b, &items) != nil {
		return nil, unexpected(body)
	}
	out := make([]Operation, 0, len(items))
	for _, it := range items {
		var v struct {
			TZID     json.RawMessage `json:"tzid"`
			Response json.RawMessage `json:"response"`
			Service  json.RawMessage `json:"service"`
			Number   json.RawMessage `json:"number"`
			Sum      json.RawMessage `json:"sum"`
			Time     json.RawMessage `json:"time"`
			Msg      json.RawMessage `json:"msg"`
		}
		if err := json.Unmarshal(it, &v); err != nil {
			return nil, unexpected(body)
		}
		st, isStr, ok := upstream.Scalar(v.Response)
		if !ok || !isStr || !upstream.IsToken(st) {
			return nil, unexpected(body)
		}
		id, ok := upstream.Integer(v.TZID)
		if !ok {
			return nil, unexpected(body)
		}
		op := Operation{TZID: strconv.FormatInt(id, 10), State: st, TimeLeft: -1}
		op.Service, _, _ = upstream.Scalar(v.Service)
		if n, _, ok := upstream.Scalar(v.Number); ok {
			op.Number = upstream.PhoneDigits(n)
		}
		op.Sum, op.HasSum = upstream.Amount(v.Sum)
		if t, ok := upstream.Integer(v.Time); ok {
			op.TimeLeft = t
		}
		msgs, ok := parseMsg(v.Msg)
		if !ok {
			return nil, unexpected(body)
		}
		op.Msgs = msgs
		out = append(out, op)
	}
	return out, nil
}

// ParseActive reads getState without a tzid, the list of every active
// operation (§3.4). Nothing active is an empty list, however it is said:
// [] or {"response":"ERROR_NO_OPERATIONS"}.
func ParseActive(body []byte) ([]Operation, error) {
	ops, err := ParseState(body)
	var ce *CodeError
	if errors.As(err, &ce) && ce.Code == CodeNoOps {
		return nil, nil
	}
	return ops, err
}

// parseMsg reads `msg` in every documented form: absent, null, false, "",
// a string, or a list whose items are {"service":…,"msg":…} objects (or,
// defensively, plain strings).
func parseMsg(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return nil, true
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		if strings.TrimSpace(s) == "" {
			return nil, true
		}
		return []string{s}, true
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, false
		}
		var out []string
		for _, it := range items {
			it = bytes.TrimSpace(it)
			var s string
			switch {
			case len(it) > 0 && it[0] == '"':
				if json.Unmarshal(it, &s) != nil {
					return nil, false
				}
			case len(it) > 0 && it[0] == '{':
				var m struct {
					Msg json.RawMessage `json:"msg"`
				}
				if json.Unmarshal(it, &m) != nil {
					return nil, false
				}
				s, _, _ = upstream.Scalar(m.Msg)
			default:
				return nil, false
			}
			if strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
		}
		return out, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// A bare code sent as a JSON number.
		s, _, ok := upstream.Scalar(raw)
		return []string{s}, ok
	}
	return nil, false
}

// StatsService is one service of a getNumbersStats country.
type StatsService struct {
	Slug  string
	Price int64 // micro-units
	Count int
}

// StatsCountry is one country of a getNumbersStats answer.
type StatsCountry struct {
	Code     string // dial code, as OnlineSIM's `country` parameter
	Enabled  bool
	Services []StatsService
}

// ParseStats reads getNumbersStats: one country object (with "services"),
// or, for country=all, an object of such objects keyed by anything. The
// keys of both maps are illustrative in the sources, so only the `code`,
// `slug`, `price` and `count` fields inside entries are trusted. Entries
// without a usable code, slug or price are skipped, not fatal: one odd row
// must not hide every offer.
func ParseStats(body []byte) ([]StatsCountry, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return nil, unexpected(body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, unexpected(body)
	}
	if r, ok := top["response"]; ok {
		// No `response` key on success; its presence carries an error.
		if err := checkEnvelope(body, r); err != nil {
			return nil, err
		}
	}
	if _, single := top["services"]; single {
		c, ok := parseStatsCountry(b)
		if !ok {
			return nil, unexpected(body)
		}
		return []StatsCountry{c}, nil
	}
	var out []StatsCountry
	entries := 0
	for k, raw := range top {
		if k == "response" {
			continue
		}
		entries++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		if c, ok := parseStatsCountry(raw); ok {
			out = append(out, c)
		}
	}
	if entries > 0 && len(out) == 0 {
		// Something, but no country in it: not this endpoint's shape.
		return nil, unexpected(body)
	}
	return out, nil
}

func parseStatsCountry(raw []byte) (StatsCountry, bool) {
	var v struct {
		Code     json.RawMessage            `json:"code"`
		Enabled  *bool                      `json:"enabled"`
		Services map[string]json.RawMessage `json:"services"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return StatsCountry{}, false
	}
	code, ok := upstream.Integer(v.Code)
	if !ok {
		return StatsCountry{}, false
	}
	// A missing `enabled` is taken as enabled: the field is optional in the
	// sources and a country with stock listed is being sold.
	c := StatsCountry{Code: strconv.FormatInt(code, 10), Enabled: v.Enabled == nil || *v.Enabled}
	for _, sraw := range v.Services {
		var s struct {
			Slug  json.RawMessage `json:"slug"`
			Price json.RawMessage `json:"price"`
			Count json.RawMessage `json:"count"`
		}
		if json.Unmarshal(sraw, &s) != nil {
			continue
		}
		slug, isStr, ok := upstream.Scalar(s.Slug)
		if !ok || !isStr || slug == "" {
			continue
		}
		price, ok := upstream.Amount(s.Price)
		if !ok {
			continue
		}
		n, _ := upstream.Integer(s.Count)
		if n > 1<<31-1 {
			n = 1<<31 - 1
		}
		c.Services = append(c.Services, StatsService{Slug: slug, Price: price, Count: int(n)})
	}
	return c, true
}

// isUnexpected reports whether err is an answer outside the protocol.
func isUnexpected(err error) bool {
	var ue *UnexpectedError
	return errors.As(err, &ue)
}

// ParseTariffCountries reads the countries of getTariffs:
// {"response":"1","countries":{"_44":{"code":44,"enable":true,…}},…}. Map
// keys are illustrative in the sources (§3.10), so only `code` is used; a
// country is kept unless it says enable (or enabled) false.
func ParseTariffCountries(body []byte) ([]string, error) {
	var v struct {
		Countries json.RawMessage `json:"countries"`
	}
	if err := decodeObject(body, &v, &envelope{}); err != nil {
		return nil, err
	}
	type entry struct {
		Code    json.RawMessage `json:"code"`
		Enable  *bool           `json:"enable"`
		Enabled *bool           `json:"enabled"`
	}
	var entries []entry
	var asMap map[string]entry
	raw := bytes.TrimSpace(v.Countries)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, unexpected(body)
	case json.Unmarshal(raw, &asMap) == nil:
		for _, e := range asMap {
			entries = append(entries, e)
		}
	case json.Unmarshal(raw, &entries) == nil:
		// Some serialisers turn a sequential map into a list.
	default:
		return nil, unexpected(body)
	}
	var out []string
	for _, e := range entries {
		if (e.Enable != nil && !*e.Enable) || (e.Enabled != nil && !*e.Enabled) {
			continue
		}
		if code, ok := upstream.Integer(e.Code); ok {
			out = append(out, strconv.FormatInt(code, 10))
		}
	}
	return out, nil
}
