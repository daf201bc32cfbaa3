package getsmscode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// The parsers below are pure functions of (HTTP status, body), so each can
// be fuzzed on its own. GetSMSCode answers plain text with '|' between
// fields; a body starting with "Message|" is never a success except
// "Message|Had add black list" (protocols/getsmscode.md §3). Messages are
// matched without regard to case: one client already meets "Not Receive".

// Exact strings of the protocol, as the skin sends them.
const (
	ansUserWrong    = "username is wrong"
	ansTokenWrong   = "token is wrong"
	msgPrefix       = "Message|"
	msgNoBalance    = "Message|balance is not enough!"
	msgUnavailable  = "Message|unavailable"
	msgIssue        = "Message|Issue,Try later"
	msgCaptureMax   = "Message|Capture Max mobile numbers,you max is " // + the account's limit
	msgNotReceive   = "Message|not receive"
	msgWait         = "Message|Please wait 10 seconds to request!"
	msgNotFound     = "Message|mobile number not found!"
	msgBlacklisted  = "Message|Had add black list"
	smsPrefix       = "1|"
	projectSep      = "<br>"
	maxPhoneDigits  = 15
	minPhoneDigits  = 6
	maxPIDDigits    = 6
	maxRegionLetter = 3
)

// text is a trimmed answer after the checks every action shares: HTTP
// statuses, empty or HTML bodies, and the credential answers.
func text(httpStatus int, body []byte) (string, error) {
	s := string(bytes.TrimSpace(body))
	switch {
	case httpStatus == 401 || httpStatus == 403:
		return "", fmt.Errorf("http %d %q: %w", httpStatus, upstream.Snippet(body), adapters.ErrAuth)
	case httpStatus != 200:
		// The scripts answer 200 whatever they say; anything else is a proxy
		// or the server failing.
		return "", fmt.Errorf("http %d %q: %w", httpStatus, upstream.Snippet(body), adapters.ErrUnavailable)
	case s == "":
		return "", fmt.Errorf("empty body: %w", adapters.ErrUnavailable)
	case looksHTML(s):
		return "", fmt.Errorf("html body %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	case strings.EqualFold(s, ansUserWrong), strings.EqualFold(s, ansTokenWrong),
		strings.EqualFold(s, msgPrefix+ansUserWrong), strings.EqualFold(s, msgPrefix+ansTokenWrong):
		return "", fmt.Errorf("%q: %w", s, adapters.ErrAuth)
	}
	return s, nil
}

// looksHTML spots an error page; projectapi's "<br>" separators are not one.
func looksHTML(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "<") && !strings.HasPrefix(l, projectSep)
}

// message returns the text after "Message|", or false.
func message(s string) (string, bool) {
	if len(s) < len(msgPrefix) || !strings.EqualFold(s[:len(msgPrefix)], msgPrefix) {
		return "", false
	}
	return s[len(msgPrefix):], true
}

func is(s, want string) bool { return strings.EqualFold(s, want) }

// loginInfo is the login answer: username|balance|points|discount|threads.
type loginInfo struct {
	Balance int64
	Threads int // numbers the account may hold at once; 0 if not sent
}

// parseLogin reads "someone@example.com|12.45|0|1|5". Older accounts (or
// older clients' reading) have three fields; the balance is the second.
func parseLogin(httpStatus int, body []byte) (loginInfo, error) {
	s, err := text(httpStatus, body)
	if err != nil {
		return loginInfo{}, err
	}
	if m, ok := message(s); ok {
		return loginInfo{}, fmt.Errorf("message %q: %w", upstream.Snippet([]byte(m)), adapters.ErrUnavailable)
	}
	// The answer starts with the account e-mail: errors below leave the
	// body out.
	f := strings.Split(s, "|")
	if len(f) < 3 {
		return loginInfo{}, fmt.Errorf("unexpected login answer (%d fields): %w", len(f), adapters.ErrUnavailable)
	}
	bal, err := adapters.ParseDecimal(f[1])
	if err != nil {
		return loginInfo{}, fmt.Errorf("balance %q: %w", upstream.Snippet([]byte(f[1])), adapters.ErrUnavailable)
	}
	info := loginInfo{Balance: bal}
	if len(f) >= 5 {
		if n, err := strconv.Atoi(strings.TrimSpace(f[4])); err == nil && n > 0 {
			info.Threads = n
		}
	}
	return info, nil
}

