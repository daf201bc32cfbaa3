package unified

import (
	"strconv"
	"time"

	"smsgate/ledger"
)

// apiEvents streams the tenant's order events (Server-Sent Events). It
// resumes after the sequence number in Last-Event-ID (what an
// EventSource sends when it reconnects) or, for clients that cannot set
// headers, ?after=; with neither it starts from the tenant's first event.
func (s *API) apiEvents(c *call) error {
	after, err := resumeAfter(c)
	if err != nil {
		return err
	}
	s.streams.Serve(c.ctx, c.t.Name, after)
	return nil
}

// resumeAfter is the sequence a stream resumes after (0 = from the start).
func resumeAfter(c *call) (int64, error) {
	v, from := string(c.ctx.Request.Header.Peek("Last-Event-ID")), "Last-Event-ID"
	if v == "" {
		v, from = c.query("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, ok := parseOrderID(v)
	if !ok {
		return 0, badRequest("%s must be an event sequence number (a decimal integer)", from)
	}
	return n, nil
}

// apiAdminEvents streams every tenant's order events from now on: the
// dashboard's live feed.
func (s *API) apiAdminEvents(c *call) error {
	s.streams.ServeAll(c.ctx, s.tenants.Names())
	return nil
}

// apiAdminWebhooks is a tenant's webhook delivery log, newest first:
// ?before=<action id> pages back, ?limit= (default 50, at most 500).
func (s *API) apiAdminWebhooks(c *call) (any, error) {
	t, ok := s.tenants.ByName(c.params["name"])
	if !ok {
		return nil, &apiErr{404, codeNotFound, "unknown tenant", nil}
	}
	before, limit, err := pageArgs(c)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ActionsOf(c.cctx, t.Name, ledger.ActWebhook, before, limit)
	if err != nil {
		return nil, err
	}
	type delivery struct {
		ID        int64  `json:"id"`
		OrderID   int64  `json:"orderId"`
		EventID   string `json:"eventId"` // X-Smsgate-Event-Id
		State     string `json:"state"`   // pending, done, final (nothing to send), gave_up
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError,omitempty"`
		NextAt    string `json:"nextAt,omitempty"`
		CreatedAt string `json:"createdAt"`
		UpdatedAt string `json:"updatedAt"`
	}
	out := make([]delivery, 0, len(list))
	for _, a := range list {
		d := delivery{ID: a.ID, OrderID: a.OrderID, EventID: t.Name + ":" + a.Payload, State: string(a.State),
			Attempts: a.Attempts, LastError: a.LastError,
			CreatedAt: a.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: a.UpdatedAt.UTC().Format(time.RFC3339Nano)}
		if a.State == ledger.ActionPending {
			d.NextAt = a.NextAt.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, d)
	}
	return map[string]any{"tenant": t.Name, "url": t.WebhookURL, "format": t.WebhookFormat, "deliveries": out}, nil
}

// pageArgs reads ?before= and ?limit= of a log.
func pageArgs(c *call) (before int64, limit int, err error) {
	limit = 50
	if v := c.query("before"); v != "" {
		n, ok := parseOrderID(v)
		if !ok {
			return 0, 0, badRequest("before must be an id")
		}
		before = n
	}
	if v := c.query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, 0, badRequest("limit must be 1 to 500")
		}
		limit = n
	}
	return before, limit, nil
}
