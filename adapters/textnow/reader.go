package textnow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/adapters/upstream"
)

const (
	// DefaultBaseURL is TextNow's web app; the private API is under /api.
	DefaultBaseURL = "https://www.textnow.com"
	// DefaultUserAgent is a desktop browser's: the web API is the browser
	// app's, and clients that worked sent one.
	DefaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	// DefaultMinGap is the least time between two calls for one account,
	// what the open-source clients kept.
	DefaultMinGap = time.Second
	// DefaultBackoff is how long an account is left alone after a 429.
	DefaultBackoff = 30 * time.Second

	// maxRetryAfter caps a Retry-After longer than Backoff, so a garbled
	// header cannot take an account out for days.
	maxRetryAfter = 15 * time.Minute
	// PageSize is how many messages the reader asks TextNow for per page,
	// the most it was seen to give (protocols/textnow.md §2).
	PageSize = 30
	// DefaultMaxPages bounds one read to 300 messages back.
	DefaultMaxPages = 10
	// maxCached bounds the messages kept per account between reads.
	maxCached = 1000

	// lookupParallel bounds the accounts whose number Numbers learns at
	// once: the first inventory of a large pool should not arrive at
	// TextNow as one burst from one address.
	lookupParallel = 4
)

// Account is one TextNow account the gateway reads. Cookie, CSRF and
// CSRFToken are secrets: an Account formats as its username only.
type Account struct {
	User string // the TextNow username, as in the web app's /api/users/{username}
	// Cookie is the value of the browser session's connect.sid cookie
	// (a leading "connect.sid=" is accepted and dropped).
	Cookie string
	// CSRF is the _csrf cookie, sent when set. GETs are not known to need
	// it; it is here for sessions where TextNow starts to ask.
	CSRF string
	// CSRFToken is the x-csrf-token header (the csrf-token meta tag of
	// /messaging), sent when set. It is not the _csrf cookie's value.
	CSRFToken string
	// Phone is the account's number, 10 digits or 11 with the leading 1
	// (punctuation is ignored); "" to learn it from TextNow.
	Phone string
	// Country is "us" or "ca"; default "us". TextNow's answers do not
	// say, and the area code alone does not settle it.
	Country string
}

// String is the account's username: Accounts are logged and printed, the
// cookies in them must not be.
func (a Account) String() string { return "textnow:" + a.User }

// GoString keeps %#v from printing the cookies.
func (a Account) GoString() string {
	return fmt.Sprintf("textnow.Account{User:%q, Phone:%q, Country:%q, Cookie:<redacted>}", a.User, a.Phone, a.Country)
}

// Options configure a Reader. Zero fields take the defaults.
type Options struct {
	BaseURL  string // scheme://host[:port]; default DefaultBaseURL
	Accounts []Account
	// Timeout bounds each call when ctx has no earlier deadline; default 10s.
	Timeout time.Duration
	// MinGap is the least time from the end of one call for an account to
	// the start of the next; default DefaultMinGap. Negative: no pacing
	// (tests that must provoke a 429).
	MinGap time.Duration
	// Backoff is how long an account is not called after a 429; default
	// DefaultBackoff. A longer Retry-After (up to 15 minutes) wins.
	Backoff   time.Duration
	UserAgent string // default DefaultUserAgent
	// MaxPages bounds the pages one Messages call reads back; default
	// DefaultMaxPages. A read that stops there goes on from where it
	// stopped at the next call (see Messages).
	MaxPages int
}

// Reader reads a pool of TextNow accounts. It implements pool.Source and
// is safe for concurrent use. Calls for one account go one at a time,
// MinGap apart; calls for different accounts do not wait for each other.
type Reader struct {
	http     *upstream.Client
	maxPages int
	minGap   time.Duration
	backoff  time.Duration
	ua       string
	accts    []*account // in configuration order
	byUser   map[string]*account
}

var _ pool.Source = (*Reader)(nil)

// account is one configured account and what the reader learned of it.
type account struct {
	user, country string
	header        map[string]string // Cookie and CSRF headers; secret
	secrets       []string          // redacted from every body before it can reach an error
	// slot holds the account's one call in flight: pacing is measured from
	// the end of the previous call, so two calls for one account never
	// overlap, and their arrivals at TextNow are always MinGap apart.
	slot chan struct{}
	// reading holds the account's one read of messages in flight, so the
	// pages it reads and the cache below change together.
	reading chan struct{}
	// cache is what the previous reads saw, newest first and contiguous:
	// every message between its first and its last was read, so a read
	// pages back only until it meets one of them (or since). complete: it
	// reaches the oldest message the account has. Guarded by reading.
	cache    []message
	cachedID map[string]bool
	complete bool

	mu           sync.Mutex
	phone        string    // 11 digits; "" until configured or learned
	down         string    // why the account needs a new login ("http 401"); "" when it does not
	backoffUntil time.Time // no call before then (after a 429)
	lastEnd      time.Time // when the previous call ended
	lookupFailed time.Time // when a lookup by accountOf last failed; zero: not since
}

