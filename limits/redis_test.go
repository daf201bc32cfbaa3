package limits

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"smsgate/internal/redistest"
)

// newClient is one gateway instance's client, closed with the test.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb, err := NewRedisClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestRedisRatesShared: two instances limiting one tenant to N/s let N/s
// through together, not 2N.
func TestRedisRatesShared(t *testing.T) {
	addr, prefix := redistest.URL(t)
	a := NewRedisRates(newClient(t, addr), prefix, nil)
	b := NewRedisRates(newClient(t, addr), prefix, nil)
	// A burst above 1 absorbs the polling loop's jitter: with burst 1 a
	// late poll loses its lateness (GCRA schedules from the grant).
	const rate, burst = 20.0, 5

	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(time.Second)
	for _, r := range []*RedisRates{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if ok, _ := r.Allow("tenant:t1", rate, burst); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	want := burst + int(el*rate) // the burst, then one per 1/rate
	t.Logf("%d allowed in %.3fs across two instances at %v/s, burst %d (the limit: %d)", allowed, el, rate, burst, want)
	if allowed < want-3 || allowed > want+1 {
		t.Fatalf("%d allowed in %.3fs; want about %d (2N would be %d)", allowed, el, want, 2*want)
	}
	if a.Errors()+b.Errors() != 0 {
		t.Fatalf("redis errors: %d, %d", a.Errors(), b.Errors())
	}
}

// TestRedisRatesBurst: the burst is shared, a refusal says when the next
// token comes, keys are independent, fractional rates work.
func TestRedisRatesBurst(t *testing.T) {
	addr, prefix := redistest.URL(t)
	a := NewRedisRates(newClient(t, addr), prefix, nil)
	b := NewRedisRates(newClient(t, addr), prefix, nil)
	for i := 0; i < 3; i++ {
		r := []*RedisRates{a, b}[i%2]
		if ok, _ := r.Allow("k", 2, 3); !ok {
			t.Fatalf("burst token %d refused", i)
		}
	}
	ok, wait := b.Allow("k", 2, 3)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th at once = %v, retry after %s; want refused, within 500ms", ok, wait)
	}
	if ok, _ := a.Allow("other", 2, 3); !ok {
		t.Fatal("another key shares the bucket")
	}
	if ok, _ := a.Allow("slow", 0.5, 1); !ok {
		t.Fatal("first token at 0.5/s refused")
	}
	ok, wait = b.Allow("slow", 0.5, 1)
	if ok || wait < 1900*time.Millisecond || wait > 2*time.Second {
		t.Fatalf("second token at 0.5/s = %v, retry after %s; want refused, about 2s", ok, wait)
	}
	if ok, _ := a.Allow("k", 0, 0); !ok {
		t.Fatal("rate 0 must mean unlimited")
	}
	if a.Peek("k", 2, 3) || !a.Peek("fresh", 2, 3) || !a.Peek("k", 0, 0) {
		t.Fatal("Peek: want no token on the spent bucket, one on a fresh one, always one when unlimited")
	}
	if ok, _ := a.Allow("fresh", 2, 1); !ok || a.Peek("fresh", 2, 1) {
		t.Fatal("Peek must not take the token it sees")
	}
}

// TestRedisCapsShared: 50 concurrent acquisitions through two instances
// never exceed the cap; releases never go below zero.
func TestRedisCapsShared(t *testing.T) {
	addr, prefix := redistest.URL(t)
	caps := []*RedisCaps{
		NewRedisCaps(newClient(t, addr), prefix, nil),
		NewRedisCaps(newClient(t, addr), prefix, nil),
	}
	var wg sync.WaitGroup
	got := make(chan bool, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); got <- caps[i%2].TryAcquire("t", 10) }()
	}
	wg.Wait()
	close(got)
	n := 0
	for ok := range got {
		if ok {
			n++
		}
	}
	if n != 10 || caps[0].Count("t") != 10 || caps[1].Count("t") != 10 {
		t.Fatalf("%d acquired, counts %d/%d; want exactly the cap, 10", n, caps[0].Count("t"), caps[1].Count("t"))
	}
	caps[1].Release("t")
	if !caps[0].TryAcquire("t", 10) || caps[1].TryAcquire("t", 10) {
		t.Fatal("a release on one instance frees exactly one slot on the other")
	}
	for i := 0; i < 20; i++ {
		caps[i%2].Release("t")
	}
	if c := caps[0].Count("t"); c != 0 {
		t.Fatalf("count %d after more releases than holders; want 0", c)
	}
	caps[0].Set("t", 7)
	if caps[1].Count("t") != 7 || !caps[1].TryAcquire("t", 0) || caps[0].Count("t") != 8 {
		t.Fatal("Set / unlimited acquire not shared")
	}
	if caps[0].Count("never") != 0 {
		t.Fatal("a missing key counts 0")
	}
	if e := caps[0].Errors() + caps[1].Errors(); e != 0 {
		t.Fatalf("%d redis errors", e)
	}
}

