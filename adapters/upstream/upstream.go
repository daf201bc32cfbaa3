// Package upstream is the HTTP plumbing every platform adapter shares: a
// fasthttp HostClient set up so it never resends a request on its own, a
// per-call deadline from the context, the classification of transport
// failures into canonical errors (never sent vs. outcome unknown), and
// lenient readers for the values platforms put in their answers
// (decode.go). The platform's key never appears in an error it returns.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
)

// Client is one platform's connection pool.
type Client struct {
	name    string // for error messages: the platform code
	base    *url.URL
	hc      *fasthttp.HostClient
	timeout time.Duration
}

// Options configure a Client.
type Options struct {
	Name     string        // platform code, used in errors
	BaseURL  string        // scheme://host[:port][/prefix]
	Timeout  time.Duration // per call when ctx has no earlier deadline; default 10s
	MaxConns int           // default 64
}

// New builds a Client for BaseURL.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: cannot use base url %q: want http(s)://host", o.Name, o.BaseURL)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	hc := &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		Name:  "smsgate",
		// fasthttp resends GETs up to 5 times by default, even after a read
		// timeout; a resent getNumber buys a second number. One attempt only:
		// retries and failover are the router's decision.
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		MaxConns:                  o.MaxConns,
		MaxConnWaitTimeout:        100 * time.Millisecond,
		MaxIdleConnDuration:       5 * time.Second,
		// A list of active orders (list polling) is one answer for every
		// order: ~370 B each once it has a code (SMS-Activate's classic
		// list, 37 MB at 100,000 orders), so 64 MiB holds ~180,000.
		MaxResponseBodySize:      64 << 20,
		ReadTimeout:              o.Timeout,
		WriteTimeout:             o.Timeout,
		DialDualStack:            true,
		NoDefaultUserAgentHeader: true,
	}
	return &Client{name: o.Name, base: u, hc: hc, timeout: o.Timeout}, nil
}

// Call is one request to send.
type Call struct {
	Method string            // default GET
	Path   string            // appended to the base URL's path
	Query  map[string]string // query parameters
	Header map[string]string
	Body   []byte // sent as is; set ContentType with it
	// ContentType of Body, e.g. "application/x-www-form-urlencoded".
	ContentType string
	// Mutating marks a call whose effect may have happened even though its
	// answer was lost: such failures become adapters.ErrOutcomeUnknown.
	Mutating bool
	// Op names the operation in errors ("buy", "balance").
	Op string
	// Anonymous keeps the key off a call that needs none (public price
	// lists), for Account.Do.
	Anonymous bool
}

// Response is a finished call; Body is a private copy.
type Response struct {
	Status int
	Body   []byte
	Header map[string]string // only Content-Type and Retry-After are kept
}

// Do sends c within ctx's deadline (or the client timeout, whichever is
// sooner). Transport failures come back as adapters.ErrUnavailable (never
// sent: dial errors, pool exhaustion) or adapters.ErrOutcomeUnknown (sent,
// answer lost) for mutating calls. HTTP statuses are not judged here.
func (c *Client) Do(ctx context.Context, call Call) (Response, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + call.Path
	if len(call.Query) > 0 {
		q := u.Query()
		for k, v := range call.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	req.SetRequestURI(u.String())
	req.Header.SetHost(c.base.Host)
	method := call.Method
	if method == "" {
		method = fasthttp.MethodGet
	}
	req.Header.SetMethod(method)
	for k, v := range call.Header {
		req.Header.Set(k, v)
	}
	if call.Body != nil {
		req.SetBody(call.Body)
		if call.ContentType != "" {
			req.Header.SetContentType(call.ContentType)
		}
	}
	deadline := deadline(ctx, c.timeout)
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", c.name, call.Op, err)
	}
	err := c.hc.DoDeadline(req, resp, deadline)
	if err != nil {
		return Response{}, c.classify(call, err)
	}
	out := Response{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...)}
	out.Header = map[string]string{
		"Content-Type": string(resp.Header.ContentType()),
		"Retry-After":  string(resp.Header.Peek("Retry-After")),
	}
	return out, nil
}

// deadline is ctx's deadline, or timeout from now when that is sooner.
func deadline(ctx context.Context, timeout time.Duration) time.Time {
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// WithReserve is for a call that polls until something shows up (a number
// assigned late) and must undo its effect if nothing does: it derives from
// ctx a context that ends early enough to leave reserve for the undo — a
// quarter of the time left, 50 ms to 2 s. The time left is ctx's, or
// timeout when ctx has no earlier deadline.
func WithReserve(ctx context.Context, timeout time.Duration) (pctx context.Context, cancel context.CancelFunc, reserve time.Duration) {
	d := deadline(ctx, timeout)
	reserve = min(max(time.Until(d)/4, 50*time.Millisecond), 2*time.Second)
	pctx, cancel = context.WithDeadline(ctx, d.Add(-reserve))
	return pctx, cancel, reserve
}

// classify turns a transport error into a canonical one. The error text
// fasthttp gives may contain the request URI (with the key): drop it.
func (c *Client) classify(call Call, err error) error {
	neverSent := errors.Is(err, fasthttp.ErrNoFreeConns) || errors.Is(err, fasthttp.ErrDialTimeout)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		neverSent = true
	}
	kind := "transport error"
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		kind = "timeout"
	case neverSent:
		kind = "cannot connect"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		kind = "connection closed"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		kind = "body too large"
	}
	if call.Mutating && !neverSent {
		return fmt.Errorf("%s %s: %s: %w", c.name, call.Op, kind, adapters.ErrOutcomeUnknown)
	}
	return fmt.Errorf("%s %s: %s: %w", c.name, call.Op, kind, adapters.ErrUnavailable)
}

// Unavailable wraps an HTTP status or body problem as
// adapters.ErrUnavailable. An answer that arrived, even a 5xx or an HTML
// error page, means a proxy or the platform refused the request: it is a
// platform failure, not an unknown outcome.
func (c *Client) Unavailable(call Call, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s: %w", c.name, call.Op, fmt.Sprintf(format, args...), adapters.ErrUnavailable)
}

// Readable refuses a 200 body no API sends on purpose: an empty one, or an
// HTML page (a CDN's or proxy's error). Either is the platform failing.
func (c *Client) Readable(call Call, body []byte) error {
	if len(body) == 0 {
		return c.Unavailable(call, "empty body")
	}
	if LooksHTML(body) {
		return c.Unavailable(call, "html body %q", Snippet(body))
	}
	return nil
}

// Snippet shortens a body for an error message (never more than 64 bytes,
// printable ASCII only).
func Snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 64 {
		b = b[:64]
	}
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch < 0x20 || ch > 0x7e {
			ch = '?'
		}
		out = append(out, ch)
	}
	return string(out)
}

// LooksHTML reports whether a body is an HTML page (a CDN or proxy error),
// which no SMS API answers on purpose.
func LooksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}