// New checks o and builds a Reader. It makes no call: numbers are learned
// by the first Numbers.
func New(o Options) (*Reader, error) {
	if len(o.Accounts) == 0 {
		return nil, errors.New("textnow: no accounts")
	}
	hc, err := upstream.New(upstream.Options{Name: "textnow", BaseURL: cmp.Or(o.BaseURL, DefaultBaseURL), Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	r := &Reader{
		http:     hc,
		maxPages: cmp.Or(max(o.MaxPages, 0), DefaultMaxPages),
		minGap:   o.MinGap,
		backoff:  cmp.Or(o.Backoff, DefaultBackoff),
		ua:       cmp.Or(o.UserAgent, DefaultUserAgent),
		byUser:   map[string]*account{},
	}
	if r.minGap == 0 {
		r.minGap = DefaultMinGap
	}
	if r.backoff < 0 {
		r.backoff = 0
	}
	if !headerSafe(r.ua) {
		return nil, errors.New("textnow: user agent has control characters")
	}
	for i, ac := range o.Accounts {
		a, err := newAccount(ac)
		if err != nil {
			return nil, fmt.Errorf("textnow: account %d: %w", i+1, err)
		}
		if r.byUser[a.user] != nil {
			return nil, fmt.Errorf("textnow: account %q configured twice", a.user)
		}
		r.byUser[a.user] = a
		r.accts = append(r.accts, a)
	}
	return r, nil
}

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

// Numbers lists every account's number, in configuration order. The
// number of an account is learned with GET /api/users/{username} the
// first time and kept: TextNow numbers do not move between accounts. An
// account that needs a new login is listed with Down set and not called;
// one whose number is not known yet and cannot be learned now (5xx,
// throttled) is left out until a later Numbers. The error is
// adapters.ErrUnavailable only when TextNow could not be asked at all:
// nothing usable to list, and no call got an answer.
func (r *Reader) Numbers(ctx context.Context) ([]pool.Number, error) {
	errs := make([]error, len(r.accts))
	called := make([]bool, len(r.accts))
	sem := make(chan struct{}, lookupParallel)
	var wg sync.WaitGroup
	for i, a := range r.accts {
		a.mu.Lock()
		known := a.phone != "" || a.down != ""
		a.mu.Unlock()
		if known {
			continue
		}
		called[i] = true
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				errs[i] = r.lookup(ctx, a)
			case <-ctx.Done():
				errs[i] = ctxErr(ctx, "user "+a.user)
			}
		})
	}
	wg.Wait()

	var (
		out      []pool.Number
		usable   int
		answered bool  // some call got an answer TextNow meant (200, 401/403)
		failed   error // the first call that did not
	)
	for i, a := range r.accts {
		if called[i] {
			if err := errs[i]; err == nil || errors.Is(err, pool.ErrDown) {
				answered = true
			} else if failed == nil {
				failed = err
			}
		}
		a.mu.Lock()
		n := pool.Number{Phone: a.phone, Country: a.country, Account: a.user}
		if a.down != "" {
			n.Down = pool.DownNeedsLogin
		}
		a.mu.Unlock()
		switch {
		case n.Down != "":
			out = append(out, n)
		case n.Phone != "":
			out = append(out, n)
			usable++
		}
	}
	if usable == 0 && failed != nil && !answered {
		return nil, fmt.Errorf("textnow numbers: no account could be asked: %w", failed)
	}
	return out, nil
}

// lookup learns a's number.
func (r *Reader) lookup(ctx context.Context, a *account) error {
	op := "user " + a.user
	body, err := r.call(ctx, a, op, "/api/users/"+a.user, nil)
	if err != nil {
		return err
	}
	u, err := parseUser(body)
	if err != nil {
		return fmt.Errorf("textnow %s: %w", op, err)
	}
	a.mu.Lock()
	a.phone = u.Phone
	a.mu.Unlock()
	return nil
}

