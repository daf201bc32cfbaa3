package textnow

import (
	"context"
	"errors"
	"fmt"
	"smsgate/adapters"
	"smsgate/adapters/pool"
	"strconv"
	"sync"
	"time"
)

// Messages returns the incoming text messages n's account received at or
// after since, newest first, from GET /api/users/{username}/messages (the
// recent messages of every conversation). TextNow lists only the latest
// page: the reader pages back (start_message_id, direction=past) until it
// reaches a message older than since, one it read before, or the oldest
// there is — at most MaxPages pages. A read cut short (the bound, a 429
// or an error past the first page, the pacing passing the deadline)
// returns what it read; the next call goes on back from there. Errors: a
// *pool.DownError
// (needs_login) once the account met a 401 or 403, adapters.ErrUnavailable
// for a 429 (and during the backoff after it, without a call), a 5xx, a
// timeout, an unreadable answer, or when the account's pacing would make
// the call start after ctx's deadline. An account the reader does not
// have, or whose number is not n.Phone, is a *pool.DownError (gone).
func (r *Reader) Messages(ctx context.Context, n pool.Number, since time.Time) ([]pool.Message, error) {
	if n.Account == "" && n.Phone != "" {
		a, err := r.accountOf(ctx, n.Phone)
		if err != nil {
			return nil, err
		}
		n.Account = a.user
	}
	a := r.byUser[n.Account]
	if a == nil {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages: account %q is not configured", n.Account)}
	}
	a.mu.Lock()
	phone := a.phone
	a.mu.Unlock()
	if n.Phone != "" && phone != "" && n.Phone != phone {
		return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages %s: the account's number is %s, not %s", a.user, phone, n.Phone)}
	}
	msgs, err := r.readBack(ctx, a, since)
	if err != nil {
		return nil, err
	}
	var out []pool.Message
	for _, m := range msgs {
		// Only incoming text: the account's own replies are not codes, and
		// a media message's text is the attachment's URL.
		if m.Direction != directionIn || (m.Type != typeText && m.Type != 0) || m.At.Before(since) {
			continue
		}
		out = append(out, pool.Message{ID: m.ID, From: m.From, Text: m.Text, At: m.At})
	}
	return out, nil
}

// readBack reads a's messages back to since (see Messages), newest first,
// and keeps them for the next read.
func (r *Reader) readBack(ctx context.Context, a *account, since time.Time) ([]message, error) {
	op := "messages " + a.user
	select {
	case a.reading <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx, op)
	}
	defer func() { <-a.reading }()

	// From the top until the messages read before, since, or the end.
	budget := r.maxPages
	fresh, stop, err := r.pages(ctx, a, op, "", since, &budget)
	if err != nil {
		return nil, err
	}
	var all []message
	complete := false
	if stop == metCache {
		all = append(fresh, a.cache...)
		complete = a.complete
		// The messages read before may not reach since (a read cut short,
		// or a since older than any read asked for): go on back from them.
		if oldest := a.cache[len(a.cache)-1]; !complete && !oldest.At.Before(since) && oldest.ID != "" {
			older, stop, err := r.pages(ctx, a, op, oldest.ID, since, &budget)
			if err != nil {
				return nil, err
			}
			all = append(all, older...)
			complete = stop == atEnd
		}
	} else {
		all, complete = fresh, stop == atEnd
	}
	if len(all) > maxCached {
		all, complete = all[:maxCached], false
	}
	a.cache, a.complete = all, complete
	a.cachedID = make(map[string]bool, len(all))
	for _, m := range all {
		if m.ID != "" {
			a.cachedID[m.ID] = true
		}
	}
	return all, nil
}

// Why pages stopped.
const (
	atEnd    = iota // the account has no older message
	atSince         // a message older than since was read
	metCache        // a message read before (what follows is in the cache)
	cutShort        // the page bound, a failure past the first page, no progress
)