// parseGetMobile reads the purchase answer: the number as international
// digits without '+'. A "Message|" answer sold nothing; any other answer
// we cannot read is ErrOutcomeUnknown: we may hold a number we cannot name.
func parseGetMobile(httpStatus int, body []byte) (string, error) {
	s, err := text(httpStatus, body)
	if err != nil {
		return "", err
	}
	if m, ok := message(s); ok {
		switch {
		case is(m, msgNoBalance[len(msgPrefix):]):
			return "", fmt.Errorf("%q: %w", s, adapters.ErrNoBalance)
		case is(m, msgUnavailable[len(msgPrefix):]):
			return "", fmt.Errorf("%q: %w", s, adapters.ErrNoNumbers)
		case len(m) >= len(msgCaptureMax)-len(msgPrefix) && is(m[:len(msgCaptureMax)-len(msgPrefix)], msgCaptureMax[len(msgPrefix):]):
			// The account holds its maximum of numbers. Not a fault of the
			// platform: tripping its breaker would also stall the polls and
			// releases that free a slot. Another platform can sell one now.
			return "", fmt.Errorf("%q: account holds its maximum of numbers: %w", upstream.Snippet([]byte(s)), adapters.ErrNoNumbers)
		case is(m, msgIssue[len(msgPrefix):]):
			return "", fmt.Errorf("%q: %w", s, adapters.ErrUnavailable)
		}
		return "", fmt.Errorf("message %q: %w", upstream.Snippet([]byte(s)), adapters.ErrUnavailable)
	}
	number := strings.TrimPrefix(s, "+")
	if !upstream.IsDigits(number, minPhoneDigits, maxPhoneDigits) {
		return "", fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrOutcomeUnknown)
	}
	return number, nil
}

// smsKind is what getsms says about a held number.
type smsKind int

const (
	smsWaiting  smsKind = iota // "Message|not receive"
	smsTooFast                 // polled within 10 s of the last poll: says nothing
	smsReceived                // "1|<text>"
	smsGone                    // "Message|mobile number not found!": no longer held
)

// parseGetSMS reads getsms: "1|<full SMS text>" (everything after the first
// '|', pipes included, is the text) or a message.
func parseGetSMS(httpStatus int, body []byte) (smsKind, string, error) {
	s, err := text(httpStatus, body)
	if err != nil {
		return 0, "", err
	}
	if sms, ok := strings.CutPrefix(s, smsPrefix); ok {
		if strings.TrimSpace(sms) == "" {
			return 0, "", fmt.Errorf("empty SMS in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
		}
		return smsReceived, sms, nil
	}
	m, ok := message(s)
	switch {
	case ok && is(m, msgNotReceive[len(msgPrefix):]):
		return smsWaiting, "", nil
	case ok && is(m, msgWait[len(msgPrefix):]):
		return smsTooFast, "", nil
	case ok && is(m, msgNotFound[len(msgPrefix):]):
		return smsGone, "", nil
	}
	return 0, "", fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
}

// parseAddBlack reads addblack (and the US pool's cancelSMSRecv): only
// "Message|Had add black list" is success. Another message is a refusal
// (the outcome is known); anything else may hide an effect.
func parseAddBlack(httpStatus int, body []byte) error {
	s, err := text(httpStatus, body)
	if err != nil {
		return err
	}
	m, ok := message(s)
	switch {
	case ok && is(m, msgBlacklisted[len(msgPrefix):]):
		return nil
	case ok && is(m, msgNotFound[len(msgPrefix):]):
		return fmt.Errorf("%q: %w", s, adapters.ErrNoActivation)
	case ok:
		return fmt.Errorf("message %q: %w", upstream.Snippet([]byte(s)), adapters.ErrUnavailable)
	}
	return fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrOutcomeUnknown)
}

