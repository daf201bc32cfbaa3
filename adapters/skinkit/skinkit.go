// Package skinkit is what the protocol skins (simulated upstreams) share:
// routing a request to the handler of its method, counted in the market;
// per-order side state kept beside the market's orders; and the standard
// answer writers. A skin keeps only what its protocol says.
package skinkit

import (
	"encoding/json"
	"sync"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/simulator"
)

// Unknown is the name under which a request for no known method is
// counted in the market.
const Unknown = "unknown"

// Routes maps a protocol's method names to what serves them: a handler,
// or a row the skin's dispatcher reads (HTTP method, arity, handler).
type Routes[H any] map[string]H

// Route finds what serves name and counts the call in m, under name when
// it is routed and under Unknown when not. ok is false for a name with no
// route: the skin answers it in its protocol's way.
func (r Routes[H]) Route(m *simulator.Market, name string) (h H, ok bool) {
	h, ok = r[name]
	if !ok {
		m.CountCall(Unknown)
		return h, false
	}
	m.CountCall(name)
	return h, true
}

// Side is per-order state a skin keeps beside the market's orders (polls
// answered, a cancel shown as such), keyed by what the protocol names an
// order by. The zero value is ready; safe for concurrent use.
type Side[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// Get returns the state of k (the zero V when there is none).
func (s *Side[K, V]) Get(k K) V {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

// Set records v for k.
func (s *Side[K, V]) Set(k K, v V) {
	s.Update(k, func(V) V { return v })
}

// Update replaces the state of k with f of it, atomically, and returns
// the state before.
func (s *Side[K, V]) Update(k K, f func(V) V) V {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[K]V{}
	}
	old := s.m[k]
	s.m[k] = f(old)
	return old
}

// Arg reads a parameter from the query, then from a form body (most
// platforms take either). The result is a copy: fasthttp reuses its
// buffers after the handler returns.
func Arg(ctx *fasthttp.RequestCtx, name string) string {
	if v := ctx.QueryArgs().Peek(name); len(v) > 0 {
		return string(v)
	}
	return string(ctx.PostArgs().Peek(name))
}

// Text answers body as plain text with status.
func Text(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// JSON answers v encoded with status; a value that cannot be encoded is
// the skin's bug, answered 500 so a test sees it.
func JSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ctx.Error("cannot encode answer", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// NotFound answers 404 with a plain "Not Found", what web servers in
// front of these APIs say for a path they do not serve.
func NotFound(ctx *fasthttp.RequestCtx) {
	Text(ctx, fasthttp.StatusNotFound, "Not Found")
}
