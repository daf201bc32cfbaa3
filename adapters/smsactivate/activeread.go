package smsactivate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

// How the adapter reads getActiveActivations. The gateway's poller reads
// it every poll interval, and at 100,000 active orders the classic answer
// is some 37 MB: encoding/json into a struct per entry cost more than
// half a second of CPU and a struct with seven fields per entry a round.
// So a quick reader walks the answer once and hands each entry over as
// slices of the answer itself; it knows the layouts the server and
// HeroSMS write, and gives up on anything unusual (escaped keys, a key
// in another case, a list under two keys, an error status, values of
// unexpected types), which parseActive, the encoding/json reader, then
// reads as before. Either way an entry means the same: the quick reader
// is held to parseActive by FuzzReadActive.

var _ adapters.ActiveLister = (*Client)(nil)

// ActiveOrders reads getActiveActivations. "None" is an empty list, not an
// error, however it is said: {"status":"error","error":"NO_ACTIVATIONS"}
// or the bare token NO_ACTIVATIONS.
func (c *Client) ActiveOrders(ctx context.Context) ([]adapters.ActiveOrder, error) {
	return collectActive(ctx, c, "active", func(e *activeEntry) (adapters.ActiveOrder, bool) {
		o := adapters.ActiveOrder{UpstreamID: string(e.id), Phone: string(e.phone), Service: string(e.service)}
		if id, err := strconv.Atoi(string(e.country)); err == nil {
			if ctry, ok := catalog.CountryBySMSActivateID(id); ok {
				o.Country = ctry.ISO
			}
		}
		return o, true
	})
}

var _ adapters.ListPoller = (*Client)(nil)

// PollActive reads every active activation with its state and codes from
// getActiveActivations, all its pages. An entry whose status it cannot
// read is left out, so the poller asks that order with getStatus.
func (c *Client) PollActive(ctx context.Context) ([]adapters.ActiveUpdate, error) {
	return collectActive(ctx, c, "poll", func(e *activeEntry) (adapters.ActiveUpdate, bool) {
		u, ok := e.update()
		return adapters.ActiveUpdate{UpstreamID: string(e.id), Update: u}, ok
	})
}

