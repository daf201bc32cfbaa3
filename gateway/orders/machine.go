package orders

import (
	"fmt"

	"smsgate/adapters"
	"smsgate/ledger"
)

// Event is something that happens to an order. Client events come from
// the legacy setStatus numbers and the unified actions; upstream events
// from the poller (which also reads pools' pushed messages) and
// reconciliation; EvLifetime from the gateway's own clock.
type Event string

const (
	EvReady   Event = "ready"   // client: number ready for the SMS (legacy 1)
	EvAnother Event = "another" // client: send another code (legacy 3)
	EvFinish  Event = "finish"  // client: done (legacy 6)
	EvCancel  Event = "cancel"  // client: cancel (legacy 8)
	EvBan     Event = "ban"     // client: the service refused the number (unified only)

	EvCode      Event = "code"      // upstream: a new code arrived
	EvClosed    Event = "closed"    // upstream: the platform finished the order
	EvCancelled Event = "cancelled" // upstream: the platform cancelled it
	EvExpired   Event = "expired"   // upstream: the platform's lifetime ended
	EvBanned    Event = "banned"    // upstream: the platform reports the number banned
	EvLifetime  Event = "lifetime"  // our lifetime ran out while the platform stayed silent
)

// Events is every event, client ones first.
var Events = []Event{EvReady, EvAnother, EvFinish, EvCancel, EvBan,
	EvCode, EvClosed, EvCancelled, EvExpired, EvBanned, EvLifetime}

// States is every order state, active ones first.
var States = []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting,
	adapters.StateFinished, adapters.StateCancelled, adapters.StateExpired, adapters.StateBanned}

// Rule is what one event does to an order in one state.
type Rule struct {
	Next adapters.State
	// Call is the upstream call a client event makes before the change
	// lands. When the platform cannot be reached it is queued in the
	// outbox with the change instead (except Ready, which changes
	// nothing and is simply refused).
	Call ledger.ActionKind
	// Queue is an outbox action the change always owes (telling a silent
	// platform what our lifetime decided).
	Queue ledger.ActionKind
	// Move is the wallet movement: capture at the first delivered code,
	// release when an order ends without one.
	Move ledger.Movement
}

// callReady is Rule.Call for EvReady: an inline call only, never queued.
const callReady ledger.ActionKind = "ready"

// machine is the order state machine: the only place that says which
// event moves which state, what it owes upstream and what it does to the
// wallet. An event missing for a state is refused (BAD_STATUS / 409) and
// changes nothing. Only waiting orders are without a code, so the state
// alone decides the money: leaving waiting for a terminal state releases,
// a first code captures, and an order that had a code keeps its capture.
var machine = map[adapters.State]map[Event]Rule{
	adapters.StateWaiting: {
		EvReady:     {Next: adapters.StateWaiting, Call: callReady},
		EvCancel:    {Next: adapters.StateCancelled, Call: ledger.ActCancel, Move: ledger.MoveRelease},
		EvBan:       {Next: adapters.StateBanned, Call: ledger.ActBan, Move: ledger.MoveRelease},
		EvCode:      {Next: adapters.StateCodeReceived, Move: ledger.MoveCapture},
		EvClosed:    {Next: adapters.StateFinished, Move: ledger.MoveRelease}, // closed without a code we saw: the client got nothing
		EvCancelled: {Next: adapters.StateCancelled, Move: ledger.MoveRelease},
		EvExpired:   {Next: adapters.StateExpired, Move: ledger.MoveRelease},
		EvBanned:    {Next: adapters.StateBanned, Move: ledger.MoveRelease},
		EvLifetime:  {Next: adapters.StateExpired, Queue: ledger.ActCancel, Move: ledger.MoveRelease},
	},
	adapters.StateCodeReceived: {
		EvAnother:   {Next: adapters.StateRetryWaiting, Call: ledger.ActAnother},
		EvFinish:    {Next: adapters.StateFinished, Call: ledger.ActFinish},
		EvBan:       {Next: adapters.StateBanned, Call: ledger.ActBan},
		EvCode:      {Next: adapters.StateCodeReceived},
		EvClosed:    {Next: adapters.StateFinished},
		EvCancelled: {Next: adapters.StateFinished}, // closed after a code: a success
		EvExpired:   {Next: adapters.StateFinished},
		EvBanned:    {Next: adapters.StateBanned},
		EvLifetime:  {Next: adapters.StateFinished, Queue: ledger.ActFinish},
	},
	adapters.StateRetryWaiting: {
		EvReady:     {Next: adapters.StateRetryWaiting, Call: callReady},
		EvFinish:    {Next: adapters.StateFinished, Call: ledger.ActFinish},
		EvBan:       {Next: adapters.StateBanned, Call: ledger.ActBan},
		EvCode:      {Next: adapters.StateCodeReceived},
		EvClosed:    {Next: adapters.StateFinished},
		EvCancelled: {Next: adapters.StateFinished},
		EvExpired:   {Next: adapters.StateFinished},
		EvBanned:    {Next: adapters.StateBanned},
		EvLifetime:  {Next: adapters.StateFinished, Queue: ledger.ActFinish},
	},
	// Finished, cancelled, expired and banned orders take no event.
}

// Next is the rule for ev in state s; false when the event is refused.
func Next(s adapters.State, ev Event) (Rule, bool) {
	r, ok := machine[s][ev]
	return r, ok
}

// apply applies ev to o in memory: its state, and into c the movement and
// actions the rule owes. Several steps may feed one Change (a code and
// the order's close seen in one poll); at most one of them moves money,
// as the table guarantees.
func apply(o *ledger.Order, ev Event, c *ledger.Change) error {
	r, ok := Next(o.State, ev)
	if !ok {
		return fmt.Errorf("order %d is %s: cannot %s: %w", o.ID, o.State, ev, adapters.ErrBadState)
	}
	if r.Move != ledger.MoveNone {
		if c.Move != ledger.MoveNone && c.Move != r.Move {
			return fmt.Errorf("order %d: %s after %s in one change", o.ID, r.Move, c.Move)
		}
		c.Move = r.Move
	}
	if r.Queue != "" {
		c.Actions = append(c.Actions, ledger.Action{Kind: r.Queue})
	}
	o.State = r.Next
	return nil
}
