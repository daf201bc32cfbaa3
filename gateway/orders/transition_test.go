package orders

import (
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/ledger"
)

// TestMachineInvariants walks every (state, event) pair of the state
// machine and checks what must hold of any rule: ended orders take no
// event; money moves only out of waiting (capture at the first code,
// release when it ends there); a rule's next state is valid; a refused
// event leaves the order exactly as it was.
func TestMachineInvariants(t *testing.T) {
	for _, s := range States {
		for _, ev := range Events {
			r, ok := Next(s, ev)
			o := ledger.Order{ID: 1, State: s, Codes: []ledger.Code{{Code: "1"}}}
			if s == adapters.StateWaiting {
				o.Codes = nil
			}
			before := o.State
			var c ledger.Change
			err := apply(&o, ev, &c)
			if !ok {
				if !errors.Is(err, adapters.ErrBadState) || o.State != before || c.Move != "" || len(c.Actions) != 0 {
					t.Errorf("%s + %s refused: err %v, state %s, change %+v; want ErrBadState and nothing changed", s, ev, err, o.State, c)
				}
				continue
			}
			if !s.Active() {
				t.Errorf("%s + %s allowed; an ended order must take no event", s, ev)
			}
			if err != nil || o.State != r.Next || !r.Next.Valid() {
				t.Errorf("%s + %s = %s, %v; want %s", s, ev, o.State, err, r.Next)
			}
			switch {
			case r.Move == ledger.MoveCapture && (s != adapters.StateWaiting || ev != EvCode):
				t.Errorf("%s + %s captures; only the first code (waiting + code) may", s, ev)
			case r.Move == ledger.MoveRelease && (s != adapters.StateWaiting || r.Next.Active()):
				t.Errorf("%s + %s releases; only an order ending in waiting may", s, ev)
			case r.Move == ledger.MoveNone && s == adapters.StateWaiting && !r.Next.Active():
				t.Errorf("%s + %s ends without a code and keeps the hold", s, ev)
			case r.Move == ledger.MoveNone && s == adapters.StateWaiting && r.Next == adapters.StateCodeReceived:
				t.Errorf("%s + %s delivers a code without capturing", s, ev)
			}
		}
	}
}

// TestMachineClientEvents: the transitions a client may ask for, with
// the upstream call each makes — the protocol's table, written out.
func TestMachineClientEvents(t *testing.T) {
	const (
		waiting = adapters.StateWaiting
		retry   = adapters.StateRetryWaiting
		coded   = adapters.StateCodeReceived
	)
	want := map[adapters.State]map[Event]Rule{
		waiting: {
			EvReady:  {Next: waiting, Call: callReady},
			EvCancel: {Next: adapters.StateCancelled, Call: ledger.ActCancel, Move: ledger.MoveRelease},
			EvBan:    {Next: adapters.StateBanned, Call: ledger.ActBan, Move: ledger.MoveRelease},
		},
		coded: {
			EvAnother: {Next: retry, Call: ledger.ActAnother},
			EvFinish:  {Next: adapters.StateFinished, Call: ledger.ActFinish},
			EvBan:     {Next: adapters.StateBanned, Call: ledger.ActBan},
		},
		retry: {
			EvReady:  {Next: retry, Call: callReady},
			EvFinish: {Next: adapters.StateFinished, Call: ledger.ActFinish},
			EvBan:    {Next: adapters.StateBanned, Call: ledger.ActBan},
		},
	}
	for _, s := range States {
		for _, ev := range []Event{EvReady, EvAnother, EvFinish, EvCancel, EvBan} {
			got, ok := Next(s, ev)
			w, wok := want[s][ev]
			if ok != wok || got != w {
				t.Errorf("%s + %s = %+v (allowed %v); want %+v (allowed %v)", s, ev, got, ok, w, wok)
			}
		}
	}
}

// TestUpstreamEvents: what a platform's report becomes.
func TestUpstreamEvents(t *testing.T) {
	code := []ledger.Code{{Code: "1"}}
	cases := []struct {
		name  string
		o     ledger.Order
		u     adapters.State
		late  bool // past the lifetime's backstop
		want  []Event
		state adapters.State // after the events
	}{
		{"nothing new", ledger.Order{State: adapters.StateWaiting}, adapters.StateWaiting, false, nil, adapters.StateWaiting},
		{"first code", ledger.Order{State: adapters.StateWaiting, Codes: code}, adapters.StateCodeReceived, false, []Event{EvCode}, adapters.StateCodeReceived},
		{"code and close", ledger.Order{State: adapters.StateWaiting, Codes: code}, adapters.StateFinished, false, []Event{EvCode, EvClosed}, adapters.StateFinished},
		{"retry's code", ledger.Order{State: adapters.StateRetryWaiting, Codes: append(code, ledger.Code{Code: "2"}), CodesSeen: 1}, adapters.StateCodeReceived, false, []Event{EvCode}, adapters.StateCodeReceived},
		{"cancelled upstream", ledger.Order{State: adapters.StateWaiting}, adapters.StateCancelled, false, []Event{EvCancelled}, adapters.StateCancelled},
		{"cancelled after its time", ledger.Order{State: adapters.StateWaiting}, adapters.StateCancelled, true, []Event{EvExpired}, adapters.StateExpired},
		{"closed after a code", ledger.Order{State: adapters.StateCodeReceived, Codes: code, CodesSeen: 0}, adapters.StateExpired, false, []Event{EvClosed}, adapters.StateFinished},
		{"banned", ledger.Order{State: adapters.StateWaiting}, adapters.StateBanned, false, []Event{EvBanned}, adapters.StateBanned},
		{"silent past the lifetime", ledger.Order{State: adapters.StateWaiting}, adapters.StateWaiting, true, []Event{EvLifetime}, adapters.StateExpired},
		{"silent past the lifetime, coded", ledger.Order{State: adapters.StateCodeReceived, Codes: code, CodesSeen: 1}, adapters.StateCodeReceived, true, []Event{EvLifetime}, adapters.StateFinished},
	}
	for _, c := range cases {
		now := c.o.ExpiresAt.Add(-1)
		if c.late {
			now = c.o.ExpiresAt.Add(2 * 60e9)
		}
		evs := upstreamEvents(&c.o, adapters.Update{State: c.u}, now)
		if len(evs) != len(c.want) {
			t.Errorf("%s: events %v; want %v", c.name, evs, c.want)
			continue
		}
		var ch ledger.Change
		for i, ev := range evs {
			if ev != c.want[i] {
				t.Errorf("%s: events %v; want %v", c.name, evs, c.want)
			}
			if err := apply(&c.o, ev, &ch); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if c.o.State != c.state {
			t.Errorf("%s: state %s; want %s", c.name, c.o.State, c.state)
		}
	}
}