// collectActive is every entry of getActiveActivations that conv keeps,
// as conv makes it (eachActive's op names the call); an empty list, not
// nil, when there is none.
func collectActive[T any](ctx context.Context, c *Client, op string, conv func(e *activeEntry) (T, bool)) ([]T, error) {
	var out []T
	err := c.eachActive(ctx, op, func(e *activeEntry) {
		if v, ok := conv(e); ok {
			out = append(out, v)
		}
	}, func(n int) { out = out[:n] }, func() int { return len(out) })
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// eachActive reads all of getActiveActivations and calls keep with each
// entry once (its slices are valid only during the call). HeroSMS pages the list (start, limit <=
// HeroPageMax); the classic service ignores both and answers the whole
// list, which the first answer then shows (more entries than the limit,
// or none the previous pages did not have); that whole list is taken as
// it comes. truncate(n) drops what keep kept after the n-th, and kept
// tells how many it holds: a quick read that gives up midway is undone
// before the answer is read again.
func (c *Client) eachActive(ctx context.Context, op string, keep func(*activeEntry), truncate func(int), kept func() int) error {
	// seen holds the ids of earlier pages, made only when there is a
	// second page: a whole list needs no check for repeats.
	var seen map[string]bool
	var pageIDs []string
	for start := 0; ; {
		params := map[string]string{"start": strconv.Itoa(start), "limit": strconv.Itoa(HeroPageMax)}
		body, err := c.call(ctx, op, "getActiveActivations", params, false)
		if err != nil {
			return err
		}
		n, fresh := 0, 0
		pageIDs = pageIDs[:0]
		mark := kept()
		err = readActive(body, c.Code(), func(e *activeEntry) {
			n++
			if seen != nil && seen[string(e.id)] {
				return
			}
			fresh++
			if seen != nil || n <= HeroPageMax {
				// Ids of a page: the first page's become seen if a second
				// follows; a later page's are forgotten if it is read again.
				id := string(e.id)
				pageIDs = append(pageIDs, id)
				if seen != nil {
					seen[id] = true
				}
			}
			keep(e)
		}, func() {
			// The quick read gave up: forget this page and read it again.
			for _, id := range pageIDs {
				delete(seen, id)
			}
			truncate(mark)
			n, fresh, pageIDs = 0, 0, pageIDs[:0]
		})
		if err != nil {
			return err
		}
		if n != HeroPageMax || fresh == 0 {
			return nil
		}
		if seen == nil {
			seen = make(map[string]bool, 2*HeroPageMax)
			for _, id := range pageIDs {
				seen[id] = true
			}
		}
		start += n
	}
}

// activeEntry is one entry of the list as read. id, phone, country and
// status are the values' text with their quotes trimmed, as they come
// (ids and country codes are strings or numbers; phones may be masked,
// "79********1"); service and text are decoded strings. code is the
// newest of smsCode (an array in SMS-Activate, a string in HeroSMS, or
// null); badCode says smsCode could not be read.
type activeEntry struct {
	id, phone, country, status []byte
	service                    []byte
	code                       []byte
	text                       []byte
	hasText                    bool // smsText is not null
	badCode                    bool
}

// activeStates maps activationStatus to a state; "10" (refunded) is an
// order that ended without a code.
var activeStates = map[string]adapters.State{
	"4": adapters.StateWaiting, "1": adapters.StateWaiting, "2": adapters.StateCodeReceived,
	"3": adapters.StateRetryWaiting, "6": adapters.StateFinished, "8": adapters.StateCancelled,
	"10": adapters.StateExpired,
}

// update is what getStatus would say of the entry: its state and its
// latest code, with the text the list gives. ok is false for a status
// it does not know, or codes it cannot read.
func (e *activeEntry) update() (adapters.Update, bool) {
	st, ok := activeStates[string(e.status)]
	if !ok || e.badCode {
		return adapters.Update{}, false
	}
	u := adapters.Update{State: st}
	if len(e.code) > 0 {
		m := adapters.SMS{Code: string(e.code)}
		m.Text = m.Code
		if e.hasText && len(e.text) > 0 {
			m.Text = string(e.text)
		}
		u.SMS = []adapters.SMS{m}
	}
	return u, true
}

// readActive calls fn with each entry of one answer that has an id. It
// tries the quick reader first; if that gives up, restart is called
// (the entries handed over so far must be forgotten) and parseActive
// reads the answer.
func readActive(body []byte, code string, fn func(*activeEntry), restart func()) error {
	body = bytes.TrimSpace(body)
	if quickActive(body, fn) {
		return nil
	}
	restart()
	list, err := parseActive(body, code)
	if err != nil {
		return err
	}
	var e activeEntry
	for _, a := range list {
		a.entry(&e)
		fn(&e)
	}
	return nil
}

// activeItem is one entry of getActiveActivations as parseActive reads it.
type activeItem struct {
	ID          json.RawMessage `json:"activationId"`
	Service     string          `json:"serviceCode"`
	Phone       json.RawMessage `json:"phoneNumber"`
	CountryCode json.RawMessage `json:"countryCode"`
	Status      json.RawMessage `json:"activationStatus"`
	SMSCode     json.RawMessage `json:"smsCode"`
	SMSText     *string         `json:"smsText"`
}

// entry fills e from a.
func (a activeItem) entry(e *activeEntry) {
	*e = activeEntry{id: trimQuotes(a.ID), phone: trimQuotes(a.Phone), country: trimQuotes(a.CountryCode),
		status: trimQuotes(a.Status), service: []byte(a.Service)}
	var codes []string
	if !isNull(a.SMSCode) && json.Unmarshal(a.SMSCode, &codes) != nil {
		var one string
		if json.Unmarshal(a.SMSCode, &one) != nil {
			e.badCode = true
		}
		codes = []string{one}
	}
	if n := len(codes); n > 0 {
		e.code = []byte(codes[n-1])
	}
	if a.SMSText != nil {
		e.hasText, e.text = true, []byte(*a.SMSText)
	}
}

// trimQuotes is a JSON string or number as text: its quotes trimmed, not
// unescaped (ids, phones and codes have nothing to escape).
func trimQuotes(m []byte) []byte { return bytes.Trim(m, `"`) }

// rawString is trimQuotes as a string.
func rawString(m json.RawMessage) string { return strings.Trim(string(m), `"`) }

// parseActive reads getActiveActivations in the layouts seen: the list as
// the docs' "activeActivations" array, under "data" (HeroSMS answers, and
// the older getListOfActiveActivations), or under "activeActivations.rows"
// (HeroSMS, paged). Entries without an id are left out.
func parseActive(body []byte, code string) ([]activeItem, error) {
	body = bytes.TrimSpace(body)
	if string(body) == TokNoActivations {
		return nil, nil
	}
	var v struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Active json.RawMessage `json:"activeActivations"`
		Data   json.RawMessage `json:"data"`
	}
	unexpected := func() error {
		return fmt.Errorf("%s active: unexpected answer %q: %w", code, upstream.Snippet(body), adapters.ErrUnavailable)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, unexpected()
	}
	if v.Status == "error" {
		if v.Error == TokNoActivations {
			return nil, nil
		}
		return nil, fmt.Errorf("%s active: %s: %w", code, upstream.Snippet([]byte(v.Error)), adapters.ErrUnavailable)
	}
	raw := v.Active
	if len(raw) > 0 && raw[0] == '{' {
		var paged struct {
			Rows json.RawMessage `json:"rows"`
		}
		if json.Unmarshal(raw, &paged) != nil {
			return nil, unexpected()
		}
		raw = paged.Rows
	}
	if isNull(raw) {
		raw = v.Data
	}
	var list []activeItem
	if !isNull(raw) && json.Unmarshal(raw, &list) != nil {
		return nil, unexpected()
	}
	out := list[:0]
	for _, a := range list {
		if rawString(a.ID) != "" {
			out = append(out, a)
		}
	}
	return out, nil
}