// project is one projectapi.php record.
type project struct {
	PID    string
	Name   string
	Prices map[string]int64 // region code (lower case) → price, micro-units
}

// parseProjects reads projectapi.php: records separated by "<br>", each
// "pid|project_name|<price fields…>". The price fields are per country
// ("cc_price" in the only client that reads them) and their exact layout
// is unknown [uncertain]. The defensive reading: a price counts only when
// it names its region, as "<region>:<price>" (also "_", "=" or a space
// between); a bare price, which could be any pool's, is ignored, so an
// unlisted region has no price and nothing is bought blind there.
func parseProjects(httpStatus int, body []byte) ([]project, error) {
	s, err := text(httpStatus, body)
	if err != nil {
		if httpStatus == 200 && strings.TrimSpace(string(body)) == "" {
			return nil, nil // no project matched ?pid=
		}
		return nil, err
	}
	if m, ok := message(s); ok {
		return nil, fmt.Errorf("message %q: %w", upstream.Snippet([]byte(m)), adapters.ErrUnavailable)
	}
	s = strings.NewReplacer("<br />", "\n", "<br/>", "\n", "<BR>", "\n", projectSep, "\n").Replace(s)
	var out []project
	bad := 0
	for rec := range strings.SplitSeq(s, "\n") {
		rec = strings.TrimSpace(rec)
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "|")
		if len(f) < 2 || !upstream.IsDigits(strings.TrimSpace(f[0]), 1, maxPIDDigits) {
			bad++
			continue
		}
		p := project{PID: strings.TrimSpace(f[0]), Name: strings.TrimSpace(f[1]), Prices: map[string]int64{}}
		for _, pf := range f[2:] {
			if region, price, ok := regionPrice(pf); ok {
				p.Prices[region] = price
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 && bad > 0 {
		return nil, fmt.Errorf("no project record in %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	return out, nil
}

// regionPrice reads "my:0.30" (or my_0.30, my=0.30, "my 0.30").
func regionPrice(f string) (string, int64, bool) {
	f = strings.TrimSpace(f)
	i := strings.IndexAny(f, ":_= ")
	if i < 2 || i > maxRegionLetter {
		return "", 0, false
	}
	region := strings.ToLower(f[:i])
	for j := 0; j < len(region); j++ {
		if region[j] < 'a' || region[j] > 'z' {
			return "", 0, false
		}
	}
	price, err := adapters.ParseDecimal(f[i+1:])
	if err != nil || price < 0 {
		return "", 0, false
	}
	return region, price, true
}

// heldNumber is one mobilelist entry.
type heldNumber struct{ Number, PID string }

// parseMobileList reads mobilelist: "8617049806616|10,8613800000000|1",
// an empty body when nothing is held [inferred]. Entries that are not
// number|pid are left out.
func parseMobileList(httpStatus int, body []byte) ([]heldNumber, error) {
	if httpStatus == 200 && len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	s, err := text(httpStatus, body)
	if err != nil {
		return nil, err
	}
	if m, ok := message(s); ok {
		return nil, fmt.Errorf("message %q: %w", upstream.Snippet([]byte(m)), adapters.ErrUnavailable)
	}
	var out []heldNumber
	bad := 0
	for entry := range strings.SplitSeq(s, ",") {
		number, pid, ok := strings.Cut(strings.TrimSpace(entry), "|")
		number, pid = strings.TrimPrefix(strings.TrimSpace(number), "+"), strings.TrimSpace(pid)
		if !ok || !upstream.IsDigits(number, minPhoneDigits, maxPhoneDigits) || !upstream.IsDigits(pid, 1, maxPIDDigits) {
			bad++
			continue
		}
		out = append(out, heldNumber{number, pid})
	}
	if len(out) == 0 && bad > 0 {
		return nil, fmt.Errorf("unexpected answer %q: %w", upstream.Snippet(body), adapters.ErrUnavailable)
	}
	return out, nil
}