// Messages returns the incoming text messages n's account received at or
// after since, newest first, from GET /api/users/{username}/messages (the
// recent messages of every conversation). TextNow lists only the latest
// page: the reader pages back (start_message_id, direction=past) until it
// reaches a message older than since, one it read before, or the oldest
// there is — at most MaxPages pages. A read cut short (the bound, a 429
// or an error past the first page, the pacing passing the deadline)
// returns what it read; the next call goes on back from there. Errors: a
// *pool.DownError
// (needs_login) once the account met a 401 or 403, adapters.ErrUnavailable
// for a 429 (and during the backoff after it, without a call), a 5xx, a
// timeout, an unreadable answer, or when the account's pacing would make
// the call start after ctx's deadline. An account the reader does not
// have, or whose number is not n.Phone, is a *pool.DownError (gone).
func (r *Reader) Messages(ctx context.Context, n pool.Number, since time.Time) ([]pool.Message, error) {
	if n.Account == "" && n.Phone != "" {
		a, err := r.accountOf(ctx, n.Phone)
		if err != nil {
			return nil, err
		}
		n.Account = a.user
	}
	a := r.byUser[n.Account]
	if a == nil {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages: account %q is not configured", n.Account)}
	}
	a.mu.Lock()
	phone := a.phone
	a.mu.Unlock()
	if n.Phone != "" && phone != "" && n.Phone != phone {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages %s: the account's number is %s, not %s", a.user, phone, n.Phone)}
	}
	msgs, err := r.readBack(ctx, a, since)
	if err != nil {
		return nil, err
	}
	var out []pool.Message
	for _, m := range msgs {
		// Only incoming text: the account's own replies are not codes, and
		// a media message's text is the attachment's URL.
		if m.Direction != directionIn || (m.Type != typeText && m.Type != 0) || m.At.Before(since) {
			continue
		}
		out = append(out, pool.Message{ID: m.ID, From: m.From, Text: m.Text, At: m.At})
	}
	return out, nil
}

// readBack reads a's messages back to since (see Messages), newest first,
// and keeps them for the next read.
func (r *Reader) readBack(ctx context.Context, a *account, since time.Time) ([]message, error) {
	op := "messages " + a.user
	select {
	case a.reading <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx, op)
	}
	defer func() { <-a.reading }()

	// From the top until the messages read before, since, or the end.
	budget := r.maxPages
	fresh, stop, err := r.pages(ctx, a, op, "", since, &budget)
	if err != nil {
		return nil, err
	}
	var all []message
	complete := false
	if stop == metCache {
		all = append(fresh, a.cache...)
		complete = a.complete
		// The messages read before may not reach since (a read cut short,
		// or a since older than any read asked for): go on back from them.
		if oldest := a.cache[len(a.cache)-1]; !complete && !oldest.At.Before(since) && oldest.ID != "" {
			older, stop, err := r.pages(ctx, a, op, oldest.ID, since, &budget)
			if err != nil {
				return nil, err
			}
			all = append(all, older...)
			complete = stop == atEnd
		}
	} else {
		all, complete = fresh, stop == atEnd
	}
	if len(all) > maxCached {
		all, complete = all[:maxCached], false
	}
	a.cache, a.complete = all, complete
	a.cachedID = make(map[string]bool, len(all))
	for _, m := range all {
		if m.ID != "" {
			a.cachedID[m.ID] = true
		}
	}
	return all, nil
}

// Why pages stopped.
const (
	atEnd    = iota // the account has no older message
	atSince         // a message older than since was read
	metCache        // a message read before (what follows is in the cache)
	cutShort        // the page bound, a failure past the first page, no progress
)

