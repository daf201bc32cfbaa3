package smsreg

import (
	"context"
	"errors"
	"strconv"

	"smsgate/adapters"
)

// MaxOperations is the largest count getOperations takes (§2.10).
const MaxOperations = 1000

var _ adapters.ListPoller = (*Client)(nil)

// PollActive reads getOperations?opstate=active, which lists the account's
// active operations with their state and msg (protocols/smsreg.md §2.10),
// in one call: the protocol has no paging, only a count of up to
// MaxOperations. Operations beyond that are missing from the round and
// the poller checks them one by one. Each entry maps as Check maps
// getState (update). An entry in a state it does not know is left out,
// so the poller asks that operation with Check.
func (c *Client) PollActive(ctx context.Context) ([]adapters.ActiveUpdate, error) {
	params := map[string]string{"opstate": "active", "count": strconv.Itoa(MaxOperations), "output": "array"}
	body, err := c.call(ctx, "poll", "getOperations", params, false)
	var ae *APIError
	if errors.As(err, &ae) && noneActive(ae.Msg) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ops, err := ParseOperations(body)
	if err != nil {
		return nil, c.Wrap("poll", err)
	}
	out := make([]adapters.ActiveUpdate, 0, len(ops))
	for _, o := range ops {
		if u, ok := update(o.State); ok {
			out = append(out, adapters.ActiveUpdate{UpstreamID: o.TZID, Update: u})
		}
	}
	return out, nil
}
