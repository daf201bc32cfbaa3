package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/ledger"
)

// The money invariants under concurrency. a and b are two stores on one
// database (two instances), or one store twice.

// ConcurrentReservations: 200 purchases at once against a wallet funded
// for exactly K holds: exactly K intents open, the rest are refused with
// ErrInsufficientFunds, and no reader ever sees available below zero.
func ConcurrentReservations(t *testing.T, a, b ledger.Store) {
	const (
		callers = 200
		k       = 37
		hold    = 1_000_000
	)
	ctx := context.Background()
	fund(t, a, "race", k*hold+hold/2) // half a hold too little for a K+1th
	stop := make(chan struct{})
	watched := make(chan int)
	go func() { // reads the wallet while the holds race; stopped by stop
		reads := 0
		defer func() { watched <- reads }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			w, err := b.Wallet(ctx, "race")
			if err != nil || w.Available() < 0 || w.Reserved < 0 {
				t.Errorf("wallet during the race: %+v, %v", w, err)
				return
			}
			reads++
		}
	}()
	var (
		ok    atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range callers {
		s := []ledger.Store{a, b}[i%2]
		wg.Go(func() {
			<-start
			in := ledger.Intent{Tenant: "race", Platform: "alpha", Hold: hold, Currency: "RUB", CreatedAt: base}
			err := s.OpenIntent(ctx, &in)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ledger.ErrInsufficientFunds):
				t.Errorf("%s: OpenIntent: %v; want nil or ErrInsufficientFunds", describe("caller", i), err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	t.Logf("%d wallet reads during the race", <-watched)
	if ok.Load() != k {
		t.Errorf("%d holds succeeded; want exactly %d", ok.Load(), k)
	}
	if w := wallet(t, a, "race"); w.Reserved != k*hold || w.Available() != hold/2 {
		t.Errorf("wallet after the race: %+v; want reserved %d, available %d", w, k*hold, hold/2)
	}
	open, err := a.StaleIntents(ctx, base.Add(time.Hour), callers)
	if err != nil || len(open) != k {
		t.Errorf("open intents: %d, %v; want %d (a refused hold records nothing)", len(open), err, k)
	}
	checkBooks(t, a, "race")
}

// ConcurrentApply: two writers (one through a, one through b) hold copies
// of the same reserved orders, read before either writes, and race: one
// captures each order, the other releases it. Each order's money moves
// exactly once (the loser gets ErrStale, reads again and finds nothing
// to move), while top-ups and adjustments run alongside; at the end the
// journal sums to the wallet row exactly and nothing is left reserved.
func ConcurrentApply(t *testing.T, a, b ledger.Store) {
	const n = 60
	ctx := context.Background()
	fund(t, a, "race", 1_000_000_000)
	orders := make([]ledger.Order, n)
	for i := range orders {
		orders[i] = reservedOrder(t, a, "race", int64(1_000_000+i))
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		moved [2]atomic.Int64
	)
	for w, s := range []ledger.Store{a, b} {
		move := []ledger.Movement{ledger.MoveCapture, ledger.MoveRelease}[w]
		copies := make([]ledger.Order, n)
		for i := range copies {
			copies[i] = get(t, s, orders[i].ID)
		}
		wg.Go(func() {
			<-start
			for i := range copies { // the same order: they race on every row
				if applyOnce(t, s, copies[i], move) {
					moved[w].Add(1)
				}
			}
		})
	}
	wg.Go(func() { // the admin tops up and adjusts meanwhile
		<-start
		for i := range 20 {
			kind, amount := ledger.EntryTopup, int64(5_000_000)
			if i%2 == 1 {
				kind, amount = ledger.EntryAdjust, -1_000_000
			}
			if _, err := b.AdjustWallet(ctx, "race", "RUB", kind, amount, "meanwhile", base); err != nil {
				t.Errorf("%s: %v", describe("adjustment", i), err)
			}
		}
	})
	close(start)
	wg.Wait()
	if got := moved[0].Load() + moved[1].Load(); got != n {
		t.Errorf("%d movements (%d captures, %d releases); want %d, one per order", got, moved[0].Load(), moved[1].Load(), n)
	}
	t.Logf("%d captured, %d released", moved[0].Load(), moved[1].Load())
	perOrder := make(map[int64]int)
	for _, e := range journalAll(t, a, "race") {
		if e.Kind == ledger.EntryCapture || e.Kind == ledger.EntryRelease {
			perOrder[e.OrderID]++
		}
	}
	for _, o := range orders {
		if got := get(t, a, o.ID); perOrder[o.ID] != 1 || got.Wallet == ledger.WalletReserved {
			t.Errorf("order %d: %d movements, wallet %q; want one, not reserved", o.ID, perOrder[o.ID], got.Wallet)
		}
	}
	sums := checkBooks(t, a, "race")
	if w := wallet(t, b, "race"); w.Reserved != 0 {
		t.Errorf("reserved after every order moved: %d (%v)", w.Reserved, sums)
	}
}

// applyOnce applies move to o, reading it again after ErrStale, and
// reports whether this call moved its money.
func applyOnce(t *testing.T, s ledger.Store, o ledger.Order, move ledger.Movement) bool {
	ctx := context.Background()
	for {
		before := o.Wallet
		o.State = adapters.StateFinished
		err := s.Apply(ctx, &o, ledger.Change{Move: move})
		if err == nil {
			return before == ledger.WalletReserved && o.Wallet != ledger.WalletReserved
		}
		if !errors.Is(err, ledger.ErrStale) {
			t.Errorf("Apply(%d, %s): %v", o.ID, move, err)
			return false
		}
		fresh, err := s.Get(ctx, o.ID)
		if err != nil {
			t.Errorf("Get(%d): %v", o.ID, err)
			return false
		}
		o = fresh
	}
}

// ConcurrentActionLeases: four owners (two on each store) lease due
// actions in small batches at once and settle them: the sets they get are
// disjoint and cover every due action exactly once. Then an owner that
// leased and died: at its lease's end the others get its actions, each
// once, and it can no longer settle them.
func ConcurrentActionLeases(t *testing.T, a, b ledger.Store) {
	const (
		n     = 300
		lease = time.Minute
	)
	ctx := context.Background()
	now := base.Add(time.Hour)
	all := enqueueDue(t, a, n, now)
	counts := leaseRound(t, []ledger.Store{a, b, a, b}, now, lease, true)
	for _, id := range all {
		if counts[id] != 1 {
			t.Errorf("action %d leased %d times; want once", id, counts[id])
		}
	}
	if len(counts) != n {
		t.Errorf("%d actions leased; want %d", len(counts), n)
	}

	later := now.Add(time.Hour)
	if err := a.Enqueue(ctx, ledger.Action{Kind: ledger.ActFinish, NextAt: later}, ledger.Action{Kind: ledger.ActBan, NextAt: later}); err != nil {
		t.Fatal(err)
	}
	dead := leaseActions(t, a, "dead", later, lease, 10)
	if len(dead) != 2 {
		t.Fatalf("the owner about to die leased %v; want the 2 due", actionIDs(dead))
	}
	counts = leaseRound(t, []ledger.Store{a, b}, later.Add(lease), lease, false)
	for _, d := range dead {
		if counts[d.ID] != 1 {
			t.Errorf("expired lease of action %d handed out %d times; want once", d.ID, counts[d.ID])
		}
		d.State = ledger.ActionDone
		if err := a.SettleAction(ctx, "dead", d); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("settle by the owner whose lease expired and was taken: %v; want ErrNotFound", err)
		}
	}
}

// leaseRound has one owner per store lease due actions (7 at a time) at
// now until none is left, settling each as done when settle is set (else
// holding it). It returns how many times each action was leased. An owner
// still getting actions after maxLeaseCalls calls fails the test (a store
// that hands leased actions out again would never run dry).
const maxLeaseCalls = 100 // ConcurrentActionLeases needs at most 300/7+1

func leaseRound(t *testing.T, stores []ledger.Store, now time.Time, lease time.Duration, settle bool) map[int64]int {
	var (
		mu     sync.Mutex
		counts = make(map[int64]int)
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for w, s := range stores {
		owner := fmt.Sprintf("owner-%d", w)
		wg.Go(func() {
			<-start
			for call := 0; ; call++ {
				if call == maxLeaseCalls {
					t.Errorf("%s still leasing after %d calls", owner, call)
					return
				}
				got, err := s.LeaseActions(context.Background(), owner, now, lease, 7)
				if err != nil {
					t.Errorf("LeaseActions(%s): %v", owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, act := range got {
					mu.Lock()
					counts[act.ID]++
					mu.Unlock()
					if !settle {
						continue
					}
					act.State, act.Attempts, act.UpdatedAt = ledger.ActionDone, 1, now
					if err := s.SettleAction(context.Background(), owner, act); err != nil {
						t.Errorf("SettleAction(%s, %d): %v", owner, act.ID, err)
						return
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return counts
}
