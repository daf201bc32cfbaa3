package breaker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisShared is a Shared on Redis: one key per platform,
// prefix + "breaker:" + name, holding the open-until time in unix
// milliseconds and expiring at that time. Deadlines are compared on each
// instance's wall clock, so instances need roughly synchronised clocks
// (NTP); Redis's expiry removes the key on time whatever they say.
type RedisShared struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time
	errs   atomic.Uint64
}

// NewRedisShared shares openings through rdb under prefix. Give it a
// client with short timeouts and no retries (limits.NewRedisClient).
func NewRedisShared(rdb *redis.Client, prefix string) *RedisShared {
	return &RedisShared{rdb: rdb, prefix: prefix, now: time.Now}
}

// WithClock makes the key's expiry count from now() instead of the wall
// clock: the clock the breakers sharing it use (tests move one manual
// clock for every instance).
func (s *RedisShared) WithClock(now func() time.Time) *RedisShared {
	s.now = now
	return s
}

// publishScript: SET KEYS[1] ARGV[1] PX ARGV[2], unless the key already
// holds a later opening. Two instances tripping together may publish
// different lengths (each has its own trip ladder); the longer one stands.
var publishScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

func (s *RedisShared) key(name string) string { return s.prefix + "breaker:" + name }

// PublishOpen implements Shared. An opening already over is not written.
func (s *RedisShared) PublishOpen(ctx context.Context, name string, until time.Time) error {
	ttl := until.Sub(s.now()).Milliseconds()
	if ttl <= 0 {
		return nil
	}
	err := publishScript.Run(ctx, s.rdb, []string{s.key(name)}, until.UnixMilli(), ttl).Err()
	if err != nil {
		s.errs.Add(1)
		return err
	}
	return nil
}

// OpenUntil implements Shared.
func (s *RedisShared) OpenUntil(ctx context.Context, name string) (time.Time, error) {
	v, err := s.rdb.Get(ctx, s.key(name)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, nil
	case err != nil:
		s.errs.Add(1)
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.errs.Add(1)
		return time.Time{}, fmt.Errorf("cannot parse breaker key %s: %w", s.key(name), err)
	}
	return time.UnixMilli(ms), nil
}

// Errors is the number of Redis calls that failed.
func (s *RedisShared) Errors() uint64 { return s.errs.Load() }

var _ Shared = (*RedisShared)(nil)
