// Package poller checks active orders at their platform's poll interval
// and records what it learns through the order service.
package poller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/ledger"
)

// Poller checks active orders at their platform's poll interval and writes
// what it learns to the ledger. Clients read the ledger: how often they
// poll never changes how often the upstream is asked.
//
// With a shared ledger (PostgreSQL) each due order is leased to one
// instance; with SQLite this instance polls everything.
//
// A platform that lists its active orders with their codes
// (adapters.ListPoller) is polled with one list round per poll interval
// while it has an order awaiting a code, and the poller acts only on what
// changed between rounds (list.go); its quiet orders wait for their
// lifetime's end. The others, and that one's orders the list does not
// show, are checked one by one.
type Poller struct {
	store     ledger.Store
	orders    Orders
	platforms map[string]*platform.Platform
	now       func() time.Time
	log       *zap.Logger
	random    func() float64 // jitter source

	tick    time.Duration // how often the ledger is asked for due orders
	workers int
	wakeCh  chan struct{}
	owner   string        // lease owner id of this instance
	lease   time.Duration // how long a claimed order stays ours

	// list is the store's list-round queries; nil: the store has none,
	// and every platform is polled order by order.
	list listLedger
	// roundLease shares each platform's list round between instances
	// (nil: this instance is the only one, as with SQLite).
	roundLease roundLeaser

	mu       sync.Mutex
	inFlight map[int64]bool       // orders being checked now; guarded by mu
	noList   map[string]bool      // platforms found to have no list (by code); guarded by mu
	settled  map[string]time.Time // per list platform, the last loop time with nothing left owed to its round; guarded by mu
	fallback map[string]bool      // list platforms with a fallback Check in flight; guarded by mu
	// lists are the list platforms' round states (by code); only the
	// loop goroutine touches them.
	lists  map[string]*listState
	wg     sync.WaitGroup
	cancel context.CancelFunc
	done   chan struct{}
}

// Orders is what the poller needs of the order service (orders.Service).
type Orders interface {
	Lock(id int64) *sync.Mutex
	Read(ctx context.Context, id int64) (ledger.Order, error)
	Observe(ctx context.Context, o *ledger.Order, p *platform.Platform, u adapters.Update, next, now time.Time) (bool, error)
}

// New builds a poller over platforms (by code); Start runs it.
func New(store ledger.Store, o Orders, platforms map[string]*platform.Platform,
	now func() time.Time, log *zap.Logger, random func() float64) *Poller {
	tick := 250 * time.Millisecond
	lease := 30 * time.Second
	for _, p := range platforms {
		if q := p.PollInterval / 4; q > 0 && q < tick {
			tick = q
		}
		if l := 3 * p.Timeout; l > lease {
			lease = l
		}
	}
	if tick < 5*time.Millisecond {
		tick = 5 * time.Millisecond
	}
	b := make([]byte, 8)
	rand.Read(b)
	p := &Poller{store: store, orders: o, platforms: platforms, now: now, log: log, random: random, tick: tick, workers: 16, wakeCh: make(chan struct{}, 1), inFlight: map[int64]bool{},
		noList: map[string]bool{}, settled: map[string]time.Time{}, fallback: map[string]bool{}, lists: map[string]*listState{},
		owner: "poller-" + hex.EncodeToString(b), lease: lease}
	p.list, _ = store.(listLedger)
	if _, shared := store.(ledger.Leaser); shared {
		// Instances share the ledger: each list round is leased to one.
		p.roundLease, _ = store.(roundLeaser)
	}
	return p
}

// Wake makes the poller look for due orders now.
func (p *Poller) Wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// Start runs the poller until ctx ends or Stop.
func (p *Poller) Start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	sem := make(chan struct{}, p.workers)
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.tick)
		defer t.Stop()
		for {
			// Every round asks the ledger, so orders bought before a restart
			// (or by an instance that died) resume on their own.
			full := p.round(ctx, sem)
			if full {
				continue // more are due: no pause
			}
			select {
			case <-ctx.Done():
				p.wg.Wait()
				return
			case <-t.C:
			case <-p.wakeCh:
			}
		}
	}()
}

// Stop ends the poller, waits for its checks in flight and hands its
// list rounds over to the other instances.
func (p *Poller) Stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.releaseRounds()
}

const pollBatch = 512

// due lists orders to check now: leased to this instance when the ledger
// is shared.
func (p *Poller) due(ctx context.Context, now time.Time) ([]ledger.Order, error) {
	if l, ok := p.store.(ledger.Leaser); ok {
		return l.Claim(ctx, p.owner, now, p.lease, pollBatch)
	}
	return p.store.Due(ctx, now, pollBatch)
}

