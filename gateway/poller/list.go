package poller

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/ledger"
)

// listRound is one platform's list of active orders (DESIGN §7 "list
// polling"): one round, all its pages, serves every due order of the
// platform for one poll interval, however many there are.
type listRound struct {
	asked time.Time                  // when the round was asked for: it shows nothing later
	byID  map[string]adapters.Update // by upstream id
	err   error                      // the round failed: orders are checked one by one until it is due again
}

// listed reports whether pl's orders are polled by list: its adapter has
// a list with codes, as far as this poller knows.
func (p *Poller) listed(pl *platform.Platform) bool {
	if _, ok := pl.Adapter.(adapters.ListPoller); !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.noList[pl.Code]
}

// current reports whether r (nil: none yet) still serves pl's orders at
// now: it is younger than one poll interval.
func (r *listRound) current(pl *platform.Platform, now time.Time) bool {
	return r != nil && !now.Before(r.asked) && now.Sub(r.asked) < pl.PollInterval
}

// newRound asks pl for its list of active orders and keeps the answer as
// pl's round. Only the poller's loop calls it, so one round is asked for
// at a time.
func (p *Poller) newRound(ctx context.Context, pl *platform.Platform, now time.Time) *listRound {
	r := &listRound{asked: now}
	// A paged round is several calls: the timeout bounds each one's share
	// loosely, and a round that outlives it is a failed round (its
	// orders fall back to Check).
	cctx, cancel := context.WithTimeout(ctx, 3*pl.Timeout)
	list, err := pl.Adapter.(adapters.ListPoller).PollActive(cctx)
	cancel()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		p.mu.Lock()
		p.noList[pl.Code] = true
		p.mu.Unlock()
		r.err = err
	case err != nil:
		if ctx.Err() == nil {
			p.log.Warn("list poll failed; checking orders one by one", zap.String("platform", pl.Code), zap.Error(err))
		}
		r.err = err
	default:
		r.byID = make(map[string]adapters.Update, len(list))
		for _, a := range list {
			r.byID[a.UpstreamID] = a.Update
		}
	}
	p.rounds[pl.Code] = r
	return r
}

// pollList matches due, pl's due orders, against pl's list round: an
// order the list shows changed is recorded (Observe), one it shows
// unchanged costs no upstream call and no write of its own (its next poll
// moves with the others' in one statement), and one missing from the list
// (ended, or the list failed) is checked alone. It returns how many
// orders it moved on.
func (p *Poller) pollList(ctx context.Context, sem chan struct{}, pl *platform.Platform, due []ledger.Order, now time.Time) int {
	r := p.rounds[pl.Code]
	if !r.current(pl, now) {
		// A new round is due; over the platform's outbound rate, leave
		// the orders due for the next loop instead.
		if !pl.Ready() {
			return 0
		}
		r = p.newRound(ctx, pl, now)
	}
	if r.err != nil {
		n := 0
		for _, o := range due {
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.Check(ctx, o, pl) })
		}
		return n
	}
	next := r.asked.Add(pl.PollInterval) // the next round: orders move in step
	var quiet []int64
	n := 0
	for _, o := range due {
		u, ok := r.byID[o.UpstreamID]
		switch {
		case o.CreatedAt.After(r.asked) || o.UpdatedAt.After(r.asked):
			// Bought or changed after the list was read: the next round
			// tells.
			quiet = append(quiet, o.ID)
		case !ok:
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.Check(ctx, o, pl) })
		case unchanged(o, u, now):
			quiet = append(quiet, o.ID)
		default:
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.record(ctx, o, pl, u, nil, r.asked, next) })
		}
	}
	return n + p.reschedule(ctx, pl, quiet, next, now)
}

// unchanged reports whether the list says nothing new of o: the same
// state and no code it does not have, well before its lifetime ends (an
// order near its end goes through the state machine, which ends it).
func unchanged(o ledger.Order, u adapters.Update, now time.Time) bool {
	if u.State != o.State || !now.Before(o.ExpiresAt) {
		return false
	}
	if len(u.SMS) == 0 {
		return true
	}
	if len(o.Codes) == 0 {
		return false
	}
	m, last := u.SMS[len(u.SMS)-1], o.Codes[len(o.Codes)-1]
	return m.Code == last.Code && (m.Text == last.Text || m.Text == m.Code)
}

// reschedule moves the next poll of the orders the list showed unchanged
// to the next round, in one statement where the ledger can (a
// ledger.Rescheduler); else each is written through Observe. On a shared
// ledger it also ends this instance's lease on them.
func (p *Poller) reschedule(ctx context.Context, pl *platform.Platform, ids []int64, next, now time.Time) int {
	if len(ids) == 0 {
		return 0
	}
	rs, ok := p.store.(ledger.Rescheduler)
	if !ok {
		for _, id := range ids {
			p.observeQuiet(ctx, id, pl, next, now)
		}
		return len(ids)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := rs.Reschedule(qctx, ids, next, now); err != nil && ctx.Err() == nil {
		// They stay due (and, on a shared ledger, leased until the lease
		// ends): the next round takes them again.
		p.log.Warn("poller cannot reschedule orders", zap.String("platform", pl.Code), zap.Int("orders", len(ids)), zap.Error(err))
		return 0
	}
	return len(ids)
}

// observeQuiet writes an unchanged order's next poll through Observe, for
// a ledger that cannot move many at once.
func (p *Poller) observeQuiet(ctx context.Context, id int64, pl *platform.Platform, next, now time.Time) {
	mu := p.orders.Lock(id)
	mu.Lock()
	defer mu.Unlock()
	o, err := p.orders.Read(ctx, id)
	if err != nil || !o.State.Active() {
		return
	}
	if _, err := p.orders.Observe(ctx, &o, pl, adapters.Update{State: o.State}, next, now); err != nil &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, ledger.ErrStale) {
		p.log.Warn("poller cannot record update", zap.Int64("id", o.ID), zap.Error(err))
	}
}
