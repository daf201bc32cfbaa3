package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Faults are the failures a simulated upstream injects in front of its
// protocol skin. The zero value injects nothing.
type Faults struct {
	Latency   time.Duration // added before every answer (real time)
	ErrorRate float64       // fraction of requests answered HTTP 503, 0..1
	Outage    bool          // every connection is closed without an answer
	Garbage   bool          // every answer is an HTML error page with HTTP 200
	// Hang holds the request without answering until the client gives up
	// (bounded by the server's write timeout).
	Hang bool
	// LatencyAfter runs the request, then waits before answering: the
	// platform did the work (a purchase happened) but the client may time
	// out before it hears so.
	LatencyAfter time.Duration
	// TooMany answers HTTP 429 Too Many Requests, with a Retry-After of
	// RetryAfter (whole seconds) when it is set.
	TooMany    bool
	RetryAfter time.Duration
	// Count limits the faults to the next Count requests (0 = every one);
	// then they clear themselves.
	Count int
}

// SetFaults replaces the market's faults.
func (m *Market) SetFaults(f Faults) {
	m.mu.Lock()
	m.faults = f
	m.faultsChangedLocked()
	m.mu.Unlock()
}

// faultsChangedLocked wakes the requests a Hang fault holds.
func (m *Market) faultsChangedLocked() {
	if m.faultsCh != nil {
		close(m.faultsCh)
	}
	m.faultsCh = make(chan struct{})
}

// hang holds a request while the Hang fault lasts (at most 30 s, so a
// test that never clears it does not keep a handler for ever).
func (m *Market) hang() {
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	for {
		m.mu.Lock()
		if m.faultsCh == nil {
			m.faultsCh = make(chan struct{})
		}
		hang, changed := m.faults.Hang, m.faultsCh
		m.mu.Unlock()
		if !hang {
			return
		}
		select {
		case <-changed:
		case <-limit.C:
			return
		}
	}
}

// Faults returns the current faults.
func (m *Market) Faults() Faults {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults
}

// GarbageBody is what a garbage answer carries: a CDN error page, the most
// common non-protocol body a real client meets.
const GarbageBody = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"

// Wrap puts the market's fault injection in front of a skin's handler.
func (m *Market) Wrap(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		m.mu.Lock()
		f := m.faults
		drop := f.ErrorRate > 0 && m.rng.Float64() < f.ErrorRate
		if m.faults.Count > 0 {
			if m.faults.Count--; m.faults.Count == 0 {
				m.faults = Faults{}
				m.faultsChangedLocked()
			}
		}
		m.mu.Unlock()
		if f.Latency > 0 {
			time.Sleep(f.Latency)
		}
		switch {
		case f.Outage:
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) {}) // the server closes c afterwards
		case f.Hang:
			m.hang()
			ctx.SetStatusCode(fasthttp.StatusGatewayTimeout)
		case f.TooMany:
			ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			if f.RetryAfter > 0 {
				ctx.Response.Header.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
			}
			ctx.SetContentType("text/plain")
			ctx.SetBodyString("Too Many Requests")
		case drop:
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetContentType("text/html")
			ctx.SetBodyString("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
		case f.Garbage:
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.SetContentType("text/html")
			ctx.SetBodyString(GarbageBody)
		default:
			h(ctx)
			if f.LatencyAfter > 0 {
				time.Sleep(f.LatencyAfter)
			}
		}
	}
}

// WriteJSON answers 200 with v as a JSON body, as skins answer success. A
// value that does not marshal is the skin's bug: a bare 500.
func WriteJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// Server is a skin served on a loopback port.
type Server struct {
	URL string // "http://127.0.0.1:port"
	ln  net.Listener
	srv *fasthttp.Server
}

// Serve starts h on 127.0.0.1 at a free port.
func Serve(h fasthttp.RequestHandler) (*Server, error) {
	return ServeAddr("127.0.0.1:0", h)
}

// ServeAddr starts h on addr.
func ServeAddr(addr string, h fasthttp.RequestHandler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &fasthttp.Server{
		Handler:               h,
		Name:                  "sim",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           60 * time.Second,
		NoDefaultServerHeader: true,
	}
	go srv.Serve(ln) //nolint:errcheck // returns when Close shuts the listener
	return &Server{URL: "http://" + ln.Addr().String(), ln: ln, srv: srv}, nil
}

// Close stops the server and its open connections.
func (s *Server) Close() error {
	// Close the listener ourselves: Shutdown only closes listeners Serve has
	// registered, and Serve may not have started yet.
	s.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // a hung handler; the listener is closed anyway
	}
	return err
}
