package skinkit_test

import (
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/simulator"
	"smsgate/adapters/skinkit"
)

func TestRouteCountsUnderNameOrUnknown(t *testing.T) {
	m := simulator.New(simulator.Config{})
	routes := skinkit.Routes[int]{"getBalance": 1}
	if h, ok := routes.Route(m, "getBalance"); !ok || h != 1 {
		t.Fatalf("getBalance routed to %v, %v", h, ok)
	}
	// A name with no route, and no name at all, count as unknown: a
	// scanner's guesses must not show up as methods in the call counts.
	for _, name := range []string{"getBalances", ""} {
		if _, ok := routes.Route(m, name); ok {
			t.Fatalf("%q routed", name)
		}
	}
	if got := m.Calls("getBalance"); got != 1 {
		t.Fatalf("getBalance counted %d; want 1", got)
	}
	if got := m.Calls(skinkit.Unknown); got != 2 {
		t.Fatalf("unknown counted %d; want 2", got)
	}
	if got := m.Calls("getBalances"); got != 0 {
		t.Fatalf("an unrouted name was counted under itself: %d", got)
	}
}

func TestSideUpdateIsAtomic(t *testing.T) {
	var polls skinkit.Side[int64, int]
	if polls.Get(7) != 0 {
		t.Fatal("zero Side has state")
	}
	const n = 50
	var wg sync.WaitGroup
	seen := make([]bool, n)
	var mu sync.Mutex
	for range n {
		wg.Go(func() {
			before := polls.Update(7, func(v int) int { return v + 1 })
			mu.Lock()
			defer mu.Unlock()
			if seen[before] {
				t.Errorf("two updates saw %d before them", before)
			}
			seen[before] = true
		})
	}
	wg.Wait()
	if got := polls.Get(7); got != n {
		t.Fatalf("after %d updates: %d", n, got)
	}
	polls.Set(7, -1)
	if got := polls.Get(7); got != -1 {
		t.Fatalf("Set then Get: %d", got)
	}
}

func TestArgAndWriters(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/x?a=query")
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
	ctx.Request.SetBodyString("a=form&b=form")
	if got := skinkit.Arg(&ctx, "a"); got != "query" {
		t.Fatalf("a = %q; want the query's", got)
	}
	if got := skinkit.Arg(&ctx, "b"); got != "form" {
		t.Fatalf("b = %q; want the form's", got)
	}
	skinkit.JSON(&ctx, 402, map[string]string{"error": "NO_BALANCE"})
	if ctx.Response.StatusCode() != 402 || string(ctx.Response.Body()) != `{"error":"NO_BALANCE"}` || string(ctx.Response.Header.ContentType()) != "application/json" {
		t.Fatalf("JSON wrote %d %q", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// An unencodable value is the skin's bug: a 500, never a half answer.
	skinkit.JSON(&ctx, 200, func() {})
	if ctx.Response.StatusCode() != 500 {
		t.Fatalf("unencodable answered %d", ctx.Response.StatusCode())
	}
	skinkit.NotFound(&ctx)
	if ctx.Response.StatusCode() != 404 || string(ctx.Response.Body()) != "Not Found" {
		t.Fatalf("NotFound wrote %d %q", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
