package onlinesim

import (
	"context"
	"errors"

	"smsgate/adapters"
)

var _ adapters.ListPoller = (*Client)(nil)

// PollActive reads getState without a tzid, which lists every active
// operation with its state and messages (protocols/onlinesim.md §3.4:
// "omit to list all active operations"). The list is not paged. Each
// entry maps as Check maps it: the codes from message_to_code=1, and,
// only when some operation shows codes whose texts are not yet known, one
// more list call with message_to_code=0 for the full texts — so a round
// is one call, two when an SMS arrived. An entry in a state it does not
// know is left out, so the poller asks that operation with Check.
func (c *Client) PollActive(ctx context.Context) ([]adapters.ActiveUpdate, error) {
	ops, err := c.activeOps(ctx, true)
	if err != nil {
		return nil, err
	}
	var texts map[string][]string // tzid → full texts, read once per round when needed
	fetch := func(id string) func() ([]string, bool) {
		return func() ([]string, bool) {
			if texts == nil {
				full, err := c.activeOps(ctx, false)
				if err != nil {
					return nil, false
				}
				texts = make(map[string][]string, len(full))
				for _, o := range full {
					texts[o.TZID] = o.Msgs
				}
			}
			m, ok := texts[id]
			return m, ok
		}
	}
	out := make([]adapters.ActiveUpdate, 0, len(ops))
	for _, o := range ops {
		st, ok := canonical(o)
		if !ok {
			continue
		}
		u := adapters.Update{State: st}
		if len(o.Msgs) > 0 {
			u.SMS = c.pairTexts(o.TZID, o.Msgs, fetch(o.TZID))
		}
		if !st.Active() {
			c.forget(o.TZID)
		}
		out = append(out, adapters.ActiveUpdate{UpstreamID: o.TZID, Update: u})
	}
	return out, nil
}

// activeOps reads the list of active operations, codes or full texts.
func (c *Client) activeOps(ctx context.Context, codes bool) ([]Operation, error) {
	mtc := "0"
	if codes {
		mtc = "1"
	}
	body, err := c.call(ctx, "poll", "getState", map[string]string{"message_to_code": mtc, "msg_list": "1"}, false)
	var ce *CodeError
	if errors.As(err, &ce) && ce.Code == CodeNoOps {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ops, err := ParseActive(body)
	if err != nil {
		return nil, c.Wrap("poll", err)
	}
	return ops, nil
}
