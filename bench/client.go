package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/smsactivate"
)

// client is the load generator's connection pool to one endpoint. It never
// resends a request on its own (LIBRARIES.md §0.1): a retry would hide an
// error and, for getNumber, buy twice.
type client struct {
	hc      *fasthttp.HostClient
	ep      endpoint
	host    string
	timeout time.Duration
	hardEnd time.Time // no request outlives this instant; one cut here is neither ok nor an error
}

// newClient opens a pool of at most conns connections to ep. Callers past
// conns wait for a free one (open loop), and that wait is part of their
// latency.
func newClient(ep endpoint, conns int, timeout time.Duration, hardEnd time.Time) (*client, error) {
	u, err := url.Parse(ep.base)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s URL: %w", ep.name, err)
	}
	hc := &fasthttp.HostClient{
		Addr:                      hostPort(u),
		IsTLS:                     u.Scheme == "https",
		Name:                      "smsgate-bench",
		MaxConns:                  conns,
		MaxConnWaitTimeout:        timeout,
		MaxIdemponentCallAttempts: 1,
		MaxIdleConnDuration:       time.Minute,
		ReadBufferSize:            16 << 10,
	}
	return &client{hc: hc, ep: ep, host: u.Host, timeout: timeout, hardEnd: hardEnd}, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// do sends req. cut is true when the run's end, not the request timeout,
// stopped it.
func (c *client) do(req *fasthttp.Request, resp *fasthttp.Response) (cut bool, err error) {
	req.Header.SetHost(c.host)
	deadline := time.Now().Add(c.timeout)
	capped := false
	if !c.hardEnd.IsZero() && c.hardEnd.Before(deadline) {
		deadline, capped = c.hardEnd, true
	}
	err = c.hc.DoDeadline(req, resp, deadline)
	return capped && errors.Is(err, fasthttp.ErrTimeout), err
}

// close drops idle connections.
func (c *client) close() { c.hc.CloseIdleConnections() }

// transportKind names a transport error in a few words, so errors group.
func transportKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connection"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF):
		return "connection closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return "transport: " + s
}

// bodyKind names an unexpected answer: its status and first token.
func bodyKind(status int, body []byte) string {
	tok := body
	if i := bytes.IndexAny(tok, ":\n"); i >= 0 {
		tok = tok[:i]
	}
	if len(tok) > 40 {
		tok = tok[:40]
	}
	if status != fasthttp.StatusOK {
		return fmt.Sprintf("HTTP %d %s", status, tok)
	}
	return string(tok)
}

// legacyCaller sends handler-API requests for one worker, reusing its
// request, response and URI buffer.
type legacyCaller struct {
	c      *client
	prefix []byte // path?api_key=…&action=
	uri    []byte
	req    fasthttp.Request
	resp   fasthttp.Response
}

func newLegacyCaller(c *client) *legacyCaller {
	p := []byte(smsactivate.Path + "?api_key=" + url.QueryEscape(c.ep.key) + "&action=")
	return &legacyCaller{c: c, prefix: p}
}

// answer is one request's outcome. body is valid until the caller's next
// request.
type answer struct {
	body   []byte
	status int
	err    error // transport error; nil when an HTTP answer came
	cut    bool  // the run's end stopped it
}

// call sends action with the extra query (already encoded, starting with
// '&' or empty).
func (l *legacyCaller) call(action, query string) answer {
	l.uri = append(append(append(l.uri[:0], l.prefix...), action...), query...)
	return l.send()
}

// callID sends action for order id with more query after it.
func (l *legacyCaller) callID(action string, id int64, more string) answer {
	l.uri = append(append(append(l.uri[:0], l.prefix...), action...), "&id="...)
	l.uri = append(strconv.AppendInt(l.uri, id, 10), more...)
	return l.send()
}

func (l *legacyCaller) send() answer {
	l.req.Reset()
	l.req.SetRequestURIBytes(l.uri)
	l.resp.Reset()
	cut, err := l.c.do(&l.req, &l.resp)
	if err != nil {
		return answer{err: err, cut: cut}
	}
	return answer{body: l.resp.Body(), status: l.resp.StatusCode()}
}

// jsonCaller sends unified-API POSTs for one worker.
type jsonCaller struct {
	c    *client
	auth string
	req  fasthttp.Request
	resp fasthttp.Response
}

func newJSONCaller(c *client) *jsonCaller {
	return &jsonCaller{c: c, auth: "Bearer " + c.ep.key}
}

// post sends body to path.
func (j *jsonCaller) post(path string, body []byte) answer {
	j.req.Reset()
	j.req.SetRequestURI(path)
	j.req.Header.SetMethod(fasthttp.MethodPost)
	j.req.Header.SetContentType("application/json")
	j.req.Header.Set("Authorization", j.auth)
	j.req.SetBody(body)
	j.resp.Reset()
	cut, err := j.c.do(&j.req, &j.resp)
	if err != nil {
		return answer{err: err, cut: cut}
	}
	return answer{body: j.resp.Body(), status: j.resp.StatusCode()}
}
