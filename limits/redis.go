package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Hot-path Redis budget. A limit check sits in front of every purchase, so a
// slow or unreachable Redis must cost tens of milliseconds at most, after
// which the instance answers from its local fallback.
const (
	// hotPathTimeout is NewRedisClient's read, write and pool timeout.
	// RedisRates and RedisCaps bound each call by the client's ReadTimeout
	// (so "?read_timeout=" in the URL tunes both), or by this when the
	// client has none.
	hotPathTimeout = 50 * time.Millisecond
	// redisBackoff: after a failed call, answer from the fallback without
	// trying Redis for this long, so an outage does not add a call timeout
	// to every request. A single slow call therefore makes the limits
	// per-instance for up to this long.
	redisBackoff = time.Second
)

// NewRedisClient builds a go-redis client for the hot path from
// "redis://[user:pass@]host:port/db", "rediss://…", "unix://…" or a plain
// "host:port". Options the URL leaves unset get hot-path values: 50 ms
// read, write and pool timeouts, a 100 ms dial timeout, one dial attempt,
// no retries, and context deadlines applied to the socket. It does not
// connect: an instance must start (and fall back to local state) while
// Redis is down.
func NewRedisClient(url string) (*redis.Client, error) {
	var opt *redis.Options
	switch {
	case url == "":
		return nil, errors.New("cannot build redis client: empty address")
	case strings.Contains(url, "://"):
		var err error
		if opt, err = redis.ParseURL(url); err != nil {
			return nil, fmt.Errorf("cannot parse redis url: %w", err)
		}
	default:
		opt = &redis.Options{Addr: url}
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 100 * time.Millisecond
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = hotPathTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = hotPathTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = hotPathTimeout // default is ReadTimeout + 1 s
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1 // 0 means the default, 3
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1 // default 5 attempts, 100 ms apart
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// health bounds Redis calls, counts failures and keeps the back-off window
// after one.
type health struct {
	timeout   time.Duration // of one call
	now       func() time.Time
	errs      atomic.Uint64
	downUntil atomic.Int64 // unix ns; Redis is skipped before it
}

func (h *health) init(rdb *redis.Client) {
	h.timeout, h.now = hotPathTimeout, time.Now
	if d := rdb.Options().ReadTimeout; d > 0 {
		h.timeout = d
	}
}

// call is the context of one Redis call.
func (h *health) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), h.timeout)
}

// up reports whether Redis should be tried now.
func (h *health) up() bool { return h.now().UnixNano() >= h.downUntil.Load() }

// failed records a failed call and starts the back-off window.
func (h *health) failed() {
	h.errs.Add(1)
	h.downUntil.Store(h.now().Add(redisBackoff).UnixNano())
}

// RedisRates is a Rates shared by every instance using the same Redis and
// prefix: GCRA (github.com/go-redis/redis_rate) evaluated in one Lua script,
// on Redis's clock. When Redis fails it answers from the fallback, without
// logging, and skips Redis for a second. Safe for concurrent use.
//
// Keys are "rate:" + prefix + key (redis_rate puts its own "rate:" first)
// and expire once the bucket is full again.
type RedisRates struct {
	lim      *redis_rate.Limiter
	prefix   string
	fallback Rates
	health
}

// NewRedisRates shares rates through rdb under prefix. fallback answers
// while Redis is unreachable; nil means in-memory buckets.
func NewRedisRates(rdb *redis.Client, prefix string, fallback Rates) *RedisRates {
	if fallback == nil {
		fallback = NewBuckets(nil)
	}
	r := &RedisRates{lim: redis_rate.NewLimiter(rdb), prefix: prefix, fallback: fallback}
	r.init(rdb)
	return r
}

// Allow implements Rates. rate <= 0 means unlimited; burst < 1 means 1.
func (r *RedisRates) Allow(key string, rate float64, burst int) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	if burst < 1 {
		burst = 1
	}
	if !r.up() {
		return r.fallback.Allow(key, rate, burst)
	}
	ctx, cancel := r.call()
	res, err := r.lim.Allow(ctx, r.prefix+key, r.limit(rate, burst))
	cancel()
	if err != nil {
		r.failed()
		return r.fallback.Allow(key, rate, burst)
	}
	if res.Allowed > 0 {
		return true, 0
	}
	return false, res.RetryAfter
}