// TestRedisDownFallback needs no Redis: with Redis refusing or hanging,
// every call is answered from the local fallback, with the local
// semantics, and quickly.
func TestRedisDownFallback(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"refused", "127.0.0.1:1"},
		{"hung", redistest.Hung(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := newClient(t, tc.addr)
			rates := NewRedisRates(rdb, "x:", nil)
			caps := NewRedisCaps(rdb, "x:", NewCounters())
			var slowest time.Duration
			timed := func(f func()) {
				start := time.Now()
				f()
				slowest = max(slowest, time.Since(start))
			}
			var oks []bool
			for i := 0; i < 4; i++ {
				timed(func() { ok, _ := rates.Allow("t", 1, 3); oks = append(oks, ok) })
			}
			if oks[0] != true || oks[2] != true || oks[3] != false {
				t.Fatalf("fallback rates %v; want the local burst of 3, then refused", oks)
			}
			timed(func() { oks[0] = rates.Peek("t", 1, 3) })
			if oks[0] {
				t.Fatal("fallback Peek sees a token in a spent bucket")
			}
			for i := 0; i < 3; i++ {
				timed(func() { oks[i] = caps.TryAcquire("t", 2) })
			}
			timed(func() { caps.Release("t") })
			timed(func() { oks[3] = caps.TryAcquire("t", 2) })
			if oks[0] != true || oks[1] != true || oks[2] != false || oks[3] != true {
				t.Fatalf("fallback caps %v; want the local cap of 2, a release freeing one", oks[:4])
			}
			timed(func() { caps.Set("t", 5) })
			var n int
			timed(func() { n = caps.Count("t") })
			if n != 5 {
				t.Fatalf("fallback count %d after Set 5", n)
			}
			t.Logf("slowest call %s; redis errors %d (rates) %d (caps)", slowest, rates.Errors(), caps.Errors())
			if slowest > time.Second {
				t.Fatalf("a call took %s with Redis down; want tens of ms", slowest)
			}
			if rates.Errors() == 0 || caps.Errors() == 0 {
				t.Fatal("errors not counted")
			}
		})
	}
}

// proxy forwards TCP to a real Redis and can be cut and restored, to
// play an outage.
type proxy struct {
	t      *testing.T
	addr   string // where the proxy listens
	target string // Redis

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, addr: "127.0.0.1:0", target: target}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go io.Copy(up, c)
			go io.Copy(c, up)
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestRedisOutageAndBack: limits fall back to local state while Redis is
// cut, and go back to the shared counts once it returns.
func TestRedisOutageAndBack(t *testing.T) {
	url, prefix := redistest.URL(t)
	p := newProxy(t, os.Getenv(redistest.Env))
	// other keeps its Redis; c reaches it through the proxy.
	other := NewRedisCaps(newClient(t, url), prefix, nil)
	c := NewRedisCaps(newClient(t, strings.Replace(url, p.target, p.addr, 1)), prefix, nil)

	if !c.TryAcquire("t", 5) || other.Count("t") != 1 {
		t.Fatal("not shared before the outage")
	}
	p.stop()
	start := time.Now()
	if !c.TryAcquire("t", 5) {
		t.Fatal("refused during the outage; want the local fallback")
	}
	t.Logf("first call in the outage took %s", time.Since(start))
	if c.Errors() == 0 || other.Count("t") != 1 || c.Count("t") != 1 {
		t.Fatalf("during the outage: errors %d, shared count %d, local count %d; want >0, 1, 1", c.Errors(), other.Count("t"), c.Count("t"))
	}
	p.start()
	c.Release("t") // the holder taken locally is released locally
	start = time.Now()
	for c.Count("t") != 1 { // the local count is 0 now, Redis's 1
		if time.Since(start) > 5*time.Second {
			t.Fatalf("not back on Redis 5s after it returned (errors %d)", c.Errors())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("back on Redis %s after it returned", time.Since(start))
	if !c.TryAcquire("t", 5) || other.Count("t") != 2 {
		t.Fatal("acquisitions not shared after the outage")
	}
}

func TestNewRedisClient(t *testing.T) {
	for _, tc := range []struct {
		url      string
		addr     string
		db       int
		readTime time.Duration
	}{
		{"127.0.0.1:6379", "127.0.0.1:6379", 0, hotPathTimeout},
		{"redis://redis.internal:6380/2", "redis.internal:6380", 2, hotPathTimeout},
		// a timeout spelled out in the URL wins over the hot-path default
		{"redis://h:1/0?read_timeout=2s", "h:1", 0, 2 * time.Second},
	} {
		rdb, err := NewRedisClient(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		o := rdb.Options()
		// MaxRetries -1 reads back as 0 after go-redis's normalisation (0 would have become 3)
		if o.Addr != tc.addr || o.DB != tc.db || o.ReadTimeout != tc.readTime || o.MaxRetries != 0 ||
			!o.ContextTimeoutEnabled || o.PoolTimeout != hotPathTimeout || o.DialerRetries != 1 {
			t.Fatalf("%s: addr %s db %d read %s retries %d ctx %v pool %s dial attempts %d", tc.url,
				o.Addr, o.DB, o.ReadTimeout, o.MaxRetries, o.ContextTimeoutEnabled, o.PoolTimeout, o.DialerRetries)
		}
		rdb.Close()
	}
	for _, bad := range []string{"", "http://x:1", "redis://h:1/notadb"} {
		if _, err := NewRedisClient(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
