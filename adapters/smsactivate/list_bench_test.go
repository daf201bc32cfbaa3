package smsactivate_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters/simulator"
	"smsgate/adapters/smsactivate"
)

// The list of active orders at scale (issue 19): what one poll round of
// getActiveActivations costs each side at 10,000 and 100,000 active
// orders, every one with a code (as a soak's seeded orders have after
// the code delay). Classic answers the whole list at once; HeroSMS pages
// of 100, so a round is n/100 requests.
//
//	go test -run '^$' -bench 'ActiveList|PollActive' -benchmem ./adapters/smsactivate/

var listSizes = []int{10_000, 100_000}

// listMarket is a market with n active orders of us/tg, each with a code.
func listMarket(b *testing.B, n int) *simulator.Market {
	b.Helper()
	c := simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := simulator.New(simulator.Config{Clock: c, Key: testKey, CodeDelay: time.Second, Stock: n, Balance: int64(n) * 1_000_000, IDOffset: -1})
	if _, err := m.Seed("us", "tg", n); err != nil {
		b.Fatal(err)
	}
	c.Advance(time.Second)
	return m
}

// listRequest is getActiveActivations from start (HeroSMS paging).
func listRequest(start int) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(smsactivate.Path + "?api_key=" + testKey + "&action=getActiveActivations&start=" + strconv.Itoa(start) + "&limit=100")
	return ctx
}

// BenchmarkActiveList is the simulator's side of one round: the skin
// answering every page, with no network in between. bytes/round is what
// it writes.
func BenchmarkActiveList(b *testing.B) {
	for _, dc := range dialects {
		for _, n := range listSizes {
			b.Run(fmt.Sprintf("%s/%d", dc.name, n), func(b *testing.B) {
				h := smsactivate.NewSkin(listMarket(b, n), dc.d)
				pages := 1
				if dc.d == smsactivate.Hero {
					pages = (n + smsactivate.HeroPageMax - 1) / smsactivate.HeroPageMax
				}
				reqs := make([]*fasthttp.RequestCtx, pages)
				for i := range reqs {
					reqs[i] = listRequest(i * smsactivate.HeroPageMax)
				}
				var written int
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					written = 0
					for _, ctx := range reqs {
						ctx.Response.Reset()
						h(ctx)
						if ctx.Response.StatusCode() != 200 {
							b.Fatalf("answer %d %q", ctx.Response.StatusCode(), ctx.Response.Body())
						}
						written += len(ctx.Response.Body())
					}
				}
				b.ReportMetric(float64(written), "bytes/round")
			})
		}
	}
}

// BenchmarkPollActive is the adapter's side of one round: PollActive over
// loopback against a server that replays the skin's answers (recorded
// once), so the figure is the adapter's reading and decoding alone.
func BenchmarkPollActive(b *testing.B) {
	for _, dc := range dialects {
		for _, n := range listSizes {
			b.Run(fmt.Sprintf("%s/%d", dc.name, n), func(b *testing.B) {
				h := smsactivate.NewSkin(listMarket(b, n), dc.d)
				answers := map[string][]byte{}
				for start := 0; ; start += smsactivate.HeroPageMax {
					ctx := listRequest(start)
					h(ctx)
					answers[strconv.Itoa(start)] = append([]byte(nil), ctx.Response.Body()...)
					if dc.d == smsactivate.Classic || start >= n {
						break
					}
				}
				srv, err := simulator.Serve(func(ctx *fasthttp.RequestCtx) {
					ctx.SetContentType("application/json")
					ctx.Response.SetBodyRaw(answers[string(ctx.QueryArgs().Peek("start"))]) // no copy: the replay costs nothing
				})
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				c, err := smsactivate.New(smsactivate.Options{BaseURL: srv.URL, Key: testKey, Timeout: 10 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					list, err := c.PollActive(ctx)
					if err != nil || len(list) != n {
						b.Fatalf("poll = %d updates, %v; want %d", len(list), err, n)
					}
				}
			})
		}
	}
}
