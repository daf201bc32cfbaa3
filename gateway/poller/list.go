package poller

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/ledger"
)

// List polling (DESIGN §7): a platform that lists its active orders with
// their codes is asked one round (all its pages) per poll interval while
// it has an order awaiting a code, whatever the number of orders. What a
// round costs the ledger is what changed since the round before: the
// poller keeps the last round it acted on as a small signature per
// upstream id, looks up and records only the entries that are new or
// changed, and checks alone the orders that vanished from the list.
// Orders the rounds show quiet are not polled at all: their own schedule
// moves to the end of their lifetime (a backstop), so with many quiet
// orders a round writes nothing.
//
// With instances sharing the ledger, each platform's round is asked by
// the one instance holding its lease ("list:<code>"); the others leave
// that platform's orders to it.

// listLedger is what list polling needs of the ledger besides Store;
// a store without it has every platform polled order by order.
type listLedger interface {
	ledger.Rescheduler
	// ByUpstream returns platform's active orders among upstream ids.
	ByUpstream(ctx context.Context, platform string, ids []string) ([]ledger.Order, error)
	// ActiveUpstreamIDs lists platform's active orders' upstream ids.
	ActiveUpstreamIDs(ctx context.Context, platform string) ([]string, error)
	// FirstAwaitingPoll is the soonest next poll among platform's orders
	// awaiting a code; ok is false when there is none.
	FirstAwaitingPoll(ctx context.Context, platform string) (first time.Time, ok bool, err error)
	// AwaitingBefore lists the upstream ids of platform's orders awaiting
	// a code whose next poll is at or before t.
	AwaitingBefore(ctx context.Context, platform string, t time.Time) ([]string, error)
}

