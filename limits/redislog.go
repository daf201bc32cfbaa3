package limits

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisLogEvery is how often one kind of go-redis message is logged: with
// Redis down, every request's dial attempt would otherwise print a line.
const redisLogEvery = 10 * time.Second

// RedisLogger writes go-redis's own messages (failed dials, pool trouble)
// through zap as warnings, at most one per message format per interval;
// the next one that gets through says how many were suppressed meanwhile.
// go-redis otherwise prints them raw on stderr.
type RedisLogger struct {
	log   *zap.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*redisLogState // by format string; guarded by mu
}

type redisLogState struct {
	last       time.Time
	suppressed int
}

// NewRedisLogger builds a RedisLogger writing to log at most once per
// every for each message format (<= 0: redisLogEvery); now is the clock
// (nil: time.Now).
func NewRedisLogger(log *zap.Logger, every time.Duration, now func() time.Time) *RedisLogger {
	if every <= 0 {
		every = redisLogEvery
	}
	if now == nil {
		now = time.Now
	}
	return &RedisLogger{log: log.With(zap.String("component", "go-redis")), every: every, now: now, seen: map[string]*redisLogState{}}
}

// Printf implements go-redis's logging interface. Messages are keyed by
// format, not text: the text of a failed dial carries the error, which
// varies while the failure is the same.
func (l *RedisLogger) Printf(_ context.Context, format string, v ...any) {
	now := l.now()
	l.mu.Lock()
	st := l.seen[format]
	if st == nil {
		st = &redisLogState{}
		l.seen[format] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < l.every {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	fields := []zap.Field{zap.String("detail", fmt.Sprintf(format, v...))}
	if suppressed > 0 {
		fields = append(fields, zap.Int("suppressed", suppressed))
	}
	l.log.Warn("redis client", fields...)
}

// SetRedisLogger routes go-redis's messages, for every client in the
// process, through log (see RedisLogger). Call it once, before the first
// client is used.
func SetRedisLogger(log *zap.Logger) {
	redis.SetLogger(NewRedisLogger(log, 0, nil))
}
