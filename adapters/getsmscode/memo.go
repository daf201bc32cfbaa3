package getsmscode

import (
	"time"

	"smsgate/adapters"
	"smsgate/adapters/ordermemo"
)

// memo is what the client remembers about held numbers because GetSMSCode
// has no order to ask about: once a number is released or its hold ends,
// getsms only says "mobile number not found!" (ordermemo's Closed), so the
// codes seen and our own finish or cancel are kept to report the right
// terminal state.
type memo struct{ *ordermemo.Memo }

func newMemo() memo { return memo{ordermemo.New()} }

// known is a rental's state from what was seen.
func known(o *ordermemo.Order) adapters.Update {
	st := adapters.StateWaiting
	if len(o.SMS) > 0 {
		st = adapters.StateCodeReceived
	}
	if o.End != "" {
		st = o.End
	}
	return o.As(st)
}

// received records the SMS getsms shows; a text seen before is that SMS
// again (its first-seen time stays, so the gateway sees it once).
func (m memo) received(id, text string, now time.Time) adapters.Update {
	return m.Update(id, now, func(o *ordermemo.Order) adapters.Update {
		o.Add([]adapters.SMS{{Code: adapters.ExtractCode(text), Text: text}}, now)
		return known(o)
	})
}

// current is the state as last known: the platform said nothing new.
func (m memo) current(id string, now time.Time) adapters.Update {
	return m.Update(id, now, known)
}