// roundLeaser hands each platform's list round to one instance of those
// sharing the ledger.
type roundLeaser interface {
	// AcquireLease takes or renews the lease name for owner until now+ttl
	// and reports whether owner holds it.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives up owner's lease name, if owner holds it.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// roundLeaseIntervals is a round lease's length in poll intervals: the
// holder renews it at every round, and a holder that dies lets another
// instance take over after at most that long (one that stops releases
// it). See roundLease.
const roundLeaseIntervals = 3

// roundLeaseTTL is how long pl's round lease lasts from a renewal: three
// intervals, or longer when one round (its pages, bounded by three
// timeouts) could outlast them, so that no other instance takes the lease
// over from a holder in the middle of a slow round.
func roundLeaseTTL(pl *platform.Platform) time.Duration {
	return max(roundLeaseIntervals*pl.PollInterval, 3*pl.Timeout+pl.PollInterval)
}

// listMode is what a list platform's due orders get, as the latest round
// decision left it.
type listMode int

const (
	// modeIdle: no round (nothing awaits a code, or none asked yet): a
	// due order (a delivered one at its lifetime's end) is checked alone.
	modeIdle listMode = iota
	// modeCurrent: this interval's round is in hand; due orders are
	// matched against it.
	modeCurrent
	// modeFailed: the last round failed; due orders are checked alone
	// only at the platform's outbound rate, one at a time, until the next
	// round.
	modeFailed
	// modeElsewhere: another instance holds the round's lease; due orders
	// wait an interval (its rounds record their changes).
	modeElsewhere
	// modeDeferred: a round is owed but cannot be asked now (outbound
	// rate, or the ledger failed); due orders stay due.
	modeDeferred
)

// signature is what a round says of one order, in 16 bytes: its state,
// how many SMS it lists and a hash of the last one. A round acts on an
// entry only when its signature differs from the last one acted on.
type signature struct {
	state uint8
	sms   uint16 // saturates
	last  uint64 // maphash of the last SMS's code and text; 0 without SMS
}

// unknown is a signature no round produces: an order the ledger holds
// but no round has shown yet (the first round after a start or a lease
// takeover treats every entry as new).
var unknown = signature{state: 255}

// stateCodes number the states for signatures; 254 stands for any other.
var stateCodes = map[adapters.State]uint8{
	adapters.StateWaiting: 1, adapters.StateCodeReceived: 2, adapters.StateRetryWaiting: 3,
	adapters.StateFinished: 4, adapters.StateCancelled: 5, adapters.StateExpired: 6, adapters.StateBanned: 7,
}

// sigSeed keys the signatures' hash; signatures live in memory only.
var sigSeed = maphash.MakeSeed()

func signOf(u adapters.Update) signature {
	sg := signature{state: 254, sms: uint16(min(len(u.SMS), 65535))}
	if c, ok := stateCodes[u.State]; ok {
		sg.state = c
	}
	if n := len(u.SMS); n > 0 {
		var h maphash.Hash
		h.SetSeed(sigSeed)
		h.WriteString(u.SMS[n-1].Code)
		h.WriteByte(0)
		h.WriteString(u.SMS[n-1].Text)
		sg.last = h.Sum64() | 1
	}
	return sg
}

// listState is one list platform's rounds. Only the loop goroutine
// touches it.
type listState struct {
	mode   listMode
	asked  time.Time                  // when the current round was asked (modeCurrent)
	byID   map[string]adapters.Update // the current round by upstream id (modeCurrent)
	nextAt time.Time                  // when the next round is due
	// prev is what the rounds acted on: per upstream id the signature
	// last recorded. nil until the first round after a start or a lease
	// takeover, which seeds it from the ledger.
	prev    map[string]signature
	held    bool // this instance held the round's lease at the last try
	failing bool // the last round failed (logged once)
	// idle: the platform had no order awaiting a code at the last try;
	// rounds resume when the first new one is due.
	idle bool
}

// releaseRounds gives up the round leases this instance holds, so that
// another instance takes the rounds over at its next try rather than
// after the leases expire. The loop has stopped.
func (p *Poller) releaseRounds() {
	if p.roundLease == nil {
		return
	}
	for code, st := range p.lists {
		if !st.held {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := p.roundLease.ReleaseLease(ctx, "list:"+code, p.owner); err != nil {
			p.log.Debug("poller cannot release its list round lease", zap.String("platform", code), zap.Error(err))
		}
		cancel()
	}
}

// listed reports whether pl's orders are polled by list: its adapter has
// a list with codes, as far as this poller knows, and the ledger has the
// queries list rounds need.
func (p *Poller) listed(pl *platform.Platform) bool {
	if p.list == nil {
		return false
	}
	if _, ok := pl.Adapter.(adapters.ListPoller); !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.noList[pl.Code]
}

// RoundsCaughtUp reports whether the loop has, for every list platform,
// decided at a time not before at whether a round was owed and, if so,
// asked it and acted on what it showed.
func (p *Poller) RoundsCaughtUp(at time.Time) bool {
	for _, pl := range p.platforms {
		if !p.listed(pl) {
			continue
		}
		p.mu.Lock()
		s := p.settled[pl.Code]
		p.mu.Unlock()
		if s.Before(at) {
			return false
		}
	}
	return true
}

func (p *Poller) settle(code string, now time.Time) {
	p.mu.Lock()
	p.settled[code] = now
	p.mu.Unlock()
}

// listRounds asks every list platform's round that is due and acts on
// what changed.
func (p *Poller) listRounds(ctx context.Context, sem chan struct{}, now time.Time) {
	for code, pl := range p.platforms {
		if ctx.Err() != nil || !p.listed(pl) {
			continue
		}
		st := p.lists[code]
		if st == nil {
			st = &listState{}
			p.lists[code] = st
		}
		if now.Before(st.nextAt) {
			p.settle(code, now)
			continue
		}
		if p.listRound(ctx, sem, pl, st, now) {
			p.settle(code, now)
		}
	}
}

// listRound decides pl's round at now, asks it when it is owed and acts
// on its changes; it reports whether nothing is left owed at now (false:
// the round was deferred).
func (p *Poller) listRound(ctx context.Context, sem chan struct{}, pl *platform.Platform, st *listState, now time.Time) bool {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	first, awaiting, err := p.list.FirstAwaitingPoll(qctx, pl.Code)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("poller cannot look for orders awaiting a code", zap.String("platform", pl.Code), zap.Error(err))
		}
		st.mode, st.byID = modeDeferred, nil
		return false
	}
	if !awaiting {
		// Nothing to learn from a list (delivered orders are not polled
		// until the client asks for another code). Asked again at the next
		// loop.
		st.mode, st.byID, st.idle = modeIdle, nil, true
		return true
	}
	if st.idle && first.After(now) {
		// Rounds resume when the first order awaiting a code is due: a
		// new one is first due an interval after its purchase, and a
		// round before then would have nothing to tell.
		st.mode, st.byID = modeIdle, nil
		return true
	}
	st.idle = false
	if p.roundLease != nil {
		held, err := p.roundLease.AcquireLease(ctx, "list:"+pl.Code, p.owner, now, roundLeaseTTL(pl))
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("poller cannot take the list round lease", zap.String("platform", pl.Code), zap.Error(err))
			}
			st.mode, st.byID = modeDeferred, nil
			return false
		}
		if !held {
			// Another instance asks the rounds. Whatever this one knew is
			// stale by the time it takes over again: it starts afresh then.
			st.mode, st.byID, st.prev, st.held = modeElsewhere, nil, nil, false
			st.nextAt = now.Add(pl.PollInterval)
			return true
		}
		if !st.held {
			st.prev = nil
		}
		st.held = true
	}
	if !pl.Ready() {
		// Over the platform's outbound rate: the round waits for a token
		// and the due orders with it.
		st.mode, st.byID = modeDeferred, nil
		return false
	}
	if st.prev == nil {
		// The first round after a start or a takeover: every active order
		// the ledger holds is unknown, so the round looks each one up, and
		// those it does not list (ended upstream meanwhile) are checked.
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ids, err := p.list.ActiveUpstreamIDs(qctx, pl.Code)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("poller cannot list the platform's orders", zap.String("platform", pl.Code), zap.Error(err))
			}
			st.mode, st.byID = modeDeferred, nil
			return false
		}
		st.prev = make(map[string]signature, len(ids))
		for _, id := range ids {
			st.prev[id] = unknown
		}
	} else {
		// Orders bought or changed lately that no round has shown yet: an
		// order that ended upstream before the first round after its
		// purchase is never in a list, so only this makes it "vanished"
		// and checked. As many as the purchases, not the orders held (the
		// quiet ones wait for their lifetime's end).
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ids, err := p.list.AwaitingBefore(qctx, pl.Code, now.Add(pl.PollInterval))
		cancel()
		if err != nil && ctx.Err() == nil {
			// They are looked for again at the next round; the due path
			// meanwhile checks one the round does not show.
			p.log.Warn("poller cannot list recent orders", zap.String("platform", pl.Code), zap.Error(err))
		}
		for _, id := range ids {
			if _, ok := st.prev[id]; !ok && id != "" {
				st.prev[id] = unknown
			}
		}
	}
	// A paged round is several calls: the timeout bounds each one's share
	// loosely, and a round that outlives it is a failed round.
	cctx, cancel := context.WithTimeout(ctx, 3*pl.Timeout)
	list, err := pl.Adapter.(adapters.ListPoller).PollActive(cctx)
	cancel()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		// No list on this platform after all: order by order from now on.
		p.mu.Lock()
		p.noList[pl.Code] = true
		p.mu.Unlock()
		delete(p.lists, pl.Code)
		return true
	case err != nil:
		if ctx.Err() != nil {
			return false
		}
		// Keep prev: the next round's difference spans the gap. One line
		// per outage, not per round.
		if !st.failing {
			p.log.Warn("list poll failed; retrying at the next interval", zap.String("platform", pl.Code), zap.Error(err))
		}
		st.failing = true
		st.mode, st.byID, st.nextAt = modeFailed, nil, now.Add(pl.PollInterval)
		return true
	}
	if st.failing {
		p.log.Info("list poll recovered", zap.String("platform", pl.Code))
		st.failing = false
	}
	st.byID = make(map[string]adapters.Update, len(list))
	for _, a := range list {
		st.byID[a.UpstreamID] = a.Update
	}
	st.mode, st.asked, st.nextAt = modeCurrent, now, now.Add(pl.PollInterval)
	p.applyChanges(ctx, sem, pl, st, now)
	return true
}

