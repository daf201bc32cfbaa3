package smsreg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// Operation states, answered in `response` by getState (§2.4).
const (
	StateInPool     = "TZ_INPOOL"
	StatePrepare    = "TZ_NUM_PREPARE"
	StateWait       = "TZ_NUM_WAIT"
	StateAnswer     = "TZ_NUM_ANSWER"
	StateWait2      = "TZ_NUM_WAIT2"
	StateAnswer2    = "TZ_NUM_ANSWER2"
	StateNoNums     = "WARNING_NO_NUMS"
	StateWait15     = "WARNING_WAIT15MIN"
	StateOverOK     = "TZ_OVER_OK"
	StateOverGR     = "TZ_OVER_GR"
	StateOverNR     = "TZ_OVER_NR"
	StateOverEmpty  = "TZ_OVER_EMPTY"
	StateOver2Empty = "TZ_OVER2_EMPTY"
	StateOver2OK    = "TZ_OVER2_OK"
	StateDeleted    = "TZ_DELETED"
)

// Error texts, answered in `error_msg` (§4).
const (
	MsgNoKey         = "ERROR_NO_KEY"
	MsgWrongKey      = "ERROR_WRONG_KEY"
	MsgKeyNeedChange = "ERROR_KEY_NEED_CHANGE"
	MsgLowBalance    = "WARNING_LOW_BALANCE"
	MsgNoService     = "Service not define"
	MsgTZIDNotNumber = "TZID must be number"
	MsgNoTZID        = "There is no TZID value"
	MsgWrongTZID     = "TZID wrong"
	MsgBadChars      = "Wrong characters in parameters"
	MsgNoActive      = "No active tranzactions" // sic
	MsgRate          = "Rate change can be made when all current operations finished"
	// NotApplicable follows the method name: "setReady to this TZID not applicable".
	NotApplicable = " to this TZID not applicable"
)

// exactErrors are the error texts that are codes, matched exactly.
var exactErrors = map[string]error{
	MsgNoKey: adapters.ErrAuth, MsgWrongKey: adapters.ErrAuth, MsgKeyNeedChange: adapters.ErrAuth,
	MsgLowBalance: adapters.ErrNoBalance,
	StateNoNums:   adapters.ErrNoNumbers,
	// A 15-minute freeze on issuing numbers, for leaving too many unused
	// (§7): the account is being penalised. ErrAuth: take the platform out
	// and tell an operator, as for a banned account.
	StateWait15: adapters.ErrAuth,
}

// errorFor maps an error text (§4) to its canonical error. The prose
// messages come from clients' notes, not from published docs, so they are
// matched by their telling part, case-insensitively.
func errorFor(msg string) error {
	m := strings.TrimSpace(msg)
	if err, ok := exactErrors[m]; ok {
		return err
	}
	l := strings.ToLower(m)
	switch {
	case strings.Contains(l, "not applicable"):
		return adapters.ErrBadState
	case strings.Contains(l, "tzid wrong"), strings.Contains(l, "wrong tzid"),
		strings.Contains(l, "tzid must be number"), strings.Contains(l, "no tzid value"),
		strings.Contains(l, "no active tranzactions"), strings.Contains(l, "no active transactions"):
		return adapters.ErrNoActivation
	case strings.HasPrefix(l, "service not defin"), strings.Contains(l, "no service value"):
		return adapters.ErrBadService
	}
	// "Wrong characters in parameters", other missing parameters, unknown
	// texts: our request and the platform disagree; nothing was done.
	return adapters.ErrUnavailable
}

// APIError is an error answer: {"response":"ERROR","error_msg":"…"} or
// {"response":"0"[,"error_msg":…]}. It unwraps to the canonical error for
// the text; a bare "0" is ErrUnavailable (a refusal with no reason).
type APIError struct {
	Response string // "ERROR" or "0"
	Msg      string // error_msg, "" if absent
}

func (e *APIError) Error() string {
	what := upstream.Snippet([]byte(e.Msg))
	if e.Msg == "" {
		what = "response " + upstream.Snippet([]byte(e.Response))
	}
	return what + ": " + e.Unwrap().Error()
}

// Unwrap returns the canonical error.
func (e *APIError) Unwrap() error {
	if e.Msg == "" {
		return adapters.ErrUnavailable
	}
	return errorFor(e.Msg)
}

// UnexpectedError is an answer the protocol does not describe. It is
// ErrUnavailable; a purchase with an unexpected answer becomes
// ErrOutcomeUnknown in the client.
type UnexpectedError struct {
	Snippet string
}

func (e *UnexpectedError) Error() string { return fmt.Sprintf("unexpected answer %q", e.Snippet) }

// Is reports UnexpectedError as ErrUnavailable.
func (e *UnexpectedError) Is(target error) bool { return target == adapters.ErrUnavailable }

func unexpected(body []byte) error { return &UnexpectedError{Snippet: upstream.Snippet(body)} }