// pages reads pages back from the message with id start ("" = the
// latest), newest first, skipping repeats, spending budget a page each.
// The latest page's failure is the error; a later failure cuts the read
// short, except a DownError, which is always the error.
func (r *Reader) pages(ctx context.Context, a *account, op, start string, since time.Time, budget *int) ([]message, int, error) {
	path := "/api/users/" + a.user + "/messages"
	first := start == ""
	var out []message
	seen := map[string]bool{start: start != ""}
	for n := 0; ; n++ {
		if *budget <= 0 {
			return out, cutShort, nil
		}
		*budget--
		q := map[string]string{"page_size": strconv.Itoa(PageSize)}
		if start != "" {
			q["start_message_id"], q["direction"] = start, "past"
		}
		body, err := r.call(ctx, a, op, path, q)
		var pg page
		if err == nil {
			if pg, err = parseMessages(body); err != nil {
				err = fmt.Errorf("textnow %s: %w", op, err)
			}
		}
		if err != nil {
			if (first && n == 0) || errors.Is(err, pool.ErrDown) {
				return nil, 0, err
			}
			return out, cutShort, nil
		}
		progress, older := false, false
		last := ""
		for _, m := range pg.messages {
			if m.ID != "" {
				if seen[m.ID] {
					continue // start_message_id itself, where TextNow lists it again
				}
				if a.cachedID[m.ID] {
					return out, metCache, nil
				}
				seen[m.ID] = true
				last = m.ID
			}
			progress = true
			out = append(out, m)
			older = older || m.At.Before(since)
		}
		switch {
		case older:
			return out, atSince, nil
		case pg.entries < PageSize:
			return out, atEnd, nil
		case !progress || last == "":
			// The same page again (start_message_id not honoured) or no ids
			// to page by: going on would loop.
			return out, cutShort, nil
		}
		start = last
	}
}

// accountOf finds the account whose number is phone, for a caller that
// knows only the phone (a process that restarted while a lookup failed).
// Known numbers are matched first; accounts whose number is not known yet
// are then looked up, in parallel, each at most every lookupRetry. The
// number is gone only when every account's number is known and none is
// phone; while some lookup fails it is throttled (try again later); if only
// accounts that need a login are left unknown, it is theirs as far as
// anyone can tell: needs_login.
func (r *Reader) accountOf(ctx context.Context, phone string) (*account, error) {
	var unknown []*account
	needsLogin := false
	for _, a := range r.accts {
		a.mu.Lock()
		p, down := a.phone, a.down
		a.mu.Unlock()
		switch {
		case p == phone:
			return a, nil
		case p == "" && down != "":
			needsLogin = true
		case p == "":
			unknown = append(unknown, a)
		}
	}
	errs := make([]error, len(unknown))
	sem := make(chan struct{}, lookupParallel)
	var wg sync.WaitGroup
	now := time.Now()
	for i, a := range unknown {
		a.mu.Lock()
		recent := !a.lookupFailed.IsZero() && now.Sub(a.lookupFailed) < lookupRetry
		a.mu.Unlock()
		if recent {
			errs[i] = fmt.Errorf("textnow user %s: its lookup failed less than %s ago: %w", a.user, lookupRetry, adapters.ErrUnavailable)
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				errs[i] = r.lookup(ctx, a)
			case <-ctx.Done():
				errs[i] = ctxErr(ctx, "user "+a.user)
			}
			// A 429 has its own backoff; other failures (5xx, timeouts) are
			// remembered here.
			if errs[i] != nil && !errors.Is(errs[i], pool.ErrDown) && !errors.Is(errs[i], pool.ErrThrottled) {
				a.mu.Lock()
				a.lookupFailed = time.Now()
				a.mu.Unlock()
			}
		})
	}
	wg.Wait()
	var failed error
	for i, a := range unknown {
		a.mu.Lock()
		p, down := a.phone, a.down
		a.mu.Unlock()
		switch {
		case p == phone:
			return a, nil
		case down != "" && p == "":
			needsLogin = true
		case errs[i] != nil && failed == nil && !errors.Is(errs[i], pool.ErrDown):
			failed = errs[i]
		}
	}
	switch {
	case failed != nil:
		return nil, pool.Throttled(fmt.Errorf("textnow messages: no account known to have %s yet: %w", phone, failed))
	case needsLogin:
		return nil, &pool.DownError{Reason: pool.DownNeedsLogin, Err: fmt.Errorf("textnow messages: %s may belong to an account that needs a login", phone)}
	}
	return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages: no configured account has %s", phone)}
}

// lookupRetry is how long accountOf leaves an account whose lookup failed
// before looking it up again: every poll of the order would otherwise
// spend its time on it.
const lookupRetry = 30 * time.Second

