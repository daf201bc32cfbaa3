package gateway

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/adapters/smsactivate"
)

// Server is the fasthttp front end over a Gateway.
type Server struct {
	g      *Gateway
	legacy *smsactivate.Server
	srv    *fasthttp.Server
	ready  atomic.Bool
}

// NewServer builds the front end; Serve starts it.
func NewServer(g *Gateway) *Server {
	s := &Server{g: g}
	s.legacy = &smsactivate.Server{Backend: legacy{g}, Dialect: smsactivate.Classic, Timeout: g.cfg.Server.RequestTimeout}
	sc := g.cfg.Server
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "smsgate",
		ReadTimeout:           sc.ReadTimeout,
		WriteTimeout:          sc.WriteTimeout,
		IdleTimeout:           sc.IdleTimeout,
		MaxRequestBodySize:    sc.MaxBodyBytes,
		NoDefaultServerHeader: true,
		// Keep request contents (and so api_key) out of fasthttp's own logs.
		SecureErrorLogMessage:        true,
		DisablePreParseMultipartForm: true,
		Logger:                       zapPrintf{g.log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString("bad request")
		},
	}
	return s
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
		s.legacy.Handle(ctx)
		s.g.metrics.request("legacy", legacyAction(ctx), smsactivate.Result(ctx.Response.Body()))
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
			s.unified(ctx, path)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("not found")
	}
}

// legacyAction is the request's action as a metric label: known actions
// only, so a client cannot grow the label set.
func legacyAction(ctx *fasthttp.RequestCtx) string {
	a := ctx.QueryArgs().Peek("action")
	if a == nil {
		a = ctx.PostArgs().Peek("action")
	}
	if _, ok := knownActions[string(a)]; ok {
		return string(a)
	}
	return "other"
}

var knownActions = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, a := range smsactivate.Actions() {
		m[a] = struct{}{}
	}
	return m
}()

// Serve answers on ln until Shutdown; /healthz turns 200 once it serves.
func (s *Server) Serve(ln net.Listener) error {
	s.ready.Store(true)
	return s.srv.Serve(ln)
}

// Shutdown stops accepting, drains in-flight requests within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	return s.srv.ShutdownWithContext(ctx)
}

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.g.cfg.Server.Listen)
}
