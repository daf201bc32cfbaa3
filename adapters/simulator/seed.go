package simulator

import (
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// SeedPath is where a simulator server opens many active orders in one
// call (POST ?country=<iso>&service=<code>&n=<count>), so a benchmark
// that needs 100,000 of them does not buy them one by one over the
// protocol while the gateway's poller lists the growing set. No
// platform's protocol uses the /_sim/ prefix, and no real platform has
// such a call.
const SeedPath = "/_sim/seed"

// SeedMax is the most orders one seed call opens: the answer, one line
// per order, stays a few tens of megabytes.
const SeedMax = 1_000_000

// Seed opens n orders of one (country, service) at once, as n purchases
// would: stock and balance taken, each order's lifetime and its SMS
// (CodeDelay later, each with its own code) counted from now. All or
// none: it fails as Buy does (ErrBadService, ErrBadCountry, ErrNoNumbers,
// ErrNoBalance) when the n cannot all be sold, and opens nothing. It
// returns the orders oldest first. The market is locked for the whole
// call (about a microsecond per order). What a skin refuses before the
// market (an account or pair ban, the channel limit) does not apply: this
// is the bench's door, not the protocol's.
func (m *Market) Seed(country, service string, n int) ([]Order, error) {
	if n <= 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	m.settleDue(now)
	if !m.services[service] {
		return nil, adapters.ErrBadService
	}
	p := pair{country, service}
	price, ok := m.priceNow(p, now)
	if !ok {
		if _, known := catalog.CountryByISO(country); !known {
			return nil, adapters.ErrBadCountry
		}
		return nil, adapters.ErrNoNumbers
	}
	if m.stockNow(p, now) < n {
		return nil, adapters.ErrNoNumbers
	}
	if m.balance/int64(n) < price {
		return nil, adapters.ErrNoBalance
	}
	out := make([]Order, n)
	for i := range out {
		out[i] = m.sell(p, price, "", now).Order // new orders have no SMS to share
	}
	return out, nil
}

// serveSeed answers SeedPath: one line per order opened, "<id> <phone>",
// oldest first; 400 with the reason when the arguments are bad or the
// market cannot sell that many.
func (m *Market) serveSeed(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	country, service := string(args.Peek("country")), string(args.Peek("service"))
	n, err := strconv.Atoi(string(args.Peek("n")))
	if err != nil || n < 1 || n > SeedMax || country == "" || service == "" {
		ctx.Error(fmt.Sprintf("cannot seed: want country=<iso>&service=<code>&n=<1..%d>", SeedMax), fasthttp.StatusBadRequest)
		return
	}
	list, err := m.Seed(country, service, n)
	if err != nil {
		ctx.Error(fmt.Sprintf("cannot seed %d orders of %s/%s: %v", n, country, service, err), fasthttp.StatusBadRequest)
		return
	}
	b := make([]byte, 0, len(list)*24)
	for _, o := range list {
		b = strconv.AppendInt(b, o.ID, 10)
		b = append(b, ' ')
		b = append(b, o.Phone...)
		b = append(b, '\n')
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(b)
}