// call makes one GET for a: after a's previous call and MinGap after its
// end, unless a is down or backing off. It returns a 200's body; every
// other answer is judged here, and a 401/403 or 429 changes a's state.
func (r *Reader) call(ctx context.Context, a *account, op, path string, query map[string]string) ([]byte, error) {
	select {
	case a.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx, op)
	}
	defer func() { <-a.slot }()
	if err := r.wait(ctx, a, op); err != nil {
		return nil, err
	}
	hdr := map[string]string{"User-Agent": r.ua, "Accept": "application/json, text/plain, */*"}
	for k, v := range a.header {
		hdr[k] = v
	}
	call := upstream.Call{Path: path, Query: query, Header: hdr, Op: op}
	resp, err := r.http.Do(ctx, call)
	a.mu.Lock()
	a.lastEnd = time.Now()
	a.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, adapters.ErrUnavailable) {
			return nil, ctxErr(ctx, op)
		}
		return nil, err
	}
	body := resp.Body
	for _, s := range a.secrets {
		body = upstream.Redact(body, s)
	}
	switch st := resp.Status; {
	case st == 200:
		if err := r.http.Readable(call, body); err != nil {
			return nil, err
		}
		return body, nil
	case st == 401 || st == 403:
		why := "http " + strconv.Itoa(st)
		if upstream.LooksHTML(body) {
			why += " with a challenge page"
		}
		a.mu.Lock()
		a.down = why
		a.mu.Unlock()
		return nil, a.downError(op)
	case st == 429:
		d := r.backoff
		if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header["Retry-After"])); err == nil && ra > 0 {
			d = max(d, min(time.Duration(ra)*time.Second, maxRetryAfter))
		}
		a.mu.Lock()
		a.backoffUntil = time.Now().Add(d)
		a.mu.Unlock()
		return nil, pool.Throttled(r.http.Unavailable(call, "http 429: too many requests, backing off for %s", d))
	default:
		return nil, r.http.Unavailable(call, "http %d %q", st, upstream.Snippet(body))
	}
}

// wait holds a call until it may start: not while a needs a login or
// backs off, and not before MinGap after a's previous call. A wait that
// would outlast ctx's deadline is not begun. The caller holds a.slot.
func (r *Reader) wait(ctx context.Context, a *account, op string) error {
	now := time.Now()
	a.mu.Lock()
	down, until, last := a.down, a.backoffUntil, a.lastEnd
	a.mu.Unlock()
	if down != "" {
		return a.downError(op)
	}
	if now.Before(until) {
		return pool.Throttled(fmt.Errorf("textnow %s: throttled by TextNow, not calling for another %s: %w", op, until.Sub(now).Round(time.Millisecond), adapters.ErrUnavailable))
	}
	if r.minGap <= 0 || last.IsZero() {
		return nil
	}
	d := last.Add(r.minGap).Sub(now)
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && !now.Add(d).Before(dl) {
		return pool.Throttled(fmt.Errorf("textnow %s: the account's next call is due in %s, after the deadline: %w", op, d.Round(time.Millisecond), adapters.ErrUnavailable))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, op)
	}
}

// downError is the error for every call of a down account. It is not
// adapters.ErrAuth: one account's session takes out that account, not the
// whole source.
func (a *account) downError(op string) error {
	a.mu.Lock()
	why := a.down
	a.mu.Unlock()
	return &pool.DownError{Reason: pool.DownNeedsLogin, Err: fmt.Errorf("textnow %s: %s: the session expired or met a challenge; log in again in a browser", op, why)}
}

// ctxErr reports a call given up because ctx ended: a passed deadline is
// the upstream being too slow (ErrUnavailable); a cancel is the caller's.
func ctxErr(ctx context.Context, op string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("textnow %s: %w: %w", op, ctx.Err(), adapters.ErrUnavailable)
	}
	return fmt.Errorf("textnow %s: %w", op, ctx.Err())
}

// Account states, for AccountState.State.
const (
	StateReady      = "ready"       // the number is known and the account answers
	StateUnknown    = "unknown"     // the number is not learned yet
	StateBackoff    = "backoff"     // TextNow answered 429; no call until Until
	StateNeedsLogin = "needs_login" // a 401/403 took the account out for good
)

// AccountState is what the reader knows of one account, for operators.
type AccountState struct {
	User, Phone, Country string
	State                string    // one of the State constants
	Until                time.Time // end of the backoff (StateBackoff)
	Reason               string    // why it needs a login ("http 401"); "" otherwise
}

// Accounts reports every account's state, in configuration order.
func (r *Reader) Accounts() []AccountState {
	now := time.Now()
	out := make([]AccountState, 0, len(r.accts))
	for _, a := range r.accts {
		a.mu.Lock()
		s := AccountState{User: a.user, Phone: a.phone, Country: a.country, State: StateReady}
		switch {
		case a.down != "":
			s.State, s.Reason = StateNeedsLogin, a.down
		case now.Before(a.backoffUntil):
			s.State, s.Until = StateBackoff, a.backoffUntil
		case a.phone == "":
			s.State = StateUnknown
		}
		a.mu.Unlock()
		out = append(out, s)
	}
	return out
}
