//go:build !race

package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/config"
)

// The hot legacy reads answer with no allocation per request, served by
// the handler alone (no network): clients poll getStatus and getBalance
// constantly. Before this was enforced a getStatus cost 13 allocations
// (10 after the gateway was split) and a getBalance more (a context, the
// fan-out's goroutines, a ledger read for a wallet tenant).

// handlerAllocs serves query through the handler alone and returns the
// allocations per request (AllocsPerRun's average over runs) and the
// last answer.
func handlerAllocs(t *testing.T, e *env, query string, runs int) (float64, string) {
	t.Helper()
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/stubs/handler_api.php?" + query)
	allocs := testing.AllocsPerRun(runs, func() {
		ctx.Response.Reset()
		h(&ctx)
	})
	return allocs, string(ctx.Response.Body())
}

// zeroAllocs serves query and fails unless every answer is want and no
// request allocated.
func zeroAllocs(t *testing.T, e *env, what, query, want string) {
	t.Helper()
	// Once outside the count: a first read may fill a cache.
	if _, got := handlerAllocs(t, e, query, 1); got != want {
		t.Fatalf("%s = %q; want %q", what, got, want)
	}
	allocs, got := handlerAllocs(t, e, query, 200)
	if got != want {
		t.Fatalf("%s = %q; want %q", what, got, want)
	}
	if allocs != 0 {
		t.Errorf("%s allocates %.1f per request; want 0", what, allocs)
	}
}

// TestGetStatusAllocsAndOneHash: a getStatus of a waiting order allocates
// nothing and hashes the tenant key once.
func TestGetStatusAllocsAndOneHash(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	before := e.g.Tenants().Hashes()
	const runs = 200
	allocs, got := handlerAllocs(t, e, "api_key="+keyA+"&action=getStatus&id="+id, runs)
	if got != "STATUS_WAIT_CODE" {
		t.Fatalf("getStatus = %q", got)
	}
	if allocs != 0 {
		t.Errorf("getStatus allocates %.1f per request; want 0", allocs)
	}
	// AllocsPerRun runs f once more to warm up.
	if n := e.g.Tenants().Hashes() - before; n != runs+1 {
		t.Errorf("%d key hashes for %d requests; want one each", n, runs+1)
	}
}

// TestGetStatusCodeAllocs: getStatus of an order with a code
// (STATUS_OK:code), after another SMS was asked for (STATUS_WAIT_RETRY:
// code) and of a cancelled order (STATUS_CANCEL) allocates nothing.
func TestGetStatusCodeAllocs(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	e.deliver(id)
	e.eventually("a code", func() bool {
		_, b := e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(b, "STATUS_OK:")
	})
	_, ok := e.legacy(keyA, "action", "getStatus", "id", id)
	code := strings.TrimPrefix(ok, "STATUS_OK:")
	q := "api_key=" + keyA + "&action=getStatus&id=" + id
	zeroAllocs(t, e, "getStatus with a code", q, "STATUS_OK:"+code)

	if _, b := e.legacy(keyA, "action", "setStatus", "id", id, "status", "3"); b != "ACCESS_RETRY_GET" {
		t.Fatalf("setStatus 3 = %q", b)
	}
	zeroAllocs(t, e, "getStatus waiting for another code", q, "STATUS_WAIT_RETRY:"+code)

	other := e.buy(keyA, "service", "tg", "country", "187")
	e.clock.Advance(2 * time.Minute) // past the early-cancel guard
	if _, b := e.legacy(keyA, "action", "setStatus", "id", other, "status", "8"); b != "ACCESS_CANCEL" {
		t.Fatalf("setStatus 8 = %q", b)
	}
	zeroAllocs(t, e, "getStatus of a cancelled order", "api_key="+keyA+"&action=getStatus&id="+other, "STATUS_CANCEL")
}

// TestGetBalanceAllocs: getBalance of an operator-mode tenant (the sum of
// the platforms' cached balances) allocates nothing.
func TestGetBalanceAllocs(t *testing.T) {
	e := newEnvWith(t, envOptions{codeDelay: -1})
	want := e.balance(keyA)
	zeroAllocs(t, e, "getBalance", "api_key="+keyA+"&action=getBalance", want)
}

// TestGetBalanceWalletAllocs: getBalance of a wallet tenant (its
// available money, read within orders.WalletLag) allocates nothing.
func TestGetBalanceWalletAllocs(t *testing.T) {
	e := walletEnv(t, envOptions{codeDelay: -1})
	e.fund("a", "12.34")
	zeroAllocs(t, e, "getBalance (wallet)", "api_key="+keyA+"&action=getBalance", "ACCESS_BALANCE:12.34")
}

// benchHandler measures one legacy query served by the handler alone.
func benchHandler(b *testing.B, e *env, query, wantPrefix string) {
	h := e.srv.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/stubs/handler_api.php?" + query)
	h(&ctx)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
	if !strings.HasPrefix(string(ctx.Response.Body()), wantPrefix) {
		b.Fatalf("answer %q; want %s…", ctx.Response.Body(), wantPrefix)
	}
}

// BenchmarkHandlerGetStatusCode: getStatus of an order with a code.
func BenchmarkHandlerGetStatusCode(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	id := e.buy(keyA, "service", "tg", "country", "187")
	e.deliver(id)
	e.eventually("a code", func() bool {
		_, s := e.legacy(keyA, "action", "getStatus", "id", id)
		return strings.HasPrefix(s, "STATUS_OK:")
	})
	benchHandler(b, e, "api_key="+keyA+"&action=getStatus&id="+id, "STATUS_OK:")
}

// BenchmarkHandlerGetBalance: getBalance of an operator-mode tenant.
func BenchmarkHandlerGetBalance(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1})
	benchHandler(b, e, "api_key="+keyA+"&action=getBalance", "ACCESS_BALANCE:")
}

// BenchmarkHandlerGetBalanceWallet: getBalance of a wallet tenant.
func BenchmarkHandlerGetBalanceWallet(b *testing.B) {
	e := newEnvWith(b, envOptions{codeDelay: -1, config: func(c *config.Config) {
		c.Admin.Key = config.Secret(adminKey)
		c.Tenants[0].Wallet = true
	}})
	e.fund("a", "12.34")
	benchHandler(b, e, "api_key="+keyA+"&action=getBalance", "ACCESS_BALANCE:12.34")
}
