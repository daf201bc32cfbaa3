package orders

import (
	"context"
	"errors"
	"testing"

	"smsgate/adapters"
	"smsgate/gateway/platform"
	"smsgate/ledger"
)

// callLog is an adapter that records which order call it got; the calls a
// transition never makes are left to the nil embedded interface (a panic
// would show a wrong call).
type callLog struct {
	adapters.Platform
	got string
}

func (c *callLog) Ready(context.Context, string) error          { c.got = "ready"; return nil }
func (c *callLog) Finish(context.Context, string) error         { c.got = "finish"; return nil }
func (c *callLog) Cancel(context.Context, string) error         { c.got = "cancel"; return nil }
func (c *callLog) RequestAnother(context.Context, string) error { c.got = "another"; return nil }

type banLog struct{ callLog }

func (b *banLog) Ban(context.Context, string) error { b.got = "ban"; return nil }

// TestTransitionTable: each client status is allowed from the states the
// protocol allows it in, calls the platform's matching operation and
// moves to its state; anything else is ErrBadState with no call.
func TestTransitionTable(t *testing.T) {
	const (
		waiting = adapters.StateWaiting
		retry   = adapters.StateRetryWaiting
		coded   = adapters.StateCodeReceived
		done    = adapters.StateFinished
	)
	cases := []struct {
		state  adapters.State
		status int
		banner bool
		call   string // "" = refused
		next   adapters.State
	}{
		{waiting, StatusReady, false, "ready", waiting},
		{retry, StatusReady, false, "ready", retry},
		{coded, StatusReady, false, "", ""},
		{coded, StatusAnother, false, "another", retry},
		{waiting, StatusAnother, false, "", ""},
		{coded, StatusFinish, false, "finish", done},
		{retry, StatusFinish, false, "finish", done},
		{waiting, StatusFinish, false, "", ""},
		{waiting, StatusCancel, false, "cancel", adapters.StateCancelled},
		{coded, StatusCancel, false, "", ""},
		{waiting, StatusBan, true, "ban", adapters.StateBanned},
		{waiting, StatusBan, false, "", ""},
		{done, StatusBan, true, "", ""},
		{waiting, 42, false, "", ""},
	}
	for _, c := range cases {
		var a adapters.Platform
		log := &callLog{}
		if c.banner {
			b := &banLog{}
			a, log = b, &b.callLog
		} else {
			a = log
		}
		p := &platform.Platform{Code: "p", Adapter: a}
		call, next, err := transition(ledger.Order{State: c.state}, p, c.status)
		if c.call == "" {
			if !errors.Is(err, adapters.ErrBadState) || call != nil {
				t.Errorf("%s + status %d = err %v; want ErrBadState, no call", c.state, c.status, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s + status %d: %v", c.state, c.status, err)
			continue
		}
		if err := call(context.Background(), "up-1"); err != nil || log.got != c.call || next != c.next {
			t.Errorf("%s + status %d called %q → %s; want %q → %s", c.state, c.status, log.got, next, c.call, c.next)
		}
	}
}
