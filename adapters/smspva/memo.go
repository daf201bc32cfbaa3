package smspva

import (
	"time"

	"smsgate/adapters"
	"smsgate/adapters/ordermemo"
)

// memo is what the client remembers about orders because SMS-PVA forgets
// them: a closed order answers 410 even after a code was delivered
// (ordermemo's Closed), and there is no finish call, so the codes seen and
// a local finish must be kept to report the right terminal state. The
// memo's hour of idleness before a sweep is far beyond an order's life:
// 10 minutes, and each clearsms extends one by about as much.
type memo struct{ *ordermemo.Memo }

func newMemo() memo { return memo{ordermemo.New()} }

// received merges what the platform shows (its current SMS) into the order.
// An SMS equal to one seen before is that SMS again: while a retry is
// pending, the new one has not come yet.
func (m memo) received(id string, shown []adapters.SMS, now time.Time) adapters.Update {
	return m.Update(id, now, func(o *ordermemo.Order) adapters.Update {
		o.Add(shown, now)
		if o.Retry {
			return o.As(adapters.StateRetryWaiting)
		}
		return o.As(adapters.StateCodeReceived)
	})
}

// waiting is the platform showing no SMS: before the first code that is
// waiting; after one it can only mean the SMS was cleared for another.
func (m memo) waiting(id string, now time.Time) adapters.Update {
	return m.Update(id, now, func(o *ordermemo.Order) adapters.Update {
		if len(o.SMS) > 0 {
			return o.As(adapters.StateRetryWaiting)
		}
		return o.As(adapters.StateWaiting)
	})
}