func isUnexpected(err error) bool {
	var ue *UnexpectedError
	return errors.As(err, &ue)
}

// decode reads a JSON object body and returns its fields and `response`.
// An answer wrapped as {"0":{…}} (seen from getOperations, §1) is
// unwrapped. Error answers come back as *APIError.
func decode(body []byte) (map[string]json.RawMessage, string, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return nil, "", unexpected(body)
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return nil, "", unexpected(body)
	}
	if inner, ok := top["0"]; ok && len(top) == 1 {
		if json.Unmarshal(inner, &top) != nil {
			return nil, "", unexpected(body)
		}
	}
	resp, _, ok := upstream.Scalar(top["response"])
	if !ok {
		return nil, "", unexpected(body)
	}
	if resp == "ERROR" || resp == "0" {
		msg, _, _ := upstream.Scalar(top["error_msg"])
		return nil, "", &APIError{Response: resp, Msg: msg}
	}
	return top, resp, nil
}

// decodeOK is decode for answers whose success is "response":"1".
func decodeOK(body []byte) (map[string]json.RawMessage, error) {
	top, resp, err := decode(body)
	if err != nil {
		return nil, err
	}
	if resp != "1" {
		return nil, unexpected(body)
	}
	return top, nil
}

// ParseBalance reads getBalance: {"response":"1","balance":"123.45"}.
func ParseBalance(body []byte) (int64, error) {
	top, err := decodeOK(body)
	if err != nil {
		return 0, err
	}
	v, ok := upstream.Amount(top["balance"])
	if !ok {
		return 0, unexpected(body)
	}
	return v, nil
}

// ParseNum reads getNum: {"response":"1","tzid":"12345678"}; no number yet.
func ParseNum(body []byte) (string, error) {
	top, err := decodeOK(body)
	if err != nil {
		return "", err
	}
	id, ok := upstream.Integer(top["tzid"])
	if !ok {
		return "", unexpected(body)
	}
	return strconv.FormatInt(id, 10), nil
}

// ParseOK reads the answer of setReady, setOperationOk, setOperationUsed
// and setOperationRevise: {"response":"1"} (a tzid echo is ignored).
func ParseOK(body []byte) error {
	_, err := decodeOK(body)
	return err
}

// State is a getState answer.
type State struct {
	Token   string // TZ_* or WARNING_* (§2.4)
	Service string
	Number  string // digits; "" until assigned (TZ_NUM_PREPARE on)
	Msg     string // the code/answer, "" if none
	// FullMsg is full_msg, which one client reads when msg is empty; it may
	// not exist on every version of the API.
	FullMsg string
}

// ParseState reads getState:
// {"response":"TZ_NUM_ANSWER","service":"telegram","number":"79001234567","msg":"12345"}.
func ParseState(body []byte) (State, error) {
	top, resp, err := decode(body)
	if err != nil {
		return State{}, err
	}
	if !upstream.IsToken(resp) || resp == "1" {
		return State{}, unexpected(body)
	}
	st := State{Token: resp}
	st.Service, _, _ = upstream.Scalar(top["service"])
	if n, _, ok := upstream.Scalar(top["number"]); ok {
		st.Number = upstream.PhoneDigits(n)
	}
	st.Msg, _, _ = upstream.Scalar(top["msg"])
	st.FullMsg, _, _ = upstream.Scalar(top["full_msg"])
	st.Msg, st.FullMsg = strings.TrimSpace(st.Msg), strings.TrimSpace(st.FullMsg)
	return st, nil
}

// Offer is the price and stock of a service in one country, from the
// extended service list.
type Offer struct {
	Price int64 // micro-units
	Count int
}

// ListService is one service of getList.
type ListService struct {
	Code        string
	Description string
	// Countries holds price and stock per SMS-REG country code, from
	// getList extended=1 — see ParseList for why its shape is assumed. nil
	// when the entry carries no such detail.
	Countries map[string]Offer
}

