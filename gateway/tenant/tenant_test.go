package tenant

import (
	"testing"
	"time"

	"smsgate/config"
	"smsgate/limits"
)

func TestLookupHashesOnce(t *testing.T) {
	ts, err := New([]config.Tenant{
		{Name: "a", Key: "key-a", Platforms: []string{"p1"}},
		{Name: "b", Key: "key-b", Currency: "RUB", Strategy: "success"},
	}, "USD", "price")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := ts.ByKeyBytes([]byte("key-a"))
	if !ok || a.Name != "a" || a.Currency != "USD" || a.Strategy != "price" {
		t.Fatalf("ByKeyBytes(key-a) = %+v, %v", a, ok)
	}
	if !a.Allows("p1") || a.Allows("p2") {
		t.Fatalf("a's platforms: allows p1 %v, p2 %v; want only p1", a.Allows("p1"), a.Allows("p2"))
	}
	b, ok := ts.ByKey("key-b")
	if !ok || b.Name != "b" || b.Currency != "RUB" || b.Strategy != "success" || !b.Allows("anything") {
		t.Fatalf("ByKey(key-b) = %+v, %v", b, ok)
	}
	for _, k := range []string{"", "key-c", "key-a "} {
		if _, ok := ts.ByKey(k); ok {
			t.Errorf("ByKey(%q) found a tenant", k)
		}
	}
	if n := ts.Hashes(); n != 5 {
		t.Errorf("%d key hashes for 5 lookups; want one each", n)
	}
	if byName, ok := ts.ByName("b"); !ok || byName != b {
		t.Error("ByName(b) is not the handle ByKey returned")
	}
}

func TestLimiterAndRetryAfter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(limits.NewBuckets(func() time.Time { return now }))
	ten := &Tenant{Name: "a", Rate: 2}
	for i := range 2 {
		if ok, _ := l.Allow(ten); !ok {
			t.Fatalf("request %d refused within the burst of 2", i+1)
		}
	}
	ok, wait := l.Allow(ten)
	if ok || wait <= 0 {
		t.Fatalf("third request at once = %v, wait %v; want refused with a wait", ok, wait)
	}
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %s; want %s", d, got, want)
		}
	}
}