// round dispatches the due orders; it reports whether the batch was full
// (more may be due at once).
func (p *Poller) round(ctx context.Context, sem chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	now := p.now().UTC()
	// The list rounds first: what they record is no longer due below.
	p.listRounds(ctx, sem, now)
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	due, err := p.due(qctx, now)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("poller cannot list due orders", zap.Error(err))
		}
		return false
	}
	dispatched := 0
	var byList map[*platform.Platform][]ledger.Order
	for _, o := range due {
		pl, ok := p.platforms[o.Platform]
		if !ok {
			continue
		}
		if p.listed(pl) {
			if byList == nil {
				byList = map[*platform.Platform][]ledger.Order{}
			}
			byList[pl] = append(byList[pl], o)
			continue
		}
		// Over the platform's outbound rate: leave it due for the next
		// round instead of spending a failed call on it.
		if !pl.Ready() {
			continue
		}
		dispatched += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.Check(ctx, o, pl) })
	}
	for pl, batch := range byList {
		dispatched += p.pollList(ctx, sem, pl, batch, now)
	}
	return len(due) == pollBatch && dispatched > 0
}

// dispatch runs f on o in a worker unless o is being polled already; it
// returns 1 when it did.
func (p *Poller) dispatch(ctx context.Context, sem chan struct{}, o ledger.Order, f func(context.Context, ledger.Order)) int {
	return p.dispatchWait(ctx, sem, nil, o, f)
}

// dispatchWait is dispatch that also counts the work in wg (nil: none),
// for a caller that waits for it.
func (p *Poller) dispatchWait(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup, o ledger.Order, f func(context.Context, ledger.Order)) int {
	p.mu.Lock()
	busy := p.inFlight[o.ID]
	if !busy {
		p.inFlight[o.ID] = true
	}
	p.mu.Unlock()
	if busy {
		return 0
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		p.release(o.ID)
		return 0
	}
	p.wg.Add(1)
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		defer func() {
			<-sem
			p.release(o.ID)
			if wg != nil {
				wg.Done()
			}
			p.wg.Done()
		}()
		f(ctx, o)
	}()
	return 1
}

func (p *Poller) release(id int64) {
	p.mu.Lock()
	delete(p.inFlight, id)
	p.mu.Unlock()
}

// Check polls one order's platform and records the result.
func (p *Poller) Check(ctx context.Context, o ledger.Order, pl *platform.Platform) {
	p.check(ctx, o, pl)
}

// check is Check reporting whether the platform answered and its answer
// is in the ledger (or the order has ended meanwhile).
func (p *Poller) check(ctx context.Context, o ledger.Order, pl *platform.Platform) bool {
	// The schedule counts from when we asked: an answer that arrives late
	// must not push the next poll past what the platform said then.
	asked := p.now().UTC()
	cctx, cancel := pl.CallCtx(ctx)
	u, err := pl.Adapter.Check(cctx, o.UpstreamID)
	cancel()
	return p.record(ctx, o, pl, u, err, time.Time{}, asked.Add(p.jitter(pl.PollInterval)))
}

// record writes what the platform said of o (u, or the error of asking)
// with its next poll time. With seen set (a list round's time) the answer
// is dropped when the order changed after it: the list is older than
// what the ledger knows. It reports whether the answer is in the ledger
// or has nothing left to change (the order has ended); false when asking
// failed, the answer was dropped or could not be written.
func (p *Poller) record(ctx context.Context, o ledger.Order, pl *platform.Platform, u adapters.Update, err error, seen, next time.Time) bool {
	mu := p.orders.Lock(o.ID)
	mu.Lock()
	defer mu.Unlock()
	// Re-read under the lock: a client may have finished or cancelled the
	// order while we were asking the platform.
	o, gerr := p.orders.Read(ctx, o.ID)
	switch {
	case gerr != nil:
		return false
	case !o.State.Active():
		return true
	case !seen.IsZero() && o.UpdatedAt.After(seen):
		return false
	}
	now := p.now().UTC()
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		p.log.Debug("poll failed", zap.Int64("id", o.ID), zap.String("platform", pl.Code), zap.Error(err))
		// Try again at the next interval; the backstop expiry still applies.
		u = adapters.Update{State: o.State}
	}
	if _, oerr := p.orders.Observe(ctx, &o, pl, u, next, now); oerr != nil {
		if !errors.Is(oerr, context.Canceled) && !errors.Is(oerr, ledger.ErrStale) {
			p.log.Warn("poller cannot record update", zap.Int64("id", o.ID), zap.Error(oerr))
		}
		return false
	}
	return err == nil
}

// jitter spreads polls over ±10% of the interval so orders bought in a
// burst do not poll in lockstep forever.
func (p *Poller) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*p.random()))
}