// isNull reports an absent or null JSON value.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// quickActive reads a success answer with its list under one of
// "activeActivations", "activeActivations.rows" or "data", calling fn
// with each entry that has an id. It reports false, having perhaps called
// fn already, as soon as the answer is anything it does not read the way
// parseActive would; parseActive then decides.
func quickActive(body []byte, fn func(*activeEntry)) bool {
	s := scanner{b: body, ok: true}
	if s.peek() != '{' {
		return false // NO_ACTIVATIONS, garbage: parseActive says which
	}
	lists := 0 // keys that may carry the list: more than one is unusual
	s.object(func(key []byte) {
		switch string(key) {
		case "status":
			// Only a success is read here: an error status, whatever the
			// rest says, is parseActive's to report.
			if v := s.stringValue(); s.ok && v != nil && string(v) == "error" {
				s.ok = false
			}
		case "error":
			s.stringValue()
		case "activeActivations":
			lists++
			switch s.peek() {
			case '[':
				s.entries(fn)
			case '{':
				rows := 0
				s.object(func(key []byte) {
					switch {
					case string(key) == "rows" && rows == 0 && s.peek() == '[':
						rows++
						s.entries(fn)
					case bytes.EqualFold(key, []byte("rows")):
						s.ok = false // rows twice, not an array, or in another case: unusual
					default:
						s.skip() // "count"
					}
				})
				if rows == 0 {
					s.ok = false // the list is then under "data", if anywhere
				}
			default:
				s.ok = false
			}
		case "data":
			lists++
			if s.peek() == '[' {
				s.entries(fn)
			} else {
				s.ok = false
			}
		default:
			if knownKey(key, topKeys) {
				s.ok = false // another case of a key encoding/json would take
				return
			}
			s.skip()
		}
		if lists > 1 {
			s.ok = false
		}
	})
	s.ws()
	return s.ok && s.i == len(s.b)
}

var (
	topKeys   = []string{"status", "error", "activeActivations", "data"}
	entryKeys = []string{"activationId", "serviceCode", "phoneNumber", "countryCode", "activationStatus", "smsCode", "smsText"}
)

