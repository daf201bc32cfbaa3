package textnow_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
)

// fill sends n SMS to alice, a second apart, and returns them oldest first.
func (f *fixture) fill(n int, text func(i int) string) []simulator.InboxSMS {
	f.t.Helper()
	out := make([]simulator.InboxSMS, 0, n)
	for i := range n {
		s, err := f.market.Inject(alice.Phone, "+14155550100", text(i))
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
		f.clock.Advance(time.Second)
	}
	return out
}

func noise(i int) string { return fmt.Sprintf("message %d", i) }

// newestFirst is what the reader must return for sent (oldest first):
// those at or after since, newest first.
func newestFirst(sent []simulator.InboxSMS, since time.Time) []pool.Message {
	var out []pool.Message
	for i := len(sent) - 1; i >= 0; i-- {
		if s := sent[i]; !s.At.Before(since) {
			out = append(out, pool.Message{ID: strconv.FormatInt(s.ID, 10), From: s.From, Text: s.Text, At: s.At.UTC()})
		}
	}
	return out
}

// TestSimPages pins the skin's paging: the latest page only, page_size up
// to 30, start_message_id with direction past or future.
func TestSimPages(t *testing.T) {
	f := newFixture(t, alice)
	sent := f.fill(70, noise)
	get := func(query string) (int, []int64) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(f.h.Server.URL + "/api/users/alice/messages" + query)
		req.Header.SetCookie("connect.sid", testCookie)
		if err := fasthttp.DoTimeout(req, resp, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		var body struct{ Messages []struct{ ID string } }
		json.Unmarshal(resp.Body(), &body)
		var ids []int64
		for _, m := range body.Messages {
			id, _ := strconv.ParseInt(m.ID, 10, 64)
			ids = append(ids, id)
		}
		return resp.StatusCode(), ids
	}
	id := func(i int) int64 { return sent[i].ID }
	for _, c := range []struct {
		query       string
		status      int
		first, last int64 // ids of the page's first and last message
		n           int
	}{
		{"", 200, id(69), id(50), textnow.SimPageSize},
		{"?page_size=5", 200, id(69), id(65), 5},
		{"?page_size=100", 200, id(69), id(40), textnow.PageSize},
		{fmt.Sprintf("?start_message_id=%d&direction=past&page_size=30", id(40)), 200, id(39), id(10), 30},
		{fmt.Sprintf("?start_message_id=%d&direction=past&page_size=30", id(5)), 200, id(4), id(0), 5},
		{fmt.Sprintf("?start_message_id=%d&page_size=3", id(40)), 200, id(39), id(37), 3},
		{fmt.Sprintf("?start_message_id=%d&direction=future&page_size=3", id(40)), 200, id(43), id(41), 3},
		{"?page_size=zero", 400, 0, 0, 0},
		{"?page_size=0", 400, 0, 0, 0},
		{"?start_message_id=x", 400, 0, 0, 0},
		{fmt.Sprintf("?start_message_id=%d&direction=sideways", id(40)), 400, 0, 0, 0},
	} {
		st, ids := get(c.query)
		if st != c.status || len(ids) != c.n || (c.n > 0 && (ids[0] != c.first || ids[len(ids)-1] != c.last)) {
			t.Errorf("%q: %d, %d messages %v; want %d, %d from %d to %d", c.query, st, len(ids), ids, c.status, c.n, c.first, c.last)
		}
	}
}

