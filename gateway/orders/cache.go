package orders

import (
	"context"

	"github.com/dgraph-io/ristretto/v2"

	"smsgate/ledger"
)

// The order read cache: legacy clients poll getStatus once a second or
// faster per order; those reads are answered from memory. Only used when
// this instance is the ledger's only writer (SQLite): every write goes
// through save, which refreshes the entry. Entries share no slices with
// callers: Codes is copied on the way in and out.

func newOrderCache() (*ristretto.Cache[int64, ledger.Order], error) {
	return ristretto.NewCache(&ristretto.Config[int64, ledger.Order]{
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

// cacheOrder puts a written order in the cache. ristretto drops a new
// key's Set when its buffer is full (a busy machine): every read of the
// order would then go to the ledger until its next write, so a dropped Set
// is tried once more after the buffer drained.
func (g *Service) cacheOrder(o *ledger.Order) {
	if g.cache == nil {
		return
	}
	c := cloneOrder(*o)
	if !g.cache.SetWithTTL(o.ID, c, 1, g.codesTTL) {
		g.cache.Wait()
		g.cache.SetWithTTL(o.ID, c, 1, g.codesTTL)
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
			return cloneOrder(o), nil
		}
	}
	return g.store.Get(ctx, id)
}
