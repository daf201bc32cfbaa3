// Package redistest gives tests a Redis to share state through (the one
// named by SMSGATE_TEST_REDIS, under a key prefix of their own) and a
// Redis that hangs, for the fallback paths.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Env names the test Redis (host:port).
const Env = "SMSGATE_TEST_REDIS"

// URL returns a client URL for the Redis named by SMSGATE_TEST_REDIS and a
// fresh key prefix; the test is skipped, saying so, when the variable is
// unset. Keys under the prefix (and under "rate:"+prefix, where
// redis_rate puts its own) are deleted when the test ends.
//
// The URL relaxes the hot-path timeouts to a second: these tests check
// what is shared, and on a loaded CI machine 50 ms calls would time out
// and fall back to local state. The fallbacks have tests of their own.
func URL(t testing.TB) (url, prefix string) {
	t.Helper()
	addr := os.Getenv(Env)
	if addr == "" {
		t.Skip("needs Redis: run with " + Env + "=127.0.0.1:6379 (CI sets it)")
	}
	url = "redis://" + addr + "/0?read_timeout=1s&write_timeout=1s&pool_timeout=1s&dial_timeout=1s"
	b := make([]byte, 6)
	rand.Read(b)
	prefix = "smsgate-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx := context.Background()
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			if keys, err := rdb.Keys(ctx, pattern).Result(); err == nil && len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
	})
	return url, prefix
}

// Hung accepts connections and never answers: a Redis that hangs rather
// than refuses. It returns its address.
func Hung(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}
