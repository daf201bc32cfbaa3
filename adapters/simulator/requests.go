package simulator

import (
	"maps"

	"github.com/valyala/fasthttp"
)

// RequestsPath is where a simulator server answers its request counts
// (Requests) as a JSON object, beside the protocol it speaks. No platform's
// protocol uses the /_sim/ prefix.
const RequestsPath = "/_sim/requests"

// Requests returns how many requests the market's skin received, by the
// protocol's name for the call (action, method or route; textnow also
// counts per account as "account:<user>"), list calls included. Requests
// a fault answered without reaching the skin are not counted. The map is
// the caller's.
func (m *Market) Requests() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.calls)
}

// Admin serves the simulator's own endpoints (RequestsPath, SeedPath) in
// front of a skin's handler h, which gets every other request; a benchmark
// reads what an out-of-process upstream received, and seeds its orders,
// over HTTP, as tests call Requests and Seed. These calls are not counted
// and no fault applies to them.
func (m *Market) Admin(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch path := string(ctx.Path()); {
		case path == RequestsPath && ctx.IsGet():
			WriteJSON(ctx, m.Requests())
		case path == SeedPath && ctx.IsPost():
			m.serveSeed(ctx)
		default:
			h(ctx)
		}
	}
}
