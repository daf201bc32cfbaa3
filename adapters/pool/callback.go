package pool

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"smsgate/adapters/pool/lease"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Kind is the webhook path segment of a pool whose upstream calls back
// ("" when it does not, or callbacks are off).
func (p *Pool) Kind() string {
	if !p.pushing() {
		return ""
	}
	return p.o.Source.(Pusher).Kind()
}

// ErrNotMine: a callback's secret is not this pool's.
var ErrNotMine = errors.New("callback secret does not match")

// ErrNotOurNumber: a callback with this pool's secret, for a number the
// pool does not hold (another pool on the same account may).
var ErrNotOurNumber = errors.New("callback for a number not in the pool")

// Callback takes one upstream callback: it checks the secret (query
// "secret" or header X-Webhook-Secret), stores the message in the ledger
// for whichever instance polls the order, and returns the upstream id of
// the lease the number is on now ("" when none) so the caller can check
// that order at once.
func (p *Pool) Callback(ctx context.Context, req *fasthttp.RequestCtx) (string, error) {
	if !p.pushing() {
		return "", ErrNotMine
	}
	got := req.QueryArgs().Peek("secret")
	if len(got) == 0 {
		got = req.Request.Header.Peek("X-Webhook-Secret")
	}
	// Compared as hashes: equal lengths, so the time taken tells nothing,
	// not even the secret's length.
	g, w := sha256.Sum256(got), sha256.Sum256([]byte(p.o.WebhookSecret))
	if subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return "", ErrNotMine
	}
	phone, m, err := p.o.Source.(Pusher).Callback(req)
	if err != nil {
		return "", fmt.Errorf("%s callback: %w", p.o.Code, err)
	}
	if m.At.IsZero() {
		m.At = p.now()
	}
	// The account calls back for every number it rents; only the pool's
	// are kept (the rest would only pile up in the ledger), and another
	// pool on the same account may own this one. An inventory that cannot
	// be read is an error (the upstream retries), not a "no".
	if _, ok := p.number(phone); !ok {
		if _, err := p.numbers(ctx); err != nil {
			return "", fmt.Errorf("%s callback: %w", p.o.Code, err)
		}
		if _, ok := p.number(phone); !ok {
			return "", ErrNotOurNumber
		}
	}
	if err := p.o.Store.AddPoolMessage(ctx, p.o.Code, phone, lease.Message{From: m.From, Text: m.Text, At: m.At.UTC(), Pushed: true}); err != nil {
		return "", fmt.Errorf("%s callback: cannot store the message: %w", p.o.Code, err)
	}
	leases, err := p.o.Store.Leases(ctx, p.o.Code, p.now())
	if err != nil {
		return "", nil // stored; the order's next poll finds it
	}
	for _, l := range leases {
		if l.Active() && l.Phone == phone {
			return strconv.FormatInt(l.ID, 10), nil
		}
	}
	return "", nil
}
