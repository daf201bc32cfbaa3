package outbox

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"smsgate/gateway/lifetime"
	"smsgate/ledger"
)

// lanes run leased actions one tenant at a time per tenant, every tenant
// at once: a receiver that hangs holds up its own tenant's lane for its
// timeout, never another tenant's. A lane is a goroutine only while it has
// work; an idle tenant costs nothing. Within a lane actions run in ID
// order, so two deliveries of one order leased together go in the order
// they were written.
type lanes struct {
	w *Worker
	g *lifetime.Group // set by Start

	mu   sync.Mutex
	busy map[string]*lane // tenants whose lane has work; guarded by mu
}

// lane is one tenant's queue; guarded by lanes.mu.
type lane struct{ queue []leased }

// leased is an action and when it was leased (its lease runs out Lease
// after).
type leased struct {
	a  ledger.Action
	at time.Time
}

func newLanes(w *Worker) *lanes { return &lanes{w: w, busy: map[string]*lane{}} }

// dispatch hands each tenant's leased actions to its lane, starting the
// lane when idle. A lane already holding LaneDepth actions takes no more:
// the rest go back to the ledger for later, so one tenant's backlog
// neither grows in memory nor outlives its leases.
func (l *lanes) dispatch(ctx context.Context, due []ledger.Action, now time.Time) {
	// The ledger leases by due time, not by ID: sort first so a lane keeps
	// a tenant's earliest actions and hands back the later ones.
	due = slices.Clone(due)
	slices.SortFunc(due, func(x, y ledger.Action) int { return cmp.Compare(x.ID, y.ID) })
	byTenant := map[string][]ledger.Action{}
	var order []string
	for _, a := range due {
		if _, seen := byTenant[a.Tenant]; !seen {
			order = append(order, a.Tenant)
		}
		byTenant[a.Tenant] = append(byTenant[a.Tenant], a)
	}
	for _, t := range order {
		for _, a := range l.enqueue(ctx, t, byTenant[t], now) {
			l.handBack(ctx, a, now, l.w.waitFor(a, now))
		}
	}
}

// enqueue adds list to t's lane, starting it when idle; it returns what
// did not fit.
func (l *lanes) enqueue(ctx context.Context, t string, list []ledger.Action, now time.Time) []ledger.Action {
	l.mu.Lock()
	ln, running := l.busy[t]
	if !running {
		ln = &lane{}
		l.busy[t] = ln
	}
	n := min(len(list), max(0, l.w.opts.LaneDepth-len(ln.queue)))
	for _, a := range list[:n] {
		ln.queue = append(ln.queue, leased{a: a, at: now})
	}
	slices.SortStableFunc(ln.queue, func(x, y leased) int { return cmp.Compare(x.a.ID, y.a.ID) })
	l.mu.Unlock()
	if !running && (l.g == nil || !l.g.Go(func(ctx context.Context) { l.run(ctx, t, ln) })) {
		// Stopping (or never started): the leases run out and the actions
		// are leased again by the next worker.
		l.mu.Lock()
		delete(l.busy, t)
		l.mu.Unlock()
		return nil
	}
	return list[n:]
}

// run works through t's lane until it is empty.
func (l *lanes) run(ctx context.Context, t string, ln *lane) {
	for ctx.Err() == nil {
		l.mu.Lock()
		if len(ln.queue) == 0 {
			delete(l.busy, t)
			l.mu.Unlock()
			return
		}
		it := ln.queue[0]
		ln.queue = ln.queue[1:]
		l.mu.Unlock()
		now := l.w.now().UTC()
		if lease := l.w.opts.Lease; now.After(it.at.Add(lease - lease/4)) {
			// Waited in the lane until its lease is nearly out: another
			// worker may lease it any moment. Give it back to run again.
			l.handBack(ctx, it.a, now, 0)
			continue
		}
		l.w.runOne(ctx, it.a)
	}
}

// handBack returns a leased action to the ledger unrun, due after wait:
// not an attempt.
func (l *lanes) handBack(ctx context.Context, a ledger.Action, now time.Time, wait time.Duration) {
	a.UpdatedAt, a.NextAt = now, now.Add(wait)
	l.w.settle(ctx, a, "deferred")
}