// applyChanges records what pl's current round shows that differs from
// the rounds before: entries new or changed are looked up in the ledger
// and recorded (an order the ledger already shows so costs no write);
// entries gone from the list are checked alone. An entry's signature
// enters prev only once the ledger has it, so a failed write is retried
// at the next round. It returns when all of it is done.
func (p *Poller) applyChanges(ctx context.Context, sem chan struct{}, pl *platform.Platform, st *listState, now time.Time) {
	type entry struct {
		u   adapters.Update
		sig signature
	}
	changed := map[string]entry{}
	var lookup []string
	for id, u := range st.byID {
		sg := signOf(u)
		if old, ok := st.prev[id]; ok && old == sg {
			continue
		}
		changed[id] = entry{u, sg}
		lookup = append(lookup, id)
	}
	var vanished []string
	for id := range st.prev {
		if _, ok := st.byID[id]; !ok {
			vanished = append(vanished, id)
			lookup = append(lookup, id)
		}
	}
	if len(lookup) == 0 {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	found, err := p.list.ByUpstream(qctx, pl.Code, lookup)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("poller cannot look up a list round's orders", zap.String("platform", pl.Code), zap.Int("orders", len(lookup)), zap.Error(err))
		}
		return // nothing enters prev: the next round tries again
	}
	byUp := make(map[string]ledger.Order, len(found))
	for _, o := range found {
		byUp[o.UpstreamID] = o
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done []string // recorded: their signature enters prev
		gone []string // no longer to watch: out of prev
	)
	mark := func(list *[]string, id string) {
		mu.Lock()
		*list = append(*list, id)
		mu.Unlock()
	}
	asked := st.asked
	next := asked.Add(pl.PollInterval)
	for id, e := range changed {
		o, ok := byUp[id]
		switch {
		case !ok:
			// No active order of ours (ended here, or another tool's order
			// on a shared account): nothing to record.
			mark(&done, id)
		case unchanged(o, e.u, now):
			mark(&done, id)
		default:
			u := e.u
			p.dispatchWait(ctx, sem, &wg, o, func(ctx context.Context, o ledger.Order) {
				if p.record(ctx, o, pl, u, nil, asked, next) {
					mark(&done, o.UpstreamID)
				}
			})
		}
	}
	for _, id := range vanished {
		o, ok := byUp[id]
		switch {
		case !ok:
			mark(&gone, id) // ended in the ledger too
		case o.UpdatedAt.After(asked):
			// Changed after the list was read: the next round tells.
		default:
			p.dispatchWait(ctx, sem, &wg, o, func(ctx context.Context, o ledger.Order) {
				if p.check(ctx, o, pl) {
					mark(&gone, o.UpstreamID)
				}
			})
		}
	}
	wg.Wait()
	for _, id := range done {
		st.prev[id] = changed[id].sig
	}
	for _, id := range gone {
		delete(st.prev, id)
	}
}

