package fivesim

import (
	"context"
	"strconv"
	"time"

	"smsgate/adapters"
)

const (
	// HistoryPage is the page size PollActive asks the order history for.
	// The docs' example asks for 15 and name no maximum; paging goes by
	// Total, so a platform that answers fewer than asked is still read to
	// the end.
	HistoryPage = 100
	// HistoryMaxPages bounds one list round. An account holds at most 96
	// open orders (its rating, protocols/5sim.md §1), so a round needs a
	// few pages; orders beyond the bound are checked one by one.
	HistoryMaxPages = 10
)

var _ adapters.ListPoller = (*Client)(nil)

// PollActive reads the order history (GET /v1/user/orders?category=
// activation, newest first, protocols/5sim.md §3.9), whose entries are
// order objects with status and sms as check answers them (§3.3), so each
// maps to the Update Check gives. 5SIM has no filter for open orders, so
// the round stops where the history can hold no open order: at an order
// that expired before the newest order was created (5SIM's own clock, so
// no clock skew; lifetimes are alike, so older orders expired earlier),
// at the end of the history (Total), or after HistoryMaxPages. An open
// order the round did not reach is missing from it, and the poller checks
// that order alone.
func (c *Client) PollActive(ctx context.Context) ([]adapters.ActiveUpdate, error) {
	var (
		out    []adapters.ActiveUpdate
		seen   = map[string]bool{}
		newest time.Time // the newest order's created_at
		offset int
	)
	for page := 0; page < HistoryMaxPages; page++ {
		resp, err := c.get(ctx, "poll", "/v1/user/orders", map[string]string{
			"category": "activation", "limit": strconv.Itoa(HistoryPage), "offset": strconv.Itoa(offset),
			"order": "id", "reverse": "true",
		}, true, false)
		if err != nil {
			return nil, err
		}
		h, err := parseHistory(resp.Status, resp.Body)
		if err != nil {
			return nil, c.Wrap("poll", err)
		}
		past := false
		for i, o := range h.Orders {
			if created := h.Created[i]; created.After(newest) {
				newest = created
			}
			if !o.Expires.IsZero() && !newest.IsZero() && !o.Expires.After(newest) {
				past = true
			}
			// Orders bought while paging shift the pages: one may show
			// twice; the first (newer) reading stands.
			if seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			out = append(out, adapters.ActiveUpdate{UpstreamID: o.ID, Update: adapters.Update{State: o.State(), SMS: o.SMS}})
		}
		offset += h.Read
		if past || h.Read == 0 || (h.Total >= 0 && offset >= h.Total) || (h.Total < 0 && h.Read < HistoryPage) {
			break
		}
	}
	return out, nil
}