// knownKey reports whether key is one of keys in another case (the exact
// ones are matched before). It runs for every other key of every entry,
// so an ASCII key is compared only with keys of its length; a non-ASCII
// one may fold to a shorter key (ſ to s, K to k) and is compared with all.
func knownKey(key []byte, keys []string) bool {
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, k := range keys {
		if (!ascii || len(k) == len(key)) && bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}

// scanner walks a JSON text. ok turns false at the first thing it will
// not read, and every method is then a no-op.
type scanner struct {
	b  []byte
	i  int
	ok bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next non-space byte, or 0 at the end or after a failure.
func (s *scanner) peek() byte {
	s.ws()
	if !s.ok || s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// object reads an object, calling member with each key (unescaped keys
// only) positioned at its value, which member must read.
func (s *scanner) object(member func(key []byte)) {
	if s.peek() != '{' {
		s.ok = false
		return
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return
	}
	for s.ok {
		key, plain := s.str()
		if !plain {
			s.ok = false // an escaped key may decode to a known one
			return
		}
		if s.peek() != ':' {
			s.ok = false
			return
		}
		s.i++
		member(key)
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.ok = false
		}
	}
}

// entries reads an array of entries, calling fn with each that has an
// id; null entries (parseActive: no id) are passed over.
func (s *scanner) entries(fn func(*activeEntry)) {
	s.i++ // '['
	if s.peek() == ']' {
		s.i++
		return
	}
	var e activeEntry
	for s.ok {
		switch s.peek() {
		case 'n':
			s.literal("null")
		case '{':
			e = activeEntry{}
			s.entry(&e)
			if s.ok && len(e.id) > 0 {
				fn(&e)
			}
		default:
			s.ok = false
			return
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.ok = false
		}
	}
}

// entry reads one entry into e; a repeated key's last value wins, as in
// encoding/json.
func (s *scanner) entry(e *activeEntry) {
	s.object(func(key []byte) {
		switch string(key) {
		case "activationId":
			e.id = trimQuotes(s.value())
		case "phoneNumber":
			e.phone = trimQuotes(s.value())
		case "countryCode":
			e.country = trimQuotes(s.value())
		case "activationStatus":
			e.status = trimQuotes(s.value())
		case "serviceCode":
			if v := s.stringValue(); v != nil {
				e.service = v
			}
		case "smsText":
			v := s.stringValue()
			e.text, e.hasText = v, v != nil
		case "smsCode":
			e.code, e.badCode = s.codes()
		default:
			if knownKey(key, entryKeys) {
				s.ok = false
				return
			}
			s.skip()
		}
	})
}

// codes reads smsCode: the newest code of an array of strings (a null in
// it reads as ""), a single string, or null (none). Any other value is
// bad, as parseActive finds it.
func (s *scanner) codes() (last []byte, bad bool) {
	switch s.peek() {
	case 'n':
		s.literal("null")
		return nil, false
	case '"':
		return s.stringValue(), false
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil, false
		}
		for s.ok {
			switch s.peek() {
			case '"':
				last = s.stringValue()
			case 'n':
				s.literal("null")
				last = nil
			default:
				bad = true
				s.skip()
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return last, bad
			default:
				s.ok = false
			}
		}
		return nil, false
	}
	s.skip()
	return nil, true
}

// stringValue reads a string (decoded: its bytes are the answer's own
// when it has no escapes) or null (nil). Any other value fails the scan:
// encoding/json refuses it for a string field.
func (s *scanner) stringValue() []byte {
	switch s.peek() {
	case 'n':
		s.literal("null")
		return nil
	case '"':
		start := s.i
		v, plain := s.str()
		if plain || !s.ok {
			if v == nil {
				v = []byte{} // "" is not null
			}
			return v
		}
		// Escapes (or invalid UTF-8, which encoding/json replaces): let it
		// decode this one string exactly as it would.
		var out string
		if json.Unmarshal(s.b[start:s.i], &out) != nil {
			s.ok = false
			return nil
		}
		return []byte(out)
	}
	s.ok = false
	return nil
}

// str reads a string token. plain: it has no escape, no invalid UTF-8
// and v is its content; otherwise the token is skipped and v is nil.
func (s *scanner) str() (v []byte, plain bool) {
	if s.peek() != '"' {
		s.ok = false
		return nil, false
	}
	s.i++
	start := s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.ok = false
			return nil, false
		}
		s.i += j + 1
		// Even backslashes before the quote: it ends the string.
		k := s.i - 2
		for k >= start && s.b[k] == '\\' {
			k--
		}
		if (s.i-2-k)%2 == 0 {
			break
		}
	}
	v = s.b[start : s.i-1]
	// One table lookup per byte, OR-ed without a branch: strings are most
	// of a list's 37 MB.
	var class byte
	for _, c := range v {
		class |= strClass[c]
	}
	switch {
	case class&strControl != 0:
		s.ok = false // not JSON
		return nil, false
	case class&strEscape != 0:
		if !validEscapes(v) {
			s.ok = false
		}
		return nil, false
	case class&strNonASCII != 0 && !utf8.Valid(v):
		return nil, false
	}
	return v, true
}

// The classes of a string's bytes that the quick reader cares about.
const (
	strControl  = 1 << iota // below 0x20: not allowed in a JSON string
	strEscape               // a backslash
	strNonASCII             // part of a multi-byte (or invalid) sequence
)

var strClass = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = strControl
	}
	t['\\'] = strEscape
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = strNonASCII
	}
	return t
}()

// validEscapes reports whether every escape in a string's content is
// one JSON allows.
func validEscapes(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		i++
		if i >= len(v) {
			return false
		}
		switch v[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+5 > len(v) {
				return false
			}
			for _, h := range v[i+1 : i+5] {
				if !isHex(h) {
					return false
				}
			}
			i += 4
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// value reads any value and returns its text (for the fields kept as
// they come).
func (s *scanner) value() []byte {
	s.ws()
	start := s.i
	s.skip()
	if !s.ok {
		return nil
	}
	return s.b[start:s.i]
}

// skip reads any value, checking it is JSON.
func (s *scanner) skip() {
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == '{':
		s.object(func([]byte) { s.skip() })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return
		}
		for s.ok {
			s.skip()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return
			default:
				s.ok = false
			}
		}
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		s.number()
	default:
		s.ok = false
	}
}

func (s *scanner) literal(lit string) {
	if !s.ok || !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.ok = false
		return
	}
	s.i += len(lit)
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() {
	b, i := s.b, s.i
	digits := func() bool {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		s.ok = false
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			s.ok = false
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			s.ok = false
			return
		}
	}
	s.i = i
}