// pollList moves pl's due orders on, as pl's latest round decision says.
// It returns how many orders it moved on.
func (p *Poller) pollList(ctx context.Context, sem chan struct{}, pl *platform.Platform, due []ledger.Order, now time.Time) int {
	st := p.lists[pl.Code]
	mode := modeIdle
	if st != nil {
		mode = st.mode
	}
	switch mode {
	case modeDeferred:
		return 0
	case modeElsewhere:
		// The lease holder's rounds record these orders' changes; they
		// come back in an interval, when this instance may hold it.
		ids := make([]int64, len(due))
		for i, o := range due {
			ids[i] = o.ID
		}
		return p.reschedule(ctx, pl, ids, now.Add(pl.PollInterval), now)
	case modeFailed:
		return p.fallbackCheck(ctx, sem, pl, due)
	case modeIdle:
		n := 0
		for _, o := range due {
			if !pl.Ready() {
				break
			}
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.Check(ctx, o, pl) })
		}
		return n
	}
	asked := st.asked
	next := asked.Add(pl.PollInterval)
	var quiet, backstop []int64
	n := 0
	for _, o := range due {
		u, ok := st.byID[o.UpstreamID]
		switch {
		case o.CreatedAt.After(asked) || o.UpdatedAt.After(asked):
			// Bought or changed after the list was read: the next round
			// tells.
			quiet = append(quiet, o.ID)
		case !ok:
			// Not listed although older than the round: asked alone.
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.Check(ctx, o, pl) })
		case unchanged(o, u, now):
			// Quiet: the rounds watch it; its own poll waits for its
			// lifetime's end.
			backstop = append(backstop, o.ID)
		default:
			// The round shows a change the difference did not record (its
			// write failed, or the order reached the ledger after its
			// entry was first seen).
			n += p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) { p.record(ctx, o, pl, u, nil, asked, next) })
		}
	}
	return n + p.reschedule(ctx, pl, quiet, next, now) + p.backstop(ctx, pl, backstop, now)
}

