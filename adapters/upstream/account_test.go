package upstream_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/catalog"
	"smsgate/adapters/upstream"
)

const secret = "s3cr3t-key"

// echo answers with where the key arrived, and quotes the key back in the
// body the way a careless platform might.
func echo(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/status":
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString(`{"error":"BAD_KEY"}`)
		return
	case "/html":
		ctx.SetBodyString("<html>bad gateway</html>")
		return
	}
	ctx.SetBodyString("q=" + string(ctx.QueryArgs().Peek("k")) + " h=" + string(ctx.Request.Header.Peek("X-Key")) + " other=" + string(ctx.QueryArgs().Peek("other")))
}

func open(t *testing.T, p upstream.Protocol) upstream.Account {
	t.Helper()
	a, err := p.Open(upstream.Settings{BaseURL: adapterstest.ServeHandler(t, echo), Key: secret})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountPlacesAndRedactsKey(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		p    upstream.Protocol
		call upstream.Call
		want string
	}{
		// The key in the query, next to the caller's own parameters, which
		// must not be lost or mutated.
		{"query", upstream.Protocol{Code: "q", KeyQuery: "k"}, upstream.Call{Query: map[string]string{"other": "1"}}, "q=<key> h= other=1"},
		// The key in a header, after its prefix.
		{"header", upstream.Protocol{Code: "h", KeyHeader: "X-Key", KeyPrefix: "Bearer "}, upstream.Call{}, "q= h=Bearer <key> other="},
		// A public call carries no key at all.
		{"anonymous", upstream.Protocol{Code: "a", KeyQuery: "k"}, upstream.Call{Anonymous: true}, "q= h= other="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t, tc.p)
			q := tc.call.Query
			resp, err := a.Do(ctx, tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(resp.Body); got != tc.want {
				t.Fatalf("body %q; want %q", got, tc.want)
			}
			if q != nil && len(q) != 1 {
				t.Fatalf("caller's query changed: %v", q)
			}
		})
	}
}

func TestAccountDefaultsAndErrors(t *testing.T) {
	a := open(t, upstream.Protocol{Code: "demo", Currency: "RUB", KeyQuery: "k"})
	if a.Code() != "demo" || a.Currency() != "RUB" || a.Timeout() <= 0 {
		t.Fatalf("defaults not applied: %q %q %v", a.Code(), a.Currency(), a.Timeout())
	}
	if a.Wrap("x", nil) != nil {
		t.Fatal("Wrap(nil) is not nil")
	}
	err := a.Errorf("buy", "service %q: %w", "tg", adapters.ErrBadService)
	if !errors.Is(err, adapters.ErrBadService) || err.Error() != `demo buy: service "tg": `+adapters.ErrBadService.Error() {
		t.Fatalf("Errorf = %v", err)
	}
	if _, err := (upstream.Protocol{Code: "none"}).Open(upstream.Settings{}); err == nil {
		t.Fatal("a protocol without a default base URL opened with none")
	}
}

func TestAccountAnswer(t *testing.T) {
	a := open(t, upstream.Protocol{Code: "demo", KeyQuery: "k"})
	ctx := context.Background()
	badKey := errors.New("bad key")
	apiError := func(body []byte) error {
		if strings.Contains(string(body), "BAD_KEY") {
			return badKey
		}
		return nil
	}
	// A 4xx that carries the protocol's error is that error.
	call := upstream.Call{Path: "/status", Op: "balance"}
	resp, err := a.Do(ctx, call)
	if _, err := a.Answer(call, resp, err, apiError); !errors.Is(err, badKey) || !strings.HasPrefix(err.Error(), "demo balance: ") {
		t.Fatalf("4xx with an API error: %v", err)
	}
	// The same status without one is the platform failing.
	resp, err = a.Do(ctx, call)
	if _, err := a.Answer(call, resp, err, func([]byte) error { return nil }); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("bare 4xx: %v", err)
	}
	// An HTML page with 200 is not an answer.
	call = upstream.Call{Path: "/html", Op: "balance"}
	resp, err = a.Do(ctx, call)
	if _, err := a.Answer(call, resp, err, apiError); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("html: %v", err)
	}
	// A parser's error is named; a transport error passes as it is.
	parse := func(int, []byte) (int64, error) { return 0, errors.New("garbage") }
	if _, err := upstream.Parsed(&a, "balance", upstream.Response{}, nil, parse); err == nil || err.Error() != "demo balance: garbage" {
		t.Fatalf("Parsed = %v", err)
	}
	if _, err := upstream.Parsed(&a, "balance", upstream.Response{}, adapters.ErrUnavailable, parse); err != adapters.ErrUnavailable {
		t.Fatalf("Parsed passed %v", err)
	}
}

func TestAccountPurchaseChecks(t *testing.T) {
	a := open(t, upstream.Protocol{Code: "demo", KeyQuery: "k"})
	countries := catalog.MustCodeMap([]byte("gb\tUK\n"))
	services := catalog.MustCodeMap([]byte("tg\topt29\n"))
	if c, s, err := a.Native("buy", countries, services, "gb", "tg"); err != nil || c != "UK" || s != "opt29" {
		t.Fatalf("Native(gb, tg) = %q, %q, %v", c, s, err)
	}
	// A code the maps lack is not sold there: the canonical reason, named.
	if _, _, err := a.Native("buy", countries, services, "fr", "tg"); !errors.Is(err, adapters.ErrBadCountry) {
		t.Fatalf("unmapped country: %v", err)
	}
	if _, _, err := a.Native("buy", countries, services, "gb", "wa"); !errors.Is(err, adapters.ErrBadService) {
		t.Fatalf("unmapped service: %v", err)
	}
	for _, op := range []string{"", "any", "ANY"} {
		if err := a.AnyOperator("buy", op); err != nil {
			t.Fatalf("operator %q refused: %v", op, err)
		}
	}
	if err := a.AnyOperator("buy", "mts"); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("a named operator: %v; want ErrNoNumbers (fail over)", err)
	}
	// An unreadable purchase answer may hide a sale: never a plain failure.
	err := a.Unreadable("buy", "garbage")
	if !errors.Is(err, adapters.ErrOutcomeUnknown) {
		t.Fatalf("Unreadable = %v", err)
	}
}

// A buy is a GET on several platforms; fasthttp would resend a GET whose
// connection dropped after it was sent, buying a second number. The
// account's connection sends it once and reports the outcome unknown.
func TestAccountNeverResends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var hits atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the request, then drop the connection unanswered.
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				hits.Add(1)
			}
			conn.Close()
		}
	}()
	a, err := upstream.Protocol{Code: "demo", KeyQuery: "k"}.Open(upstream.Settings{BaseURL: "http://" + ln.Addr().String(), Key: secret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Do(context.Background(), upstream.Call{Path: "/buy", Op: "buy", Mutating: true})
	if !errors.Is(err, adapters.ErrOutcomeUnknown) {
		t.Fatalf("lost buy answer = %v; want ErrOutcomeUnknown", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error %q shows the key", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the platform got the buy %d times; want once", n)
	}
}
