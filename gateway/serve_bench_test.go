package gateway_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchLegacy loads one legacy URL through the real HTTP server (TCP on
// loopback, keep-alive connections) and reports requests/s; allocs/op
// includes the client's.
func benchLegacy(b *testing.B, e *env, query, wantPrefix string) {
	hc := &fasthttp.HostClient{Addr: strings.TrimPrefix(e.url, "http://"), MaxConns: 64, MaxIdemponentCallAttempts: 1}
	uri := e.url + "/stubs/handler_api.php?" + query
	var bad atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(uri)
		for pb.Next() {
			if err := hc.Do(req, resp); err != nil || !strings.HasPrefix(string(resp.Body()), wantPrefix) {
				bad.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if bad.Load() > 0 {
		b.Fatalf("%d bad answers", bad.Load())
	}
}

// BenchmarkLegacyCachedGetPrices: getPrices answered from the offers cache.
func BenchmarkLegacyCachedGetPrices(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	benchLegacy(b, e, "api_key="+keyA+"&action=getPrices&service=tg&country=187", `{"187":`)
}

// BenchmarkLegacyGetStatus: getStatus answered from the ledger (through
// the order cache), never the upstream.
func BenchmarkLegacyGetStatus(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	benchLegacy(b, e, "api_key="+keyA+"&action=getStatus&id="+id, "STATUS_WAIT_CODE")
}

// BenchmarkHandlerGetStatus: the server's own cost of a getStatus, no
// network: allocations per request of the handler alone.
func BenchmarkHandlerGetStatus(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/stubs/handler_api.php?api_key=" + keyA + "&action=getStatus&id=" + id)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
	if string(ctx.Response.Body()) != "STATUS_WAIT_CODE" {
		b.Fatalf("answer %q", ctx.Response.Body())
	}
}

// BenchmarkHandlerGetPrices: the handler's own cost of a cached getPrices.
func BenchmarkHandlerGetPrices(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/stubs/handler_api.php?api_key=" + keyA + "&action=getPrices&service=tg&country=187")
	h(&ctx)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
}
