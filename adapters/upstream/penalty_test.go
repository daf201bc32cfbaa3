package upstream_test

import (
	"errors"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/upstream"
)

// TestTooManyRequests: a 429's Retry-After in seconds or as an HTTP date
// becomes the penalty's time; none (or garbage) leaves it to the
// gateway's backoff; a huge one is capped at a day. The penalty is
// "unavailable, retry later" but not a platform fault.
func TestTooManyRequests(t *testing.T) {
	date := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	cases := []struct {
		header string
		after  time.Duration
		until  time.Time
	}{
		{"30", 30 * time.Second, time.Time{}},
		{" 7 ", 7 * time.Second, time.Time{}},
		{"Sun, 01 Mar 2026 10:05:00 GMT", 0, date},
		{"", 0, time.Time{}},
		{"soon", 0, time.Time{}},
		{"-5", 0, time.Time{}},
		{"99999999999", 24 * time.Hour, time.Time{}},
	}
	for _, tc := range cases {
		pe := upstream.TooManyRequests(tc.header)
		if pe.Scope != adapters.ScopeAccount || pe.RetryAfter != tc.after || !pe.Until.Equal(tc.until) {
			t.Errorf("Retry-After %q = %+v; want account, after %v, until %v", tc.header, pe, tc.after, tc.until)
		}
		var err error = pe
		if !errors.Is(err, adapters.ErrUnavailable) || adapters.PlatformFault(err) {
			t.Errorf("Retry-After %q: unavailable %v, fault %v; want true, false", tc.header, errors.Is(err, adapters.ErrUnavailable), adapters.PlatformFault(err))
		}
	}
}
