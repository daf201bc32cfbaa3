package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/ledger"
)

// Poller checks active orders at their platform's poll interval and writes
// what it learns to the ledger. Clients read the ledger: how often they
// poll never changes how often the upstream is asked.
type Poller struct {
	g       *Gateway
	tick    time.Duration // how often the ledger is asked for due orders
	workers int
	wakeCh  chan struct{}

	mu       sync.Mutex
	inFlight map[int64]bool // orders being checked now; guarded by mu
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	done     chan struct{}
}

func newPoller(g *Gateway) *Poller {
	tick := 250 * time.Millisecond
	for _, p := range g.platforms {
		if q := p.PollInterval / 4; q > 0 && q < tick {
			tick = q
		}
	}
	if tick < 5*time.Millisecond {
		tick = 5 * time.Millisecond
	}
	return &Poller{g: g, tick: tick, workers: 8, wakeCh: make(chan struct{}, 1), inFlight: map[int64]bool{}}
}

// wake makes the poller look for due orders now.
func (p *Poller) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

func (p *Poller) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	sem := make(chan struct{}, p.workers)
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.tick)
		defer t.Stop()
		for {
			// Every round asks the ledger, so orders bought before a restart
			// resume on their own.
			p.round(ctx, sem)
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

func (p *Poller) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
}

func (p *Poller) round(ctx context.Context, sem chan struct{}) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	due, err := p.g.store.Due(qctx, p.g.now().UTC(), 512)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			p.g.log.Warn("poller cannot list due orders", zap.Error(err))
		}
		return
	}
	for _, o := range due {
		p.mu.Lock()
		busy := p.inFlight[o.ID]
		if !busy {
			p.inFlight[o.ID] = true
		}
		p.mu.Unlock()
		if busy {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			p.release(o.ID)
			return
		}
		p.wg.Add(1)
		go func(id int64) {
			defer func() { <-sem; p.release(id); p.wg.Done() }()
			p.check(ctx, id)
		}(o.ID)
	}
}

func (p *Poller) release(id int64) {
	p.mu.Lock()
	delete(p.inFlight, id)
	p.mu.Unlock()
}

// check polls one order's platform and records the result.
func (p *Poller) check(ctx context.Context, id int64) {
	g := p.g
	o, err := g.store.Get(ctx, id)
	if err != nil || !o.State.Active() {
		return
	}
	pl, ok := g.byCode[o.Platform]
	if !ok {
		return
	}
	// The schedule counts from when we asked: an answer that arrives late
	// must not push the next poll past what the platform said then.
	asked := g.now().UTC()
	cctx, cancel := callCtx(ctx, pl)
	u, err := pl.Adapter.Check(cctx, o.UpstreamID)
	cancel()
	mu := g.lock(id)
	mu.Lock()
	defer mu.Unlock()
	// Re-read under the lock: a client may have finished or cancelled the
	// order while we were asking the platform.
	o, gerr := g.store.Get(ctx, id)
	if gerr != nil || !o.State.Active() {
		return
	}
	now := g.now().UTC()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		g.log.Debug("poll failed", zap.Int64("id", id), zap.String("platform", pl.Code), zap.Error(err))
		// Try again at the next interval; the backstop expiry still applies.
		o.NextPollAt = asked.Add(pl.PollInterval)
		if !now.Before(o.ExpiresAt.Add(time.Minute)) {
			g.applyUpdate(&o, pl, updateFromState(o), asked, now)
		}
	} else {
		g.applyUpdate(&o, pl, u, asked, now)
	}
	if err := g.store.Update(ctx, &o); err != nil && !errors.Is(err, context.Canceled) {
		g.log.Warn("poller cannot record update", zap.Int64("id", id), zap.Error(err))
	}
}

func updateFromState(o ledger.Order) adapters.Update { return adapters.Update{State: o.State} }
