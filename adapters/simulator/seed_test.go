package simulator

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
)

// TestSeed: seeding n orders is n purchases at once — stock and balance
// taken, ids after the last purchase, each order's SMS CodeDelay later
// and its lifetime from now — and all or none when the market cannot
// sell that many.
func TestSeed(t *testing.T) {
	c := NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := New(Config{Clock: c, CodeDelay: 30 * time.Second, Stock: 1000, BasePrice: adapters.Micro, IDOffset: -1})
	bal0 := m.Balance()
	first, err := m.Buy(BuyArgs{Country: "us", Service: "tg"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := m.Seed("us", "tg", 500)
	if err != nil || len(list) != 500 {
		t.Fatalf("seed 500 = %d orders, %v", len(list), err)
	}
	phones := map[string]bool{}
	for i, o := range list {
		if o.ID != first.ID+1+int64(i) || o.State != adapters.StateWaiting || o.Country != "us" || o.Service != "tg" || o.Phone == "" {
			t.Fatalf("seeded order %d = %+v; want waiting us/tg with id %d", i, o, first.ID+1+int64(i))
		}
		phones[o.Phone] = true
	}
	if len(phones) < 490 {
		t.Fatalf("%d distinct phones among 500 seeded orders", len(phones))
	}
	if got, want := m.Balance(), bal0-501*first.Price; got != want {
		t.Fatalf("balance after 501 sold = %d; want %d", got, want)
	}
	if o := m.Offers("us", "tg"); o[0].Count != 1000-501 {
		t.Fatalf("stock after 501 sold = %d; want %d", o[0].Count, 1000-501)
	}

	// All or none: 500 more than the stock left opens nothing.
	if _, err := m.Seed("us", "tg", 500); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("seed beyond the stock = %v; want ErrNoNumbers", err)
	}
	if _, err := m.Seed("us", "nope", 1); !errors.Is(err, adapters.ErrBadService) {
		t.Fatalf("seed of an unknown service = %v; want ErrBadService", err)
	}
	m.SetBalance(10 * m.Offers("us", "wa")[0].Price)
	if _, err := m.Seed("us", "wa", 11); !errors.Is(err, adapters.ErrNoBalance) {
		t.Fatalf("seed beyond the balance = %v; want ErrNoBalance", err)
	}
	if n := len(m.Active()); n != 501 {
		t.Fatalf("%d active after the refused seeds; want 501", n)
	}

	// The SMS come CodeDelay after the seed, each with its own code.
	c.Advance(29 * time.Second)
	if o, _ := m.Get(list[0].ID); o.State != adapters.StateWaiting {
		t.Fatalf("at 29 s: %s", o.State)
	}
	c.Advance(time.Second)
	codes := map[string]bool{}
	for _, o := range m.Active() {
		if o.State != adapters.StateCodeReceived || len(o.SMS) != 1 {
			t.Fatalf("at 30 s: %+v; want a code", o)
		}
		codes[o.SMS[0].Code] = true
	}
	if len(codes) < 400 {
		t.Fatalf("%d distinct codes among 501 orders", len(codes))
	}
	c.Advance(20 * time.Minute)
	if n := len(m.Active()); n != 0 {
		t.Fatalf("%d active after the lifetime; want none", n)
	}
}

// TestSeedOverHTTP: SeedPath answers one "<id> <phone>" line per order
// the market opened, refuses bad arguments with 400 and the reason, and
// is not counted as a protocol call.
func TestSeedOverHTTP(t *testing.T) {
	m := New(Config{Stock: 100, CodeDelay: -1})
	srv, err := Serve(m.Admin(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("skin") }))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	post := func(query string) (int, []byte) {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.URL + SeedPath + "?" + query)
		req.Header.SetMethod(fasthttp.MethodPost)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}
	code, body := post("country=us&service=tg&n=40")
	if code != 200 {
		t.Fatalf("seed = %d %q", code, body)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	n := 0
	for sc.Scan() {
		id, phone, ok := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			t.Fatalf("line %q: want <id> <phone>", sc.Text())
		}
		o, err := m.Get(v)
		if err != nil || o.Phone != phone || o.State != adapters.StateWaiting {
			t.Fatalf("line %q: market has %+v, %v", sc.Text(), o, err)
		}
		n++
	}
	if n != 40 || len(m.Active()) != 40 {
		t.Fatalf("%d lines, %d active; want 40 of each", n, len(m.Active()))
	}
	for _, q := range []string{"country=us&service=tg&n=61", "country=us&service=tg&n=0", "country=us&n=1", "country=us&service=tg&n=x"} {
		if code, body := post(q); code != 400 || !strings.Contains(string(body), "cannot seed") {
			t.Fatalf("seed %s = %d %q; want 400 saying why", q, code, body)
		}
	}
	if len(m.Active()) != 40 || m.Calls("") != 0 {
		t.Fatalf("after refused seeds: %d active, %d calls counted; want 40 and none", len(m.Active()), m.Calls(""))
	}
}
