package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/adapters/smsactivate"
	"smsgate/gateway/conns"
	"smsgate/gateway/dashboard"
	"smsgate/gateway/legacy"
	"smsgate/gateway/unified"
)

// Server is the fasthttp front end over a Gateway.
type Server struct {
	api    *unified.API
	g      *Gateway
	legacy *legacy.Front
	srv    *fasthttp.Server
	ready  atomic.Bool
	ln     atomic.Pointer[conns.Listener] // the guarded listener Serve runs on
}

// NewServer builds the front end; Serve starts it.
func NewServer(g *Gateway) *Server {
	s := &Server{g: g, api: g.unifiedAPI(), legacy: g.legacyFront()}
	sc := g.cfg.Server
	s.srv = &fasthttp.Server{
		Handler: s.handle,
		Name:    "smsgate",
		// fasthttp's ReadTimeout runs from a new connection's accept (and
		// from the first byte of a kept-alive request) to the end of the
		// headers: that is the header deadline. The body then gets
		// read_timeout of its own (HeaderReceived); a request without a
		// body keeps the header deadline, which saves a clock read and a
		// deadline reset on every GET.
		ReadTimeout: sc.HeaderTimeout,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if h.ContentLength() == 0 {
				return fasthttp.RequestConfig{}
			}
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
	if string(ctx.Path()) == smsactivate.Path {
		s.legacy.Handle(ctx) // the hot path: no copy of the path
		return
	}
	path := string(ctx.Path())
	switch path {
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
		if dashboard.Owns(path) {
			dashboard.Serve(ctx, path)
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
		// fasthttp sets up to three deadlines per request; coarse ones
		// cost a lock and a store instead of a runtime timer each. The
		// configured timeouts are seconds: firing up to 100 ms late
		// changes nothing a client can exploit.
		DeadlineTick: 100 * time.Millisecond,
	})
	s.ln.Store(gl)
	s.ready.Store(true)
	return s.srv.Serve(gl)
}

// Shutdown stops accepting, drains in-flight requests within ctx, then
// closes the legacy read-answer cache (and its goroutines).
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	// Event streams never go idle on their own: end them first, or the
	// drain would wait for them until ctx ends.
	s.g.streams.Close()
	err := s.srv.ShutdownWithContext(ctx)
	s.legacy.Close()
	return err
}

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.g.cfg.Server.Listen)
}
