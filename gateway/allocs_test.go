//go:build !race

package gateway_test

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// allocsGetStatusBefore is what one legacy getStatus allocated in the
// handler before the gateway was split (BenchmarkHandlerGetStatus on the
// untouched code: 13 allocs/op). The split must not cost more.
const allocsGetStatusBefore = 13

// TestGetStatusAllocsAndOneHash: a legacy getStatus, served by the handler
// alone, allocates no more than before and hashes the tenant key once.
func TestGetStatusAllocsAndOneHash(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/stubs/handler_api.php?api_key=" + keyA + "&action=getStatus&id=" + id)
	const runs = 200
	before := e.g.Tenants().Hashes()
	allocs := testing.AllocsPerRun(runs, func() {
		ctx.Response.Reset()
		h(&ctx)
	})
	if got := string(ctx.Response.Body()); got != "STATUS_WAIT_CODE" {
		t.Fatalf("getStatus = %q", got)
	}
	t.Logf("getStatus: %.1f allocs/request (before the split: %d)", allocs, allocsGetStatusBefore)
	if allocs > allocsGetStatusBefore {
		t.Errorf("getStatus allocates %.1f per request; before the split %d", allocs, allocsGetStatusBefore)
	}
	// AllocsPerRun runs f once more to warm up.
	if n := e.g.Tenants().Hashes() - before; n != runs+1 {
		t.Errorf("%d key hashes for %d requests; want one each", n, runs+1)
	}
}
