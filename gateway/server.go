package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/adapters/smsactivate"
	"smsgate/gateway/conns"
	"smsgate/gateway/market"
	"smsgate/gateway/tenant"
	"smsgate/gateway/unified"
)

// Server is the fasthttp front end over a Gateway.
type Server struct {
	api     *unified.API
	answers *ristretto.Cache[string, cachedAnswer] // encoded legacy read answers (bytes)
	g       *Gateway
	legacy  *legacyCalls
	srv     *fasthttp.Server
	ready   atomic.Bool
	ln      atomic.Pointer[conns.Listener] // the guarded listener Serve runs on
}

// NewServer builds the front end; Serve starts it.
func NewServer(g *Gateway) *Server {
	answers, err := ristretto.NewCache(&ristretto.Config[string, cachedAnswer]{
		NumCounters: 100_000, MaxCost: 64 << 20, BufferItems: 64, // cost: body bytes, 64 MiB
	})
	if err != nil {
		panic("BUG: ristretto config: " + err.Error())
	}
	s := &Server{g: g, answers: answers, api: g.unifiedAPI()}
	s.legacy = newLegacyCalls(g, smsactivate.Server{Dialect: smsactivate.Classic, Timeout: g.cfg.Server.RequestTimeout})
	sc := g.cfg.Server
	s.srv = &fasthttp.Server{
		Handler: s.handle,
		Name:    "smsgate",
		// fasthttp's ReadTimeout runs from a new connection's accept (and
		// from the first byte of a kept-alive request) to the end of the
		// headers: that is the header deadline. The body then gets
		// read_timeout of its own (HeaderReceived).
		ReadTimeout: sc.HeaderTimeout,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: sc.ReadTimeout}
		},
		WriteTimeout:          sc.WriteTimeout,
		IdleTimeout:           sc.IdleTimeout,
		MaxRequestBodySize:    sc.MaxBodyBytes,
		NoDefaultServerHeader: true,
		// Keep request contents (and so api_key) out of fasthttp's own logs.
		SecureErrorLogMessage:        true,
		DisablePreParseMultipartForm: true,
		Logger:                       zapPrintf{g.log},
		ErrorHandler:                 requestError,
	}
	g.metrics.AcceptErrors() // shown from the start, at 0
	g.metrics.Gauge("smsgate_conns_open", func() float64 {
		if l := s.ln.Load(); l != nil {
			return float64(l.Open())
		}
		return 0
	})
	return s
}

// requestError answers a request fasthttp could not read: 413 for a body
// over max_body_bytes, else 400, in the protocol of the path asked for.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := fasthttp.StatusBadRequest, "bad request"
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		status, msg = fasthttp.StatusRequestEntityTooLarge, "request body too large"
	}
	if bytes.HasPrefix(ctx.Path(), []byte("/api/sms/")) {
		unified.RequestError(ctx, status, msg)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(msg)
}

// zapPrintf routes fasthttp's log lines to zap (they carry no request URI
// with SecureErrorLogMessage set).
type zapPrintf struct{ l *zap.Logger }

func (z zapPrintf) Printf(format string, args ...any) { z.l.Sugar().Debugf(format, args...) }

// Handler is the request router, for tests that serve it themselves.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		// fasthttp has no panic recovery: a bug must cost one request, not
		// the process, and must not show a stack to the client.
		if r := recover(); r != nil {
			s.g.log.Error("panic in handler", zap.Any("panic", r), zap.ByteString("path", ctx.Path()), zap.Stack("stack"))
			ctx.ResetBody()
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetBodyString(smsactivate.TokErrorSQL)
		}
	}()
	path := string(ctx.Path())
	switch path {
	case smsactivate.Path:
		if !ctx.IsGet() && !ctx.IsPost() {
			// The handler API is GET (and form POST) only.
			ctx.Response.Header.Set("Allow", "GET, POST")
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("method not allowed")
			s.g.metrics.Request("legacy", "other", "method_not_allowed")
			return
		}
		action := legacyAction(ctx)
		// The tenant is looked up once here (one hash) for the rate limit,
		// the read cache and the protocol handler, which gets the handle;
		// an unknown key goes on to the protocol handler (BAD_KEY).
		t, known := s.g.tenants.ByKeyBytes(legacyArgBytes(ctx, "api_key"))
		if known && !s.legacyRateOK(ctx, t) {
			s.g.metrics.Request("legacy", action, TokTooManyRequests)
			return
		}
		readKey := ""
		if known && readActions[action] {
			readKey = t.Name + "\x00" + action + "\x00" + legacyArg(ctx, "service") + "\x00" + legacyArg(ctx, "country") +
				"\x00" + legacyArg(ctx, "lang") + "\x00" + legacyArg(ctx, "freePrice")
			if s.servedFromCache(ctx, readKey) {
				s.g.metrics.Request("legacy", action, "ok")
				return
			}
		}
		s.legacy.serve(ctx, t)
		if readKey != "" {
			s.keepReadAnswer(ctx, readKey)
		}
		s.g.metrics.Request("legacy", action, smsactivate.Result(ctx.Response.Body()))
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4")
		s.g.metrics.Write(ctx)
	case "/healthz":
		if !s.ready.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("starting")
			return
		}
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok")
	default:
		if strings.HasPrefix(path, "/api/sms/") {
			s.api.Handle(ctx, path)
			return
		}
		if kind, ok := strings.CutPrefix(path, "/webhooks/"); ok && kind != "" && !strings.Contains(kind, "/") {
			s.g.pools.Webhook(ctx, kind)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("not found")
	}
}

