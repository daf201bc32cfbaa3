package textnow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
			errs[i] = r.lookupWhenFree(ctx, sem, a)
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
// lookupWhenFree runs a's lookup once one of sem's slots is free (the
// lookups of several accounts run side by side, a few at a time).
func (r *Reader) lookupWhenFree(ctx context.Context, sem chan struct{}, a *account) error {
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
		return r.lookup(ctx, a)
	case <-ctx.Done():
		return ctxErr(ctx, "user "+a.user)
	}
}

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
