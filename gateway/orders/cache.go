package orders

import (
	"context"

	"github.com/dgraph-io/ristretto/v2"

	"smsgate/adapters"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// The order read cache: legacy clients poll getStatus once a second or
// faster per order; those reads are answered from memory. Only used when
// this instance is the ledger's only writer (SQLite): every write goes
// through save, which refreshes the entry. Entries share no slices with
// callers: Codes is copied on the way in (and out, except through Peek:
// an entry is never mutated once cached, so a reader that only reads may
// share it).

// The cache holds pointers to orders nobody mutates once cached: a Get
// copies a pointer, not the whole order (the copy was a third of a cached
// getStatus).
func newOrderCache() (*ristretto.Cache[int64, *ledger.Order], error) {
	return ristretto.NewCache(&ristretto.Config[int64, *ledger.Order]{
		NumCounters:        1_000_000,
		MaxCost:            100_000, // orders
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
}

func cloneOrder(o ledger.Order) ledger.Order {
	o.Codes = append([]ledger.Code(nil), o.Codes...)
	return o
}

// cacheOrder puts a written order in the cache. ristretto applies the
// Set of a key it already holds at once, but a new key's only once its
// buffer is processed (and drops it when the buffer is full): a new order
// is waited for, so the client's first getStatus is served from memory,
// and a dropped Set is tried once more.
func (g *Service) cacheOrder(o *ledger.Order, isNew bool) {
	if g.cache == nil {
		return
	}
	c := cloneOrder(*o)
	ok := g.cache.SetWithTTL(o.ID, &c, 1, g.codesTTL)
	if !ok || isNew {
		g.cache.Wait()
	}
	if !ok {
		g.cache.SetWithTTL(o.ID, &c, 1, g.codesTTL)
		g.cache.Wait()
	}
}

func (g *Service) forgetOrder(id int64) {
	if g.cache != nil {
		g.cache.Del(id)
	}
}

// Read reads an order through the cache. A miss is not filled from
// here: only writers (holding the order's lock) put entries, so a reader
// can never put back a version older than one just written.
func (g *Service) Read(ctx context.Context, id int64) (ledger.Order, error) {
	if g.cache != nil {
		if o, ok := g.cache.Get(id); ok {
			return cloneOrder(*o), nil
		}
	}
	return g.store.Get(ctx, id)
}

// Peek is Order for a reader that only reads (the legacy getStatus): an
// order from the cache is the cache's own, which nobody mutates, so it
// costs no copy; the caller must not modify it.
func (g *Service) Peek(ctx context.Context, t *tenant.Tenant, id int64) (*ledger.Order, error) {
	if g.cache != nil {
		if o, ok := g.cache.Get(id); ok {
			if o.Tenant != t.Name {
				return nil, adapters.ErrNoActivation
			}
			return o, nil
		}
	}
	o, err := g.Order(ctx, t, id)
	if err != nil {
		return nil, err
	}
	return &o, nil
}
