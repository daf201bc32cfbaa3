package market

import (
	"context"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/sync/singleflight"
)

// Cache holds read-mostly upstream answers (offers, balances) for a TTL,
// fills a miss through single-flight (one upstream call serves every
// concurrent miss), and serves the last value when a refresh fails. Values
// are shared between readers: never mutate one.
type Cache struct {
	rc    *ristretto.Cache[string, *cacheEntry]
	sf    singleflight.Group
	now   func() time.Time
	stale time.Duration // how long past its TTL an entry may still be served on failure
	m     Recorder
}

type cacheEntry struct {
	value   any
	fetched time.Time
}

func newCache(now func() time.Time, m Recorder) (*Cache, error) {
	rc, err := ristretto.NewCache(&ristretto.Config[string, *cacheEntry]{
		NumCounters: 100_000,
		MaxCost:     10_000, // entries: cost 1 each, so the internal cost must not count
		BufferItems: 64,
		// An entry is one value; the internal per-item cost would otherwise
		// shrink a 10,000-entry budget to a few hundred (LIBRARIES.md §1.2).
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &Cache{rc: rc, now: now, stale: 24 * time.Hour, m: m}, nil
}

// Get returns the value under key if younger than ttl, else fills it. On a
// failed fill an older value (within the stale window) is returned with
// stale = true and err = nil.
func (c *Cache) Get(ctx context.Context, kind, key string, ttl time.Duration, fill func(ctx context.Context) (any, error)) (v any, stale bool, err error) {
	if e, ok := c.rc.Get(key); ok && c.now().Sub(e.fetched) < ttl {
		c.m.Cache(kind, "hit")
		return e.value, false, nil
	}
	res, err, _ := c.sf.Do(key, func() (any, error) {
		c.m.Cache(kind, "miss")
		v, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		// Long life in ristretto: freshness is judged on read, so an entry
		// past its TTL is still there to serve when the upstream fails.
		c.rc.SetWithTTL(key, &cacheEntry{value: v, fetched: c.now()}, 1, ttl+c.stale)
		// A new key's Set is buffered: wait for it, or a request arriving
		// just after this flight would miss and fill again.
		c.rc.Wait()
		return v, nil
	})
	if err == nil {
		return res, false, nil
	}
	if e, ok := c.rc.Get(key); ok && c.now().Sub(e.fetched) < ttl+c.stale {
		c.m.Cache(kind, "stale")
		return e.value, true, nil
	}
	return nil, false, err
}

// fresh returns key's entry if younger than ttl, filling nothing (and
// counting nothing).
func (c *Cache) fresh(key string, ttl time.Duration) (*cacheEntry, bool) {
	e, ok := c.rc.Get(key)
	if !ok || c.now().Sub(e.fetched) >= ttl {
		return nil, false
	}
	return e, true
}

// Del drops a key (after a purchase changed what it holds).
func (c *Cache) Del(key string) { c.rc.Del(key) }

// Wait applies buffered writes (tests).
func (c *Cache) Wait() { c.rc.Wait() }

// Close releases the cache.
func (c *Cache) Close() { c.rc.Close() }

// listCache keeps one list per key (a platform's countries) in a plain
// mutex-guarded map rather than ristretto, whose Set may drop a write
// (LIBRARIES.md §0.7): a list fetched once is always there to serve when a
// later refresh fails. The keys are the configured platforms, so the map
// never grows past them and nothing needs evicting. The zero value is
// ready to use; lists are shared between readers: never mutate one.
type listCache struct {
	mu sync.Mutex
	m  map[string]listEntry // guarded by mu
	sf singleflight.Group
}

type listEntry struct {
	list    []string
	fetched time.Time // when list was fetched
	failed  time.Time // last failed refresh since; zero if none
}

// listRetry is how long after a failed refresh the last list is served
// without asking the upstream again: a platform that is down is not asked
// on every request, and its failure is logged once per period, not per
// request.
const listRetry = 30 * time.Second

// lookup is key's entry.
func (c *listCache) lookup(key string) (listEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e, ok
}

// fresh: e can be served without asking the upstream.
func (e listEntry) fresh(now time.Time, ttl time.Duration) bool {
	return now.Sub(e.fetched) < ttl || (!e.failed.IsZero() && now.Sub(e.failed) < listRetry)
}

// get returns key's list if younger than ttl, else fills it: one fill per
// key at a time, shared by every concurrent caller. When the fill fails
// and a list was ever fetched, that list is returned with stale = true
// (and for listRetry no new fill is tried); the fill's error only if there
// is no list at all. fill reports its own failure (log, metric).
func (c *listCache) get(key string, ttl time.Duration, now func() time.Time, fill func() ([]string, error)) (list []string, stale bool, err error) {
	if e, ok := c.lookup(key); ok && e.fresh(now(), ttl) {
		return e.list, !e.failed.IsZero(), nil
	}
	type result struct {
		list  []string
		stale bool
		err   error
	}
	v, _, _ := c.sf.Do(key, func() (any, error) {
		// A flight that ended between our lookup and this one has already
		// refreshed the entry.
		if e, ok := c.lookup(key); ok && e.fresh(now(), ttl) {
			return result{e.list, !e.failed.IsZero(), nil}, nil
		}
		list, err := fill()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.m == nil {
			c.m = map[string]listEntry{}
		}
		if err == nil {
			c.m[key] = listEntry{list: list, fetched: now()}
			return result{list: list}, nil
		}
		e, ok := c.m[key]
		if !ok {
			return result{err: err}, nil
		}
		e.failed = now()
		c.m[key] = e
		return result{e.list, true, nil}, nil
	})
	r := v.(result)
	return r.list, r.stale, r.err
}