// TestMessagesPagesBack is the paging item: a code under more
// messages than one page holds is still read, by paging back until a
// message older than since; the next read pages only through what is new.
func TestMessagesPagesBack(t *testing.T) {
	f := newFixture(t, alice)
	r := f.reader(textnow.Options{Accounts: []textnow.Account{account(alice, alice.Phone)}})
	before := f.fill(10, noise) // the previous holder's
	since := f.clock.Now()
	sent := f.fill(65, func(i int) string {
		if i == 0 {
			return "Telegram code: 48213" // buried under 64 later messages
		}
		return noise(i)
	})
	got, err := r.Messages(ctx, number(alice), since)
	if err != nil {
		t.Fatal(err)
	}
	if want := newestFirst(sent, since); !sameMessages(got, want) {
		t.Fatalf("got %d messages, want the %d since the lease (the code among them)", len(got), len(want))
	}
	// 65 since, 30 a page: the third page reaches the previous holder's.
	if n := f.market.Calls("messages"); n != 3 {
		t.Fatalf("%d pages read; want 3", n)
	}
	more := f.fill(4, noise)
	got, err = r.Messages(ctx, number(alice), since)
	if err != nil {
		t.Fatal(err)
	}
	if want := newestFirst(append(sent, more...), since); !sameMessages(got, want) {
		t.Fatalf("second read: %d messages; want %d", len(got), len(want))
	}
	if n := f.market.Calls("messages"); n != 4 {
		t.Fatalf("%d pages read in all; want 4 (the second read meets the first one's on its first page)", n)
	}
	// An earlier since than ever asked for pages on back from there.
	got, err = r.Messages(ctx, number(alice), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := newestFirst(append(append(before, sent...), more...), time.Time{}); !sameMessages(got, want) {
		t.Fatalf("everything: %d messages; want %d", len(got), len(want))
	}
}

// TestMessagesPagingIsBounded: one read stops after MaxPages; the next
// goes on back from where it stopped, until the oldest message.
func TestMessagesPagingIsBounded(t *testing.T) {
	f := newFixture(t, alice)
	r := f.reader(textnow.Options{MaxPages: 2, Accounts: []textnow.Account{account(alice, alice.Phone)}})
	sent := f.fill(100, noise)
	for i, want := range []int{60, 90, 100, 100} {
		got, err := r.Messages(ctx, number(alice), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !sameMessages(got, newestFirst(sent, time.Time{})[:want]) {
			t.Fatalf("read %d: %d messages; want the newest %d", i+1, len(got), want)
		}
	}
	// 2 + (1 + 1) + (1 + 1) + 1: the last read knows it has everything.
	if n := f.market.Calls("messages"); n != 7 {
		t.Fatalf("%d pages read; want 7", n)
	}
}

// TestMessagesPagingSurvivesTheUpstream: an upstream that ignores
// start_message_id is not paged forever; a failure past the first page
// returns what was read, except a lost session, which is the error.
func TestMessagesPagingSurvivesTheUpstream(t *testing.T) {
	f := newFixture(t, alice)
	sent := f.fill(45, noise)
	serve := func(edit func(ctx *fasthttp.RequestCtx) bool) string {
		h := f.sim.Handler()
		return adapterstest.ServeHandler(t, func(ctx *fasthttp.RequestCtx) {
			if edit(ctx) {
				h(ctx)
			}
		})
	}
	read := func(url string) ([]pool.Message, error) {
		r, err := textnow.New(textnow.Options{BaseURL: url, MinGap: -1, Accounts: []textnow.Account{account(alice, alice.Phone)}})
		if err != nil {
			t.Fatal(err)
		}
		return r.Messages(ctx, number(alice), time.Time{})
	}
	var pages atomic.Int64
	ignores := serve(func(ctx *fasthttp.RequestCtx) bool {
		pages.Add(1)
		ctx.QueryArgs().Del("start_message_id")
		return true
	})
	got, err := read(ignores)
	if err != nil || !sameMessages(got, newestFirst(sent, time.Time{})[:30]) || pages.Load() != 2 {
		t.Fatalf("start_message_id ignored: %d messages, %v, %d pages; want the first page's 30 after 2 pages", len(got), err, pages.Load())
	}
	for _, c := range []struct {
		status int
		down   bool
	}{{500, false}, {429, false}, {401, true}, {403, true}} {
		failing := serve(func(ctx *fasthttp.RequestCtx) bool {
			if ctx.QueryArgs().Has("start_message_id") {
				ctx.SetStatusCode(c.status)
				return false
			}
			return true
		})
		got, err := read(failing)
		if c.down {
			wantDown(t, err, pool.DownNeedsLogin)
			continue
		}
		if err != nil || !sameMessages(got, newestFirst(sent, time.Time{})[:30]) {
			t.Fatalf("page 2 answering %d: %d messages, %v; want the first page's 30", c.status, len(got), err)
		}
	}
}
