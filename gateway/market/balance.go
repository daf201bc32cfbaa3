package market

import (
	"sync"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/gateway/tenant"
)

// The operator-mode balance as legacy getBalance reads it, constantly:
// when every usable platform's balance is fresh in the cache, the sum is
// answered from memory, with no fan-out and no conversion, as long as the
// cached balances are the very ones it was summed from.

// maxSummed is how many platforms the in-memory sum covers; a tenant
// using more takes the fan-out every time.
const maxSummed = 16

// balanceSums memoises each tenant's sum of the cached balances.
type balanceSums struct {
	mu sync.Mutex
	m  map[string]*balanceSum // by tenant name; guarded by mu
}

// balanceSum is a tenant's sum and the cache entries it was made of (an
// entry is replaced, never mutated, when a balance is read again).
type balanceSum struct {
	entries []*cacheEntry
	total   adapters.Money
}

// balanceKey is a platform's balance key in the cache ("balance|code"),
// built once per platform.
func (g *Market) balanceKey(p *platform.Platform) string {
	if k, ok := g.balanceKeys[p]; ok {
		return k
	}
	return "balance|" + p.Code
}

// cachedBalance is Balance from memory: ok is false when some usable
// platform's balance is not fresh in the cache (Balance then asks).
func (g *Market) cachedBalance(t *tenant.Tenant) (adapters.Money, bool) {
	var buf [maxSummed]*cacheEntry
	entries := buf[:0]
	for _, p := range g.platforms {
		if !p.Current().Enabled || !t.Allows(p.Code) {
			continue
		}
		e, ok := g.cache.fresh(g.balanceKey(p), g.ttl.Status)
		if !ok || len(entries) == maxSummed {
			return adapters.Money{}, false
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return adapters.Money{}, false // no platform: Balance says so
	}
	for range entries {
		g.metrics.Cache("balance", "hit") // as the fan-out counts each platform
	}
	g.sums.mu.Lock()
	s := g.sums.m[t.Name]
	g.sums.mu.Unlock()
	if s != nil && samePointers(s.entries, entries) {
		return s.total, true
	}
	total := adapters.Money{Currency: t.Currency}
	for _, e := range entries {
		m, err := g.fx.Convert(e.value.(adapters.Money), t.Currency)
		if err != nil {
			return adapters.Money{}, false // the fan-out leaves it out, and logs it
		}
		total.Micros += m.Micros
	}
	g.sums.mu.Lock()
	if g.sums.m == nil {
		g.sums.m = map[string]*balanceSum{}
	}
	g.sums.m[t.Name] = &balanceSum{entries: append([]*cacheEntry(nil), entries...), total: total}
	g.sums.mu.Unlock()
	return total, true
}

func samePointers(a, b []*cacheEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
