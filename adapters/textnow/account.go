package textnow

import (
	"errors"
	"fmt"
	"strings"
)

// newAccount checks one account. Errors name the field, never a secret's
// value.
func newAccount(ac Account) (*account, error) {
	if err := checkUser(ac.User); err != nil {
		return nil, err
	}
	a := &account{user: ac.User, slot: make(chan struct{}, 1), reading: make(chan struct{}, 1)}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%q: %s", ac.User, fmt.Sprintf(format, args...))
	}
	sid := strings.TrimPrefix(strings.TrimSpace(ac.Cookie), "connect.sid=")
	if sid == "" {
		return nil, errf("no session cookie")
	}
	if !cookieValue(sid) {
		return nil, errf("session cookie has characters a cookie cannot carry")
	}
	cookie := "connect.sid=" + sid
	a.secrets = []string{sid}
	if ac.CSRF != "" {
		if !cookieValue(ac.CSRF) {
			return nil, errf("csrf cookie has characters a cookie cannot carry")
		}
		cookie += "; _csrf=" + ac.CSRF
		a.secrets = append(a.secrets, ac.CSRF)
	}
	a.header = map[string]string{"Cookie": cookie}
	if ac.CSRFToken != "" {
		if !headerSafe(ac.CSRFToken) {
			return nil, errf("csrf token has control characters")
		}
		a.header["X-CSRF-Token"] = ac.CSRFToken
		a.secrets = append(a.secrets, ac.CSRFToken)
	}
	switch c := strings.ToLower(strings.TrimSpace(ac.Country)); c {
	case "":
		a.country = "us"
	case "us", "ca":
		a.country = c
	default:
		return nil, errf("country %q: TextNow numbers are US or CA", ac.Country)
	}
	if ac.Phone != "" {
		p, ok := nanp(ac.Phone)
		if !ok {
			return nil, errf("phone %q is not a 10-digit US/CA number", ac.Phone)
		}
		a.phone = p
	}
	return a, nil
}

// checkUser refuses a username that would not stay one path segment:
// fasthttp decodes and normalizes paths, so an escaped '/' or a ".."
// would reach another route. Anything else is escaped on the way out.
func checkUser(u string) error {
	switch {
	case u == "":
		return errors.New("no username")
	case len(u) > 64:
		return fmt.Errorf("username %.16q… is longer than 64 bytes", u)
	case u == "." || u == "..", strings.ContainsAny(u, `/\`), strings.TrimSpace(u) != u:
		return fmt.Errorf("username %q cannot be a path segment", u)
	case !headerSafe(u):
		return fmt.Errorf("username %q has control characters", u)
	}
	return nil
}

// cookieValue reports whether s is made of RFC 6265 cookie-octets, so a
// pasted value cannot smuggle in another cookie or a header.
func cookieValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// headerSafe reports whether s can go in a header value as is.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