// fallbackCheck checks one of pl's due orders alone while its list round
// is failing, at most one at a time and only while the platform's
// outbound rate has room: a platform in trouble gets no flood of
// per-order calls. The others stay due.
func (p *Poller) fallbackCheck(ctx context.Context, sem chan struct{}, pl *platform.Platform, due []ledger.Order) int {
	if !pl.Ready() {
		return 0
	}
	p.mu.Lock()
	busy := p.fallback[pl.Code]
	p.mu.Unlock()
	if busy {
		return 0
	}
	for _, o := range due {
		p.mu.Lock()
		p.fallback[pl.Code] = true
		p.mu.Unlock()
		if p.dispatch(ctx, sem, o, func(ctx context.Context, o ledger.Order) {
			defer func() {
				p.mu.Lock()
				delete(p.fallback, pl.Code)
				p.mu.Unlock()
			}()
			p.Check(ctx, o, pl)
		}) == 1 {
			return 1
		}
		p.mu.Lock()
		delete(p.fallback, pl.Code)
		p.mu.Unlock()
	}
	return 0
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

// reschedule moves the next poll of ids to next in one statement and, on
// a shared ledger, ends this instance's lease on them.
func (p *Poller) reschedule(ctx context.Context, pl *platform.Platform, ids []int64, next, now time.Time) int {
	if len(ids) == 0 {
		return 0
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.list.Reschedule(qctx, ids, next, now); err != nil && ctx.Err() == nil {
		// They stay due (and, on a shared ledger, leased until the lease
		// ends): the next round takes them again.
		p.log.Warn("poller cannot reschedule orders", zap.String("platform", pl.Code), zap.Int("orders", len(ids)), zap.Error(err))
		return 0
	}
	return len(ids)
}

// backstop moves the next poll of ids to their lifetime's end in one
// statement (the rounds watch them until then).
func (p *Poller) backstop(ctx context.Context, pl *platform.Platform, ids []int64, now time.Time) int {
	if len(ids) == 0 {
		return 0
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.list.Backstop(qctx, ids, now); err != nil && ctx.Err() == nil {
		p.log.Warn("poller cannot move orders to their backstop", zap.String("platform", pl.Code), zap.Int("orders", len(ids)), zap.Error(err))
		return 0
	}
	return len(ids)
}

var (
	_ listLedger  = (*ledger.SQLite)(nil)
	_ listLedger  = (*ledger.Postgres)(nil)
	_ roundLeaser = (*ledger.Postgres)(nil)
)