// readActions are the legacy actions whose answer depends only on the
// tenant and the request's filters (no order, no purchase): their encoded
// answers are reused for a few seconds, since clients repeat them
// constantly and each is a merge and encoding of thousands of offers.
var readActions = map[string]bool{
	"getPrices": true, "getCountries": true, "getServicesList": true, "getNumbersStatus": true,
	"getTopCountriesByService": true, "getOperators": true,
}

type cachedAnswer struct {
	body    []byte // never mutated once cached
	ctype   string
	expires time.Time
}

// legacyArg reads a parameter from the query, then the form body (a copy).
func legacyArg(ctx *fasthttp.RequestCtx, k string) string { return string(legacyArgBytes(ctx, k)) }

// legacyArgBytes is legacyArg without the copy: valid only during the
// request. fasthttp parses the query and form once per request; every
// reader after the first peeks at the parsed arguments.
func legacyArgBytes(ctx *fasthttp.RequestCtx, k string) []byte {
	if v := ctx.QueryArgs().Peek(k); v != nil {
		return v
	}
	if ctx.IsPost() {
		return ctx.PostArgs().Peek(k)
	}
	return nil
}

func (s *Server) servedFromCache(ctx *fasthttp.RequestCtx, key string) bool {
	a, ok := s.answers.Get(key)
	if !ok || s.g.now().After(a.expires) {
		return false
	}
	ctx.SetContentType(a.ctype)
	ctx.Response.SetBodyRaw(a.body) // shared, read-only
	return true
}

func (s *Server) keepReadAnswer(ctx *fasthttp.RequestCtx, key string) {
	if ctx.Response.StatusCode() != fasthttp.StatusOK {
		return
	}
	body := ctx.Response.Body()
	if smsactivate.Result(body) != "ok" {
		return // errors (upstreams down) are not kept
	}
	s.answers.SetWithTTL(key, cachedAnswer{body: append([]byte(nil), body...), ctype: string(ctx.Response.Header.ContentType()),
		expires: s.g.now().Add(market.MergedTTL)}, int64(len(body)), market.MergedTTL)
}

// TokTooManyRequests answers a legacy request over the tenant's rate. The
// handler API documents no such token (CHANNELS_LIMIT is about active
// orders); this one comes with HTTP 429 and Retry-After, which clients that
// read only the body still see as an error token.
const TokTooManyRequests = "TOO_MANY_REQUESTS"

// legacyRateOK spends a token of the request's tenant; when none is left
// it answers TOO_MANY_REQUESTS.
func (s *Server) legacyRateOK(ctx *fasthttp.RequestCtx, t *tenant.Tenant) bool {
	allowed, wait := s.g.limiter.Allow(t)
	if allowed {
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
	ctx.Response.Header.Set("Retry-After", tenant.RetryAfter(wait))
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(TokTooManyRequests)
	return false
}

// legacyAction is the request's action as a metric label: known actions
// only, so a client cannot grow the label set.
func legacyAction(ctx *fasthttp.RequestCtx) string {
	a := ctx.QueryArgs().Peek("action")
	if a == nil && ctx.IsPost() {
		a = ctx.PostArgs().Peek("action")
	}
	if name, ok := knownActions[string(a)]; ok {
		return name // the map's own string: no allocation
	}
	return "other"
}

var knownActions = func() map[string]string {
	m := map[string]string{}
	for _, a := range smsactivate.Actions() {
		m[a] = a
	}
	return m
}()

// Serve answers on ln until Shutdown; /healthz turns 200 once it serves.
// ln is guarded (package conns): connection limits, and accept errors that
// back off rather than end the server.
func (s *Server) Serve(ln net.Listener) error {
	sc := s.g.cfg.Server
	m, log := s.g.metrics, s.g.log
	gl := conns.Wrap(ln, conns.Options{
		MaxConns:      sc.MaxConns,
		MaxConnsPerIP: sc.MaxConnsPerIP,
		OnAcceptError: func(err error, first bool) {
			m.AcceptError()
			if first {
				log.Warn("cannot accept connections; backing off and retrying", zap.Error(err))
			}
		},
		OnBurstEnd: func(n int) { log.Info("accepting connections again", zap.Int("accept_errors", n)) },
		OnReject:   m.ConnRejected,
	})
	s.ln.Store(gl)
	s.ready.Store(true)
	return s.srv.Serve(gl)
}

// Shutdown stops accepting, drains in-flight requests within ctx, then
// closes the read-answer cache (and its goroutines).
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	err := s.srv.ShutdownWithContext(ctx)
	s.answers.Close()
	return err
}

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.g.cfg.Server.Listen)
}
