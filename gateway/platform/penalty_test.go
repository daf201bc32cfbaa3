package platform

import (
	"testing"
	"time"

	"smsgate/adapters"
)

// TestPenaltyBook: when each kind of penalty ends (retry-after from the
// gateway's clock first, else the platform's date, else the backoff,
// never beyond a week), what it covers (a pair, or the account; a pair
// penalty from a call about no pair is the account's), that a shorter
// penalty does not cut a longer one short, and that ended ones go.
func TestPenaltyBook(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b := newPenaltyBook(func() time.Time { return now }, 45*time.Second)

	p := b.Note(&adapters.PenaltyError{Scope: adapters.ScopePair, RetryAfter: time.Minute, Until: now.Add(time.Hour), Reason: "BANNED"}, "us", "tg")
	if p.Scope != adapters.ScopePair || p.Country != "us" || p.Service != "tg" || !p.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("pair ban = %+v; want us/tg for a minute (retry-after wins)", p)
	}
	if _, blocked := b.Blocked("gb", "tg"); blocked {
		t.Error("another pair is blocked")
	}
	if _, blocked := b.Blocked("us", "tg"); !blocked {
		t.Error("the banned pair is not blocked")
	}
	// A shorter penalty of the same pair keeps the longer one.
	b.Note(&adapters.PenaltyError{Scope: adapters.ScopePair, Country: "us", Service: "tg", RetryAfter: time.Second, Reason: "short"}, "", "")
	if p, _ := b.Blocked("us", "tg"); p.Reason != "BANNED" {
		t.Errorf("a shorter penalty replaced the longer: %+v", p)
	}
	// No time given: the backoff; a pair penalty about no pair: the account.
	p = b.Note(&adapters.PenaltyError{Scope: adapters.ScopePair, Reason: "CHANNELS_LIMIT"}, "", "")
	if p.Scope != adapters.ScopeAccount || !p.Until.Equal(now.Add(45*time.Second)) {
		t.Errorf("penalty without time or pair = %+v; want the account for 45s", p)
	}
	if p, blocked := b.Blocked("gb", "wa"); !blocked || p.Reason != "CHANNELS_LIMIT" {
		t.Errorf("account penalty does not block every pair: %+v %v", p, blocked)
	}
	// The platform's date when no retry-after; a past date: the backoff;
	// years: a week.
	if p := b.Note(&adapters.PenaltyError{Until: now.Add(2 * time.Minute), Reason: "date"}, "", ""); !p.Until.Equal(now.Add(2 * time.Minute)) {
		t.Errorf("dated penalty = %+v; want 2 min", p)
	}
	if p := b.Note(&adapters.PenaltyError{Until: now.AddDate(5, 0, 0), Reason: "years"}, "", ""); !p.Until.Equal(now.Add(maxPenalty)) {
		t.Errorf("penalty of years = %+v; want capped at a week", p)
	}
	if got := b.Active(); len(got) != 2 || got[0].Scope != adapters.ScopeAccount || got[1].Scope != adapters.ScopePair {
		t.Errorf("active = %+v; want the account's, then us/tg", got)
	}
	now = now.Add(maxPenalty)
	if got := b.Active(); len(got) != 0 {
		t.Errorf("after a week active = %+v; want none", got)
	}
	if _, blocked := b.Blocked("us", "tg"); blocked {
		t.Error("still blocked after every penalty ended")
	}
}