// pages reads pages back from the message with id start ("" = the
// latest), newest first, skipping repeats, spending budget a page each.
// The latest page's failure is the error; a later failure cuts the read
// short, except a DownError, which is always the error.
func (r *Reader) pages(ctx context.Context, a *account, op, start string, since time.Time, budget *int) ([]message, int, error) {
	path := "/api/users/" + a.user + "/messages"
	first := start == ""
	var out []message
	seen := map[string]bool{start: start != ""}
	for n := 0; ; n++ {
		if *budget <= 0 {
			return out, cutShort, nil
		}
		*budget--
		q := map[string]string{"page_size": strconv.Itoa(PageSize)}
		if start != "" {
			q["start_message_id"], q["direction"] = start, "past"
		}
		body, err := r.call(ctx, a, op, path, q)
		var pg page
		if err == nil {
			if pg, err = parseMessages(body); err != nil {
				err = fmt.Errorf("textnow %s: %w", op, err)
			}
		}
		if err != nil {
			if (first && n == 0) || errors.Is(err, pool.ErrDown) {
				return nil, 0, err
			}
			return out, cutShort, nil
		}
		progress, older := false, false
		last := ""
		for _, m := range pg.messages {
			if m.ID != "" {
				if seen[m.ID] {
					continue // start_message_id itself, where TextNow lists it again
				}
				if a.cachedID[m.ID] {
					return out, metCache, nil
				}
				seen[m.ID] = true
				last = m.ID
			}
			progress = true
			out = append(out, m)
			older = older || m.At.Before(since)
		}
		switch {
		case older:
			return out, atSince, nil
		case pg.entries < PageSize:
			return out, atEnd, nil
		case !progress || last == "":
			// The same page again (start_message_id not honoured) or no ids
			// to page by: going on would loop.
			return out, cutShort, nil
		}
		start = last
	}
}

// accountOf finds the account whose number is phone, for a caller that
// knows only the phone (a process that restarted while a lookup failed).
// Known numbers are matched first; accounts whose number is not known yet
// are then looked up, in parallel, each at most every lookupRetry. The
// number is gone only when every account's number is known and none is
// phone; while some lookup fails it is throttled (try again later); if only
// accounts that need a login are left unknown, it is theirs as far as
// anyone can tell: needs_login.
func (r *Reader) accountOf(ctx context.Context, phone string) (*account, error) {
	var unknown []*account
	needsLogin := false
	for _, a := range r.accts {
		a.mu.Lock()
		p, down := a.phone, a.down
		a.mu.Unlock()
		switch {
		case p == phone:
			return a, nil
		case p == "" && down != "":
			needsLogin = true
		case p == "":
			unknown = append(unknown, a)
		}
	}
	errs := make([]error, len(unknown))
	sem := make(chan struct{}, lookupParallel)
	var wg sync.WaitGroup
	now := time.Now()
	for i, a := range unknown {
		a.mu.Lock()
		recent := !a.lookupFailed.IsZero() && now.Sub(a.lookupFailed) < lookupRetry
		a.mu.Unlock()
		if recent {
			errs[i] = fmt.Errorf("textnow user %s: its lookup failed less than %s ago: %w", a.user, lookupRetry, adapters.ErrUnavailable)
			continue
		}
		wg.Go(func() {
			errs[i] = r.lookupWhenFree(ctx, sem, a)
			// A 429 has its own backoff; other failures (5xx, timeouts) are
			// remembered here.
			if errs[i] != nil && !errors.Is(errs[i], pool.ErrDown) && !errors.Is(errs[i], pool.ErrThrottled) {
				a.mu.Lock()
				a.lookupFailed = time.Now()
				a.mu.Unlock()
			}
		})
	}
	wg.Wait()
	var failed error
	for i, a := range unknown {
		a.mu.Lock()
		p, down := a.phone, a.down
		a.mu.Unlock()
		switch {
		case p == phone:
			return a, nil
		case down != "" && p == "":
			needsLogin = true
		case errs[i] != nil && failed == nil && !errors.Is(errs[i], pool.ErrDown):
			failed = errs[i]
		}
	}
	switch {
	case failed != nil:
		return nil, pool.Throttled(fmt.Errorf("textnow messages: no account known to have %s yet: %w", phone, failed))
	case needsLogin:
		return nil, &pool.DownError{Reason: pool.DownNeedsLogin, Err: fmt.Errorf("textnow messages: %s may belong to an account that needs a login", phone)}
	}
	return nil, &pool.DownError{Reason: pool.DownGone, Err: fmt.Errorf("textnow messages: no configured account has %s", phone)}
}