// Peek reports whether key's bucket has a token now, without taking it,
// as Buckets.Peek does (the router asks before it plans a platform in).
// It costs one Redis call.
func (r *RedisRates) Peek(key string, rate float64, burst int) bool {
	if rate <= 0 {
		return true
	}
	if burst < 1 {
		burst = 1
	}
	if r.up() {
		ctx, cancel := r.call()
		// Cost 0 takes nothing; Remaining is the whole tokens left.
		res, err := r.lim.AllowN(ctx, r.prefix+key, r.limit(rate, burst), 0)
		cancel()
		if err == nil {
			return res.Remaining >= 1
		}
		r.failed()
	}
	if pk, ok := r.fallback.(interface {
		Peek(string, float64, int) bool
	}); ok {
		return pk.Peek(key, rate, burst)
	}
	return true
}

// limit is rate/s with a burst as a GCRA limit: one token per 1/rate, so
// any positive rate works, fractional ones included.
func (r *RedisRates) limit(rate float64, burst int) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Burst: burst, Period: time.Duration(float64(time.Second) / rate)}
}

// Errors is the number of Redis calls that failed (each answered from the
// fallback). Calls skipped during the back-off are not counted.
func (r *RedisRates) Errors() uint64 { return r.errs.Load() }

// Caps scripts. Each runs atomically in Redis: no read-modify-write race
// between instances.
var (
	// KEYS[1] count; ARGV[1] max (<= 0: unlimited, still counted).
	acquireScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local max = tonumber(ARGV[1])
if max > 0 and n >= max then return 0 end
redis.call('INCR', KEYS[1])
return 1`)
	// KEYS[1] count; never below zero.
	releaseScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0`)
)

// RedisCaps is a Caps shared by every instance using the same Redis and
// prefix. Counts live under prefix + "caps:" + key, without expiry. When
// Redis fails it answers from the fallback, without logging, and skips
// Redis for a second. Safe for concurrent use.
//
// Across an outage the two sides drift: holders acquired locally are
// released locally first (so the fallback drains once Redis is back), and a
// release that cannot reach Redis is lost there. Set, from the ledger,
// resynchronises both.
type RedisCaps struct {
	rdb      *redis.Client
	prefix   string
	fallback Caps
	health
}

// NewRedisCaps shares counts through rdb under prefix. fallback answers
// while Redis is unreachable; nil means in-memory counters.
func NewRedisCaps(rdb *redis.Client, prefix string, fallback Caps) *RedisCaps {
	if fallback == nil {
		fallback = NewCounters()
	}
	c := &RedisCaps{rdb: rdb, prefix: prefix, fallback: fallback}
	c.init(rdb)
	return c
}

func (c *RedisCaps) key(k string) string { return c.prefix + "caps:" + k }

// TryAcquire implements Caps; max <= 0 means unlimited (still counted).
func (c *RedisCaps) TryAcquire(key string, max int) bool {
	if !c.up() {
		return c.fallback.TryAcquire(key, max)
	}
	ctx, cancel := c.call()
	ok, err := acquireScript.Run(ctx, c.rdb, []string{c.key(key)}, max).Int()
	cancel()
	if err != nil {
		c.failed()
		return c.fallback.TryAcquire(key, max)
	}
	return ok == 1
}

// Release implements Caps.
func (c *RedisCaps) Release(key string) {
	if !c.up() || c.fallback.Count(key) > 0 {
		c.fallback.Release(key)
		return
	}
	ctx, cancel := c.call()
	err := releaseScript.Run(ctx, c.rdb, []string{c.key(key)}).Err()
	cancel()
	if err != nil {
		c.failed()
	}
}

// Set implements Caps. The ledger's count covers every holder, so a
// successful Set also empties the fallback; a failed one seeds it.
func (c *RedisCaps) Set(key string, n int) {
	if c.up() {
		ctx, cancel := c.call()
		err := c.rdb.Set(ctx, c.key(key), n, 0).Err()
		cancel()
		if err == nil {
			c.fallback.Set(key, 0)
			return
		}
		c.failed()
	}
	c.fallback.Set(key, n)
}

// Count implements Caps: Redis's count, or the fallback's while Redis is
// unreachable.
func (c *RedisCaps) Count(key string) int {
	if !c.up() {
		return c.fallback.Count(key)
	}
	ctx, cancel := c.call()
	n, err := c.rdb.Get(ctx, c.key(key)).Int()
	cancel()
	switch {
	case errors.Is(err, redis.Nil):
		return 0
	case err != nil:
		c.failed()
		return c.fallback.Count(key)
	}
	return n
}

// Errors is the number of Redis calls that failed (each answered from the
// fallback). Calls skipped during the back-off are not counted.
func (c *RedisCaps) Errors() uint64 { return c.errs.Load() }

var (
	_ Rates = (*RedisRates)(nil)
	_ Caps  = (*RedisCaps)(nil)
)