// ParseList reads getList: {"response":"1","services":[{"service":"telegram",
// "description":"…"},…]}.
//
// ASSUMPTION, not in the protocol file: the sources say extended=1 "adds
// more detail per service" without naming the fields, and no published
// source shows SMS-REG prices or stock anywhere. This adapter reads them
// from a "countries" object in each extended entry:
// "countries":{"ru":{"price":"12.50","count":42},…} (price in RUB as a
// string or number, count as a number or string). Entries without it
// still list the service; the client then sells it without a price (and
// refuses to when a max price must be enforced). Verify against the live
// API and change only this function and the skin.
func ParseList(body []byte) ([]ListService, error) {
	top, err := decodeOK(body)
	if err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(top["services"])
	var items []json.RawMessage
	var asMap map[string]json.RawMessage
	switch {
	case len(raw) == 0:
		return nil, unexpected(body)
	case raw[0] == '[':
		if json.Unmarshal(raw, &items) != nil {
			return nil, unexpected(body)
		}
	case raw[0] == '{':
		if json.Unmarshal(raw, &asMap) != nil {
			return nil, unexpected(body)
		}
		for _, v := range asMap {
			items = append(items, v)
		}
	default:
		return nil, unexpected(body)
	}
	out := make([]ListService, 0, len(items))
	for _, it := range items {
		var v struct {
			Service     json.RawMessage            `json:"service"`
			Description json.RawMessage            `json:"description"`
			Countries   map[string]json.RawMessage `json:"countries"`
		}
		if json.Unmarshal(it, &v) != nil {
			continue // one odd entry must not hide the others
		}
		code, _, ok := upstream.Scalar(v.Service)
		if !ok || code == "" {
			continue
		}
		s := ListService{Code: code}
		s.Description, _, _ = upstream.Scalar(v.Description)
		if v.Countries != nil {
			s.Countries = map[string]Offer{}
			for country, oraw := range v.Countries {
				var o struct {
					Price json.RawMessage `json:"price"`
					Count json.RawMessage `json:"count"`
				}
				if json.Unmarshal(oraw, &o) != nil {
					continue
				}
				price, ok := upstream.Amount(o.Price)
				if !ok {
					continue
				}
				n, _ := upstream.Integer(o.Count)
				s.Countries[country] = Offer{Price: price, Count: int(min(n, 1<<31-1))}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Operation is one entry of getOperations (§2.10).
type Operation struct {
	TZID    string // digits
	Service string
	Phone   string // digits; "" until assigned
	State   State  // status as a getState answer: Token, Msg (and FullMsg where sent)
}

// ParseOperations reads getOperations (§2.10): an array of
// {"tzid","service","phone","status","msg"}, or with output=object an
// object of them. Nothing active is an empty list, however it is said:
// {"response":"ERROR","error_msg":"No active tranzactions"}, also wrapped
// as {"0":{…}} (§1), or an empty array. Another error answer is an
// *APIError; an entry without a numeric tzid or a state token makes the
// whole answer unexpected.
func ParseOperations(body []byte) ([]Operation, error) {
	b := bytes.TrimSpace(body)
	var items []json.RawMessage
	switch {
	case len(b) > 0 && b[0] == '[':
		if json.Unmarshal(b, &items) != nil {
			return nil, unexpected(body)
		}
	case len(b) > 0 && b[0] == '{':
		var top map[string]json.RawMessage
		if json.Unmarshal(b, &top) != nil {
			return nil, unexpected(body)
		}
		if isAnswer(top) {
			_, _, err := decode(b)
			var ae *APIError
			if errors.As(err, &ae) && errors.Is(err, adapters.ErrNoActivation) && noneActive(ae.Msg) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return nil, unexpected(body)
		}
		keys := slices.Sorted(maps.Keys(top))
		for _, k := range keys {
			items = append(items, top[k])
		}
	default:
		return nil, unexpected(body)
	}
	out := make([]Operation, 0, len(items))
	for _, it := range items {
		var v map[string]json.RawMessage
		if json.Unmarshal(it, &v) != nil || v == nil {
			return nil, unexpected(body)
		}
		id, ok := upstream.Integer(v["tzid"])
		st, isStr, sok := upstream.Scalar(v["status"])
		if !ok || id < 0 || !sok || !isStr || !upstream.IsToken(st) {
			return nil, unexpected(body)
		}
		op := Operation{TZID: strconv.FormatInt(id, 10), State: State{Token: st}}
		op.Service, _, _ = upstream.Scalar(v["service"])
		op.State.Service = op.Service
		if n, _, ok := upstream.Scalar(v["phone"]); ok {
			op.Phone = upstream.PhoneDigits(n)
		}
		op.State.Number = op.Phone
		op.State.Msg, _, _ = upstream.Scalar(v["msg"])
		op.State.FullMsg, _, _ = upstream.Scalar(v["full_msg"])
		op.State.Msg, op.State.FullMsg = strings.TrimSpace(op.State.Msg), strings.TrimSpace(op.State.FullMsg)
		out = append(out, op)
	}
	return out, nil
}

// isAnswer reports whether an object is an answer with a `response`
// (success or error), itself or wrapped as {"0":{…}}, rather than the
// object form of the list, whose members are entries.
func isAnswer(top map[string]json.RawMessage) bool {
	if _, ok := top["response"]; ok {
		return true
	}
	if inner, ok := top["0"]; ok && len(top) == 1 {
		var v map[string]json.RawMessage
		if json.Unmarshal(inner, &v) == nil {
			_, ok := v["response"]
			return ok
		}
	}
	return false
}

// noneActive reports whether an error text says there is no active
// operation ("No active tranzactions", sic, §2.10).
func noneActive(msg string) bool {
	l := strings.ToLower(msg)
	return strings.Contains(l, "no active tranzactions") || strings.Contains(l, "no active transactions")
}
