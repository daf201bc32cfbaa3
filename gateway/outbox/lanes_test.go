package outbox

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"smsgate/gateway/lifetime"
	"smsgate/ledger"
)

// memStore is an outbox in memory: what the worker leases and settles.
type memStore struct {
	mu      sync.Mutex
	rows    map[int64]*ledger.Action
	owner   map[int64]string
	settled chan ledger.Action
}

func newMemStore(list ...ledger.Action) *memStore {
	s := &memStore{rows: map[int64]*ledger.Action{}, owner: map[int64]string{}, settled: make(chan ledger.Action, 100)}
	for i := range list {
		a := list[i]
		a.State = ledger.ActionPending
		s.rows[a.ID] = &a
	}
	return s
}

func (s *memStore) LeaseActions(_ context.Context, owner string, now time.Time, _ time.Duration, limit int, kinds ...ledger.ActionKind) ([]ledger.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Action
	for _, a := range s.rows {
		if a.State == ledger.ActionPending && s.owner[a.ID] == "" && !a.NextAt.After(now) &&
			(len(kinds) == 0 || slices.Contains(kinds, a.Kind)) && len(out) < limit {
			s.owner[a.ID] = owner
			out = append(out, *a)
		}
	}
	return out, nil
}

func (s *memStore) SettleAction(_ context.Context, owner string, a ledger.Action) error {
	s.mu.Lock()
	if s.owner[a.ID] != owner {
		s.mu.Unlock()
		return errors.New("not leased")
	}
	s.owner[a.ID] = ""
	*s.rows[a.ID] = a
	s.mu.Unlock()
	s.settled <- a
	return nil
}

type nopMetrics struct{}

func (nopMetrics) Action(string, string)        {}
func (nopMetrics) Raise(string, string, string) {}

func (s *memStore) next(t *testing.T) ledger.Action {
	t.Helper()
	select {
	case a := <-s.settled:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("nothing settled")
	}
	return ledger.Action{}
}

// TestLanesHangingTenant: with lanes, tenant a's runner holding its
// action does not hold tenant b's; a's later actions beyond LaneDepth go
// back to the ledger unrun (no attempt counted).
func TestLanesHangingTenant(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var list []ledger.Action
	for i := int64(1); i <= 4; i++ {
		list = append(list, ledger.Action{ID: i, Tenant: "a", Kind: ledger.ActWebhook, OrderID: i, CreatedAt: now, NextAt: now})
	}
	list = append(list, ledger.Action{ID: 5, Tenant: "b", Kind: ledger.ActWebhook, OrderID: 5, CreatedAt: now, NextAt: now},
		ledger.Action{ID: 6, Tenant: "b", Kind: ledger.ActCancel, OrderID: 6, CreatedAt: now, NextAt: now})
	store := newMemStore(list...)
	release, holding := make(chan struct{}), make(chan int64, 4)
	run := func(ctx context.Context, a ledger.Action) error {
		if a.Tenant == "a" {
			holding <- a.ID
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}
	w := New(store, run, func() time.Time { return now }, func() float64 { return 0.5 }, zap.NewNop(), nopMetrics{}, nopMetrics{},
		Options{Lanes: true, LaneDepth: 2, Kinds: []ledger.ActionKind{ledger.ActWebhook}, Tick: time.Hour})
	g := lifetime.NewGroup()
	defer g.Stop()
	w.Start(g)
	defer close(release)

	if id := <-holding; id != 1 {
		t.Fatalf("a's lane ran %d first; want 1 (ID order)", id)
	}
	var handedBack, doneB int
	for handedBack+doneB < 3 {
		a := store.next(t)
		switch {
		case a.Tenant == "b" && a.State == ledger.ActionDone && a.Attempts == 1:
			doneB++
		case a.Tenant == "a" && a.State == ledger.ActionPending && a.Attempts == 0 && a.NextAt.After(now):
			handedBack++ // over LaneDepth: back to the ledger for later
		default:
			t.Fatalf("settled %+v", a)
		}
	}
	if doneB != 1 || handedBack != 2 {
		t.Fatalf("b done %d, a handed back %d; want 1 and 2", doneB, handedBack)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.rows[6].State != ledger.ActionPending || store.owner[6] != "" {
		t.Fatal("a cancel was leased by the webhook worker")
	}
}

// TestLaterIsNotAnAttempt: an action that must wait for an earlier one is
// put off by a quarter of its age (at least MinBackoff) without counting
// an attempt.
func TestLaterIsNotAnAttempt(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	store := newMemStore(ledger.Action{ID: 1, Tenant: "a", Kind: ledger.ActWebhook, CreatedAt: now.Add(-time.Hour), NextAt: now, Attempts: 3})
	w := New(store, func(context.Context, ledger.Action) error { return Later(errors.New("an earlier one first")) },
		func() time.Time { return now }, func() float64 { return 0.5 }, zap.NewNop(), nopMetrics{}, nopMetrics{}, Options{MaxBackoff: time.Hour})
	if n := w.Round(context.Background()); n != 1 {
		t.Fatalf("leased %d", n)
	}
	a := store.next(t)
	if a.State != ledger.ActionPending || a.Attempts != 3 || !a.NextAt.Equal(now.Add(15*time.Minute)) || a.LastError != "an earlier one first" {
		t.Fatalf("after Later: %+v", a)
	}
}
