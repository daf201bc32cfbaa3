package outbox_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"smsgate/gateway/outbox"
	"smsgate/ledger"
)

type counts struct {
	mu      sync.Mutex
	results map[string]int
	alerts  []string
}

func (c *counts) Action(kind, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[kind+"/"+result]++
}

func (c *counts) Raise(kind, platform, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alerts = append(c.alerts, kind+" "+platform)
}

// TestWorkerOutcomes: against a real ledger, an action that succeeds is
// done, one the far side refuses for good is final, one that fails is
// retried after a backoff (doubling, jittered) and given up with an alert
// once its give-up time passes; nothing runs before it is due.
func TestWorkerOutcomes(t *testing.T) {
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "l.db"), ledger.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	mk := func(up string) ledger.Action {
		return ledger.Action{Tenant: "t", Platform: "p", UpstreamID: up, Kind: ledger.ActCancel,
			CreatedAt: now, UpdatedAt: now, NextAt: now, GiveUpAt: now.Add(time.Minute)}
	}
	if err := store.Enqueue(ctx, mk("ok"), mk("final"), mk("flaky")); err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	run := func(_ context.Context, a ledger.Action) error {
		runs[a.UpstreamID]++
		switch a.UpstreamID {
		case "ok":
			return nil
		case "final":
			return outbox.Final(errors.New("no such order"))
		}
		return errors.New("platform down")
	}
	c := &counts{results: map[string]int{}}
	w := outbox.New(store, run, clock, func() float64 { return 0.5 }, zap.NewNop(), c, c,
		outbox.Options{MinBackoff: 2 * time.Second, MaxBackoff: 8 * time.Second})

	if n := w.Round(ctx); n != 3 {
		t.Fatalf("first round leased %d; want 3", n)
	}
	acts, _ := store.Actions(ctx, 0)
	byUp := map[string]ledger.Action{}
	for _, a := range acts {
		byUp[a.UpstreamID] = a
	}
	if byUp["ok"].State != ledger.ActionDone || byUp["final"].State != ledger.ActionFinal || byUp["final"].LastError == "" {
		t.Fatalf("after one round: %+v", acts)
	}
	flaky := byUp["flaky"]
	if flaky.State != ledger.ActionPending || flaky.Attempts != 1 || !flaky.NextAt.Equal(now.Add(2*time.Second)) {
		t.Fatalf("failed action %+v; want pending, 1 attempt, next at +2s (jitter 0.5 → ×1)", flaky)
	}
	if n := w.Round(ctx); n != 0 {
		t.Fatalf("a round before the retry is due leased %d", n)
	}
	// Backoff doubles: +2s, +4s, +8s, +8s (the cap)…
	for i, want := range []time.Duration{4 * time.Second, 8 * time.Second, 8 * time.Second} {
		now = flaky.NextAt
		if n := w.Round(ctx); n != 1 {
			t.Fatalf("retry %d leased %d", i+1, n)
		}
		flaky, _ = onlyAction(t, store, "flaky")
		if got := flaky.NextAt.Sub(now); got != want {
			t.Fatalf("retry %d: next after %v; want %v", i+1, got, want)
		}
	}
	now = now.Add(time.Minute)
	w.Round(ctx)
	flaky, _ = onlyAction(t, store, "flaky")
	if flaky.State != ledger.ActionGaveUp || len(c.alerts) != 1 || c.results["cancel/gave_up"] != 1 {
		t.Fatalf("past its give-up time: %+v, alerts %v, counts %v", flaky, c.alerts, c.results)
	}
	if runs["ok"] != 1 || runs["final"] != 1 || c.results["cancel/done"] != 1 || c.results["cancel/final"] != 1 {
		t.Fatalf("runs %v, counts %v; want done and final once each", runs, c.results)
	}
}

func onlyAction(t *testing.T, store ledger.Store, up string) (ledger.Action, bool) {
	t.Helper()
	acts, err := store.Actions(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if a.UpstreamID == up {
			return a, true
		}
	}
	t.Fatalf("no action %s", up)
	return ledger.Action{}, false
}
