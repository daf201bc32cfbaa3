package limits

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRedisLoggerRateLimited: one line per message format per interval;
// the next one counts what was suppressed; other formats are their own.
func TestRedisLoggerRateLimited(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	l := NewRedisLogger(zap.New(core), 10*time.Second, func() time.Time { return now })
	const dial = "redis: connection pool: failed to dial after %d attempts: %v"
	ctx := context.Background()
	l.Printf(ctx, dial, 1, "connection refused")
	l.Printf(ctx, dial, 1, "i/o timeout") // same failure, other text: suppressed
	l.Printf(ctx, "Conn has unread data (not push notification), removing it")
	now = now.Add(9 * time.Second)
	l.Printf(ctx, dial, 1, "connection refused")
	now = now.Add(time.Second)
	l.Printf(ctx, dial, 1, "connection refused")

	got := logs.All()
	if len(got) != 3 {
		t.Fatalf("%d entries; want 3: %v", len(got), got)
	}
	for _, e := range got {
		if e.Level != zap.WarnLevel || e.Message != "redis client" || e.ContextMap()["component"] != "go-redis" {
			t.Errorf("entry %+v; want a warning \"redis client\" from component go-redis", e)
		}
	}
	first, other, again := got[0].ContextMap(), got[1].ContextMap(), got[2].ContextMap()
	if first["detail"] != "redis: connection pool: failed to dial after 1 attempts: connection refused" || first["suppressed"] != nil {
		t.Errorf("first entry %v", first)
	}
	if !strings.HasPrefix(other["detail"].(string), "Conn has unread data") {
		t.Errorf("second entry %v; want the other format, not suppressed", other)
	}
	if again["suppressed"] != int64(2) {
		t.Errorf("entry after the interval %v; want suppressed 2", again)
	}
}
